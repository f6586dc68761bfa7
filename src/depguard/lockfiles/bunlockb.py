"""bun's binary ``bun.lockb``: not read, but never passed over in silence.

bun 1.2 replaced it with the text ``bun.lock``, which is read. A repo holding only the
binary file would otherwise look like a repo without lockfiles, and ``check`` would call it
clean; instead it is an error that says how to get the text file. Next to a ``bun.lock``
(which bun uses when both exist) it adds nothing and is skipped.
"""

from __future__ import annotations

from pathlib import Path

from depguard.errors import LockfileError
from depguard.lockfiles import Package

__all__ = ["parse"]


def parse(path: Path, root: Path) -> list[Package]:
    """No packages when ``bun.lock`` sits beside ``path``; otherwise a :class:`LockfileError`."""
    if (path.parent / "bun.lock").is_file():
        return []
    raise LockfileError(
        f"{path}: the binary bun.lockb is not read; write the text lockfile with "
        "`bun install --save-text-lockfile --lockfile-only` and check bun.lock"
    )
