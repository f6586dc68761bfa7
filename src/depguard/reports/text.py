"""The report for people: a table of findings, the advisories behind them, then a verdict.

Every row names the file and line to open, and says what to do; the advisory summaries
follow the table once each, so a lockfile with twenty bad entries does not repeat the same
paragraph twenty times.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from depguard.display import printable
from depguard.reports import advisory_label, help_uri

if TYPE_CHECKING:
    from depguard.check import CheckReport, Finding

__all__ = ["render"]

_FINDING_COLUMNS = ("LOCATION", "PACKAGE", "VERSION", "ADVISORY", "MATCHED", "WHAT TO DO")
_IGNORED_COLUMNS = ("LOCATION", "PACKAGE", "VERSION", "ADVISORY", "REASON")


def render(report: CheckReport) -> str:
    """The whole report. Every string that comes from a file, a path or the feed is escaped
    (:func:`~depguard.display.printable`): a package name or folder name holding ESC or OSC
    sequences must not set the title, clear the screen or overwrite the verdict."""
    snapshot = report.snapshot
    lines = [f"feed: {printable(snapshot.source)} ({snapshot.kind}, {len(snapshot.records)} records)"]
    lines += [
        f"checked: {printable(report.relpath(s.path))} ({s.kind}, {s.packages} package(s))" for s in report.sources
    ]
    if report.findings:
        lines += ["", *_table(_FINDING_COLUMNS, [_finding_row(report, f) for f in report.findings])]
    if report.ignored:
        lines += ["", "ignored by [tool.depguard] ignore (not failing):"]
        lines += _table(_IGNORED_COLUMNS, [_ignored_row(report, f) for f in report.ignored])
    if report.advisories:
        lines.append("")
        for record in report.advisories:
            url = help_uri(record)
            lines.append(printable(f"{advisory_label(record)}: {record.summary or ''}" + (f" <{url}>" if url else "")))
    lines += ["", _verdict(report)]
    return "\n".join(lines) + "\n"


def _finding_row(report: CheckReport, finding: Finding) -> tuple[str, ...]:
    package = finding.package
    cells = (
        _where(report, finding),
        package.name,
        package.version or "-",
        advisory_label(finding.advisory),
        finding.how,
        finding.action,
    )
    return tuple(map(printable, cells))


def _ignored_row(report: CheckReport, finding: Finding) -> tuple[str, ...]:
    package = finding.package
    cells = (
        _where(report, finding),
        package.name,
        package.version or "-",
        advisory_label(finding.advisory),
        finding.ignored_reason or "",
    )
    return tuple(map(printable, cells))


def _where(report: CheckReport, finding: Finding) -> str:
    location = finding.package.location
    path = report.relpath(location.path)
    return f"{path}:{location.line}" if location.line else path


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns two spaces apart; the last column is never padded."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    return [
        "  ".join([*(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)), row[-1]]).rstrip()
        for row in [header, *rows]
    ]


def _verdict(report: CheckReport) -> str:
    files = len({f.package.location.path for f in report.findings})
    parts = [
        f"{len(report.findings)} compromised package(s) in {files} file(s)"
        if report.findings
        else "no compromised packages found"
    ]
    parts.append(f"{report.packages} package(s) checked in {len(report.sources)} source(s)")
    if report.ignored:
        parts.append(f"{len(report.ignored)} ignored")
    if report.errors:
        parts.append(f"{len(report.errors)} error(s): the check is incomplete")
    return "; ".join(parts)
