"""SARIF 2.1.0 for GitHub code scanning: findings become alerts on the lockfile line.

One rule per advisory, so code scanning groups every entry of one incident under one alert
type, with the advisory's summary, link and a ``security-severity`` that ranks it as
critical (a compromised release runs an attacker's code on install or import; there is no
milder reading of it). ``partialFingerprints`` hash what identifies the finding (advisory,
file, package, version) and not the line, so an alert survives unrelated edits that move the
entry. Ignored findings are kept as results with an external suppression carrying the
reason, at level ``note``, so a viewer that ignores suppressions still does not show them as
errors. Read errors are tool execution notifications and mark the run unsuccessful.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from depguard import __version__, ecosystems
from depguard.check import ACTION_PACKAGE, ACTION_VERSION, ACTION_WORKFLOW, CheckReport, Finding
from depguard.records import Record
from depguard.reports import advisory_label, help_uri

__all__ = ["INFORMATION_URI", "SCHEMA_URI", "SECURITY_SEVERITY", "render", "to_data"]

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
#: Where people read about depguard; the project page on the index it is published to.
INFORMATION_URI = "https://github.com/depguard/depguard"
#: Every advisory in the feed is an attacker's code in a release: critical (GitHub: >= 9.0).
SECURITY_SEVERITY = "9.8"
_FINGERPRINT = "depguardFinding/v1"


def render(report: CheckReport) -> str:
    return json.dumps(to_data(report), indent=2, ensure_ascii=False) + "\n"


def to_data(report: CheckReport) -> dict[str, Any]:
    """The SARIF log as JSON-ready data: one run, rules for the advisories that matched."""
    advisories = report.advisories
    rule_index = {record.id: i for i, record in enumerate(advisories)}
    results = [_result(report, f, rule_index) for f in report.findings]
    results += [_result(report, f, rule_index) for f in report.ignored]
    notifications = [_notification("error", text) for text in report.errors]
    notifications += [_notification("warning", text) for text in report.warnings]
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "depguard",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": [_rule(record) for record in advisories],
                    }
                },
                "invocations": [
                    {"executionSuccessful": not report.errors, "toolExecutionNotifications": notifications}
                ],
                "results": results,
            }
        ],
    }


def _rule(record: Record) -> dict[str, Any]:
    kind = record.depguard.kind or "compromised-release"
    ecosystem_tags = sorted({a.package.ecosystem for a in record.affected if a.package is not None})
    rule: dict[str, Any] = {
        "id": record.id,
        "name": "".join(part.capitalize() for part in kind.split("-")),
        "shortDescription": {"text": record.summary or advisory_label(record)},
        "fullDescription": {"text": record.details or record.summary or advisory_label(record)},
        "help": {"text": _help_text(record)},
        "defaultConfiguration": {"level": "error"},
        "properties": {
            "security-severity": SECURITY_SEVERITY,
            "tags": ["security", "supply-chain", kind, *ecosystem_tags],
            "precision": "very-high",
            "problem.severity": "error",
            "aliases": list(record.aliases),
        },
    }
    url = help_uri(record)
    if url:
        rule["helpUri"] = url
    return rule


def _help_text(record: Record) -> str:
    action = ACTION_PACKAGE if record.depguard.kind == "malicious-package" else ACTION_VERSION
    if record.affected and all(
        a.package is not None and a.package.ecosystem == "GitHub Actions" for a in record.affected
    ):
        action = ACTION_WORKFLOW
    return f"{record.summary or record.id}\n\nWhat to do: {action}."


def _result(report: CheckReport, finding: Finding, rule_index: dict[str, int]) -> dict[str, Any]:
    package, record = finding.package, finding.advisory
    version = package.version or "(any version)"
    result: dict[str, Any] = {
        "ruleId": record.id,
        "ruleIndex": rule_index[record.id],
        "level": "note" if finding.ignored_reason is not None else "error",
        "message": {
            "text": (
                f"{package.name} {version} ({package.ecosystem}) is named by {advisory_label(record)}: "
                f"{(record.summary or 'a compromised release').rstrip('.')}. Matched: {finding.how}. What to do: {finding.action}."
            )
        },
        "locations": [{"physicalLocation": _physical_location(report, finding)}],
        "partialFingerprints": {_FINGERPRINT: _fingerprint(report, finding)},
    }
    if finding.ignored_reason is not None:
        result["suppressions"] = [{"kind": "external", "justification": finding.ignored_reason}]
    return result


def _physical_location(report: CheckReport, finding: Finding) -> dict[str, Any]:
    location = finding.package.location
    rel = report.relpath(location.path)
    if Path(rel).is_absolute():
        artifact: dict[str, Any] = {"uri": Path(rel).as_uri()}
    else:
        artifact = {"uri": rel, "uriBaseId": "%SRCROOT%"}
    physical: dict[str, Any] = {"artifactLocation": artifact}
    if location.line:
        physical["region"] = {"startLine": location.line}
    return physical


def _fingerprint(report: CheckReport, finding: Finding) -> str:
    """Stable across line moves: the advisory, the file and the package entry, not the line."""
    package = finding.package
    eco = ecosystems.get(package.ecosystem)
    name = eco.normalize_name(package.name) if eco else package.name
    text = "\0".join(
        [finding.advisory.id, report.relpath(package.location.path), package.ecosystem, name, package.version or ""]
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _notification(level: str, text: str) -> dict[str, Any]:
    return {"level": level, "message": {"text": text}}
