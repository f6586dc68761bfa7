"""Finding the Python projects in a repo, and where each one's constraints must go.

uv reads ``constraint-dependencies`` only from the workspace root's pyproject.toml: a member's
own entry, a project-local ``uv.toml`` and a user ``uv.toml`` are silently ignored by
``uv lock``. So discovery does not just list pyproject files; it works out each file's role,
and only standalone projects and workspace roots are ever written for the uv target.

Which tool resolves a project is decided from its files (:func:`detect_resolvers`), because a
``[tool.uv]`` block in a poetry or pdm project is read by nobody: writing it and saying
"written" would leave that project unprotected while looking protected.

Projects under test-fixture and template folders (:data:`FIXTURE_DIRS`, and cookiecutter or
copier folders whose name holds ``{{``) are data of the repo's own tests, not projects anyone
resolves: they are reported as skipped unless ``[tool.depguard] include`` names them.
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
from depguard.gitops import files_as_git_sees

__all__ = [
    "FIXTURE_DIRS",
    "SKIPPED_DIRS",
    "UNPROTECTABLE",
    "Project",
    "Role",
    "detect_resolvers",
    "discover",
    "fixture_folder",
    "is_requirements_input",
    "require_inside",
    "table_at",
    "walk_files",
]

#: Directory names never searched: virtualenvs, caches, vendored code, VCS metadata.
SKIPPED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        "node_modules",
        "site-packages",
        "__pycache__",
        "vendor",
        "_vendor",
        "third_party",
        "build",
        "dist",
        ".mypy_cache",
        ".pytest_cache",
    }
)


#: Folder names whose projects are test data or templates: skipped by sync unless included.
FIXTURE_DIRS = frozenset(
    {"fixtures", "__fixtures__", "fixture", "testdata", "test-data", "test_data", "templates", "template"}
)

#: Resolvers with no subtractive mechanism sync could write, and what to do instead.
#: poetry: reads neither [tool.uv], PIP_CONSTRAINT/UV_CONSTRAINT nor any constraints file
#: (checked with poetry 2.5.1 against a local index: it locked the excluded version).
#: pdm: ``[tool.pdm.resolution] overrides`` and ``--override``/PDM_OVERRIDE files replace the
#: user's requirement for a package (pdm's provider returns the override's candidates only),
#: so they can widen it; pdm reads no PIP_CONSTRAINT. hatch: installs an environment with pip
#: (or uv), which honour PIP_CONSTRAINT only when it is set, e.g. in the environment's
#: ``env-vars`` table (checked with hatch: 1.82.8 instead of 1.82.9); sync does not edit that
#: table, so it only says how.
UNPROTECTABLE = {
    "poetry": "poetry has no constraint mechanism",
    "pdm": "pdm has no subtractive constraint mechanism (its overrides replace requirements)",
    "hatch": (
        "hatch environments read a constraints file only through PIP_CONSTRAINT/UV_CONSTRAINT "
        "(set it in [tool.hatch.envs.<env>.env-vars])"
    ),
}


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
    resolvers: tuple[str, ...] = ("uv",)
    has_pyproject: bool = True
    skipped: str | None = None  # the fixture/template folder that put it out of scope

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


def walk_files(directory: Path) -> Iterable[Path]:
    """Every file under ``directory`` as git would list it if it were a repo (``.gitignore``
    honoured, never into another repository: :func:`depguard.gitops.files_as_git_sees`), and
    never into a virtualenv (``pyvenv.cfg``), ``node_modules`` or the other :data:`SKIPPED_DIRS`.
    Used outside a git work tree, where the current folder may be a home directory full of
    unrelated checkouts. Without git, a walk that skips the same folders and nested repos."""
    seen = files_as_git_sees(directory)
    if seen is not None:
        venvs: dict[Path, bool] = {}
        for path in sorted(seen):
            folders = path.relative_to(directory).parents
            if not any(part in SKIPPED_DIRS for part in path.relative_to(directory).parts[:-1]) and not any(
                _holds_venv(directory / folder, venvs) for folder in folders if str(folder) != "."
            ):
                yield path
        return
    for current, dirs, files in os.walk(directory):
        here = Path(current)
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in SKIPPED_DIRS and not (here / d / "pyvenv.cfg").exists() and not (here / d / ".git").exists()
        )
        for name in sorted(files):
            yield here / name


def _holds_venv(folder: Path, seen: dict[Path, bool]) -> bool:
    if folder not in seen:
        seen[folder] = (folder / "pyvenv.cfg").exists()
    return seen[folder]


def _candidate_files(root: Path, tracked: Iterable[Path] | None) -> list[Path]:
    files = list(tracked) if tracked is not None else list(walk_files(root))
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


def discover(
    root: Path,
    *,
    tracked: Iterable[Path] | None = None,
    exclude: Sequence[str] = (),
    include: Sequence[str] = (),
) -> list[Project]:
    """Every project under ``root``, with workspace roles and resolvers worked out.

    ``tracked`` is git's list of visible files (preferred: ignored files are then invisible;
    virtualenvs are skipped either way); without it the tree is walked (:func:`walk_files`).
    A pip-tools input (:func:`is_requirements_input`) belongs to the nearest project folder
    above it; one with no pyproject.toml above it makes a project of its own. Projects in
    fixture/template folders come back with ``skipped`` set unless ``include`` matches them.
    """
    files = _candidate_files(root, tracked)
    by_dir: dict[Path, Project] = {}
    inputs: list[Path] = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        if any(fnmatch.fnmatch(rel, pattern) for pattern in exclude):
            continue
        if path.name == "pyproject.toml":
            if path.is_symlink() or not path.is_file():
                raise ProjectError(f"{path}: not a regular file; refusing to follow it")
            try:
                data = read_toml(path)
                by_dir[path.parent] = Project(
                    path.parent, Role.STANDALONE, data=data, resolvers=detect_resolvers(path.parent, data)
                )
            except ProjectError as exc:  # one broken file must not leave the other projects unprotected
                by_dir[path.parent] = Project(path.parent, Role.STANDALONE, error=str(exc))
        elif is_requirements_input(PurePosixPath(rel)):
            inputs.append(path)
    _resolve_workspaces(by_dir)
    for path in inputs:
        owner = _owner(root, path, by_dir)
        owner.requirements_in.append(path)
    for project in by_dir.values():
        project.requirements_in.sort()
        folder = fixture_folder(PurePosixPath(project.directory.relative_to(root).as_posix()))
        if folder is not None and not _included(root, project.directory, include):
            project.skipped = folder
    return sorted(by_dir.values(), key=lambda p: p.directory)


def detect_resolvers(directory: Path, data: dict[str, Any]) -> tuple[str, ...]:
    """Which tools resolve the project in ``directory``, decided from its files.

    - uv: ``uv.lock`` beside it, or a ``[tool.uv]`` table;
    - poetry: ``poetry.lock``, or ``[tool.poetry]`` with a poetry-core build backend;
    - pdm: ``pdm.lock``, or ``[tool.pdm]`` with a key other than pdm-backend's own
      (``build``, ``version``, ``distribution``): fastapi configures pdm-backend there and
      resolves with uv;
    - hatch: ``[tool.hatch.envs]``, when none of the above claims the project;
    - otherwise uv for a plain PEP 621 project (``[project]`` or ``[dependency-groups]``:
      ``uv lock`` is what reads a pyproject's block), and nothing for a pyproject.toml that
      only configures tools (warehouse's): uv cannot lock it, so a block there protects nobody.
    """
    found: list[str] = []
    tool = table_at(data, "tool")
    backend = table_at(data, "build-system").get("build-backend")
    if (directory / "uv.lock").is_file() or isinstance(tool.get("uv"), dict):
        found.append("uv")
    if (directory / "poetry.lock").is_file() or (
        isinstance(tool.get("poetry"), dict) and isinstance(backend, str) and backend.startswith("poetry")
    ):
        found.append("poetry")
    if (directory / "pdm.lock").is_file() or set(table_at(data, "tool", "pdm")) - _PDM_BACKEND_KEYS:
        found.append("pdm")
    if not found and isinstance(table_at(data, "tool", "hatch").get("envs"), dict):
        found.append("hatch")
    if not found and (isinstance(data.get("project"), dict) or isinstance(data.get("dependency-groups"), dict)):
        found.append("uv")
    return tuple(found)


_PDM_BACKEND_KEYS = frozenset({"build", "version", "distribution"})


def is_requirements_input(rel: PurePosixPath) -> bool:
    """A file pip-compile would be pointed at: ``requirements*.in`` anywhere, or any ``*.in``
    in a folder named ``requirements`` (warehouse and aider keep ``requirements/main.in``).
    ``MANIFEST.in`` is setuptools', never pip-compile's."""
    if rel.suffix != ".in" or rel.name == "MANIFEST.in":
        return False
    return rel.name.startswith("requirements") or rel.parent.name == "requirements"


def fixture_folder(rel: PurePosixPath) -> str | None:
    """The first fixture/template folder on ``rel`` (a project folder), or None."""
    for part in rel.parts:
        if part in FIXTURE_DIRS or "{{" in part:
            return part
    return None


def _included(root: Path, directory: Path, include: Sequence[str]) -> bool:
    rel = directory.relative_to(root).as_posix()
    return any(fnmatch.fnmatch(rel, g) or fnmatch.fnmatch(f"{rel}/pyproject.toml", g) for g in include)


def _owner(root: Path, path: Path, by_dir: dict[Path, Project]) -> Project:
    """The project a pip-tools input belongs to: the nearest folder above it with a
    pyproject.toml, not crossing a fixture/template folder; else one without (inputs in
    ``requirements/`` belong to its parent)."""
    for folder in path.parents:
        if folder in by_dir and by_dir[folder].error is None:
            return by_dir[folder]
        if folder == root or folder.name in FIXTURE_DIRS or "{{" in folder.name:
            break  # an input inside a fixture folder is the fixture's, not the project's above it
    home = path.parent.parent if path.parent.name == "requirements" and path.parent != root else path.parent
    if home not in by_dir:
        by_dir[home] = Project(home, Role.STANDALONE, resolvers=("pip-tools",), has_pyproject=False)
    return by_dir[home]


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
