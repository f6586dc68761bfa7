"""Remembered lint verdicts and the lint shared with a forked child.

A clean verdict is trusted only for the very bytes and rules it was reached on: any changed
byte, added file, stray file or rule is linted again, a verdict is never remembered for a
feed with issues or one that needed jsonschema, and trusting one never changes an answer.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from depguard import feed as feed_mod
from depguard import publish, schema, verdicts
from depguard.cli import app
from feedkit import record, write_feed

runner = CliRunner()


def _verdicts() -> list[str]:
    folder = Path(os.environ["DEPGUARD_CACHE_DIR"]) / "lint-verdicts"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


@pytest.fixture
def linted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the records the per-file rules look at in this process."""
    seen: list[int] = []
    real = feed_mod._file_issues

    def counted(entries: Any) -> Any:
        seen.append(len(entries))
        return real(entries)

    monkeypatch.setattr(feed_mod, "_file_issues", counted)
    return seen


def _feed(root: Path, count: int = 3) -> Path:
    write_feed(root, [record(f"x_DEPGUARD-2026-{n:04d}", name=f"pkg{n}") for n in range(1, count + 1)])
    return root


def test_build_after_validate_trusts_the_verdict(tmp_path: Path, linted: list[int]) -> None:
    root = _feed(tmp_path / "feed")
    assert runner.invoke(app, ["feed", "validate", str(root)]).exit_code == 0
    assert sum(linted) == 3 and len(_verdicts()) == 1
    linted.clear()
    result = runner.invoke(app, ["feed", "build", str(root), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert sum(linted) == 0, "build did not lint again"
    assert runner.invoke(app, ["feed", "validate", str(root)]).exit_code == 0 and sum(linted) == 0


def test_a_trusted_feed_loads_to_the_same_data(tmp_path: Path) -> None:
    root = _feed(tmp_path / "feed")
    strict = feed_mod.load_feed(root)
    assert feed_mod.lint(strict) == [] and not strict._known_clean
    trusted = feed_mod.load_feed(root)
    assert trusted._known_clean and trusted._content_key == strict._content_key
    assert [(e.path, e.raw, e.data) for e in trusted.entries] == [(e.path, e.raw, e.data) for e in strict.entries]
    assert feed_mod.lint(trusted) == []


@pytest.mark.parametrize("change", ["byte", "added", "removed", "stray", "renamed"])
def test_any_change_is_linted_again(tmp_path: Path, linted: list[int], change: str) -> None:
    root = _feed(tmp_path / "feed")
    assert feed_mod.validate(root) == []
    path = next(root.rglob("x_DEPGUARD-2026-0001.json"))
    if change == "byte":  # still canonical and clean, only a different summary
        data = json.loads(path.read_bytes())
        data["summary"] += "!"
        path.write_bytes(feed_mod.canonical_bytes(data))
    elif change == "added":
        _feed(tmp_path / "more", 4)
        target = next((tmp_path / "more").rglob("x_DEPGUARD-2026-0004.json"))
        (root / target.relative_to(tmp_path / "more")).parent.mkdir(parents=True)
        (root / target.relative_to(tmp_path / "more")).write_bytes(target.read_bytes())
    elif change == "removed":
        path.unlink()
    elif change == "stray":
        (path.parent / "notes.txt").write_text("x")
    else:
        path.rename(path.parent.parent / path.name)
    linted.clear()
    issues = feed_mod.validate(root)
    assert linted, "linted again"
    expected = {"byte": set(), "added": set(), "removed": set(), "stray": {"layout"}, "renamed": {"layout"}}[change]
    assert {i.rule for i in issues} == expected


def test_other_rules_are_another_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _feed(tmp_path / "feed")
    first = feed_mod.load_feed(root)._content_key
    verdicts._rules_digest.cache_clear()
    monkeypatch.setattr(verdicts.sys, "version", "another python")
    try:
        assert feed_mod.load_feed(root)._content_key not in {None, first}
    finally:
        verdicts._rules_digest.cache_clear()


def test_feeds_with_issues_are_not_remembered(tmp_path: Path) -> None:
    root = _feed(tmp_path / "feed")
    bad = record("x_DEPGUARD-2026-0009", name="pkg9")
    bad["summary"] = ""
    write_feed(root, [bad])
    assert feed_mod.validate(root) != []
    assert _verdicts() == []
    assert feed_mod.validate(root) != []


def test_verdicts_reached_with_jsonschema_are_not_remembered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _feed(tmp_path / "feed")
    monkeypatch.setattr(schema.SchemaValidator, "vouches_for", lambda self, instance: False)
    assert feed_mod.validate(root) == []
    assert _verdicts() == []


def test_a_partial_lint_or_a_changed_entry_list_is_not_remembered_or_trusted(tmp_path: Path, linted: list[int]) -> None:
    root = _feed(tmp_path / "feed")
    feed = feed_mod.load_feed(root)
    assert feed_mod.lint(feed, only=[feed.entries[0].path]) == [] and _verdicts() == []
    assert feed_mod.lint(feed) == [] and len(_verdicts()) == 1
    trusted = feed_mod.load_feed(root)
    trusted.entries.pop()
    linted.clear()
    assert feed_mod.lint(trusted) == [] and sum(linted) == 2


@pytest.mark.parametrize("content", [b"", b"garbage", None])
def test_a_torn_or_unreadable_verdict_is_not_trusted(tmp_path: Path, content: bytes | None) -> None:
    root = _feed(tmp_path / "feed")
    assert feed_mod.validate(root) == []
    (name,) = _verdicts()
    marker = Path(os.environ["DEPGUARD_CACHE_DIR"]) / "lint-verdicts" / name
    marker.unlink()
    if content is None:
        marker.mkdir()
    else:
        marker.write_bytes(content)
    assert not feed_mod.load_feed(root)._known_clean


def test_an_unwritable_cache_is_no_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("DEPGUARD_CACHE_DIR", str(blocker))
    assert feed_mod.validate(_feed(tmp_path / "feed")) == []


def test_old_verdicts_are_pruned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verdicts, "_KEEP", 2)
    for n in range(4):
        verdicts.remember_clean(f"{n:064x}")
        os.utime(Path(os.environ["DEPGUARD_CACHE_DIR"]) / "lint-verdicts" / f"{n:064x}", (n, n))
    verdicts.remember_clean("f" * 64)
    assert _verdicts() == [f"{3:064x}", "f" * 64]


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


@pytest.mark.skipif(feed_mod._fork_context() is None, reason="no fork here: the lint always runs in one process")
@pytest.mark.parametrize("chunk", [0, 150])
def test_lint_shared_with_a_child_finds_what_one_process_finds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    root = _broken_feed(tmp_path / "feed", 1100)
    log = tmp_path / "job-pids"
    real = feed_mod._run_job

    @functools.wraps(real)  # same module and name: the pool pickles it by reference
    def run_job(index: int) -> Any:
        with open(log, "a") as out:
            out.write(f"{os.getpid()}\n")
        return real(index)

    monkeypatch.setattr(feed_mod, "_run_job", run_job)
    seen: list[tuple[int, int]] = []
    shared = feed_mod.lint(feed_mod.load_feed(root), chunk=chunk, progress=lambda d, t: seen.append((d, t)))
    assert {int(pid) for pid in log.read_text().split()} - {os.getpid()}, "a forked worker took jobs"
    monkeypatch.setattr(feed_mod, "_fork_context", lambda: None)
    alone = feed_mod.lint(feed_mod.load_feed(root))
    assert shared == alone and {i.rule for i in alone} >= {"overlap", "schema", "aliases", "layout"}
    assert seen[-1] == (1100, 1100) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert publish.lint_in_chunks(feed_mod.load_feed(root), chunk=chunk) == alone
