"""Atomic file replacement: a reader sees the old bytes or the new bytes, never a mix.

The temporary file is created in the target's own directory (a rename across file systems is
not atomic), flushed and fsynced before the rename, and given the target's permission bits,
so a killed process, a full disk or a crash leaves the original file as it was.

A process killed between creating its temporary file and the rename (SIGKILL, power loss)
leaves that file behind: ``.<name>.<pid>.<random>.depguard-tmp``. It is never read, and the
next successful write of the same file removes every such sibling whose process is gone, so
leftovers do not pile up in a user's project.
"""

from __future__ import annotations

import os
import stat
import tempfile
import time
from pathlib import Path

__all__ = ["TEMP_SUFFIX", "stale_temp_files", "write_bytes"]

TEMP_SUFFIX = ".depguard-tmp"
#: A leftover without a readable pid (an older depguard) is removed once this old.
_UNOWNED_SECONDS = 3600.0


def write_bytes(path: Path | str, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically, keeping its mode; creates it if missing."""
    path = Path(path)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)
    for leftover in stale_temp_files(path):
        try:
            leftover.unlink()
        except OSError:
            pass


def stale_temp_files(path: Path | str) -> list[Path]:
    """Temporary files of earlier writes of ``path`` whose writer is gone (killed mid-write)."""
    path = Path(path)
    prefix = f".{path.name}."
    found = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return []
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(TEMP_SUFFIX)):
            continue
        owner = name[len(prefix) :].split(".", 1)[0]
        try:
            if owner.isdigit():
                if int(owner) == os.getpid() or _alive(int(owner)):
                    continue
            elif time.time() - entry.stat(follow_symlinks=False).st_mtime < _UNOWNED_SECONDS:
                continue
            if entry.is_file(follow_symlinks=False):
                found.append(Path(entry.path))
        except OSError:
            continue
    return sorted(found)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
