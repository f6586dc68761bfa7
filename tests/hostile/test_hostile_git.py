"""A hostile *repository*: git metadata committed or planted to make depguard write outside the
repo's own git directory, or run code through git hooks.

The real CLI in a subprocess and real git: a `.git` file whose `gitdir:` points elsewhere
(issue 14 item 12: sync truncated a file there), a lock file that is a hard link or a symlink
to someone else's file, and hooks (`core.hooksPath` and `.git/hooks`) that write a marker
whenever git runs them (issue 14 item 11).
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from feedkit import write_feed
from hostilekit import good_records, victim
from repokit import depguard, git, init_repo

BASE = '[project]\nname = "victim"\nversion = "0.1.0"\n'


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    return write_feed(tmp_path / "feed", good_records())


def digest(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``folder`` with its sha256 and size: created or truncated files show."""
    return {
        p.relative_to(folder).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_size)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def elsewhere(tmp_path: Path) -> Path:
    """Someone else's folder, with a file named like the lock and one named like commondir."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "depguard.lock").write_text("precious data\n")
    (folder / "notes.txt").write_text("more precious data\n")
    return folder


# --------------------------------------------------------------------------- lock file (issue 14 item 12)


@pytest.mark.parametrize("shape", ["gitdir-elsewhere", "gitdir-relative", "commondir-elsewhere"])
def test_a_dot_git_file_pointing_elsewhere_never_gets_a_file_written_there(
    tmp_path: Path, feed: Path, shape: str
) -> None:
    target = elsewhere(tmp_path)
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "pyproject.toml").write_text(BASE)
    if shape == "gitdir-elsewhere":
        (repo / ".git").write_text(f"gitdir: {target}\n")
    elif shape == "gitdir-relative":
        (repo / ".git").write_text("gitdir: ../elsewhere\n")
    else:  # a worktree-like git dir whose commondir leads out
        fake = tmp_path / "fake-gitdir"
        fake.mkdir()
        (fake / "commondir").write_text(os.path.relpath(target, fake) + "\n")
        (fake / "HEAD").write_text("ref: refs/heads/main\n")
        (repo / ".git").write_text(f"gitdir: {fake}\n")
    before = digest(target)
    proc = depguard(repo, "sync", "--feed", str(feed))
    assert "Traceback" not in proc.stderr, proc.stderr
    assert digest(target) == before, "a file outside the repo was created or truncated"
    assert (target / "depguard.lock").read_text() == "precious data\n"


@pytest.mark.parametrize("link", ["hard", "symbolic"])
def test_a_lock_file_linked_to_another_file_is_never_written(tmp_path: Path, feed: Path, link: str) -> None:
    target = elsewhere(tmp_path)
    repo = victim(tmp_path / "repo")
    lock = repo / ".git" / "depguard.lock"
    if link == "hard":
        os.link(target / "depguard.lock", lock)
    else:
        lock.symlink_to(target / "depguard.lock")
    before = digest(target)
    proc = depguard(repo, "sync", "--feed", str(feed))
    assert proc.returncode == 0, proc.stderr  # the lock moves to the private temp dir; sync goes on
    assert digest(target) == before
    assert (target / "depguard.lock").read_text() == "precious data\n"


def test_the_lock_lives_in_the_common_git_dir_of_a_worktree(tmp_path: Path, feed: Path) -> None:
    """The ordinary case git answers: a linked worktree shares the main checkout's lock."""
    from depguard.locking import lock_path

    repo = init_repo(tmp_path / "repo", {"pyproject.toml": BASE})
    git(repo, "worktree", "add", "-q", str(tmp_path / "wt"))
    assert lock_path(tmp_path / "wt") == (repo / ".git" / "depguard.lock").resolve()
    assert lock_path(repo) == (repo / ".git" / "depguard.lock").resolve()
    plain = tmp_path / "repo" / "sub"
    plain.mkdir()
    assert lock_path(plain).parent != (repo / ".git").resolve(), "a folder inside a checkout is not its top"


# --------------------------------------------------------------------------- hooks (issue 14 item 11)

HOOKS = ("reference-transaction", "post-index-change", "post-checkout", "pre-commit", "post-commit", "pre-auto-gc")


def plant_hooks(repo: Path, markers: Path, where: str) -> None:
    """Executable hooks that each leave a marker file when git runs them."""
    if where == "hooksPath":
        folder = repo / "evil-hooks"
        folder.mkdir()
        git(repo, "config", "core.hooksPath", str(folder))
    else:
        folder = repo / ".git" / "hooks"
    for name in HOOKS:
        hook = folder / name
        hook.write_text(f"#!/bin/sh\ntouch '{markers}/{name}'\nexit 0\n")
        hook.chmod(hook.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


@pytest.mark.parametrize("where", ["hooksPath", "dot-git-hooks"])
def test_no_git_hook_runs_in_any_command(tmp_path: Path, feed: Path, where: str) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": BASE, "uv.lock": "version = 1\n"})
    plant_hooks(repo, markers, where)
    git(repo, "update-ref", "refs/heads/probe", "HEAD")  # the hooks are live: git itself runs them
    assert (markers / "reference-transaction").exists()
    (markers / "reference-transaction").unlink()

    for args in (
        ["sync", "--feed", str(feed), "--branch", "depguard/sync"],  # worktree add/remove, update-ref
        ["sync", "--feed", str(feed), "--commit"],  # read-tree, update-index, commit-tree, update-ref
        ["check", "--feed", str(feed)],
        ["sync", "--feed", str(feed), "--check"],
    ):
        proc = depguard(repo, *args)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, (args, proc.stdout, proc.stderr)
        assert sorted(p.name for p in markers.iterdir()) == [], f"depguard {args[0]} {args[-1]} ran a hook"
    assert git(repo, "rev-list", "--count", "main").strip() == "2", "sync --commit made its commit"
    assert git(repo, "rev-list", "--count", "depguard/sync").strip() == "2", "sync --branch made its branch"


def test_git_env_keeps_the_callers_config_entries() -> None:
    from depguard.gitops import git_env

    env = git_env({"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader", "GIT_CONFIG_VALUE_0": "x"})
    assert env["GIT_CONFIG_KEY_0"] == "http.extraHeader" and env["GIT_CONFIG_KEY_1"] == "core.hooksPath"
    assert env["GIT_CONFIG_COUNT"] == "2" and env["GIT_CONFIG_VALUE_1"] == os.devnull
