"""Validating a pull request against the feed's history: the rules one snapshot cannot check.

A consumer trusts that an advisory, once merged, keeps its id and its ``published`` date, and
that ``modified`` moves forward whenever the content does: clients cache by id and decide
what is new by ``modified``, and a deleted or renumbered id silently lifts a constraint
someone relies on. So ``feed validate --changed-since REF`` lints only the records that differ
from REF (cross-record rules still see the whole feed, see :func:`depguard.feed.lint`) and adds:

* ``history-deleted``: an id present at REF is gone (withdraw it instead: set ``withdrawn``);
* ``history-published``: ``published`` differs from REF;
* ``history-modified``: the content changed but ``modified`` is not later than at REF;
* ``history-id-reused``: a new id takes a number that REF's history already handed out
  (a renumbered file, or the number of a record deleted long ago).

Old versions are read from git (REF's tree, plus one ``git log`` walk for the numbers ever
used); the work tree is compared as it is, so uncommitted and untracked records count too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from depguard import gitops
from depguard.errors import GitError
from depguard.feed import ID_PATTERN, Feed, Issue, lint, load_feed
from depguard.gitops import blob_id
from depguard.jsonio import JSONError, strict_loads
from depguard.records import timestamp_or_none

__all__ = ["RULES", "HistoryReport", "history_issues", "validate_changed_since"]

RULES = ("history-deleted", "history-published", "history-modified", "history-id-reused")


@dataclass
class HistoryReport:
    """Issues of the records changed since ``ref`` (resolved to ``commit``), and which those were."""

    ref: str
    commit: str
    feed: Feed
    changed: list[PurePosixPath] = field(default_factory=list)
    removed: list[PurePosixPath] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)


@dataclass(frozen=True)
class _Old:
    """One record file at REF: where it was, its blob, and (for files that matter) its data."""

    path: PurePosixPath
    blob: str
    data: dict[str, Any] | None


def validate_changed_since(root: Path | str, ref: str) -> HistoryReport:
    """Lint the records that differ from ``ref`` and apply the history rules; raises :class:`GitError`.

    ``root`` is the feed directory inside a git work tree; ``ref`` anything ``git rev-parse``
    understands (``origin/main``, a tag, a commit id).
    """
    root = Path(root)
    feed = load_feed(root)
    repo = gitops.require_repo(root)
    commit = gitops.resolve_commit(repo, ref)
    prefix = _feed_prefix(Path(repo.working_tree_dir or "."), root)
    old_blobs = {
        _strip(f.path, prefix): f.blob for f in gitops.tree_files(repo, commit, prefix) if f.path.suffix == ".json"
    }
    current = _current_blobs(feed)
    changed = sorted(p for p, blob in current.items() if old_blobs.get(p) != blob)
    removed = sorted(p for p in old_blobs if p not in current)
    wanted = [old_blobs[p] for p in changed + removed if p in old_blobs]
    contents = gitops.read_blobs(repo, wanted)
    old = {p: _Old(p, blob, _parse(contents.get(blob))) for p, blob in old_blobs.items()}
    ever = {
        _strip(p, prefix): sha
        for p, sha in gitops.paths_ever_added(repo, commit, prefix).items()
        if p.suffix == ".json"
    }
    report = HistoryReport(ref, commit, feed, changed, removed)
    report.issues = sorted(set(lint(feed, only=changed)) | set(history_issues(feed, old, changed, ever, ref=ref)))
    return report


def _feed_prefix(work_tree: Path, root: Path) -> str:
    try:
        rel = root.resolve().relative_to(work_tree.resolve()).as_posix()
    except ValueError:
        raise GitError(f"{root}: not inside the git work tree {work_tree}") from None
    return "" if rel == "." else rel


def _strip(path: PurePosixPath, prefix: str) -> PurePosixPath:
    return path.relative_to(prefix) if prefix else path


def _current_blobs(feed: Feed) -> dict[PurePosixPath, str]:
    """Blob ids of the record files on disk now; unreadable ones get an id no commit has."""
    blobs = {entry.path: blob_id(entry.raw) for entry in feed.entries}
    for issue in feed.load_issues:
        path = PurePosixPath(issue.path)
        if path.suffix == ".json" and path not in blobs:
            try:
                blobs[path] = blob_id((feed.root / path).read_bytes())
            except OSError:
                blobs[path] = "unreadable"
    return blobs


def _parse(raw: bytes | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        data = strict_loads(raw)
    except JSONError:
        return None
    return data if isinstance(data, dict) else None


def history_issues(
    feed: Feed,
    old: dict[PurePosixPath, _Old],
    changed: Iterable[PurePosixPath],
    ever: dict[PurePosixPath, str],
    *,
    ref: str,
) -> list[Issue]:
    """The four history rules over precomputed old state (see the module docstring)."""
    changed = set(changed)
    entries = {entry.path: entry for entry in feed.entries}
    now_ids: dict[str, PurePosixPath] = {}
    for entry in feed.entries:
        if isinstance(entry.data.get("id"), str):
            now_ids.setdefault(entry.data["id"], entry.path)
    old_ids: dict[str, _Old] = {}
    for path, item in sorted(old.items()):
        if path in entries and path not in changed:
            advisory_id = entries[path].data.get("id")  # same bytes as at REF
        else:
            advisory_id = item.data.get("id") if item.data else path.stem
        if isinstance(advisory_id, str):
            old_ids.setdefault(advisory_id, item)
    issues: list[Issue] = []
    for advisory_id, item in old_ids.items():
        if advisory_id not in now_ids:
            issues.append(
                Issue(
                    str(item.path),
                    "/id",
                    "history-deleted",
                    f"{advisory_id} existed at {ref} ({item.path}) and is gone: never delete or renumber a merged "
                    "record; set `withdrawn` and keep the file",
                )
            )
    for path in sorted(changed):
        found = entries.get(path)
        advisory_id = found.data.get("id") if found is not None else None
        if found is None or not isinstance(advisory_id, str):
            continue
        if advisory_id in old_ids:
            before = old_ids[advisory_id]
            if before.data is not None:
                issues.extend(_update_issues(path, before, found.data, ref))
        else:
            issues.extend(_reuse_issues(path, advisory_id, old_ids, ever, ref))
    return issues


def _update_issues(path: PurePosixPath, before: _Old, data: dict[str, Any], ref: str) -> list[Issue]:
    old_data = before.data or {}
    found = []
    moved = f" ({before.path})" if before.path != path else ""
    if old_data.get("published") != data.get("published"):
        found.append(
            Issue(
                str(path),
                "/published",
                "history-published",
                f"published was {old_data.get('published')!r} at {ref}{moved}, now {data.get('published')!r}: "
                "it never changes once merged",
            )
        )
    if _without_modified(old_data) != _without_modified(data):
        old_time, new_time = timestamp_or_none(old_data.get("modified")), timestamp_or_none(data.get("modified"))
        if old_time is not None and new_time is not None and not new_time > old_time:
            found.append(
                Issue(
                    str(path),
                    "/modified",
                    "history-modified",
                    f"the record changed since {ref}{moved} but modified did not move forward "
                    f"({old_data.get('modified')} at {ref}, {data.get('modified')} now): set it to the time of this change",
                )
            )
    return found


def _without_modified(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "modified"}


def _number(advisory_id: str) -> tuple[int, int] | None:
    match = ID_PATTERN.fullmatch(advisory_id)
    return (int(match["year"]), int(match["number"])) if match else None


def _reuse_issues(
    path: PurePosixPath, advisory_id: str, old_ids: dict[str, _Old], ever: dict[PurePosixPath, str], ref: str
) -> list[Issue]:
    """A new id must not take a number (or an id) REF's history already used."""
    number = _number(advisory_id)
    for old_path, sha in sorted(ever.items()):
        used = old_path.stem
        same = used == advisory_id or (number is not None and _number(used) == number)
        if not same:
            continue
        still = used in old_ids
        where = f"still at {ref} as {old_ids[used].path}" if still else f"added in {sha[:12]}, deleted before {ref}"
        return [
            Issue(
                str(path),
                "/id",
                "history-id-reused",
                f"{advisory_id} is new but its number was already used by {used} ({old_path}, {where}): "
                "ids are never reused; take the next free one (`depguard feed new` picks it)",
            )
        ]
    return []
