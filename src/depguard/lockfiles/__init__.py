"""Lockfile readers: every format reduced to the same list of :class:`Package` entries.

``check`` must not care whether a version came from ``uv.lock``, a pip-compile output or an
npm lockfile, so each format lives in its own module with one function,
``parse(path, root) -> list[Package]``, and this module only maps file names to those
modules. A reader imports its module on first use, so checking a repo that has only
``uv.lock`` never loads the npm or requirements code.

Every package keeps where it was written (file and line), because a finding a person cannot
find in the file is a finding nobody fixes. A file that cannot be parsed raises
:class:`~depguard.errors.LockfileError` naming the file and line: a security check that
skips what it cannot read reports "clean" for the file most likely to be wrong.
"""

from __future__ import annotations

import fnmatch
import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol

from depguard.errors import LockfileError
from depguard.jsonio import gc_paused

__all__ = [
    "FORMATS",
    "Location",
    "Package",
    "Parser",
    "format_for",
    "format_names",
    "is_lockfile",
    "read_lockfile",
]


class Location(NamedTuple):
    """Where a package entry is: the file, and the 1-based line (None when there is no line)."""

    path: Path
    line: int | None


@dataclass(frozen=True)
class Package:
    """One locked or installed distribution, in its ecosystem's own spelling.

    ``version`` is None when the file does not pin one (an unpinned requirement, a direct
    URL): such an entry can still match an advisory that blocks every version of a package.
    ``hashes`` are lowercase sha256 hex digests of the artifacts the file allows, so a
    known-bad file is caught even when it is published under another name or version.
    """

    ecosystem: str
    name: str
    version: str | None
    hashes: tuple[str, ...]
    location: Location


class Parser(Protocol):
    def __call__(self, path: Path, root: Path) -> list[Package]: ...


#: Format name -> (module under ``depguard.lockfiles``, file-name patterns it reads).
FORMATS: dict[str, tuple[str, tuple[str, ...]]] = {
    "uv.lock": ("uvlock", ("uv.lock",)),
    "pylock.toml": ("pylock", ("pylock.toml", "pylock.*.toml")),
    "poetry.lock": ("poetry", ("poetry.lock",)),
    "pdm.lock": ("pdm", ("pdm.lock",)),
    "requirements.txt": ("requirements", ("requirements*.txt", "*constraints*.txt")),
    "Pipfile.lock": ("pipfile", ("Pipfile.lock",)),
    "package-lock.json": ("npm", ("package-lock.json", "npm-shrinkwrap.json")),
    "pnpm-lock.yaml": ("pnpm", ("pnpm-lock.yaml",)),
    "yarn.lock": ("yarn", ("yarn.lock",)),
    "bun.lock": ("bun", ("bun.lock",)),
    "bun.lockb": ("bunlockb", ("bun.lockb",)),
    "GitHub Actions": (
        "workflows",
        ("action.yml", "action.yaml", ".github/workflows/*.yml", ".github/workflows/*.yaml"),
    ),
}
#: Patterns with a folder part match the file's last path components, not only its name.
_WORKFLOW_SUFFIXES = (".yml", ".yaml")


def format_for(path: Path) -> str | None:
    """The format a file name says it has, or None for files depguard does not read.

    Matching is on the exact file name (case-sensitive, as the tools write them), so
    ``Requirements.TXT`` or ``uv.lock.bak`` are not guessed at; any ``*.txt`` in a folder
    named ``requirements`` is pip's format too (pip-compile outputs beside their ``.in``).
    A GitHub workflow is any ``*.yml``/``*.yaml`` directly in ``.github/workflows`` (where
    GitHub looks for them); ``action.yml``/``action.yaml`` anywhere is an action's metadata.
    """
    for fmt, (_module, patterns) in FORMATS.items():
        if any(fnmatch.fnmatchcase(path.name, pattern) for pattern in patterns if "/" not in pattern):
            return fmt
    if path.suffix in _WORKFLOW_SUFFIXES and path.parent.name == "workflows" and path.parent.parent.name == ".github":
        return "GitHub Actions"
    if path.parent.name == "requirements" and path.suffix == ".txt":  # requirements/main.txt (warehouse, aider)
        return "requirements.txt"
    return None


def format_names() -> str:
    """Every file-name pattern read, for messages (``uv.lock, pylock.toml, ...``)."""
    return ", ".join(p for _m, patterns in FORMATS.values() for p in patterns)


def is_lockfile(path: Path) -> bool:
    return format_for(path) is not None


def _refuse_link_out_of(path: Path, root: Path) -> None:
    """Reading follows the rule writing does: a file inside the repo that is a link to
    somewhere outside it is not read (its content would be quoted in errors and findings).
    A file named by a path outside the repo is the caller's own choice and is read."""
    absolute, top = Path(os.path.abspath(path)), Path(os.path.abspath(root))
    if absolute.is_relative_to(top) and not path.resolve().is_relative_to(root.resolve()):
        raise LockfileError(f"{path}: a symlink that leads out of the repository; not read")


def read_lockfile(path: Path, root: Path, *, fmt: str | None = None) -> list[Package]:
    """The packages of one lockfile; ``root`` bounds the files it may include.

    Raises :class:`LockfileError` when the format is unknown or the file cannot be parsed.
    """
    _refuse_link_out_of(path, root)
    fmt = fmt or format_for(path)
    if fmt is None or fmt not in FORMATS:
        raise LockfileError(f"{path}: not a lockfile format depguard reads (known: {format_names()})")

    module = importlib.import_module(f"depguard.lockfiles.{FORMATS[fmt][0]}")
    parser: Parser = module.parse
    # The parsed file (~100,000 objects for 2,000 packages) is garbage once its packages are
    # read: freed while the collector is paused, it is never traversed (see jsonio.gc_paused).
    with gc_paused():
        return parser(path, root)
