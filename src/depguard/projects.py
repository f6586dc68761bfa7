"""Finding the Python projects in a repo, and where each one's constraints must go.

uv reads ``constraint-dependencies`` only from the workspace root's pyproject.toml: a member's
own entry, a project-local ``uv.toml`` and a user ``uv.toml`` are silently ignored by
``uv lock``. So discovery does not just list pyproject files; it works out each file's role,
and only standalone projects and workspace roots are ever written for the uv target.
"""

from __future__ import annotations

import enum
import fnmatch
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from depguard.config import read_toml
from depguard.display import printable
from depguard.errors import ProjectError

__all__ = ["Role", "Project", "discover", "require_inside", "table_at", "SKIPPED_DIRS"]

#: Directory names never searched: virtualenvs, caches, vendored code, VCS metadata.
SKIPPED_DIRS = frozenset(
    {".git", ".hg", ".svn", ".venv", "venv", ".tox", ".nox", "node_modules", "site-packages",
     "__pycache__", "vendor", "_vendor", "third_party", "build", "dist", ".mypy_cache", ".pytest_cache"}
)


class Role(str, enum.Enum):
    STANDALONE = "standalone"
    WORKSPACE_ROOT = "workspace root"
    MEMBER = "workspace member"


@dataclass
class Project:
    """One pyproject.toml and what sync may write for it."""

    directory: Path
    role: Role
    workspace_root: Path | None = None
    members: list[Path] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict, repr=False)
    requirements_in: list[Path] = field(default_factory=list)
    constraints_files: list[Path] = field(default_factory=list)
    error: str | None = None

    @property
    def pyproject(self) -> Path:
        return self.directory / "pyproject.toml"

    @property
    def own_uv_constraints(self) -> list[Any]:
        """``[tool.uv] constraint-dependencies`` as written in this file (a member's is ignored by uv)."""
        value = table_at(self.data, "tool", "uv").get("constraint-dependencies", [])
        return value if isinstance(value, list) else []


def table_at(data: Any, *keys: str) -> dict[str, Any]:
    """The table at ``keys`` in parsed TOML, or ``{}``: ``tool = 1`` or ``[[tool.uv]]`` (an
    array of tables) in a contributor's file must be "no such table" here, not a crash; the
    writer refuses such shapes with a message of its own."""
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data if isinstance(data, dict) else {}


def _skipped(rel: PurePosixPath) -> bool:
    return any(part in SKIPPED_DIRS or part.endswith(".egg-info") for part in rel.parts[:-1])


def _candidate_files(root: Path, tracked: Iterable[Path] | None) -> list[Path]:
    if tracked is not None:
        files = list(tracked)
    else:
        files = [p for p in root.rglob("*") if p.is_file() and not (p.parent / "pyvenv.cfg").exists()]
    result = []
    venvs: dict[PurePosixPath, bool] = {}  # folder -> holds a pyvenv.cfg; files share folders
    for path in files:
        try:
            rel = PurePosixPath(path.relative_to(root).as_posix())
        except ValueError:
            continue
        if not _skipped(rel) and not any(_is_venv(root, p, venvs) for p in rel.parents if str(p) != "."):
            result.append(path)
    return sorted(result)


def _is_venv(root: Path, folder: PurePosixPath, seen: dict[PurePosixPath, bool]) -> bool:
    if folder not in seen:
        seen[folder] = (root / folder / "pyvenv.cfg").exists()
    return seen[folder]


def discover(root: Path, *, tracked: Iterable[Path] | None = None, exclude: Sequence[str] = ()) -> list[Project]:
    """Every project under ``root``, with workspace roles resolved.

    ``tracked`` is git's list of files (preferred: ignored files and untracked venvs are then
    invisible); without it the tree is walked, skipping virtualenvs and vendored folders.
    """
    files = _candidate_files(root, tracked)
    by_dir: dict[Path, Project] = {}
    extra: dict[Path, list[Path]] = {}
    for path in files:
        rel = path.relative_to(root).as_posix()
        if any(fnmatch.fnmatch(rel, pattern) for pattern in exclude):
            continue
        if path.name == "pyproject.toml":
            if path.is_symlink() or not path.is_file():
                raise ProjectError(f"{path}: not a regular file; refusing to follow it")
            try:
                by_dir[path.parent] = Project(path.parent, Role.STANDALONE, data=read_toml(path))
            except ProjectError as exc:  # one broken file must not leave the other projects unprotected
                by_dir[path.parent] = Project(path.parent, Role.STANDALONE, error=str(exc))
        elif path.name.startswith("requirements") and path.suffix == ".in":
            extra.setdefault(path.parent, []).append(path)
    _resolve_workspaces(by_dir)
    for directory, project in by_dir.items():
        project.requirements_in = sorted(extra.get(directory, []))
    return sorted(by_dir.values(), key=lambda p: p.directory)


def _resolve_workspaces(projects: dict[Path, Project]) -> None:
    for directory, project in sorted(projects.items()):
        workspace = table_at(project.data, "tool", "uv").get("workspace")
        if not isinstance(workspace, dict):
            continue
        project.role = Role.WORKSPACE_ROOT
        members = _globs(workspace.get("members"))
        excluded = _globs(workspace.get("exclude"))
        for other_dir, other in projects.items():
            if other_dir == directory or not other_dir.is_relative_to(directory):
                continue
            rel = other_dir.relative_to(directory).as_posix()
            if any(_glob_match(rel, g) for g in members) and not any(_glob_match(rel, g) for g in excluded):
                other.role = Role.MEMBER
                other.workspace_root = directory
                project.members.append(other_dir)


def _globs(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _glob_match(rel: str, pattern: str) -> bool:
    """uv's member globs: path segments, ``*`` not crossing ``/``, ``**`` crossing any depth."""
    pattern = pattern.strip("/").removeprefix("./")
    return _match_parts(rel.split("/"), pattern.split("/"))


def _match_parts(parts: list[str], pats: list[str]) -> bool:
    if not pats:
        return not parts
    if pats[0] == "**":
        return any(_match_parts(parts[i:], pats[1:]) for i in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], pats[0]) and _match_parts(parts[1:], pats[1:])


def require_inside(path: Path, directory: Path) -> None:
    """Refuse ``path`` unless it is a plain path below ``directory``: no symbolic link on the way.

    ``constraints-file = "ci/constraints.txt"`` is checked by the config to be relative and
    free of ``..``, but a committed symlink ``ci -> /home/someone/.config`` would still send
    the write out of the repo: a malicious contributor's file would decide where depguard
    writes. Every component from ``directory`` down, the file itself included, must not be a
    symbolic link, and the parent must resolve inside ``directory``.
    """
    try:
        rel = path.relative_to(directory)
    except ValueError:
        raise ProjectError(f"{path}: not inside the project {directory}; refusing to write it") from None
    current = directory
    for part in rel.parts:
        current = current / part
        if current.is_symlink():
            try:
                target = printable(os.readlink(current))  # the link's target is the contributor's text
            except OSError:
                target = "?"
            raise ProjectError(
                f"{path}: {current.relative_to(directory).as_posix()} is a symbolic link (to {target}); "
                "refusing to write through it"
            )
    # a file directly in ``directory`` is inside it by construction: no need to resolve both
    if path.parent != directory and not path.parent.resolve().is_relative_to(directory.resolve()):
        raise ProjectError(f"{path}: resolves outside the project {directory}; refusing to write it")
