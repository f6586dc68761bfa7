"""``depguard sync --commit``: sync as one reviewable git commit, for people and for bots.

The commit holds exactly what sync changed (plus ``uv.lock`` files ``--relock`` refreshed) and
nothing else, so a reviewer reads one self-explaining diff. Two modes:

* on the checked-out branch: files are written in the work tree as a plain sync would, then
  committed through a temporary index (see :func:`depguard.gitops.commit_files`). A file sync
  must change that already has uncommitted changes is refused up front: committing it would
  either publish someone's half-done edit or silently drop it from their index.
* with a branch name (a bot's pull request): sync runs in a temporary detached checkout of
  HEAD and the commit lands on that branch (created or reset). The user's checkout is never
  touched: same branch, same index, same work tree, same bytes.

The commit message is written for the reviewer: which advisories were added or lifted, for
which packages and versions, where to read about them, and the command that reproduces it.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from depguard import affected, gitops
from depguard import sync as sync_mod
from depguard.config import load_config
from depguard.errors import DepguardError, GitError
from depguard.records import Record
from depguard.redact import redact_text, redact_url
from depguard.sources.interface import FeedSnapshot
from depguard.sync import FileChange, RelockResult, SyncPlan
from depguard.writers import constraints, pyproject

if TYPE_CHECKING:
    from depguard.gitops import Repo  # the type only: gitpython itself is imported by gitops alone

__all__ = ["AdvisoryChange", "GitSyncResult", "advisory_changes", "commit_message", "commit_sync", "preflight"]

_SUBJECT_NAMES = 3
_OSV_URL = "https://osv.dev/vulnerability/"


@dataclass
class GitSyncResult:
    """What ``sync --commit`` did: the plan, the files written, and the commit (None: nothing changed).

    ``blocked`` says why no commit was made although files changed (a failed ``uv lock``).
    """

    plan: SyncPlan
    written: list[FileChange]
    relocked: list[RelockResult]
    lockfiles: list[Path]
    message: str
    commit_sha: str | None = None
    ref: str | None = None
    committed: tuple[str, ...] = ()
    blocked: str | None = None


def preflight(root: Path, *, branch: str | None = None) -> None:
    """Refuse early (before any download) when git state rules out a commit; see ``require_committable``."""
    gitops.require_committable(root, branch=branch)


def commit_sync(
    root: Path,
    snapshot: FeedSnapshot,
    *,
    paths: Sequence[Path] = (),
    targets: Sequence[str] | None = None,
    relock: bool = False,
    branch: str | None = None,
    reproduce: str = "depguard sync",
    today: _dt.date | None = None,
) -> GitSyncResult:
    """Plan, write, optionally relock, and commit sync's changes in the repository at ``root``.

    Raises :class:`GitError` before writing anything when the repository's state or a dirty
    target file forbids the commit. Files sync refuses to edit are left out (and listed in the
    message); the rest is still committed, as a plain sync still protects the other projects.
    """
    repo = gitops.require_committable(root, branch=branch)
    with _workspace(repo, root, branch) as work:
        config = load_config(work / "pyproject.toml")
        projects = sync_mod.load_projects(
            work, [_moved(p, root, work) for p in paths], exclude=config.exclude, include=config.include
        )
        sync_plan = sync_mod.plan(work, projects, snapshot, config, targets=targets, today=today)
        work_repo = gitops.require_repo(work)
        if branch is None:
            _refuse_dirty(work_repo, sync_plan, relock)
        written = sync_mod.apply(sync_plan)
        relocked = sync_mod.relock(written) if relock and written else []
        lockfiles = _refreshed_locks(work_repo, relocked)
        message = commit_message(sync_plan, written, lockfiles, reproduce=reproduce)
        result = GitSyncResult(sync_plan, written, relocked, lockfiles, message)
        failed = [r for r in relocked if not r.ok]
        if failed:
            result.blocked = "uv lock failed in " + ", ".join(_rel(r.project, work) or "." for r in failed)
            return result
        files = [c.path for c in written] + lockfiles
        if not files:
            return result
        # A linked work tree shares refs and objects with the user's repository, so the
        # branch ref written from the temporary checkout is the user's branch.
        made = gitops.commit_files(work_repo, files, message, ref="HEAD" if branch is None else f"refs/heads/{branch}")
        result.commit_sha, result.ref, result.committed = made.sha, made.ref, made.paths
        return result


@contextlib.contextmanager
def _workspace(repo: Repo, root: Path, branch: str | None) -> Iterator[Path]:
    if branch is None:
        yield root
        return
    with gitops.temporary_worktree(repo) as work:
        yield work


def _moved(path: Path, root: Path, work: Path) -> Path:
    """``path`` (in the user's checkout) as the same place inside ``work`` (the temporary checkout)."""
    if work == root:
        return path
    try:
        return work / path.resolve().relative_to(root.resolve())
    except ValueError:
        raise GitError(f"{path}: outside the repository {root}") from None


def _refuse_dirty(repo: Repo, sync_plan: SyncPlan, relock: bool) -> None:
    wanted = [c.path for c in sync_plan.stale]
    if relock:
        wanted += [c.project / "uv.lock" for c in sync_plan.stale if c.target == "uv"]
    dirty = gitops.dirty_paths(repo, wanted)
    if dirty:
        names = ", ".join(_rel(p, sync_plan.root) for p in dirty)
        raise GitError(
            f"{names}: uncommitted changes in file(s) sync must change; commit or stash them first "
            "(or use --branch, which works from HEAD and leaves this checkout alone)"
        )


def _refreshed_locks(repo: Repo, relocked: Sequence[RelockResult]) -> list[Path]:
    locks = [r.project / "uv.lock" for r in relocked if r.ok and (r.project / "uv.lock").is_file()]
    return gitops.dirty_paths(repo, locks)


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


# --- what changed, advisory by advisory ----------------------------------------------------


@dataclass(frozen=True)
class AdvisoryChange:
    """One advisory (or none: ``record`` None) and the package versions it added or lifted."""

    record: Record | None
    versions: dict[str, tuple[str, ...]] = field(default_factory=dict)  # package -> specifiers
    reason: str = ""


def _block_specs(change: FileChange, data: bytes | None) -> dict[str, set[str]]:
    """Package -> excluded specifiers in the managed block of one version of a file."""
    if data is None or change.target not in {"uv", "pip"}:
        return {}
    reader = pyproject.read_block if change.target == "uv" else constraints.read_block
    try:
        requirements = reader(data.decode("utf-8")) or ()
    except (DepguardError, UnicodeDecodeError):
        return {}
    specs: dict[str, set[str]] = {}
    for requirement in requirements:
        match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(.*)$", requirement)
        if match:
            name = re.sub(r"[-_.]+", "-", match[1]).lower()
            specs.setdefault(name, set()).update(s.strip() for s in match[2].split(",") if s.strip())
    return specs


def _merge(target: dict[str, set[str]], more: dict[str, set[str]]) -> None:
    for name, specs in more.items():
        target.setdefault(name, set()).update(specs)


def _solo_specs(record: Record) -> dict[str, set[str]]:
    """What this record alone compiles to, as if it were live: to attribute specifiers to it."""
    live = record.model_copy(update={"withdrawn": None}) if record.withdrawn else record
    return {e.name: set(e.specifiers) for e in affected.compile_exclusions([live]).exclusions}


def advisory_changes(
    changes: Sequence[FileChange], snapshot: FeedSnapshot, live_ids: set[str]
) -> tuple[list[AdvisoryChange], list[AdvisoryChange]]:
    """(added, lifted): advisories whose exclusions the changed files gained or lost.

    Worked out from the blocks' before and after text rather than from the feed alone, so
    the message describes the commit's actual diff. A lifted specifier no record explains is
    reported with ``record`` None ("no advisory in the feed names it any more").
    """
    before: dict[str, set[str]] = {}
    after: dict[str, set[str]] = {}
    for change in changes:
        _merge(before, _block_specs(change, change.before))
        _merge(after, _block_specs(change, change.after))
    gained = {n: after.get(n, set()) - before.get(n, set()) for n in after}
    lost = {n: before.get(n, set()) - after.get(n, set()) for n in before}
    gained = {n: s for n, s in gained.items() if s}
    lost = {n: s for n, s in lost.items() if s}
    added, lifted = [], []
    explained_gain: dict[str, set[str]] = {}
    explained_loss: dict[str, set[str]] = {}
    for record in _newest_first(snapshot.records):
        solo = _solo_specs(record)
        if record.id in live_ids:
            hit = {n: tuple(sorted(s & gained[n], key=_spec_key)) for n, s in solo.items() if s & gained.get(n, set())}
            if hit:
                added.append(AdvisoryChange(record, hit))
                _merge(explained_gain, {n: set(v) for n, v in hit.items()})
        else:
            hit = {n: tuple(sorted(s & lost[n], key=_spec_key)) for n, s in solo.items() if s & lost.get(n, set())}
            if hit:
                lifted.append(AdvisoryChange(record, hit, _lift_reason(record)))
                _merge(explained_loss, {n: set(v) for n, v in hit.items()})
    rest_gain = {n: tuple(sorted(s - explained_gain.get(n, set()), key=_spec_key)) for n, s in gained.items()}
    rest_loss = {n: tuple(sorted(s - explained_loss.get(n, set()), key=_spec_key)) for n, s in lost.items()}
    if any(rest_gain.values()):
        added.append(AdvisoryChange(None, {n: v for n, v in rest_gain.items() if v}, "merged with other advisories"))
    if any(rest_loss.values()):
        lifted.append(
            AdvisoryChange(None, {n: v for n, v in rest_loss.items() if v}, "no advisory in the feed names it any more")
        )
    return added, lifted


def _newest_first(records: Sequence[Record]) -> list[Record]:
    """Newest advisory first (by ``published``, then id): the subject line names only a few
    packages, and the one a reviewer needs to see is this week's incident, not a 2022 one.
    Feed timestamps are RFC 3339 UTC, so their text order is their time order."""
    return sorted(records, key=lambda r: (r.published or r.modified, r.id), reverse=True)


def _lift_reason(record: Record) -> str:
    if record.withdrawn:
        return f"withdrawn {record.withdrawn}"
    return "ignored in [tool.depguard]"


def _spec_key(spec: str) -> tuple[int, Any]:
    """Specifiers sorted by their version, so the message lists 1.9 before 1.10."""
    from packaging.version import InvalidVersion, Version

    try:
        return (0, Version(spec.lstrip("!=<>")))
    except InvalidVersion:
        return (1, spec)


def _describe(spec: str) -> str:
    """A specifier in a reviewer's words: ``!=1.2`` is version 1.2, ``<0`` every version."""
    if spec == "<0":
        return "every version"
    if spec.startswith("!="):
        return spec[2:]
    if spec.startswith(">="):
        return f"{spec[2:]} and later"
    if spec.startswith(">"):
        return f"every version after {spec[1:]}"
    return spec


# --- the message ---------------------------------------------------------------------------


def commit_message(
    sync_plan: SyncPlan, written: Sequence[FileChange], lockfiles: Sequence[Path], *, reproduce: str = "depguard sync"
) -> str:
    """The commit message (and pull-request body): subject, advisories, files, feed, command."""
    live_ids = {advisory for exclusion in sync_plan.exclusions for advisory in exclusion.advisories}
    added, lifted = advisory_changes(written, sync_plan.snapshot, live_ids)
    lines = [_subject(added, lifted), ""]
    lines += [
        "depguard sync rewrote the managed constraint blocks that stop uv and pip from",
        "resolving compromised releases in this repository.",
    ]
    if added:
        lines += ["", "Newly excluded:", ""]
        lines += [line for change in added for line in _advisory_lines(change)]
    if lifted:
        lines += ["", "Lifted:", ""]
        lines += [line for change in lifted for line in _advisory_lines(change)]
    lines += ["", "Files:", ""]
    lines += [f"- {_file_line(change, sync_plan.root)}" for change in written]
    lines += [f"- {_rel(lock, sync_plan.root)}: relocked with `uv lock`" for lock in lockfiles]
    if sync_plan.refusals:
        lines += ["", "Not changed (sync refused to edit them; fix by hand):", ""]
        lines += [f"- {_rel(r.path, sync_plan.root)}: {r.reason}" for r in sync_plan.refusals]
    snapshot = sync_plan.snapshot
    newest = f", newest modified {snapshot.newest_modified}" if snapshot.newest_modified else ""
    lines += [
        "",
        f"Feed: {redact_url(snapshot.source)} ({snapshot.kind}, {len(snapshot.records)} records{newest})",
        f"Reproduce: {redact_text(reproduce)}",
    ]
    return "\n".join(lines) + "\n"


def _names(changes: Sequence[AdvisoryChange]) -> list[str]:
    seen: list[str] = []
    for change in changes:
        for name in change.versions:
            if name not in seen:
                seen.append(name)
    return seen


def _short(names: list[str]) -> str:
    shown = ", ".join(names[:_SUBJECT_NAMES])
    return shown + (f" and {len(names) - _SUBJECT_NAMES} more" if len(names) > _SUBJECT_NAMES else "")


def _subject(added: Sequence[AdvisoryChange], lifted: Sequence[AdvisoryChange]) -> str:
    parts = []
    if added:
        parts.append(f"exclude compromised releases of {_short(_names(added))}")
    if lifted:
        parts.append(f"lift exclusions of {_short(_names(lifted))}")
    return "depguard: " + ("; ".join(parts) if parts else "update constraint blocks")


def _advisory_lines(change: AdvisoryChange) -> list[str]:
    versions = "; ".join(f"{name}: {', '.join(_describe(s) for s in specs)}" for name, specs in change.versions.items())
    record = change.record
    if record is None:
        return [f"- {versions} ({change.reason})"]
    aliases = f" ({', '.join(record.aliases)})" if record.aliases else ""
    summary = f": {record.summary}" if record.summary else ""
    lines = [f"- {record.id}{aliases}{summary}", f"  {versions}" + (f" ({change.reason})" if change.reason else "")]
    links = [ref.url for ref in record.references] + [_OSV_URL + alias for alias in record.aliases]
    lines += [f"  {url}" for url in dict.fromkeys(links)]
    return lines


def _file_line(change: FileChange, root: Path) -> str:
    rel = _rel(change.path, root)
    if change.target == "pip-tools":
        return f"{rel} (pip-tools): -c line for the constraints file"
    parts = [f"+{n}" for n in change.added] + [f"-{n}" for n in change.removed] + [f"~{n}" for n in change.updated]
    return f"{rel} ({change.target}): " + (", ".join(parts) or "block rewritten")
