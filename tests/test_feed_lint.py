"""Every lint really lints, and the lint shared with a forked child finds what one process finds.

``feed build`` once trusted a "clean" verdict remembered in the cache directory; a file planted
there could make it publish a feed nobody had linted. Nothing outside the feed decides whether
the feed is linted now: these tests plant such files and change nothing else.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from depguard import feed as feed_mod
from depguard import publish
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
