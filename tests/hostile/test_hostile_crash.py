"""Half-finished and simultaneous runs: SIGKILL at random points, concurrent syncs, a held lock.

The real CLI in subprocesses on a repo with many projects. Every file must always be one of
the versions a complete sync could have produced (never a partial write), and the next run
must succeed; concurrent runs must end exactly like one run.
"""

from __future__ import annotations

import fcntl
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from feedkit import record, write_feed
from hostilekit import LITELLM, good_records, refused, temp_leftovers, tree_digest
from repokit import depguard, init_repo

PROJECTS = 30
KILLS = 30


def many_projects(path: Path, count: int = PROJECTS) -> Path:
    files: dict[str, str | bytes] = {"pyproject.toml": '[project]\nname = "root"\nversion = "0.1.0"\n'}
    for i in range(count):
        files[f"p{i:02d}/pyproject.toml"] = f'[project]\nname = "p{i}"\nversion = "0.1.0"\ndependencies = ["litellm"]\n'
        files[f"p{i:02d}/constraints.txt"] = "tinylib<3  # ours\n"
        files[f"p{i:02d}/requirements.in"] = "litellm\n"
    return init_repo(path, files)


def feeds(tmp_path: Path) -> tuple[Path, Path]:
    a = write_feed(tmp_path / "feed-a", good_records())
    later = good_records()
    later[0] = record(LITELLM, name="litellm", versions=("1.82.7", "1.82.8", "1.82.9"), modified="2026-04-01T00:00:00Z")
    return a, write_feed(tmp_path / "feed-b", later)


def contents(repo: Path) -> dict[str, bytes]:
    return {
        p.relative_to(repo).as_posix(): p.read_bytes()
        for p in sorted(repo.rglob("*"))
        if p.is_file() and ".git" not in p.parts
    }


def start(repo: Path, feed: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    full_env = {**os.environ, "DEPGUARD_OFFLINE": "1", **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "depguard", "sync", "--feed", str(feed), *args],
        cwd=repo,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigkill_at_random_points_never_leaves_a_partial_file(tmp_path: Path) -> None:
    feed_a, feed_b = feeds(tmp_path)
    repo = many_projects(tmp_path / "repo")
    original = contents(repo)
    states: dict[str, set[bytes]] = {rel: {data} for rel, data in original.items()}
    for name, feed in (("a", feed_a), ("b", feed_b)):
        clone = tmp_path / f"expected-{name}"
        shutil.copytree(repo, clone, symlinks=True)
        assert depguard(clone, "sync", "--feed", str(feed)).returncode == 0
        for rel, data in contents(clone).items():
            states[rel].add(data)
    expected_a = contents(tmp_path / "expected-a")

    # calibrate: when does a run start writing, and when does it end?
    probe = tmp_path / "probe"
    shutil.copytree(repo, probe, symlinks=True)
    began = time.monotonic()
    proc = start(probe, feed_a)
    first_write = None
    watched = probe / "p00" / "pyproject.toml"
    while proc.poll() is None and time.monotonic() - began < 60:
        if first_write is None and watched.read_bytes() != original["p00/pyproject.toml"]:
            first_write = time.monotonic() - began
        time.sleep(0.002)
    total = time.monotonic() - began
    assert proc.returncode == 0
    low, high = 0.8 * (first_write or total / 2), 1.05 * total

    seed = random.randrange(2**32)
    rnd = random.Random(seed)
    mixed = 0
    for kill in range(KILLS):
        proc = start(repo, feed_a if kill % 2 == 0 else feed_b)
        time.sleep(rnd.uniform(low, high))
        finished = proc.poll() is not None
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        now = contents(repo)
        extra = set(now) - set(states)
        assert all(Path(rel).name.endswith(".depguard-tmp") for rel in extra), (seed, kill, extra)
        for rel, versions in states.items():
            assert now[rel] in versions, f"seed {seed}, kill {kill}: {rel} is neither the old nor a new version"
        moved = {rel for rel in states if now[rel] != expected_a[rel]}
        if 0 < len(moved) < len(states) - 1 and not finished:
            mixed += 1
        # keep the kills inside the write phase as the machine speeds up or slows down
        if finished:
            high = max(low * 1.1, high * 0.9)
        elif now == original:
            low = min(high * 0.9, low * 1.1)
    assert mixed >= 1, f"seed {seed}: no kill landed in the middle of a sync ({low:.2f}-{high:.2f} s)"

    after_kills = depguard(repo, "sync", "--feed", str(feed_a))
    assert after_kills.returncode == 0 and "Traceback" not in after_kills.stderr, after_kills.stderr
    assert {rel: data for rel, data in contents(repo).items() if rel in states} == expected_a
    # leftovers of killed writers are swept by the next write of their file
    assert depguard(repo, "sync", "--feed", str(feed_b)).returncode == 0
    assert depguard(repo, "sync", "--feed", str(feed_a)).returncode == 0
    assert contents(repo) == expected_a and temp_leftovers(repo) == []


def test_concurrent_syncs_end_like_one_sync(tmp_path: Path) -> None:
    feed_a, _ = feeds(tmp_path)
    repo = many_projects(tmp_path / "repo", 20)
    expected = tmp_path / "expected"
    shutil.copytree(repo, expected, symlinks=True)
    assert depguard(expected, "sync", "--feed", str(feed_a)).returncode == 0
    procs = [start(repo, feed_a) for _ in range(4)]
    results = [(p.wait(timeout=60), *p.communicate()) for p in procs]
    for code, _out, err in results:
        assert code == 0 and "Traceback" not in err and "changed on disk" not in err, err
    assert tree_digest(repo) == tree_digest(expected)
    written = sum(out.count(": written") for _, out, _ in results)
    assert written == 20 * 3 + 1, "every file was written exactly once"
    assert any("waiting for another depguard sync" in err for _, _, err in results)


def test_concurrent_syncs_outside_git_end_like_one_sync(tmp_path: Path) -> None:
    feed_a, _ = feeds(tmp_path)
    repo = many_projects(tmp_path / "repo", 10)
    shutil.rmtree(repo / ".git")
    expected = tmp_path / "expected"
    shutil.copytree(repo, expected)
    assert depguard(expected, "sync", "--feed", str(feed_a)).returncode == 0
    procs = [start(repo, feed_a) for _ in range(3)]
    for proc in procs:
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0 and "changed on disk" not in err, err
    assert tree_digest(repo) == tree_digest(expected)


def test_a_held_lock_times_out_with_a_clear_error(tmp_path: Path) -> None:
    feed_a, _ = feeds(tmp_path)
    repo = many_projects(tmp_path / "repo", 1)
    before = tree_digest(repo)
    with open(repo / ".git" / "depguard.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        held.seek(0)
        held.truncate()
        held.write(f"{os.getpid()}\n")
        held.flush()
        proc = depguard(repo, "sync", "--feed", str(feed_a), env={"DEPGUARD_LOCK_TIMEOUT": "0.5"})
        refused(
            proc, f"another depguard sync (pid {os.getpid()}) has held", "for more than 0.5 s", "DEPGUARD_LOCK_TIMEOUT"
        )
        assert "waiting for another depguard sync" in proc.stderr
        assert tree_digest(repo) == before
        # a read-only run takes the lock shared: it waits for a writer too, but not for readers
        fcntl.flock(held, fcntl.LOCK_SH)
        check = depguard(repo, "sync", "--feed", str(feed_a), "--check", env={"DEPGUARD_LOCK_TIMEOUT": "0.5"})
        assert check.returncode == 1 and "would change" in check.stdout, check.stderr
    assert depguard(repo, "sync", "--feed", str(feed_a)).returncode == 0


@pytest.mark.parametrize("value", ["soon", "-"])
def test_bad_lock_timeout_is_a_clear_error(tmp_path: Path, value: str) -> None:
    feed_a, _ = feeds(tmp_path)
    repo = many_projects(tmp_path / "repo", 1)
    before = tree_digest(repo)
    refused(
        depguard(repo, "sync", "--feed", str(feed_a), env={"DEPGUARD_LOCK_TIMEOUT": value}),
        "DEPGUARD_LOCK_TIMEOUT must be a number of seconds",
    )
    assert tree_digest(repo) == before
