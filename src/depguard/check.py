"""Check: which locked or installed packages are compromised releases named by the feed.

Constraints written by ``sync`` stop the *next* resolution; a ``uv.lock`` or a virtualenv
that already holds litellm 1.82.7 is untouched by them. ``check`` reads what is locked and
installed and reports every entry a live advisory names, at the file and line where it is.

The flow is small steps a caller can use on their own: :func:`discover` finds the
lockfiles of a repo, :func:`index_for` builds an :class:`~depguard.advisoryindex.AdvisoryIndex`
of just the records that can match the packages read (the lockfiles are read first, so a
warm check of a large feed types a few hundred records, not all of them), :func:`match`
turns packages into findings against it, and :func:`run` does it all and collects every
error instead of stopping at the first, so one broken lockfile does not hide a compromised
version in another. Nothing here prints or exits; the CLI renders a :class:`CheckReport`.
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PurePosixPath

from depguard.advisoryindex import AdvisoryIndex, lookup_keys
from depguard.config import Config
from depguard.ecosystems import repository_of
from depguard.errors import DepguardError, LockfileError
from depguard.gitops import open_repo, visible_files
from depguard.lockfiles import Package, environment, format_for, format_names, read_lockfile
from depguard.lockfiles.environment import is_environment
from depguard.projects import SKIPPED_DIRS, walk_files
from depguard.records import Record
from depguard.sources.interface import FeedSnapshot

__all__ = [
    "ACTION_ARTIFACT",
    "ACTION_PACKAGE",
    "ACTION_VERSION",
    "ACTION_WORKFLOW",
    "CheckReport",
    "Finding",
    "Source",
    "discover",
    "display_path",
    "index_for",
    "match",
    "run",
    "split_environments",
]

ACTION_VERSION = "upgrade/downgrade to a version not listed; rotate credentials if it was installed"
ACTION_PACKAGE = "remove the package: every version is malicious; rotate credentials if it was installed"
ACTION_ARTIFACT = "remove this file: its sha256 is a known-bad artifact; rotate credentials if it was installed"
ACTION_WORKFLOW = (
    "move to the advisory's first safe tag, pinned to its full commit SHA; "
    "rotate every secret the workflow runs that used it could read"
)
_WHOLE_PACKAGE = "every version (whole-package block)"
_GITHUB_ACTIONS = "GitHub Actions"
#: Every GitHub Actions advisory of the feed is a tag or commit that ran a secret stealer in CI.
_ACTION_ROTATE = "rotate every secret the workflow runs that used it could read"


@dataclass(frozen=True)
class Finding:
    """A package entry that a live advisory names, how it matched, and an ignore reason if any."""

    package: Package
    advisory: Record
    how: str
    ignored_reason: str | None = None

    @property
    def action(self) -> str:
        """What the person who owns the lockfile should do, in the advisory's own terms."""
        if self.how.startswith("sha256"):
            return ACTION_ARTIFACT
        if self.package.ecosystem == _GITHUB_ACTIONS:
            return _action_for_workflow(self)
        if self.how == _WHOLE_PACKAGE:
            return ACTION_PACKAGE
        return ACTION_VERSION

    def key(self) -> tuple[str, int, str, str, str, str]:
        location = self.package.location
        return (
            str(location.path),
            location.line or 0,
            self.package.ecosystem,
            self.package.name.lower(),
            self.package.version or "",
            self.advisory.id,
        )


def _action_for_workflow(finding: Finding) -> str:
    """The advice for a ``uses:`` reference: the safe tag the advisory names (its entry's
    ``ecosystem_specific.first_safe_tag``), a pinned commit, and rotating the secrets."""
    safe = _first_safe_tag(finding.advisory, finding.package.name)
    move = (
        f"move to {safe} or later pinned to its full commit SHA"
        if safe
        else "pin a reviewed full commit SHA from after the incident"
    )
    if finding.how == _WHOLE_PACKAGE:
        move = "remove this action: every version is malicious"
    return f"{move}; {_ACTION_ROTATE}"


def _first_safe_tag(record: Record, name: str) -> str | None:
    wanted = {name.lower(), repository_of(name.lower())}
    for affected in record.affected:
        package = affected.package
        if package is None or package.ecosystem != _GITHUB_ACTIONS or package.name.lower() not in wanted:
            continue
        safe = (affected.ecosystem_specific or {}).get("first_safe_tag")
        if isinstance(safe, str) and safe.isprintable() and len(safe) <= 128:
            return safe
    return None


@dataclass(frozen=True)
class Source:
    """One lockfile or environment that was read, and how many packages it gave."""

    path: Path
    kind: str
    packages: int


@dataclass
class CheckReport:
    """Everything a renderer needs: what was read, what matched, what was ignored, what failed."""

    root: Path
    snapshot: FeedSnapshot
    sources: list[Source] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    ignored: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def packages(self) -> int:
        return sum(source.packages for source in self.sources)

    @property
    def advisories(self) -> list[Record]:
        """The advisories behind findings and ignored findings, each once, by id."""
        by_id = {f.advisory.id: f.advisory for f in [*self.findings, *self.ignored]}
        return [by_id[key] for key in sorted(by_id)]

    def relpath(self, path: Path) -> str:
        return display_path(path, self.root)


def display_path(path: Path, root: Path) -> str:
    """Repo-relative with forward slashes (what SARIF and people expect), else absolute."""
    try:
        return Path(os.path.abspath(path)).relative_to(os.path.abspath(root)).as_posix()
    except ValueError:
        return str(path)


# --- finding lockfiles ---------------------------------------------------------------------


def discover(root: Path, paths: Sequence[Path] = (), *, exclude: Sequence[str] = ()) -> list[Path]:
    """The lockfiles to read: under ``root`` (git's tracked files, else a walk), or ``paths``.

    A file given by path is always read, whatever git thinks of it, and an unknown format is
    then an error; a directory given by path is searched like the repo. Virtualenvs,
    ``node_modules`` and vendored folders are never searched: the lockfiles inside them belong
    to other projects.
    """
    if not paths:
        return _search(root, root, exclude)
    found: list[Path] = []
    for path in paths:
        if not path.exists():
            raise LockfileError(f"no such file or directory: {path}")
        found += _search(root, path, exclude) if path.is_dir() else [path]  # a FIFO or device is refused by the reader
    return _unique(found)


def _search(root: Path, under: Path, exclude: Sequence[str]) -> list[Path]:
    repo = open_repo(under)
    if repo is not None and repo.working_tree_dir is not None:
        top = Path(repo.working_tree_dir)
        files = visible_files(repo, under if under.resolve() != top.resolve() else None)
        base = top
    else:
        files = list(_walk(under))
        base = under
    result = []
    for path in files:
        rel = display_path(path, base)
        if (
            format_for(path) is None
            or _skipped(rel)
            or any(fnmatch.fnmatch(display_path(path, root), g) for g in exclude)
        ):
            continue
        if path.is_file():
            result.append(path)
    return sorted(result)


def _walk(directory: Path) -> Iterable[Path]:
    """Outside a git work tree: never into nested repositories, virtualenvs or node_modules."""
    return walk_files(directory)


def _skipped(rel: str) -> bool:
    return any(part in SKIPPED_DIRS or part.endswith(".egg-info") for part in PurePosixPath(rel).parts[:-1])


def _unique(paths: Iterable[Path]) -> list[Path]:
    seen: dict[Path, Path] = {}
    for path in paths:
        seen.setdefault(path.resolve(), path)
    return list(seen.values())


# --- matching ------------------------------------------------------------------------------


def match(
    packages: Iterable[Package], index: AdvisoryIndex, ignore: Mapping[str, str] | None = None
) -> tuple[list[Finding], list[Finding]]:
    """(findings, ignored findings) for ``packages``; ``ignore`` maps advisory id to reason.

    A package matches by name and version in its own ecosystem's terms, and also by any of
    its artifact hashes: the same malicious file republished under another name is still
    that file. Each (entry, advisory) pair is reported once.
    """
    ignore = ignore or {}
    found: dict[tuple[str, int, str, str, str, str], Finding] = {}
    for package in packages:
        for finding in _package_findings(package, index):
            reason = ignore.get(finding.advisory.id)
            if reason is not None:
                finding = Finding(finding.package, finding.advisory, finding.how, reason)
            found.setdefault(finding.key(), finding)
    ordered = sorted(found.values(), key=lambda f: f.key())
    return [f for f in ordered if f.ignored_reason is None], [f for f in ordered if f.ignored_reason is not None]


def _package_findings(package: Package, index: AdvisoryIndex) -> list[Finding]:
    findings = [
        Finding(package, m.record, m.how) for m in index.lookup(package.ecosystem, package.name, package.version)
    ]
    for digest in package.hashes:
        for record in index.lookup_sha256(digest):
            filename = next((a.filename for a in record.depguard.artifacts if a.sha256.lower() == digest), "?")
            findings.append(Finding(package, record, f"sha256 of known-bad file {filename}"))
    return findings


def split_environments(paths: Sequence[Path], *, env: bool) -> tuple[list[Path], list[str | None]]:
    """(lockfile paths, environments) from command-line paths.

    With ``env``, a path that is an interpreter or a virtualenv is an environment to inspect
    (``check --env .venv``); when none is given, the current interpreter is. Without ``env``
    every path is a lockfile or a directory to search.
    """
    if not env:
        return list(paths), []

    environments: list[str | None] = [str(p) for p in paths if is_environment(p)]
    rest = [p for p in paths if not is_environment(p)]
    return rest, environments or [None]


# --- the whole run -------------------------------------------------------------------------


def run(
    root: Path,
    snapshot: FeedSnapshot,
    config: Config,
    *,
    paths: Sequence[Path] = (),
    environments: Sequence[str | None] = (),
    lockfiles: bool = True,
    today: _dt.date | None = None,
) -> CheckReport:
    """Read lockfiles (and environments), match them against ``snapshot``, collect every error.

    ``environments`` are interpreters or virtualenvs to inspect (None: the current one).
    ``lockfiles=False`` checks only the environments.
    """
    today = today or _dt.date.today()
    report = CheckReport(root, snapshot, warnings=list(snapshot.warnings))
    for entry in config.expired(today):
        report.warnings.append(f"ignore entry for {entry.id} expired on {entry.until}; it applies again")
    ignore = {entry.id: entry.reason for entry in config.ignore if entry.active(today)}
    packages: list[Package] = []
    if lockfiles:
        try:
            files = discover(root, paths, exclude=config.exclude)
        except DepguardError as exc:
            report.errors.append(str(exc))
            files = []
        for path in files:
            _read_into(report, packages, path, format_for(path) or "unknown", partial(read_lockfile, path, root))
        if not files and not environments and not report.errors:
            report.warnings.append(f"no lockfiles found ({format_names()})")
    if environments:
        _read_environments(report, packages, environments)
    report.findings, report.ignored = match(packages, index_for(snapshot, packages), ignore)
    return report


def index_for(snapshot: FeedSnapshot, packages: Sequence[Package]) -> AdvisoryIndex:
    """The advisory index :func:`match` needs for ``packages``: built from the records that
    can match them (:meth:`FeedSnapshot.select`), not from the whole feed."""
    keys = {key for p in packages for key in lookup_keys(p.ecosystem, p.name)}
    digests = {digest.lower() for p in packages for digest in p.hashes}
    return AdvisoryIndex.from_records(snapshot.select(keys, digests))


def _read_environments(report: CheckReport, packages: list[Package], environments: Sequence[str | None]) -> None:
    for target in environments:
        python = _interpreter_or_error(report, target)
        if python is not None:
            _read_into(report, packages, python, "environment", partial(environment.inspect, target))


def _interpreter_or_error(report: CheckReport, target: str | None) -> Path | None:
    try:
        return environment.interpreter(target)
    except DepguardError as exc:
        report.errors.append(str(exc))
        return None


def _read_into(
    report: CheckReport, packages: list[Package], path: Path, kind: str, read: Callable[[], list[Package]]
) -> None:
    """Read one source; a failure becomes an error of the report, its path shown repo-relative."""
    try:
        found = read()
    except DepguardError as exc:
        message = str(exc)
        if message.startswith(str(path)):
            message = report.relpath(path) + message[len(str(path)) :]
        report.errors.append(message)
        return
    report.sources.append(Source(path, kind, len(found)))
    packages.extend(found)
