"""One sync at a time per repo: an advisory file lock around plan + apply.

Two ``depguard sync`` runs on one checkout (a pre-commit hook and an editor task, two CI
steps, a bot and a person) would otherwise both plan against the same old bytes; the second
one's compare-before-write check then refuses its files ("changed on disk while sync was
running") and exits 2, although nothing was wrong. With the lock, the second run waits, then
plans against the first one's result and finds it up to date: the outcome equals one sync.

The lock is ``flock`` on ``<git dir>/depguard.lock`` (the common git dir, so every worktree
of a repo shares it), or, outside a git repo, on a file in a per-user temporary directory
keyed by the repo's resolved path. The kernel releases it when the process dies, SIGKILL
included, so a killed run never leaves the repo locked. Read-only runs (``--check``,
``--dry-run``) take it shared: they never see a half-applied sync and never block each other.

Where fcntl is missing (Windows) the lock is a no-op; the compare-before-write check in
:func:`depguard.sync.apply` still keeps concurrent runs from clobbering each other.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from depguard.errors import DepguardError
from depguard.gitops import git_common_dir

__all__ = ["DEFAULT_TIMEOUT", "ENV_LOCK_TIMEOUT", "LockTimeout", "lock_path", "sync_lock"]

ENV_LOCK_TIMEOUT = "DEPGUARD_LOCK_TIMEOUT"
DEFAULT_TIMEOUT = 300.0
LOCK_NAME = "depguard.lock"
_POLL = 0.05


class LockTimeout(DepguardError, TimeoutError):
    """Another depguard run held the repo's lock for longer than the timeout."""


def lock_path(root: Path) -> Path:
    """Where the lock of the repo at ``root`` lives."""
    git_dir = _git_dir(root)
    return git_dir / LOCK_NAME if git_dir is not None else _temp_lock(root)


def _temp_lock(root: Path) -> Path:
    key = hashlib.sha256(str(Path(root).resolve()).encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return _private_temp_dir() / f"{key}.lock"


def _git_dir(root: Path) -> Path | None:
    """The common git directory of the checkout at ``root`` (worktrees share it), or None.

    Asked of git (:func:`depguard.gitops.git_common_dir`): the lock file is created in the
    repo's own git directory and nowhere else, whatever a ``.git`` file claims. A ``.git``
    that is a symlink is not followed (git would): the lock goes to the private temp dir.
    """
    if (Path(root) / ".git").is_symlink():
        return None
    return git_common_dir(root)


def _private_temp_dir() -> Path:
    """``$TMPDIR/depguard-locks-<uid>``, mode 0700 and owned by us (else a fresh private one)."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    directory = Path(tempfile.gettempdir()) / f"depguard-locks-{uid}"
    try:
        directory.mkdir(mode=0o700, exist_ok=True)
        info = directory.lstat()
        if directory.is_symlink() or info.st_uid != uid or info.st_mode & 0o077:
            raise PermissionError(f"{directory} is not private")
    except OSError:
        directory = Path(tempfile.mkdtemp(prefix="depguard-locks-"))
    return directory


def _timeout_from_env() -> float:
    text = os.environ.get(ENV_LOCK_TIMEOUT, "").strip()
    if not text:
        return DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        raise DepguardError(f"{ENV_LOCK_TIMEOUT} must be a number of seconds, not {text!r}") from None
    return max(0.0, value)


@contextlib.contextmanager
def sync_lock(
    root: Path,
    *,
    shared: bool = False,
    timeout: float | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[Path | None]:
    """Hold the repo's sync lock (exclusive, or ``shared`` for read-only runs) for the block.

    Waits up to ``timeout`` seconds (default ``$DEPGUARD_LOCK_TIMEOUT``, else 300), calling
    ``on_wait`` once with a message naming the holder when it has to wait; raises
    :class:`LockTimeout` after that. Yields the lock file, or None when no lock could be
    taken at all (no fcntl, or no writable place for the lock file): locking is a courtesy
    between depguard runs, never a reason to refuse a sync.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield None
        return
    timeout = _timeout_from_env() if timeout is None else timeout
    path = lock_path(root)
    fd = _open(path)
    if fd is None and _git_dir(root) is not None:  # a read-only .git: lock in the temp dir instead
        path = _temp_lock(root)
        fd = _open(path)
    if fd is None:
        yield None
        return
    try:
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        deadline = time.monotonic() + timeout
        told = False
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _holder(fd)
                if time.monotonic() >= deadline:
                    raise LockTimeout(
                        f"another depguard sync{holder} has held {path} for more than {timeout:g} s; "
                        f"try again when it is done (or raise {ENV_LOCK_TIMEOUT})"
                    ) from None
                if not told and on_wait is not None:
                    on_wait(f"waiting for another depguard sync{holder} to finish ({path})")
                    told = True
                time.sleep(_POLL)
        if not shared:
            _record_holder(fd)
        try:
            yield path
        finally:
            if not shared:
                _record_holder(fd, clear=True)  # a later waiter must not name a finished process
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _open(path: Path) -> int | None:
    """The lock file, opened for writing its holder's pid, or None when it cannot be ours.

    Never through a symlink, and never a file that is not regular or has another name too (a
    hard link planted as ``depguard.lock`` would have the holder's pid written over, and the
    file truncated, wherever its other name is).
    """
    import stat

    flags = (
        os.O_RDWR
        | os.O_CREAT
        | getattr(os, "O_NOFOLLOW", 0)
        | getattr(os, "O_CLOEXEC", 0)
        | getattr(os, "O_NONBLOCK", 0)
    )
    try:
        fd = os.open(path, flags, 0o666)  # umask applies; the file only ever holds a pid
    except OSError:
        return None
    try:
        info = os.fstat(fd)
    except OSError:
        info = None
    if info is None or not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        os.close(fd)
        return None
    return fd


def _holder(fd: int) -> str:
    """`` (pid N)`` from the lock file, when the holder wrote it."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except (OSError, AttributeError):
        return ""
    return f" (pid {text})" if text.isdigit() else ""


def _record_holder(fd: int, *, clear: bool = False) -> None:
    try:
        os.ftruncate(fd, 0)
        if not clear:
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    except (OSError, AttributeError):
        pass
