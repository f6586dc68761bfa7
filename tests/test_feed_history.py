"""``depguard feed validate --changed-since REF``: history rules on crafted git histories.

Each rule is shown failing on the change a careless pull request would make, and passing on
the change it should have made instead. The feed lives in ``feed/`` of a temporary repo whose
``main`` is the REF; the pull request is a branch (or just the work tree) on top of it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from depguard.errors import GitError
from depguard.feed import record_relpath
from depguard.history import validate_changed_since

from feedkit import record, write_feed, write_record
from repokit import depguard, git, init_repo

A, B = "x_DEPGUARD-2026-0001", "x_DEPGUARD-2026-0002"
PATH_A = f"PyPI/litellm/{A}.json"
PATH_B = f"PyPI/evilpkg/{B}.json"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """main: records A (litellm) and B (evilpkg); HEAD is branch ``pr`` at main."""
    repo = init_repo(tmp_path / "repo", {"README.md": "feed\n"})
    write_feed(repo / "feed", [record(A), record(B, name="evilpkg", versions=("0.1.0",))])
    commit(repo, "records")
    git(repo, "checkout", "-q", "-b", "pr")
    return repo


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def rules(repo: Path, ref: str = "main") -> list[tuple[str, str]]:
    report = validate_changed_since(repo / "feed", ref)
    return [(issue.path, issue.rule) for issue in report.issues]


def edit(repo: Path, advisory_id: str = A, **changes: object) -> None:
    data = record(advisory_id) if advisory_id == A else record(advisory_id, name="evilpkg", versions=("0.1.0",))
    data.update(changes)
    write_record(repo / "feed", data)


# --------------------------------------------------------------------------- an id never disappears


def test_deleting_a_record_fails_and_withdrawing_it_passes(repo: Path) -> None:
    (repo / "feed" / PATH_A).unlink()
    commit(repo, "delete")
    assert rules(repo) == [(PATH_A, "history-deleted")]
    issue = validate_changed_since(repo / "feed", "main").issues[0]
    assert A in issue.message and "main" in issue.message and "withdrawn" in issue.message

    git(repo, "reset", "-q", "--hard", "main")
    edit(repo, withdrawn="2026-04-01T00:00:00Z", modified="2026-04-01T00:00:00Z")
    commit(repo, "withdraw")
    assert rules(repo) == []


def test_renumbering_a_record_loses_its_id(repo: Path) -> None:
    data = record(A)
    data["id"] = "x_DEPGUARD-2026-0003"
    (repo / "feed" / PATH_A).unlink()
    write_record(repo / "feed", data)
    assert rules(repo) == [(PATH_A, "history-deleted")]


def test_moving_a_file_keeps_its_id(repo: Path) -> None:
    """Same id at another path is no deletion (the layout rule still names the right place)."""
    (repo / "feed" / PATH_A).rename(repo / "feed" / f"PyPI/{A}.json")
    assert rules(repo) == [(f"PyPI/{A}.json", "layout")]


# --------------------------------------------------------------------------- published is fixed


def test_changing_published_fails_and_keeping_it_passes(repo: Path) -> None:
    edit(repo, published="2026-03-20T00:00:00Z", modified="2026-04-02T00:00:00Z")
    commit(repo, "backdate")
    assert rules(repo) == [(PATH_A, "history-published")]
    assert "'2026-03-24T12:00:00Z' at main" in validate_changed_since(repo / "feed", "main").issues[0].message

    edit(repo, modified="2026-04-02T00:00:00Z", summary="Compromised litellm releases steal credentials")
    commit(repo, "fix")
    assert rules(repo) == []


# --------------------------------------------------------------------------- modified moves forward


def test_content_change_without_a_later_modified_fails(repo: Path) -> None:
    edit(repo, summary="Compromised litellm releases steal cloud credentials")  # modified unchanged
    assert rules(repo) == [(PATH_A, "history-modified")]
    edit(repo, summary="Compromised litellm releases steal cloud credentials", modified="2026-03-24T13:00:00Z")
    assert rules(repo) == [(PATH_A, "history-modified")]  # earlier than at main
    edit(repo, summary="Compromised litellm releases steal cloud credentials", modified="2026-03-26T00:00:00Z")
    assert rules(repo) == []


def test_same_content_needs_no_new_modified(repo: Path) -> None:
    """A record that did not change in meaning (here: not at all) is not even re-linted."""
    edit(repo)
    report = validate_changed_since(repo / "feed", "main")
    assert report.changed == [] and report.issues == []


# --------------------------------------------------------------------------- ids are never reused


def test_new_id_may_not_take_the_number_of_a_record_deleted_before_ref(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo", {"README.md": "feed\n"})
    write_feed(repo / "feed", [record(A)])
    commit(repo, "A")
    old = record("x_DEPGUARD-2026-0005", name="tinylib", versions=("1.0",))
    write_record(repo / "feed", old)
    commit(repo, "add 0005")
    (repo / "feed" / str(record_relpath("PyPI", "tinylib", "x_DEPGUARD-2026-0005"))).unlink()
    commit(repo, "delete 0005 (before the rule existed)")
    git(repo, "checkout", "-q", "-b", "pr")

    reused = record("x_DEPGUARD-2026-0005", name="ultralytics", versions=("8.3.41",))
    write_record(repo / "feed", reused)
    found = validate_changed_since(repo / "feed", "main").issues
    assert [(i.path, i.rule) for i in found] == [("PyPI/ultralytics/x_DEPGUARD-2026-0005.json", "history-id-reused")]
    assert "deleted before main" in found[0].message

    (repo / "feed" / "PyPI/ultralytics/x_DEPGUARD-2026-0005.json").unlink()
    write_record(repo / "feed", record("x_DEPGUARD-2026-0006", name="ultralytics", versions=("8.3.41",)))
    assert rules(repo) == []


def test_new_id_may_not_repeat_a_live_number_with_other_padding(repo: Path) -> None:
    write_record(repo / "feed", record("x_DEPGUARD-2026-00001", name="ultralytics", versions=("8.3.41",)))
    found = validate_changed_since(repo / "feed", "main").issues
    assert [(i.path, i.rule) for i in found] == [("PyPI/ultralytics/x_DEPGUARD-2026-00001.json", "history-id-reused")]
    assert f"still at main as {PATH_A}" in found[0].message


# --------------------------------------------------------------------------- scope and reporting


def test_only_changed_records_are_linted_but_cross_record_rules_see_all(repo: Path) -> None:
    git(repo, "checkout", "-q", "main")
    (repo / "feed" / PATH_B).write_bytes(json.dumps(record(B, name="evilpkg", versions=("0.1.0",))).encode())
    commit(repo, "an old, non-canonical record on main")
    git(repo, "checkout", "-q", "-B", "pr")
    write_record(repo / "feed", record("x_DEPGUARD-2026-0003", name="litellm", versions=("1.82.8",)))  # untracked
    report = validate_changed_since(repo / "feed", "main")
    assert [str(p) for p in report.changed] == ["PyPI/litellm/x_DEPGUARD-2026-0003.json"]
    assert [(i.path, i.rule) for i in report.issues] == [("PyPI/litellm/x_DEPGUARD-2026-0003.json", "overlap")]


def test_cli_reports_every_violation_at_once_text_and_json(repo: Path) -> None:
    edit(repo, summary="changed", published="2026-01-01T00:00:00Z")  # published changed, modified not later
    (repo / "feed" / PATH_B).unlink()
    write_record(repo / "feed", record("x_DEPGUARD-2026-02", name="tinylib", versions=("1.0",)))  # bad id form: lint
    commit(repo, "careless")

    proc = depguard(repo, "feed", "validate", "feed", "--changed-since", "main")
    assert proc.returncode == 1, proc.stderr
    for where, rule in [(PATH_A, "history-published"), (PATH_A, "history-modified"), (PATH_B, "history-deleted")]:
        assert any(line.startswith(f"{where}#") and line.endswith(f"[{rule}]") for line in proc.stdout.splitlines()), (
            proc.stdout
        )
    assert "changed and 1 removed since main (" in proc.stdout

    report = json.loads(
        depguard(repo, "feed", "validate", "feed", "--changed-since", "main", "--format", "json").stdout
    )
    found = {(e["path"], e["rule"]) for e in report["errors"]}
    assert {(PATH_A, "history-published"), (PATH_A, "history-modified"), (PATH_B, "history-deleted")} <= found
    assert any(rule == "schema" and "x_DEPGUARD-2026-02" in path for path, rule in found)
    assert report["changed_since"]["ref"] == "main" and report["changed_since"]["removed"] == [PATH_B]
    assert report["changed_since"]["commit"] == git(repo, "rev-parse", "main").strip()

    git(repo, "reset", "-q", "--hard", "main")
    proc = depguard(repo, "feed", "validate", "feed", "--changed-since", "main")
    assert proc.returncode == 0 and "0 changed and 0 removed since main" in proc.stdout


def test_unknown_ref_or_no_repo_is_exit_2(repo: Path, tmp_path: Path) -> None:
    proc = depguard(repo, "feed", "validate", "feed", "--changed-since", "origin/main")
    assert proc.returncode == 2 and "unknown git revision 'origin/main'" in proc.stderr and "fetch-depth" in proc.stderr
    plain = write_feed(tmp_path / "plain" / "feed", [record(A)])
    with pytest.raises(GitError, match="not inside a git repository"):
        validate_changed_since(plain, "main")
