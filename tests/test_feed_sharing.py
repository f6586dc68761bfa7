"""``depguard.feed.share_jobs``: jobs shared with a forked worker give this process's answers.

Whatever happens in the worker (a job raises, it dies) the results, or the exception, are
those this process computes itself, in job order; a parent that gives up (^C) does not wait
for the worker's long job and leaves no process behind. The lint and the build that use it
are compared with one-process runs in test_feed_lint.py and test_publish_fastpaths.py.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from depguard import feed

from feedkit import child_processes, forking_allowed, one_core

pytestmark = pytest.mark.skipif(not forking_allowed(), reason="no fork here: every job runs in this process")


def _slow(value: Any, seconds: float = 0.05) -> Callable[[], tuple[int, Any]]:
    def job() -> tuple[int, Any]:
        time.sleep(seconds)
        return os.getpid(), value

    return job


def test_jobs_are_shared_and_results_come_in_job_order() -> None:
    arrived: list[int] = []
    results = feed.share_jobs([_slow(n) for n in range(12)], fork=True, done=arrived.append)
    assert [value for _, value in results] == list(range(12))
    pids = {pid for pid, _ in results}
    assert os.getpid() in pids and len(pids) == 2, "both processes took jobs"
    assert sorted(arrived) == list(range(12))
    assert child_processes() == []
    assert gc.get_freeze_count() == 0


def test_without_fork_every_job_runs_here_in_order() -> None:
    arrived: list[int] = []
    results = feed.share_jobs([_slow(n) for n in range(3)], fork=False, done=arrived.append)
    assert results == [(os.getpid(), n) for n in range(3)] and arrived == [0, 1, 2]


def test_jobs_past_worker_takes_run_only_here() -> None:
    # the worker's part is short (2 x 0.05 s), this process's long (4 x 0.2 s): the worker,
    # done first, would take the middle ones if it were not told where its part ends
    jobs = [_slow(0), _slow(1)] + [_slow(n, 0.2) for n in range(2, 6)]
    results = feed.share_jobs(jobs, fork=True, worker_takes=2)
    assert [value for _, value in results] == list(range(6))
    pids = [pid for pid, _ in results]
    assert set(pids[2:]) == {os.getpid()}
    assert pids[0] != os.getpid(), "the worker took its part"
    assert child_processes() == []


def test_a_job_failing_in_the_worker_is_redone_here() -> None:
    parent = os.getpid()

    def flaky() -> str:
        if os.getpid() != parent:
            raise RuntimeError("only in the worker")
        return "here"

    assert feed.share_jobs([flaky, flaky, _slow(2, 0.5), _slow(3, 0.5)], fork=True)[:2] == ["here", "here"]


def test_a_job_failing_everywhere_raises_here() -> None:
    def failing() -> None:
        raise ValueError(f"failed in {os.getpid()}")

    with pytest.raises(ValueError, match=f"failed in {os.getpid()}"):
        feed.share_jobs([failing, _slow(1), _slow(2), _slow(3)], fork=True)
    assert child_processes() == []


def test_a_dying_worker_changes_nothing() -> None:
    parent = os.getpid()

    def dies() -> str:
        if os.getpid() != parent:
            os._exit(3)
        return "here"

    assert feed.share_jobs([dies] * 6, fork=True) == ["here"] * 6
    assert child_processes() == []


def test_a_parent_that_gives_up_does_not_wait_for_the_worker() -> None:
    """^C in this process while the worker runs a 60 s job: out at once, the worker killed."""
    parent = os.getpid()

    def job() -> None:
        if os.getpid() != parent:
            time.sleep(60)
        else:
            time.sleep(0.2)  # the worker has certainly claimed the first job by now
            raise KeyboardInterrupt

    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        feed.share_jobs([job, job, job, job], fork=True)
    assert time.monotonic() - start < 20
    assert child_processes() == []
    assert gc.get_freeze_count() == 0


def test_no_fork_while_another_thread_runs() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert {pid for pid, _ in feed.share_jobs([_slow(n) for n in range(4)], fork=True)} == {os.getpid()}
    finally:
        stop.set()
        thread.join()
    assert len({pid for pid, _ in feed.share_jobs([_slow(n) for n in range(12)], fork=True)}) == 2, "shared again"


def test_no_fork_on_one_core() -> None:
    with one_core():
        assert {pid for pid, _ in feed.share_jobs([_slow(n) for n in range(4)], fork=True)} == {os.getpid()}


def test_the_parent_is_frozen_out_of_the_collector_only_while_sharing() -> None:
    seen = feed.share_jobs([lambda: (time.sleep(0.05), gc.get_freeze_count())[1]] * 4, fork=True)
    assert all(count > 0 for count in seen) and gc.get_freeze_count() == 0
    gc.freeze()  # someone else's freeze is left alone
    try:
        frozen = gc.get_freeze_count()
        feed.share_jobs([_slow(n) for n in range(4)], fork=True)
        assert gc.get_freeze_count() > frozen // 2, "not thawed (objects freed meanwhile leave it too)"
    finally:
        gc.unfreeze()
