"""Jobs shared with a forked child give the answers the parent would have computed itself.

Whatever happens to the child (a job raises, it dies, a result cannot be pickled, the parent
gives up on it), the results, or the exception, are the parent's own, in job order.
"""

from __future__ import annotations

import gc
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from depguard import forking

pytestmark = pytest.mark.skipif(not forking.can_fork(), reason="no fork here: every job runs in the parent")


def _slow(value: Any) -> Callable[[], tuple[int, Any]]:
    def job() -> tuple[int, Any]:
        time.sleep(0.05)
        return os.getpid(), value

    return job


def _no_children() -> bool:
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def test_jobs_are_shared_and_results_come_in_job_order() -> None:
    ran_here: list[int] = []
    results = forking.run_shared([_slow(n) for n in range(12)], done=ran_here.append)
    assert [value for _, value in results] == list(range(12))
    pids = {pid for pid, _ in results}
    assert os.getpid() in pids and len(pids) == 2, "both processes took jobs"
    assert sorted(ran_here) == [n for n, (pid, _) in enumerate(results) if pid == os.getpid()]
    assert _no_children()


def test_without_fork_the_parent_runs_every_job_in_order() -> None:
    ran_here: list[int] = []
    results = forking.run_shared([_slow(n) for n in range(3)], fork=False, done=ran_here.append)
    assert results == [(os.getpid(), n) for n in range(3)] and ran_here == [0, 1, 2]


def test_a_job_that_raises_raises_in_the_parent() -> None:
    parent = os.getpid()

    def failing() -> None:
        time.sleep(0.05)
        raise ValueError(f"failed in {os.getpid()}")

    with pytest.raises(ValueError, match=f"failed in {parent}$"):
        forking.run_shared([_slow(0), failing, _slow(2), failing, _slow(4), _slow(5)])
    assert _no_children()


@pytest.mark.parametrize("how", ["exit", "kill", "unpicklable"])
def test_jobs_of_a_failed_child_are_done_by_the_parent(how: str) -> None:
    parent = os.getpid()

    def job() -> Any:
        time.sleep(0.05)
        if os.getpid() != parent:
            if how == "exit":
                os._exit(0)  # nothing reported, yet a clean exit status
            if how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            return lambda: None  # cannot be pickled
        return "parent"

    assert forking.run_shared([job] * 6) == ["parent"] * 6
    assert _no_children()


def test_a_parent_that_gives_up_reaps_the_child() -> None:
    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        forking.run_shared([interrupted, lambda: time.sleep(60), lambda: time.sleep(60)])
    assert _no_children()
    assert gc.get_freeze_count() == 0


def test_no_fork_while_another_thread_runs() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert not forking.can_fork()
        assert {pid for pid, _ in forking.run_shared([_slow(n) for n in range(4)])} == {os.getpid()}
    finally:
        stop.set()
        thread.join()
    assert forking.can_fork()


def test_the_parent_is_frozen_out_of_the_collector_only_while_a_child_runs() -> None:
    assert gc.get_freeze_count() == 0
    seen = forking.run_shared([lambda: (time.sleep(0.05), gc.get_freeze_count())[1]] * 4)
    assert all(count > 0 for count in seen) and gc.get_freeze_count() == 0
    gc.freeze()  # someone else's freeze is left alone
    try:
        frozen = gc.get_freeze_count()
        forking.run_shared([_slow(n) for n in range(4)])
        assert gc.get_freeze_count() > frozen // 2, "not thawed (objects freed meanwhile leave it too)"
    finally:
        gc.unfreeze()


def test_too_many_jobs_are_refused() -> None:
    with pytest.raises(ValueError, match="at most 256 jobs"):
        forking.run_shared([lambda: None] * 257)
