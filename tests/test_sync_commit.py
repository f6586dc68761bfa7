"""``depguard sync --commit`` / ``--branch``: the real CLI in temporary git repos.

The promises under test: the commit holds exactly sync's files (and uv.lock files --relock
refreshed), the user's other staged and unstaged work stays as it was and out of the commit,
--branch never touches the user's checkout, nothing is committed when nothing changed, and an
unsafe git state is refused before anything is written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from feedkit import record, write_feed, write_record
from repokit import GIT_ENV, depguard, git, init_repo, tree_digest
from support import resolvers

PY = f">={sys.version_info.major}.{sys.version_info.minor}"
LITELLM = "x_DEPGUARD-2026-0001"


def project(deps: list[str], name: str = "demo") -> str:
    listed = "".join(f'    "{d}",\n' for d in deps)
    return f'[project]\nname = "{name}"\nversion = "0.1.0"\nrequires-python = "{PY}"\ndependencies = [\n{listed}]\n'


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    return write_feed(
        tmp_path / "feed",
        [
            record(LITELLM, name="litellm", versions=("1.82.7", "1.82.8")),
            record("x_DEPGUARD-2026-0002", name="evilpkg", versions=("0.1.0", "0.2.0"), whole_package=True),
        ],
    )


def sync(repo: Path, feed: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return depguard(repo, "sync", "--feed", str(feed), *args, env={**GIT_ENV, **(env or {})})


def git_status(repo: Path) -> dict[str, str]:
    """Everything a user would see of their checkout's state besides file bytes."""
    return {
        "head": git(repo, "rev-parse", "HEAD"),
        "branch": git(repo, "rev-parse", "--abbrev-ref", "HEAD"),
        "index": git(repo, "ls-files", "--stage"),
        "staged": git(repo, "diff", "--cached", "--binary"),
        "unstaged": git(repo, "diff", "--binary"),
        "status": git(repo, "status", "--porcelain=v1", "--untracked-files=all"),
        "worktrees": git(repo, "worktree", "list", "--porcelain"),
    }


def committed_paths(repo: Path, rev: str = "HEAD") -> list[str]:
    return git(repo, "diff-tree", "--no-commit-id", "--name-only", "-r", f"{rev}^", rev).split()


def busy_repo(tmp_path: Path) -> Path:
    """A repo with a project to protect plus staged, unstaged and untracked work of the user's own."""
    repo = init_repo(
        tmp_path / "repo",
        {
            "pyproject.toml": project(["litellm"]),
            "constraints.txt": "tinylib<2\n",
            "README.md": "hello\n",
            "src/app.py": "print('v1')\n",
            "notes.txt": "one\n",
        },
    )
    (repo / "README.md").write_text("hello, staged\n")
    git(repo, "add", "README.md")
    (repo / "README.md").write_text("hello, staged, then edited again\n")  # staged AND unstaged
    (repo / "src/app.py").write_text("print('v2, not staged')\n")
    (repo / "new_module.py").write_text("x = 1\n")
    git(repo, "add", "new_module.py")  # a staged new file
    (repo / "scratch.txt").write_text("untracked\n")
    git(repo, "rm", "-q", "--cached", "notes.txt")  # a staged deletion, file kept on disk
    return repo


# --------------------------------------------------------------------------- --commit


def test_commit_holds_only_sync_files_and_leaves_other_work_alone(tmp_path: Path, feed: Path) -> None:
    repo = busy_repo(tmp_path)
    before = git_status(repo)
    others = {k: v for k, v in tree_digest(repo).items() if k not in {"pyproject.toml", "constraints.txt"}}

    proc = sync(repo, feed, "--commit")

    assert proc.returncode == 0, proc.stderr
    assert "committed " in proc.stdout and " on refs/heads/main" not in proc.stdout and "on main" in proc.stdout
    assert committed_paths(repo) == ["constraints.txt", "pyproject.toml"]
    assert git(repo, "rev-parse", "HEAD^") == before["head"]
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD") == before["branch"]
    for path in ("pyproject.toml", "constraints.txt"):  # committed bytes == work tree bytes, and clean
        assert git(repo, "show", f"HEAD:{path}") == (repo / path).read_text()
    assert "litellm!=1.82.7,!=1.82.8" in (repo / "pyproject.toml").read_text()
    after = git_status(repo)
    assert after["staged"] == before["staged"] and after["unstaged"] == before["unstaged"]
    assert after["status"] == before["status"]  # pyproject/constraints were clean and are clean again
    assert {k: v for k, v in tree_digest(repo).items() if k in others} == others
    assert git(repo, "show", "HEAD:README.md") == "hello\n"  # the staged edit did not leak in
    assert "notes.txt" in git(repo, "ls-tree", "--name-only", "HEAD")  # nor the staged deletion


def test_commit_subject_names_the_newest_advisory_first(tmp_path: Path) -> None:
    """Issue 13: "ctx, 0x000testqwe, aiocpa and 3 more" hid litellm; newest incidents come first."""
    feed = write_feed(
        tmp_path / "feed",
        [
            record(
                f"x_DEPGUARD-{year}-0001",
                name=name,
                versions=("1.0",),
                published=f"{year}-01-01T00:00:00Z",
                modified=f"{year}-01-02T00:00:00Z",
            )
            for year, name in [
                (2019, "aaa"),
                (2020, "bbb"),
                (2021, "ccc"),
                (2022, "ddd"),
                (2026, "newest"),
                (2024, "mid"),
            ]
        ],
    )
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": project([])})
    assert sync(repo, feed, "--commit").returncode == 0
    subject = git(repo, "log", "-1", "--format=%s").strip()
    assert subject == "depguard: exclude compromised releases of newest, mid, ddd and 3 more"


def test_commit_message_explains_added_and_lifted_advisories(tmp_path: Path, feed: Path) -> None:
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": project(["litellm", "evilpkg"])})
    message_file = tmp_path / "body.md"
    proc = sync(repo, feed, "--commit", "--message-file", str(message_file))
    assert proc.returncode == 0, proc.stderr
    message = git(repo, "log", "-1", "--format=%B").rstrip("\n") + "\n"
    assert message_file.read_text() == message
    subject, blank, *_ = message.splitlines()
    assert subject.startswith("depguard: exclude compromised releases of ") and "litellm" in subject and blank == ""
    assert f"- {LITELLM} (MAL-2026-2144): Compromised litellm releases" in message
    assert "litellm: 1.82.7, 1.82.8" in message and "evilpkg: every version" in message
    assert "https://example.org/report" in message and "https://osv.dev/vulnerability/MAL-2026-2144" in message
    assert f"Reproduce: depguard sync --feed {feed}" in message
    assert "Lifted" not in message

    write_record(feed, record(LITELLM, withdrawn="2026-04-01T00:00:00Z", modified="2026-04-01T00:00:00Z"))
    proc = sync(repo, feed, "--commit")
    assert proc.returncode == 0, proc.stderr
    message = git(repo, "log", "-1", "--format=%B")
    assert message.startswith("depguard: lift exclusions of litellm")
    assert f"- {LITELLM} (MAL-2026-2144)" in message.split("Lifted:")[1]
    assert "litellm: 1.82.7, 1.82.8 (withdrawn 2026-04-01T00:00:00Z)" in message
    assert "Newly excluded" not in message


def test_nothing_changed_means_no_commit(tmp_path: Path, feed: Path) -> None:
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": project(["litellm"])})
    assert sync(repo, feed, "--commit").returncode == 0
    head, digest = git(repo, "rev-parse", "HEAD"), tree_digest(repo)
    message_file = tmp_path / "body.md"

    proc = sync(repo, feed, "--commit", "--message-file", str(message_file))
    assert proc.returncode == 0, proc.stderr
    assert "nothing to commit" in proc.stdout
    proc = sync(repo, feed, "--branch", "depguard/sync")
    assert proc.returncode == 0 and "nothing to commit" in proc.stdout

    assert git(repo, "rev-parse", "HEAD") == head and tree_digest(repo) == digest
    assert not message_file.exists()
    assert git(repo, "branch", "--list", "depguard/sync") == ""


def test_json_report_names_the_commit(tmp_path: Path, feed: Path) -> None:
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": project(["litellm"])})
    proc = sync(repo, feed, "--branch", "bot", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["commit"]["sha"] == git(repo, "rev-parse", "bot").strip()
    assert report["commit"]["branch"] == "bot" and report["commit"]["files"] == ["pyproject.toml"]
    assert report["commit"]["message"] == git(repo, "log", "-1", "--format=%B", "bot").rstrip("\n") + "\n"
    assert [f["path"] for f in report["files"] if f["written"]] == ["pyproject.toml"]


def test_relocked_uv_lock_is_committed_too(tmp_path: Path, feed: Path, local_index: Path) -> None:
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": project(["litellm>=1.82"])})
    uv_env = resolvers.clean_env(extra={"UV_FIND_LINKS": str(local_index)})
    resolvers.uv_lock(repo, local_index).assert_ok()
    assert resolvers.locked_versions(repo)["litellm"] == "1.82.9"
    (repo / "pyproject.toml").write_text(project(["litellm>=1.82,<1.82.9"]))
    resolvers.uv_lock(repo, local_index).assert_ok()  # now locks 1.82.8, a compromised release
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "lock")
    uv_dir = str(Path(resolvers.find_uv()).parent)

    proc = sync(repo, feed, "--commit", "--relock", env={**uv_env, "PATH": uv_dir + os.pathsep + uv_env["PATH"]})

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert committed_paths(repo) == ["pyproject.toml", "uv.lock"]
    assert resolvers.locked_versions(repo)["litellm"] == "1.82.6"
    assert "uv.lock: relocked with `uv lock`" in git(repo, "log", "-1", "--format=%B")
    assert git(repo, "status", "--porcelain") == ""


# --------------------------------------------------------------------------- --branch


def test_branch_mode_never_touches_the_checkout(tmp_path: Path, feed: Path) -> None:
    repo = busy_repo(tmp_path)
    (repo / "pyproject.toml").write_text(project(["litellm", "my-unfinished-edit"]))  # a dirty target file
    before, digest = git_status(repo), tree_digest(repo)

    proc = sync(repo, feed, "--branch", "depguard/sync")

    assert proc.returncode == 0, proc.stderr
    assert "on depguard/sync" in proc.stdout
    assert git_status(repo) == before and tree_digest(repo) == digest  # same branch, index, files, work trees
    assert git(repo, "rev-parse", "depguard/sync^") == before["head"]
    assert committed_paths(repo, "depguard/sync") == ["constraints.txt", "pyproject.toml"]
    on_branch = git(repo, "show", "depguard/sync:pyproject.toml")
    assert "litellm!=1.82.7,!=1.82.8" in on_branch
    assert "my-unfinished-edit" not in on_branch  # built from HEAD, not from the dirty work tree
    assert git(repo, "show", "depguard/sync:README.md") == "hello\n"


def test_branch_is_reset_from_head_on_the_next_run(tmp_path: Path, feed: Path) -> None:
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": project(["litellm"])})
    assert sync(repo, feed, "--branch", "bot").returncode == 0
    first = git(repo, "rev-parse", "bot")
    write_record(feed, record("x_DEPGUARD-2026-0003", name="tinylib", versions=("2.0",)))
    proc = sync(repo, feed, "--branch", "bot")
    assert proc.returncode == 0, proc.stderr
    assert git(repo, "rev-parse", "bot") != first
    assert git(repo, "rev-parse", "bot^") == git(repo, "rev-parse", "HEAD")  # one commit on HEAD, not stacked
    assert "tinylib!=2.0" in git(repo, "show", "bot:pyproject.toml")
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD") == "main\n"


def test_detached_head_is_fine_with_a_branch(tmp_path: Path, feed: Path) -> None:
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": project(["litellm"])})
    git(repo, "checkout", "-q", "--detach")
    proc = sync(repo, feed, "--branch", "bot")
    assert proc.returncode == 0, proc.stderr
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD") == "HEAD\n"
    assert git(repo, "rev-parse", "bot^") == git(repo, "rev-parse", "HEAD")


# --------------------------------------------------------------------------- refusals


def _git_may_fail(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, env={**os.environ, **GIT_ENV}, capture_output=True, check=False)


def _conflicted(tmp_path: Path, operation: str) -> Path:
    """A repo left in the middle of a conflicting merge, rebase or cherry-pick."""
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": project(["litellm"]), "a.txt": "base\n"})
    git(repo, "checkout", "-q", "-b", "other")
    (repo / "a.txt").write_text("other\n")
    git(repo, "commit", "-qam", "other")
    git(repo, "checkout", "-q", "main")
    (repo / "a.txt").write_text("main\n")
    git(repo, "commit", "-qam", "main")
    if operation == "rebase":
        git(repo, "checkout", "-q", "other")
        _git_may_fail(repo, "rebase", "main")
    else:
        _git_may_fail(repo, operation, "other")
    return repo


@pytest.mark.parametrize(
    ("operation", "marker", "words"),
    [
        ("merge", "MERGE_HEAD", "a merge is in progress"),
        ("rebase", "rebase-merge", "a rebase is in progress"),
        ("cherry-pick", "CHERRY_PICK_HEAD", "a cherry-pick is in progress"),
    ],
)
def test_refuses_during_merge_rebase_cherry_pick(
    tmp_path: Path, feed: Path, operation: str, marker: str, words: str
) -> None:
    repo = _conflicted(tmp_path, operation)
    assert (repo / ".git" / marker).exists()
    before, digest = git_status(repo), tree_digest(repo)
    for args in (["--commit"], ["--branch", "bot"]):
        proc = sync(repo, feed, *args)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert words in proc.stderr and "Traceback" not in proc.stderr
        assert git_status(repo) == before and tree_digest(repo) == digest


def test_refuses_detached_head_without_branch(tmp_path: Path, feed: Path) -> None:
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": project(["litellm"])})
    git(repo, "checkout", "-q", "--detach")
    digest = tree_digest(repo)
    proc = sync(repo, feed, "--commit")
    assert proc.returncode == 2
    assert "HEAD is detached" in proc.stderr and "--branch" in proc.stderr
    assert tree_digest(repo) == digest


def test_refuses_outside_a_git_repo(tmp_path: Path, feed: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "pyproject.toml").write_text(project(["litellm"]))
    digest = tree_digest(plain)
    proc = sync(plain, feed, "--commit", env={"GIT_CEILING_DIRECTORIES": str(tmp_path)})
    assert proc.returncode == 2
    assert "not inside a git repository" in proc.stderr
    assert tree_digest(plain) == digest


def test_refuses_when_a_file_to_change_has_uncommitted_edits(tmp_path: Path, feed: Path) -> None:
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": project(["litellm"])})
    (repo / "pyproject.toml").write_text(project(["litellm", "half-done"]))
    before, digest = git_status(repo), tree_digest(repo)
    proc = sync(repo, feed, "--commit")
    assert proc.returncode == 2
    assert "pyproject.toml: uncommitted changes" in proc.stderr and "--branch" in proc.stderr
    assert git_status(repo) == before and tree_digest(repo) == digest


@pytest.mark.parametrize("name", ["main", "-x", "refs/heads/x", "bad..name", "@{-1}"])
def test_refuses_a_checked_out_or_invalid_branch(tmp_path: Path, feed: Path, name: str) -> None:
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": project(["litellm"])})
    before, digest = git_status(repo), tree_digest(repo)
    proc = sync(repo, feed, f"--branch={name}")
    assert proc.returncode == 2, proc.stdout
    assert "depguard: error:" in proc.stderr and "Traceback" not in proc.stderr
    assert git_status(repo) == before and tree_digest(repo) == digest


def test_commit_cannot_be_combined_with_check(tmp_path: Path, feed: Path) -> None:
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": project(["litellm"])})
    proc = sync(repo, feed, "--commit", "--check")
    assert proc.returncode == 2 and "cannot be combined" in proc.stderr
