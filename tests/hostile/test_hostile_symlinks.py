"""Links and special files: reading follows the rule writing does. Nothing outside the repo
(or the feed folder) is read through a link, and only regular files are read at all."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from feedkit import record, write_feed, write_record
from repokit import depguard, init_repo

SECRET = "litellm==1.82.7  # TOP-SECRET-TOKEN-abc123\n"


def test_a_committed_link_out_of_the_repo_is_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    repo = init_repo(tmp_path / "repo", {"other/requirements.txt": "litellm==1.82.8\n"})
    os.symlink("../outside/secret.txt", repo / "requirements.txt")
    feed = write_feed(tmp_path / "feed", [record()])
    proc = depguard(repo, "check", "--feed", str(feed), "--format", "json")
    assert "TOP-SECRET" not in proc.stdout + proc.stderr
    assert "requirements.txt: a symlink that leads out of the repository; not read" in proc.stderr
    findings = json.loads(proc.stdout)["findings"]
    assert [(f["path"], f["version"]) for f in findings] == [("other/requirements.txt", "1.82.8")]
    assert proc.returncode == 1  # the finding elsewhere still wins


def test_a_link_to_a_kernel_file_does_not_hang(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo", {"README.md": "x\n"})
    os.symlink("/proc/kmsg", repo / "uv.lock")
    proc = depguard(repo, "check", "--feed", str(write_feed(tmp_path / "feed", [record()])))
    assert proc.returncode == 2 and "uv.lock: a symlink that leads out of the repository" in proc.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_named_like_a_lockfile_is_refused_without_blocking(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo", {"README.md": "x\n"})
    os.mkfifo(repo / "requirements.txt")  # untracked and not ignored: git status sees it
    proc = depguard(repo, "check", "--feed", str(write_feed(tmp_path / "feed", [record()])), "requirements.txt")
    assert proc.returncode == 2 and "requirements.txt: not a regular file; not read" in proc.stderr


def test_a_feed_record_linked_to_a_file_outside_the_feed_is_not_read(tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "feed", [record()])
    outside = tmp_path / "elsewhere.json"
    data = record("x_DEPGUARD-2026-0002", name="evil-outside-value")
    outside.write_text(json.dumps(data))
    link = feed / "PyPI" / "evil-outside-value" / "x_DEPGUARD-2026-0002.json"
    link.parent.mkdir(parents=True)
    os.symlink(outside, link)
    proc = depguard(tmp_path, "feed", "validate", str(feed))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "a symlink that leads out of the feed folder; not read" in proc.stdout
    assert "evil-outside-value" not in proc.stdout.replace("PyPI/evil-outside-value/", "")


def test_a_link_inside_the_repo_is_read(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo", {"real/requirements.txt": "litellm==1.82.7\n"})
    os.symlink("real/requirements.txt", repo / "requirements.txt")
    write_record(tmp_path / "feed", record())
    proc = depguard(repo, "check", "--feed", str(tmp_path / "feed"), "requirements.txt")
    assert proc.returncode == 1, proc.stdout + proc.stderr
