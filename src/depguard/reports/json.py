"""The report for tools: one JSON document, stable keys, repo-relative paths.

``findings`` fail a build; ``ignored`` entries carry the reason from ``[tool.depguard]``;
``errors`` are sources that could not be read (the check is then incomplete, exit 2).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from depguard import __version__
from depguard.reports import help_uri

if TYPE_CHECKING:
    from depguard.check import CheckReport, Finding

__all__ = ["render", "to_data"]


def render(report: CheckReport) -> str:
    return json.dumps(to_data(report), indent=2, ensure_ascii=False) + "\n"


def to_data(report: CheckReport) -> dict[str, Any]:
    """The report as JSON-ready data (also what the golden file holds)."""
    snapshot = report.snapshot
    return {
        "depguard": __version__,
        "feed": {"source": snapshot.source, "kind": snapshot.kind, "records": len(snapshot.records)},
        "checked": [{"path": report.relpath(s.path), "kind": s.kind, "packages": s.packages} for s in report.sources],
        "packages": report.packages,
        "findings": [_finding(report, f) for f in report.findings],
        "ignored": [{**_finding(report, f), "reason": f.ignored_reason} for f in report.ignored],
        "errors": list(report.errors),
        "warnings": list(report.warnings),
    }


def _finding(report: CheckReport, finding: Finding) -> dict[str, Any]:
    package, record = finding.package, finding.advisory
    return {
        "path": report.relpath(package.location.path),
        "line": package.location.line,
        "ecosystem": package.ecosystem,
        "package": package.name,
        "version": package.version,
        "advisory": record.id,
        "aliases": list(record.aliases),
        "summary": record.summary,
        "matched": finding.how,
        "action": finding.action,
        "url": help_uri(record),
    }
