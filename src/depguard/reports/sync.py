"""Renderers of a sync run: the text a person reads and the JSON a tool reads.

A sync run is a :class:`~depguard.sync.SyncPlan` plus what was written and relocked (and,
with ``--commit``, a :class:`~depguard.gitsync.GitSyncResult`). Text comes back as a list of
:class:`Line` s tagged with where they belong (the report, a warning, an error) so a caller
decides the streams and the prefixes, and the order of the lines is the order they are read
in. Line texts are raw: they carry paths, package names and feed text, and a caller that
writes them to a terminal escapes them (:mod:`depguard.display`), as the CLI does in one
place. JSON keeps the exact strings. Paths are relative to the repo root.

The feed source is shown in :func:`text_lines` (the ``feed:`` line) and in :func:`to_json`
(``feed.source``), nowhere else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from depguard.gitsync import GitSyncResult
    from depguard.sync import FileChange, RelockResult, SyncPlan

__all__ = ["Line", "commit_json", "commit_lines", "rel", "summary_line", "text_lines", "to_json"]

LineKind = Literal["out", "warning", "error"]


@dataclass(frozen=True)
class Line:
    """One piece of the text report.

    ``kind`` is ``out`` for the report itself (stdout), ``warning`` or ``error`` for a
    diagnostic (stderr, prefixed by the caller). ``block`` marks multi-line text (a diff, the
    output of ``uv lock``) whose line breaks are meant; it ends with its own newline when
    ``newline`` is False.
    """

    kind: LineKind
    text: str
    block: bool = False
    newline: bool = True


def rel(path: Path, root: Path) -> str:
    """``path`` relative to the repo root when it is inside it, else as given."""
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def text_lines(
    plan: SyncPlan,
    written: Sequence[FileChange],
    relocked: Sequence[RelockResult],
    *,
    show_diff: bool,
    preview: bool,
    fail_unprotected: bool = False,
) -> list[Line]:
    """The text report of a sync run, ending with :func:`summary_line`.

    ``preview`` (``--check``, ``--dry-run``) says "would change" instead of "written";
    ``fail_unprotected`` turns the not-protected lines into errors (``unprotected = "fail"``).
    """
    snapshot = plan.snapshot
    lines: list[Line] = []

    def out(text: str) -> None:
        lines.append(Line("out", text))

    out(
        f"feed: {snapshot.source} ({snapshot.kind}, {len(snapshot.records)} records, {len(plan.exclusions)} PyPI exclusion(s))"
    )
    written_paths = {w.path for w in written}
    for change in plan.changes:
        state = "up to date" if not change.changed else ("would change" if preview else "written")
        if change.changed and change.path not in written_paths and not preview:
            state = "not written"
        parts = [
            f"+{len(change.added)} added",
            f"-{len(change.removed)} removed",
            f"~{len(change.updated)} updated",
            f"{len(change.kept)} kept",
        ]
        detail = ", ".join(parts) if change.target != "pip-tools" else "-c line"
        out(f"{rel(change.path, plan.root)} [{change.target}]: {state} ({detail})")
        for label, names in (("added", change.added), ("removed", change.removed), ("updated", change.updated)):
            if names:
                out(f"    {label}: {', '.join(names)}")
        if change.hand_edited:
            out("    the managed block had been edited by hand; it was rewritten (change [tool.depguard] instead)")
        if show_diff and change.changed:
            lines.append(Line("out", change.diff(plan.root), block=True, newline=False))
    lines += [Line("warning", f"not expressible as exclusions, not written: {note}") for note in plan.unexpressible]
    lines += [Line("warning", warning) for warning in plan.warnings]
    lines += [Line("error", f"{rel(refusal.path, plan.root)}: {refusal.reason}") for refusal in plan.refusals]
    for result in relocked:
        lines.append(
            Line(
                "out",
                f"uv lock in {rel(result.project, plan.root)}: {'ok' if result.ok else 'FAILED: ' + result.output}",
                block=True,
            )
        )
    kind: LineKind = "error" if fail_unprotected else "warning"
    for gap in plan.unprotected:
        lines.append(
            Line(
                kind,
                f"not protected by sync: {rel(gap.project, plan.root)}: {gap.reason}; gate CI with `{gap.instead}`",
            )
        )
    if not plan.changes and not plan.refusals and not plan.unprotected and not plan.skipped:
        out("no projects found to protect")
    out(summary_line(plan))
    return lines


def summary_line(plan: SyncPlan) -> str:
    """The one line a reviewer reads: what is protected, what cannot be, what was skipped."""
    protected = plan.protected()
    projects = {p for dirs in protected.values() for p in dirs}
    parts = [
        f"{len(projects)} project{'' if len(projects) == 1 else 's'} protected "
        f"({', '.join(f'{t}: {len(d)}' for t, d in protected.items()) or 'none'})"
    ]
    if plan.unprotected:
        tools = sorted({t for gap in plan.unprotected for t in gap.tools})
        by_tool = "; ".join(
            f"{t}: {', '.join(rel(g.project, plan.root) for g in plan.unprotected if t in g.tools)}" for t in tools
        )
        parts.append(
            f"{len(plan.unprotected)} not protectable ({by_tool}; run depguard check on their lockfiles instead)"
        )
    else:
        parts.append("0 not protectable")
    folders = plan.skipped_folders()
    where = ", ".join(f"{folder} ({count})" for folder, count in folders.items())
    parts.append(
        f"{len(plan.skipped)} skipped"
        + (f" (test fixtures/templates: {where}; opt in with [tool.depguard] include)" if where else "")
    )
    return ", ".join(parts)


def to_json(
    plan: SyncPlan, written: Sequence[FileChange], relocked: Sequence[RelockResult], preview: bool
) -> dict[str, Any]:
    """The JSON report of a sync run (``depguard sync --format json``): exact strings."""
    written_paths = {w.path for w in written}
    return {
        "feed": {"source": plan.snapshot.source, "kind": plan.snapshot.kind, "records": len(plan.snapshot.records)},
        "exclusions": [{"requirement": e.requirement, "advisories": list(e.advisories)} for e in plan.exclusions],
        "files": [
            {
                "path": rel(c.path, plan.root),
                "target": c.target,
                "project": rel(c.project, plan.root),
                "changed": c.changed,
                "written": c.path in written_paths,
                "added": list(c.added),
                "removed": list(c.removed),
                "updated": list(c.updated),
                "kept": list(c.kept),
                "hand_edited": c.hand_edited,
            }
            for c in plan.changes
        ],
        "unexpressible": plan.unexpressible,
        "warnings": plan.warnings,
        "errors": [{"path": rel(r.path, plan.root), "reason": r.reason} for r in plan.refusals],
        "relocked": [{"project": rel(r.project, plan.root), "ok": r.ok} for r in relocked],
        "preview": preview,
        "summary": _summary_json(plan),
    }


def _summary_json(plan: SyncPlan) -> dict[str, Any]:
    """The counts and lists of the text summary line, for tools."""
    protected = plan.protected()
    return {
        "protected": {
            "count": len({p for dirs in protected.values() for p in dirs}),
            "by_target": {t: [rel(p, plan.root) for p in dirs] for t, dirs in protected.items()},
        },
        "unprotected": {
            "count": len(plan.unprotected),
            "projects": [
                {"project": rel(g.project, plan.root), "tools": list(g.tools), "reason": g.reason, "instead": g.instead}
                for g in plan.unprotected
            ],
        },
        "skipped": {
            "count": len(plan.skipped),
            "folders": plan.skipped_folders(),
            "projects": [rel(p.directory, plan.root) for p in plan.skipped],
        },
    }


def _branch(result: GitSyncResult) -> str | None:
    return result.ref.removeprefix("refs/heads/") if result.ref else None


def commit_lines(result: GitSyncResult, *, show_diff: bool) -> list[Line]:
    """``sync --commit``: the sync report, then what was committed (or why not)."""
    lines = text_lines(result.plan, result.written, result.relocked, show_diff=show_diff, preview=False)
    if result.commit_sha:
        lines.append(
            Line("out", f"committed {result.commit_sha[:12]} on {_branch(result)}: {len(result.committed)} file(s)")
        )
    elif result.blocked:
        lines.append(Line("error", f"not committed: {result.blocked}"))
    else:
        lines.append(Line("out", "nothing to commit: every managed block is up to date"))
    return lines


def commit_json(result: GitSyncResult) -> dict[str, Any]:
    """``sync --commit --format json``: the sync report plus a ``commit`` object."""
    report = to_json(result.plan, result.written, result.relocked, False)
    report["commit"] = {
        "sha": result.commit_sha,
        "branch": _branch(result),
        "files": list(result.committed),
        "message": result.message if result.commit_sha else None,
        "blocked": result.blocked,
    }
    return report
