"""Every lint really lints, and the lint shared with a forked child finds what one process finds.

``feed build`` once trusted a "clean" verdict remembered in the cache directory; a file planted
there could make it publish a feed nobody had linted. Nothing outside the feed decides whether
the feed is linted now: these tests plant such files and change nothing else.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from depguard import ecosystems, publish
from depguard import feed as feed_mod
from depguard.cli import app

from feedkit import child_processes, forking_allowed, one_core, record, write_feed

runner = CliRunner()


@pytest.fixture
def linted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the records the per-file rules look at in this process."""
    seen: list[int] = []
    # private on purpose: a lint of an unchanged feed gives the same verdict whether it ran or was
    # remembered; only the records the per-file rules see tell the two apart
    real = feed_mod._file_issues

    def counted(entries: Any) -> Any:
        seen.append(len(entries))
        return real(entries)

    monkeypatch.setattr(feed_mod, "_file_issues", counted)
    return seen


def _feed(root: Path, count: int = 3) -> Path:
    write_feed(root, [record(f"x_DEPGUARD-2026-{n:04d}", name=f"pkg{n}") for n in range(1, count + 1)])
    return root


def test_build_after_validate_lints_again(tmp_path: Path, linted: list[int]) -> None:
    root = _feed(tmp_path / "feed")
    assert runner.invoke(app, ["feed", "validate", str(root)]).exit_code == 0
    assert sum(linted) == 3
    linted.clear()
    result = runner.invoke(app, ["feed", "build", str(root), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert sum(linted) == 3, "build linted every record itself"


def test_files_planted_in_the_cache_never_skip_the_lint(tmp_path: Path) -> None:
    root = _feed(tmp_path / "feed")
    bad = record("x_DEPGUARD-2026-0009", name="pkg9")
    bad["summary"] = ""
    write_feed(root, [bad])
    cache = Path(os.environ["DEPGUARD_CACHE_DIR"])
    for folder in (cache, cache / "lint-verdicts"):  # where verdicts used to be kept, and the root
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(3):
            name = hashlib.sha256(str(n).encode()).hexdigest()
            (folder / name).write_text(name, encoding="ascii")
    result = runner.invoke(app, ["feed", "build", str(root), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    assert not (tmp_path / "out").exists()
    assert {i.rule for i in feed_mod.validate(root)} == {"schema"}


# --------------------------------------------------------------------------- lint shared with a child


def _broken_feed(root: Path, count: int) -> Path:
    records = []
    for n in range(1, count + 1):
        data = record(f"x_DEPGUARD-2026-{n:04d}", name=f"pkg{n % (count - 5)}", versions=("1.0",))  # overlaps
        if n % 97 == 0:
            data["summary"] = ""
        if n % 89 == 0:
            data["aliases"] = ["nope"]
        records.append(data)
    write_feed(root, records)
    (root / "PyPI" / "stray.txt").write_text("x")
    return root


@pytest.mark.skipif(not forking_allowed(), reason="no fork here: the lint always runs in one process")
@pytest.mark.parametrize("chunk", [0, 150])
def test_lint_shared_with_a_child_finds_what_one_process_finds(tmp_path: Path, chunk: int) -> None:
    root = _broken_feed(tmp_path / "feed", 1100)
    seen: list[tuple[int, int]] = []
    workers: set[int] = set()

    def progress(done: int, total: int) -> None:  # called here as each share of the lint arrives
        seen.append((done, total))
        workers.update(child_processes())

    shared = feed_mod.lint(feed_mod.load_feed(root), chunk=chunk, progress=progress)
    assert workers, "a forked worker shared the lint"
    with one_core():
        alone = feed_mod.lint(feed_mod.load_feed(root))
    assert shared == alone and {i.rule for i in alone} >= {"overlap", "schema", "aliases", "layout"}
    assert seen[-1] == (1100, 1100) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert publish.lint_in_chunks(feed_mod.load_feed(root), chunk=chunk) == alone


# --------------------------------------------------------------------------- cross-record rules


def _reference_cross_issues(entries: list[feed_mod.FeedEntry]) -> set[feed_mod.Issue]:
    """The cross-record rules as one walk in path order, the way they are stated: an id belongs
    to the first file that uses it; a version key (ecosystem, normalized name, the version as
    the ecosystem compares it) to the first live record that claims it."""
    first: dict[str, str] = {}
    owner: dict[tuple[str, str, Any], str] = {}
    found = set()
    for entry in sorted(entries, key=lambda e: e.path.parts):
        data, path = entry.data, str(entry.path)
        advisory_id = data.get("id")
        if isinstance(advisory_id, str):
            if advisory_id in first:
                found.add(
                    feed_mod.Issue(
                        path, "/id", "unique-id", f"id {advisory_id} is already used by {first[advisory_id]}"
                    )
                )
            first.setdefault(advisory_id, path)
        if data.get("withdrawn") is not None:
            continue
        for index, affected in enumerate(data.get("affected", [])):
            eco = ecosystems.get(affected["package"]["ecosystem"])
            assert eco is not None
            name = eco.normalize_name(affected["package"]["name"])
            for v_index, version in enumerate(affected.get("versions", [])):
                if not eco.version_is_valid(version):
                    continue
                key = (eco.name, name, eco.version_key(version))
                if owner.setdefault(key, str(advisory_id)) != str(advisory_id):
                    message = f"{eco.name} {name} {version} is already covered by live record {owner[key]}"
                    found.add(feed_mod.Issue(path, f"/affected/{index}/versions/{v_index}", "overlap", message))
    return found


_VERSIONS = {"PyPI": ["1.0", "1.0.0", "1.0.post1", "2.0rc1", "bad version"], "npm": ["1.0.0", "1.0.1", "2.0.0-rc.1"]}
_entry = st.builds(
    lambda ecosystem, name, picks, number, withdrawn, folder: (ecosystem, name, picks, number, withdrawn, folder),
    st.sampled_from(["PyPI", "npm"]),
    st.sampled_from(["left-pad", "Left_Pad", "other"]),
    st.lists(st.integers(0, 4), max_size=4),
    st.integers(1, 6),
    st.booleans(),
    st.integers(0, 3),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_entry, max_size=12))
def test_cross_record_rules_are_the_one_walk(drawn: list[tuple[str, str, list[int], int, bool, int]]) -> None:
    # ids drawn from a handful, so some repeat; names that PEP 503 makes equal; versions that
    # PyPI compares equal (1.0, 1.0.0), invalid ones, withdrawn records; folders out of order
    entries = []
    for n, (ecosystem, name, picks, number, withdrawn, folder) in enumerate(drawn):
        versions = _VERSIONS[ecosystem]
        data = record(
            f"x_DEPGUARD-2026-{number:04d}",
            name=name.lower() if ecosystem == "npm" else name,
            ecosystem=ecosystem,
            versions=tuple(versions[i % len(versions)] for i in picks),
            withdrawn="2026-03-26T00:00:00Z" if withdrawn else None,
        )
        path = PurePosixPath(f"{ecosystem}/f{folder}/{n}.json")
        entries.append(feed_mod.FeedEntry(path, feed_mod.canonical_bytes(data), data))
    assert set(feed_mod._cross_record_issues(entries, None)) == _reference_cross_issues(entries)
