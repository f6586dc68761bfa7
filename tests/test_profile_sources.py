"""Every path a consumer reads records from refuses what depguard's profile refuses.

``sync``, ``check`` and ``serve`` answer only for the two shapes the profile admits
(:mod:`depguard.affected`), so no source may hand them a record with any other range: a feed
directory (and the bundled snapshot, read the same way), a built tree, a download, and the
cache, which used to be read without the profile when its package map was not this depguard's.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from depguard.errors import FeedSourceError, InvalidRecordError
from depguard.publish import build_site
from depguard.sources import open_url
from depguard.sources.cache import Blobs, FeedCache, now
from depguard.sources.directory import from_directory
from depguard.sources.options import FetchOptions
from depguard.sources.static import read_static_tree
from depguard.sources.verify import parse_index, verify_records

from feedkit import record, write_feed


def _tree_with_a_fixed_range(tmp_path: Path) -> tuple[Path, list[dict[str, Any]], bytes]:
    """A built tree whose one record carries a ``fixed`` range, hashes made to match."""
    www = tmp_path / "www"
    build_site(write_feed(tmp_path / "feed", [record(name="litellm", versions=("1.82.7",))]), www)
    records = json.loads((www / "all.json").read_bytes())
    records[0]["affected"][0]["ranges"] = [
        {"type": "ECOSYSTEM", "events": [{"introduced": "1.0"}, {"fixed": "1.82.9"}]}
    ]
    all_bytes = json.dumps(records).encode()
    index = json.loads((www / "index.json").read_bytes())
    index["all"].update(sha256=hashlib.sha256(all_bytes).hexdigest(), size=len(all_bytes))
    (www / "all.json").write_bytes(all_bytes)
    (www / "index.json").write_bytes(json.dumps(index).encode())
    return www, records, all_bytes


def test_every_source_path_refuses_a_range_the_profile_refuses(tmp_path: Path) -> None:
    """Feed directory (and so the bundled snapshot), built tree, and a cache left by a depguard
    whose map this one does not trust: before, that cache was read without the profile."""
    www, records, all_bytes = _tree_with_a_fixed_range(tmp_path)
    with pytest.raises(InvalidRecordError):
        from_directory(write_feed(tmp_path / "bad-feed", records))
    with pytest.raises(InvalidRecordError):
        read_static_tree(www)

    url = "https://feed.example.org/"
    options = FetchOptions(cache_dir=str(tmp_path / "cache"), offline=True)
    cache = FeedCache(options.cache_root, url)
    index = parse_index((www / "index.json").read_bytes(), "test")
    typed = verify_records(index, all_bytes, "test", check_schema=False)  # as a looser depguard did
    moment = now()
    cache.commit(Blobs.of(index, all_bytes, typed), etag=None, last_modified=None, fetched_at=moment, checked_at=moment)
    state = json.loads(cache.state_path.read_bytes())
    del state["packages_sha256"]  # no map: written by a depguard that kept none
    cache.state_path.write_text(json.dumps(state))
    with pytest.raises(FeedSourceError, match="all.json has invalid records"):
        cache.load()
    snapshot = open_url(url, options)  # offline: the damaged cache is passed over
    assert snapshot.kind == "bundled" and snapshot.fallback
    assert "the cache" in snapshot.warnings[-1] and "all.json has invalid records" in snapshot.warnings[-1]
