"""Share CPU-bound jobs over the data already in memory with one forked child: two cores, one answer.

Why: ``feed validate`` and ``feed build`` spend seconds on pure computation over a parsed feed
(per-record rules; archives, pages and twenty thousand small files), and publishing machines,
CI runners included, have at least two cores. A forked child sees the parent's parsed feed
without copying or pickling it, starts in milliseconds, and sends back only its results.
``multiprocessing`` with ``spawn`` would re-import depguard and re-read the feed, which is the
very work to save.

The two processes take jobs from one list as they become free (each job number is one byte in
a pipe; reading a byte claims a job), so a job that runs long, such as creating files on a
busy disk, does not leave the other process idle. Which process ran a job never shows in
the results: each job computes the same thing wherever it runs.

When the fork is not safe or not useful every job runs in this process, in order: on
platforms other than Linux (macOS forks badly, Windows cannot), when another thread is running
(a child would inherit the locks it holds), or when this process may use one core only.

While the child runs, the parent's objects are frozen out of the garbage collector
(``gc.freeze``): a collection walking them would write to every page the two processes still
share and copy them all, and the objects the fork found are long-lived anyway.

A failed child never changes an answer: the jobs it did not report done (it died, a job
raised, a result could not be pickled) run again here, so an error is raised in this process
with this process's traceback. Jobs must therefore be repeatable, as pure computations and
writes of the same bytes to the same file are. Pickle only crosses a pipe this process made
for its own child.
"""

from __future__ import annotations

import gc
import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

__all__ = ["run_shared", "can_fork", "MAX_JOBS"]

T = TypeVar("T")
#: Jobs one call can share: each job number travels as one byte.
MAX_JOBS = 256


def can_fork() -> bool:
    """Whether a forked child can safely take a share of the work now (see the module docstring)."""
    if not sys.platform.startswith("linux"):
        return False
    if threading.active_count() != 1:
        return False
    try:
        return len(os.sched_getaffinity(0)) >= 2
    except OSError:
        return False


def run_shared(
    jobs: Sequence[Callable[[], T]], *, fork: bool = True, done: Callable[[int], None] | None = None
) -> list[T]:
    """Every job's result, in job order; the jobs shared with a forked child when that is possible.

    ``fork=False`` (work too small to be worth a process) runs them all here. ``done(index)``
    is called here after each job this process ran. List long jobs first: the last job taken
    decides when both are done.
    """
    if len(jobs) > MAX_JOBS:
        raise ValueError(f"at most {MAX_JOBS} jobs can be shared, not {len(jobs)}")
    if not (fork and len(jobs) > 1 and can_fork()):
        return [_run(jobs, index, done) for index in range(len(jobs))]
    return _Fork(jobs).run(done)


def _run(jobs: Sequence[Callable[[], T]], index: int, done: Callable[[int], None] | None) -> T:
    result = jobs[index]()
    if done is not None:
        done(index)
    return result


class _Fork:
    """One call of :func:`run_shared` with a child: the job pipe, the result pipe, the child."""

    def __init__(self, jobs: Sequence[Callable[[], Any]]) -> None:
        self.jobs = jobs
        self.pid: int | None = None
        self.froze = False

    def run(self, done: Callable[[int], None] | None) -> list[Any]:
        claims, offer = os.pipe()
        os.write(offer, bytes(range(len(self.jobs))))  # a few hundred bytes: the pipe holds them all
        os.close(offer)  # so that reading an empty pipe means "no jobs left", in both processes
        reports = None
        try:
            reports = self._start(claims)
            results: dict[int, Any] = {}
            while claimed := os.read(claims, 1):
                results[claimed[0]] = _run(self.jobs, claimed[0], done)
            if reports is not None:
                results = {**self._collect(reports), **results}
                reports = None
            for index in range(len(self.jobs)):  # what the child did not report: done here
                if index not in results:
                    results[index] = _run(self.jobs, index, done)
            return [results[index] for index in range(len(self.jobs))]
        finally:
            os.close(claims)
            if reports is not None:
                os.close(reports)
            self._stop()

    def _start(self, claims: int) -> int | None:
        """Fork the child; the pipe its report will come through, or None when no child started."""
        reports, report = os.pipe()
        self.froze = gc.get_freeze_count() == 0  # never thaw what someone else froze
        if self.froze:
            gc.freeze()
        try:
            pid = os.fork()
        except OSError:  # no memory or process slots for a child: the parent takes every job
            os.close(reports)
            os.close(report)
            return None
        if pid == 0:
            os.close(reports)
            _child(self.jobs, claims, report)
        os.close(report)
        self.pid = pid
        return reports

    def _collect(self, reports: int) -> dict[int, Any]:
        """The results the child reported (none when it failed), after reaping it."""
        chunks = []
        with open(reports, "rb", closefd=True) as pipe:
            while chunk := pipe.read(1 << 20):
                chunks.append(chunk)
        assert self.pid is not None
        _, status = os.waitpid(self.pid, 0)
        self.pid = None
        if os.waitstatus_to_exitcode(status) != 0 or not chunks:
            return {}
        try:
            reported = pickle.loads(b"".join(chunks))  # noqa: S301 - written by our own child through our own pipe
        except Exception:  # noqa: BLE001 - a garbled report is a failed child: its jobs are redone
            return {}
        return reported if isinstance(reported, dict) else {}

    def _stop(self) -> None:
        """Kill and reap a child still running (the parent is giving up), and thaw the collector."""
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(self.pid, 0)
            self.pid = None
        if self.froze:
            gc.unfreeze()
            self.froze = False


def _child(jobs: Sequence[Callable[[], Any]], claims: int, report: int) -> None:
    """Run in the forked child: take jobs until none is left, report the results, never return.

    A job that raises ends the child's work; what it finished is still reported, and the
    parent redoes the rest. The parent's exit handlers never run here and its buffers are
    never flushed from here (``os._exit``).
    """
    status = 1
    results: dict[int, Any] = {}
    try:
        gc.disable()  # a short-lived child: collections would only copy the parent's pages
        while claimed := os.read(claims, 1):
            results[claimed[0]] = jobs[claimed[0]]()
    except BaseException:  # noqa: BLE001 - the parent redoes whatever is not reported
        pass
    try:
        payload = pickle.dumps(results, protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(payload)
        while view:
            view = view[os.write(report, view) :]
        status = 0
    except BaseException:  # noqa: BLE001 - nothing reported: the parent redoes every job
        pass
    finally:
        os._exit(status)
