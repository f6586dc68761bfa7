"""``depguard.feed.load_feed``: a load shared with a forked worker is the one-process load,
and what it leaves behind besides the feed.

Loading settles what it built in the collector's oldest generation (``settle_objects``) so the
next young collection does not walk 20,000 parsed records; it must do that without
thawing objects a caller froze on purpose, and without leaving anything frozen itself.
"""

from __future__ import annotations

import gc
import json
import os
import pickle
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from depguard import feed as feed_mod
from depguard.feed import canonical_bytes

from feedkit import child_processes, forking_allowed, one_core, record, write_feed


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


# --------------------------------------------------------------------------- loading shared with a worker

#: Package folders from which load_feed shares the reading with a forked worker (its documented rule).
SHARED = 2000


def _messy_feed(root: Path, count: int) -> Path:
    """``count`` package folders of records, with every kind of file that is not a record
    spread through them: stray files, invalid JSON, a JSON array, a link out of the feed,
    a link inside it, a FIFO, a README."""
    _feed(root, count)
    outside = root.parent / "outside.json"
    outside.write_bytes(canonical_bytes(record("x_DEPGUARD-2026-9999", name="elsewhere")))
    for n in range(1, count + 1, 97):
        folder = root / "PyPI" / f"pkg{n}"
        (folder / "notes.txt").write_text("stray")
        (folder / "broken.json").write_bytes(b'{"id": ')
        (folder / "array.json").write_bytes(b"[1, 2]")
        (folder / "twice.json").write_bytes(b'{"id": "a", "id": "b"}')
        (folder / "out.json").symlink_to(outside)
        (folder / "in.json").symlink_to(folder / f"x_DEPGUARD-2026-{n:04d}.json")
    os.mkfifo(root / "PyPI" / "pkg500" / "pipe.json")  # not listed, and never blocks a read
    (root / "README.md").write_text("the feed")
    return root


def _snapshot(loaded: feed_mod.Feed) -> tuple[list[tuple[str, bytes, str]], list[feed_mod.Issue]]:
    """Everything a load produced, with key order and value types kept (json.dumps shows both)."""
    return [(str(e.path), e.raw, json.dumps(e.data)) for e in loaded.entries], loaded.load_issues


def _read_one_by_one(root: Path) -> tuple[list[tuple[str, bytes, str]], list[feed_mod.Issue]]:
    """The load spelled out with the public steps: the whole listing, then every read, then every parse."""
    paths, issues = feed_mod.list_record_files(root)
    files = []
    for rel, full in paths:
        raw = feed_mod.read_record_file(rel, full)
        if isinstance(raw, feed_mod.Issue):
            issues.append(raw)
        else:
            files.append((rel, raw))
    entries = []
    for rel, raw in files:
        data = feed_mod.parse_record_file(rel, raw)
        if isinstance(data, feed_mod.Issue):
            issues.append(data)
        else:
            entries.append((rel, raw, json.dumps(data)))
    return entries, issues


@pytest.mark.skipif(not forking_allowed(), reason="no fork here: the load always runs in one process")
def test_a_shared_load_is_the_one_process_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _messy_feed(tmp_path / "feed", SHARED)
    ran_in = tmp_path / "pids"
    real = feed_mod.share_jobs

    def spied(jobs: Any, **options: Any) -> Any:
        def noted(job: Any) -> Any:
            def run() -> Any:
                with ran_in.open("a") as out:
                    out.write(f"{os.getpid()}\n")
                return job()

            return run

        return real([noted(job) for job in jobs], **options)

    monkeypatch.setattr(feed_mod, "share_jobs", spied)
    shared = _snapshot(feed_mod.load_feed(root))
    assert len(set(ran_in.read_text().split())) == 2, "a forked worker took a share of the load"
    assert child_processes() == []
    with one_core():
        alone = _snapshot(feed_mod.load_feed(root))
    assert shared == alone == _read_one_by_one(root)
    entries, issues = alone
    assert len(entries) == SHARED + 21  # the records, and the links inside the feed
    assert {(i.rule, i.message.split(":")[0]) for i in issues} == {
        ("layout", "only <id>.json record files belong in the feed"),
        ("readable", "a symlink that leads out of the feed folder; not read"),
        ("json", "invalid JSON"),
        ("json", "a record must be a JSON object"),
    }


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.binary(max_size=40), st.dictionaries(st.text(max_size=5), _json, max_size=5)), max_size=6))
def test_a_load_job_crosses_between_processes_unchanged(files: list[tuple[bytes, dict[str, Any]]]) -> None:
    # private on purpose: the compact form a job's result crosses in, against the objects it stands for
    issues = [feed_mod.Issue("a/b.json", "", "json", "invalid JSON")]
    rels = [f"PyPI/p/{n}.json" for n in range(len(files))]
    chunk = feed_mod.RecordFiles(issues, issues[:0], issues * 2, rels, [raw for raw, _ in files], [d for _, d in files])
    again = pickle.loads(pickle.dumps(chunk))
    assert (again.unlisted, again.unreadable, again.unparsed, again.rels) == (issues, [], issues * 2, rels)
    assert again.raws == chunk.raws
    assert [repr(d) for d in again.datas] == [repr(d) for d in chunk.datas]  # types, order, -0.0 and all


# --------------------------------------------------------------------------- linted while loading


def _conflicted_feed(root: Path) -> Path:
    """A messy shared-size feed with every cross-record issue, split between the two
    processes' halves: an id used twice (first and last folder), a version claimed by two live
    records under two spellings (PyPI's 1.0 is 1.0.0), the same claims by a withdrawn record
    (no issue), and a record the per-file rules refuse."""
    _messy_feed(root, SHARED)
    write_feed(
        root,
        [
            record("x_DEPGUARD-2026-0001", name="zzz-last"),  # the id of PyPI/pkg1's record
            record("x_DEPGUARD-2026-5001", name="aaa-first", versions=("1.0",)),
            record("x_DEPGUARD-2026-5002", name="zzz-aaa-first", versions=("1.0.0",)),
            record("x_DEPGUARD-2026-5003", name="zzz-withdrawn", versions=("1.0",), withdrawn="2026-03-26T00:00:00Z"),
            {**record("x_DEPGUARD-2026-5004", name="mmm-middle"), "summary": ""},
        ],
    )
    # the second claim of aaa-first 1.0 sits in another package's folder, as a copy (layout issue too)
    moved = root / "PyPI" / "zzz-aaa-first" / "x_DEPGUARD-2026-5002.json"
    data = json.loads(moved.read_bytes())
    data["affected"][0]["package"].update(name="aaa-first", purl="pkg:pypi/aaa-first")
    moved.write_bytes(canonical_bytes(data))
    withdrawn = root / "PyPI" / "zzz-withdrawn" / "x_DEPGUARD-2026-5003.json"
    data = json.loads(withdrawn.read_bytes())
    data["affected"][0]["package"].update(name="aaa-first", purl="pkg:pypi/aaa-first")
    withdrawn.write_bytes(canonical_bytes(data))
    return root


@pytest.mark.skipif(not forking_allowed(), reason="no fork here: the load always runs in one process")
def test_linting_while_loading_finds_what_lint_finds(tmp_path: Path) -> None:
    root = _conflicted_feed(tmp_path / "feed")
    with one_core():
        alone = feed_mod.load_feed(root)
        reference = feed_mod.lint(alone)
    rules = {issue.rule for issue in reference}
    assert {"unique-id", "overlap", "schema", "layout", "json", "readable"} <= rules
    overlaps = [issue for issue in reference if issue.rule == "overlap"]
    assert [(i.path, i.message) for i in overlaps] == [
        (
            "PyPI/zzz-aaa-first/x_DEPGUARD-2026-5002.json",
            "PyPI aaa-first 1.0.0 is already covered by live record x_DEPGUARD-2026-5001",
        )
    ]

    validation = feed_mod.validate_feed(root)  # shared, the worker's records never cross
    assert validation.issues == reference
    assert validation.records == len(alone.entries) + sum(
        1 for i in alone.load_issues if i.rule in {"json", "readable"}
    )
    assert feed_mod.validate(root) == reference

    linted = feed_mod.load_feed(root, lint=True)  # shared, the records cross as for any load
    assert _snapshot(linted) == _snapshot(alone)
    assert feed_mod.lint(linted) == reference
    assert child_processes() == []


def test_a_feed_changed_after_loading_is_linted_again(tmp_path: Path) -> None:
    root = _feed(tmp_path / "feed", 3)
    write_feed(root, [record("x_DEPGUARD-2026-0001", name="again")])  # the id of pkg1's record
    loaded = feed_mod.load_feed(root, lint=True)
    assert [i.rule for i in feed_mod.lint(loaded)] == ["unique-id"]
    loaded.entries[:] = [e for e in loaded.entries if "again" not in str(e.path)]
    assert feed_mod.lint(loaded) == []


@pytest.mark.parametrize("size", [0, 1, 1200, 65_535, 65_536, 65_537, 300_001])
def test_a_record_file_is_read_whole(tmp_path: Path, size: int) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(bytes(n % 251 for n in range(size)))
    assert feed_mod.read_record_file("x.json", str(path)) == path.read_bytes()


@pytest.mark.skipif(not Path("/proc/version").is_file(), reason="needs a file whose size says 0 but is not empty")
def test_a_file_longer_than_its_size_says_is_read_to_its_end() -> None:
    # /proc files report size 0: the one read of size + 1 bytes is not the end, the loop goes on
    assert os.stat("/proc/version").st_size == 0
    with open("/proc/version", "rb") as handle:
        expected = handle.read()
    assert expected and feed_mod.read_record_file("version", "/proc/version") == expected
