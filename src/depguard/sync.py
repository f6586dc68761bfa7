"""Sync: work out what every project's constraint block should say, then write it.

Two phases on purpose. :func:`plan` reads files and computes new contents without touching
disk, so ``--check``, ``--diff`` and ``--dry-run`` are exactly the first half of a real run.
:func:`apply` writes each changed file atomically, after checking that nobody changed it in
between. A file that cannot be edited safely is reported and left alone; the others are
still protected.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from depguard import affected, ecosystems
from depguard.atomic import write_bytes
from depguard.config import MAX_PROJECT_FILE_BYTES, Config
from depguard.errors import DepguardError, ProjectError
from depguard.exclusions import Exclusion
from depguard.gitops import open_repo, visible_files
from depguard.projects import UNPROTECTABLE, Project, Role, discover, require_inside
from depguard.sources.interface import FeedSnapshot
from depguard.writers import constraints, requirements_in

__all__ = ["FileChange", "Refusal", "SyncPlan", "Unprotected", "apply", "default_targets", "plan", "relock"]


@dataclass(frozen=True)
class FileChange:
    """The planned new bytes of one file, and what changed in its managed block."""

    path: Path
    target: str
    project: Path
    before: bytes | None
    after: bytes
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    hand_edited: bool = False
    lifted: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def diff(self, root: Path) -> str:
        """A unified diff of the change, paths relative to ``root``."""
        import difflib

        rel = self.path.relative_to(root).as_posix() if self.path.is_relative_to(root) else str(self.path)
        old = (self.before or b"").decode("utf-8").splitlines(keepends=True)
        new = self.after.decode("utf-8").splitlines(keepends=True)
        return "".join(difflib.unified_diff(old, new, f"a/{rel}", f"b/{rel}"))


@dataclass(frozen=True)
class Refusal:
    """A file sync will not touch, and why."""

    path: Path
    reason: str


@dataclass(frozen=True)
class Unprotected:
    """A project whose resolver reads nothing sync can write, and what to run instead."""

    project: Path
    tools: tuple[str, ...]
    reason: str
    instead: str


@dataclass
class SyncPlan:
    root: Path
    snapshot: FeedSnapshot
    exclusions: tuple[Exclusion, ...]
    projects: list[Project]
    changes: list[FileChange] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: Always empty since records outside depguard's profile (the only ones with ranges an
    #: exclusion cannot write) are refused by every source; kept for the ``--json`` output key.
    unexpressible: list[str] = field(default_factory=list)
    unprotected: list[Unprotected] = field(default_factory=list)
    skipped: list[Project] = field(default_factory=list)

    @property
    def stale(self) -> list[FileChange]:
        return [c for c in self.changes if c.changed]

    def protected(self) -> dict[str, list[Path]]:
        """Target -> the projects it protects: a planned (not refused) file of a project that
        is not also resolved by a tool sync cannot reach. A project may count under several."""
        gaps = {u.project for u in self.unprotected}
        refused = {r.path for r in self.refusals}
        by_target: dict[str, set[Path]] = {}
        for change in self.changes:
            if change.project not in gaps and change.path not in refused:
                by_target.setdefault(change.target, set()).add(change.project)
        return {t: sorted(by_target[t]) for t in ("uv", "pip", "pip-tools") if t in by_target}

    def skipped_folders(self) -> dict[str, int]:
        """Fixture/template folder (repo-relative, up to the folder named) -> projects skipped."""
        counts: dict[str, int] = {}
        for project in self.skipped:
            parts = project.directory.relative_to(self.root).parts
            where = "/".join(parts[: parts.index(project.skipped) + 1]) if project.skipped in parts else "/".join(parts)
            counts[where] = counts.get(where, 0) + 1
        return dict(sorted(counts.items()))


def default_targets(project: Project, config: Config) -> tuple[str, ...]:
    """Targets for a project when the command line names none.

    uv when uv resolves the project (:func:`~depguard.projects.detect_resolvers`; never for a
    poetry, pdm or hatch project, whose resolver would not read the block); pip when configured
    or when the constraints file already exists; pip-tools when pip-tools inputs exist.
    """
    if config.targets is not None:
        return config.targets
    targets = ["uv"] if project.has_pyproject and "uv" in project.resolvers else []
    if (project.directory / config.constraints_file).is_file():
        targets.append("pip")
    if project.requirements_in:
        targets.append("pip-tools")
    return tuple(targets)


def plan(
    root: Path,
    projects: Sequence[Project],
    snapshot: FeedSnapshot,
    config: Config,
    *,
    targets: Sequence[str] | None = None,
    today: _dt.date | None = None,
) -> SyncPlan:
    """Compute every file's new contents; reads files, writes nothing."""
    today = today or _dt.date.today()
    # compile_exclusions skips every other ecosystem's entries: only PyPI records need typing
    compiled = affected.compile_exclusions(
        snapshot.in_ecosystem(ecosystems.PYPI.name), ignore=config.ignored_ids(today)
    )
    result = SyncPlan(root, snapshot, compiled.exclusions, list(projects))
    result.warnings += list(snapshot.warnings)
    for entry in config.expired(today):
        result.warnings.append(f"ignore entry for {entry.id} expired on {entry.until}; it applies again")
    for item in compiled.rejected:
        result.warnings.append(f"{item.advisory} {item.package}: refused from the feed: {item.reason}")
    wanted = {e.name: e.requirement for e in compiled.exclusions}  # once, not once per file
    for project in projects:
        if project.skipped is not None:
            result.skipped.append(project)
            continue
        _plan_project(result, project, config, tuple(targets) if targets else default_targets(project, config), wanted)
        _note_unprotected(result, project)
    return result


def _note_unprotected(result: SyncPlan, project: Project) -> None:
    """Record a project resolved by a tool that reads nothing sync writes (poetry, pdm, hatch)."""
    if project.error is not None or project.role is Role.MEMBER:
        return
    tools = tuple(t for t in project.resolvers if t in UNPROTECTABLE)
    if not tools:
        return
    rel = (
        project.directory.relative_to(result.root).as_posix()
        if project.directory.is_relative_to(result.root)
        else str(project.directory)
    )
    prefix = "" if rel == "." else rel + "/"
    locks = [f"{prefix}{t}.lock" for t in tools if (project.directory / f"{t}.lock").is_file()]
    instead = f"depguard check {' '.join(locks)}" if locks else "depguard check --env <the environment it builds>"
    reason = "; ".join(UNPROTECTABLE[t] for t in tools)
    result.unprotected.append(Unprotected(project.directory, tools, reason, instead))


def _plan_project(
    result: SyncPlan, project: Project, config: Config, targets: tuple[str, ...], wanted: dict[str, str]
) -> None:
    if project.error is not None:
        result.refusals.append(Refusal(project.pyproject, _without_path(project.error, project.pyproject)))
        return
    if project.role is Role.MEMBER:
        if project.own_uv_constraints:
            result.warnings.append(
                f"{project.pyproject}: constraint-dependencies in a workspace member have no effect; "
                f"uv reads them only from the workspace root {(project.workspace_root or project.directory) / 'pyproject.toml'}"
            )
        if "uv" in targets:
            targets = tuple(t for t in targets if t != "uv")
    if not project.has_pyproject:  # a pip-tools layout without a pyproject.toml: nothing to put a [tool.uv] in
        targets = tuple(t for t in targets if t != "uv")
    if "uv" in targets:
        _plan_file(result, project, "uv", project.pyproject, wanted)
    if "pip" in targets or "pip-tools" in targets:
        _plan_file(result, project, "pip", project.directory / config.constraints_file, wanted)
    constraints = project.directory / config.constraints_file
    usable = constraints.is_file() or any(c.path == constraints for c in result.changes)
    if "pip-tools" in targets and usable and not any(r.path == constraints for r in result.refusals):
        for requirements_in in project.requirements_in:  # never point pip-compile at a refused or missing file
            _plan_requirements_in(result, project, requirements_in, constraints)


def _without_path(message: str, path: Path) -> str:
    """A library message minus a leading ``<path>: `` (the report prints the path itself)."""
    for prefix in (f"{path}: ", f"{path.name}: "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


def _read(path: Path) -> tuple[bytes | None, str]:
    if path.is_symlink():
        raise ProjectError(f"{path}: is a symbolic link; refusing to write through it")
    if path.exists() and not path.is_file():
        raise ProjectError(f"{path}: not a regular file")
    if not path.exists():
        return None, ""
    if path.stat().st_size > MAX_PROJECT_FILE_BYTES:  # refuse before reading a huge file into memory
        raise ProjectError(f"{path}: larger than the {MAX_PROJECT_FILE_BYTES} bytes depguard edits; not editing")
    data = path.read_bytes()
    try:
        return data, data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProjectError(f"{path}: not UTF-8 (byte {exc.start}); refusing to edit it") from None


def _plan_file(result: SyncPlan, project: Project, target: str, path: Path, new: dict[str, str]) -> None:
    """Plan one file; ``new`` maps each package to the requirement its block entry must be."""
    if target == "uv":
        from depguard.writers import pyproject as uv_writer  # lazy: tomlkit (~70 ms) only for uv projects
    writer = uv_writer if target == "uv" else constraints
    try:
        require_inside(path, project.directory)  # no symlinked directory on the way out of the repo
        before, text = _read(path)
        edit = writer.apply(text, result.exclusions)
    except DepguardError as exc:
        result.refusals.append(Refusal(path, _without_path(str(exc), path)))
        return
    old = {_req_name(r): r for r in edit.previous}
    after = edit.text.encode("utf-8")
    if before is None and not result.exclusions:
        return
    lifted = _lifted(old, new)
    if lifted and result.snapshot.fallback:
        result.refusals.append(
            Refusal(
                path,
                (
                    f"the feed in use is a stand-in ({result.snapshot.kind}: {result.snapshot.source}) and would lift "
                    f"exclusions for {', '.join(lifted)}; nothing changed: sync again when the feed is reachable, or name it with --feed"
                ),
            )
        )
        return
    result.changes.append(
        FileChange(
            path,
            target,
            project.directory,
            before,
            after,
            added=tuple(sorted(new.keys() - old.keys())),
            removed=tuple(sorted(old.keys() - new.keys())),
            updated=tuple(sorted(n for n in new.keys() & old.keys() if new[n] != old[n])),
            kept=tuple(sorted(n for n in new.keys() & old.keys() if new[n] == old[n])),
            hand_edited=edit.hand_edited,
            lifted=lifted,
        )
    )


def _lifted(old: dict[str, str], new: dict[str, str]) -> tuple[str, ...]:
    """Packages whose previous exclusion is not wholly kept: removed, or a specifier dropped.

    Deliberately literal (``>=2`` to ``>=3`` counts too): it only decides whether a stand-in
    feed may touch a file, and refusing there costs a warning, while lifting costs protection.
    """
    return tuple(sorted(n for n, req in old.items() if n not in new or not _specifiers(req) <= _specifiers(new[n])))


def _specifiers(requirement: str) -> set[str]:
    plain = _PLAIN_REQUIREMENT.fullmatch(requirement)
    rest = requirement[len(plain[1]) :] if plain else requirement
    return set(filter(None, rest.split(",")))


def _plan_requirements_in(result: SyncPlan, project: Project, path: Path, constraints_path: Path) -> None:
    try:
        before, text = _read(path)
        # pip-compile resolves a -c path relative to the file that holds it: requirements/main.in -> ../constraints.txt
        rel = Path(os.path.relpath(constraints_path, path.parent)).as_posix()
        after = requirements_in.ensure_constraint_line(text, rel).encode("utf-8")
    except DepguardError as exc:
        result.refusals.append(Refusal(path, _without_path(str(exc), path)))
        return
    result.changes.append(FileChange(path, "pip-tools", project.directory, before, after))


_PLAIN_REQUIREMENT = re.compile(r"([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)(?:[<>!=~][^;@\[\s]*)?")


def _req_name(requirement: str) -> str:
    """The PEP 503 name of a block entry; what depguard wrote is plain and skips packaging."""
    plain = _PLAIN_REQUIREMENT.fullmatch(requirement)
    if plain:
        return re.sub(r"[-_.]+", "-", plain[1]).lower()
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    try:
        return canonicalize_name(Requirement(requirement).name)
    except InvalidRequirement:
        return requirement


def apply(plan_: SyncPlan) -> list[FileChange]:
    """Write every stale file atomically; returns what was written.

    Each file is re-read first: if it changed since the plan (an editor, another sync), the
    write is refused rather than clobbering someone else's edit.
    """
    written = []
    constraints_of = {c.project: c.path for c in plan_.stale if c.target == "pip"}
    for change in plan_.stale:
        if change.target == "pip-tools" and constraints_of.get(change.project) in {r.path for r in plan_.refusals}:
            continue  # its constraints file was not written: a -c line must not point at it
        current = change.path.read_bytes() if change.path.exists() else None
        if current != change.before:
            plan_.refusals.append(Refusal(change.path, "changed on disk while sync was running; run sync again"))
            continue
        if change.before is not None and not _writable(change.path):
            plan_.refusals.append(Refusal(change.path, "file is read-only; not changing it"))
            continue
        try:
            write_bytes(change.path, change.after)
        except OSError as exc:
            plan_.refusals.append(Refusal(change.path, f"cannot write: {exc.strerror or exc}; file left as it was"))
            continue
        written.append(change)
    return written


def _writable(path: Path) -> bool:
    return bool(path.stat().st_mode & 0o222)


@dataclass(frozen=True)
class RelockResult:
    project: Path
    ok: bool
    output: str


def relock(changes: Sequence[FileChange], *, uv: str | None = None) -> list[RelockResult]:
    """Run ``uv lock`` where a pyproject's block changed, so ``uv sync --locked`` keeps working."""
    import shutil
    import subprocess

    uv = uv or shutil.which("uv")
    if uv is None:
        raise DepguardError("--relock needs uv on PATH")
    results = []
    for directory in sorted({c.project for c in changes if c.target == "uv"}):
        proc = subprocess.run([uv, "lock"], cwd=directory, capture_output=True, text=True, check=False)
        results.append(RelockResult(directory, proc.returncode == 0, (proc.stderr or proc.stdout).strip()))
    return results


def load_projects(
    root: Path, paths: Sequence[Path] = (), *, exclude: Sequence[str] = (), include: Sequence[str] = ()
) -> list[Project]:
    """The projects sync looks at: the files git sees under ``root``, narrowed to ``paths``.

    The whole repo is always discovered first, so a path inside a workspace member still
    sends the uv block to the workspace root, where uv reads it. A fixture/template project
    is skipped unless ``include`` matches it or a path names it (or a folder inside it).
    """
    repo = open_repo(root)
    tracked = visible_files(repo) if repo is not None else None
    projects = discover(root, tracked=tracked, exclude=exclude, include=include)
    if not paths:
        return projects
    wanted = [p.resolve() for p in paths]
    for path in wanted:
        if not path.exists():
            raise ProjectError(f"no such path: {path}")
    chosen = {p.directory for p in projects if any(_within(p.directory, w) for w in wanted)}
    roots = {p.workspace_root for p in projects if p.directory in chosen and p.workspace_root}
    missing = [w for w in wanted if not any(_within(p.directory, w) or _within(w, p.directory) for p in projects)]
    if missing:
        raise ProjectError(f"no tracked pyproject.toml at or under: {', '.join(map(str, missing))}")
    result = [p for p in projects if p.directory in chosen | roots]
    for project in result:
        if project.skipped is not None and any(w.is_relative_to(_fixture_root(root, project)) for w in wanted):
            project.skipped = None  # named on the command line, inside its fixture folder: the user means it
    return result


def _fixture_root(root: Path, project: Project) -> Path:
    parts = project.directory.relative_to(root).parts
    return (
        root.resolve().joinpath(*parts[: parts.index(project.skipped) + 1])
        if project.skipped in parts
        else project.directory
    )


def _within(directory: Path, wanted: Path) -> bool:
    target = wanted.parent if wanted.is_file() else wanted
    return directory.resolve().is_relative_to(target)
