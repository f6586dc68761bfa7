"""``depguard.feed.load_feed``: what it leaves behind besides the feed.

Loading settles what it built in the collector's oldest generation (``settle_objects``) so the
next young collection does not walk 20,000 parsed records; it must do that without
thawing objects a caller froze on purpose, and without leaving anything frozen itself.
"""

from __future__ import annotations

import gc
from pathlib import Path

from depguard import feed as feed_mod

from feedkit import record, write_feed


def _feed(root: Path, count: int) -> Path:
    write_feed(root, [record(f"x_DEPGUARD-2026-{n:04d}", name=f"pkg{n}") for n in range(1, count + 1)])
    return root


def test_loading_settles_the_records_and_leaves_nothing_frozen(tmp_path: Path) -> None:
    root = _feed(tmp_path / "feed", 40)
    gc.collect()
    loaded = feed_mod.load_feed(root)
    assert len(loaded.entries) == 40
    assert gc.get_freeze_count() == 0
    oldest = {id(thing) for thing in gc.get_objects(generation=2)}
    assert all(id(entry.data) in oldest for entry in loaded.entries), "the parsed records wait in a young generation"


def test_loading_leaves_a_callers_frozen_objects_frozen(tmp_path: Path) -> None:
    root = _feed(tmp_path / "feed", 5)
    gc.collect()
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert frozen > 0
        feed_mod.load_feed(root)
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
