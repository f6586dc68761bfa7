"""Building feeds in tests: a valid record to start from, and writing a feed directory."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from depguard.feed import canonical_bytes, record_relpath


def record(
    advisory_id: str = "x_DEPGUARD-2026-0001",
    *,
    name: str = "litellm",
    versions: tuple[str, ...] = ("1.82.7", "1.82.8"),
    ecosystem: str = "PyPI",
    whole_package: bool = False,
    withdrawn: str | None = None,
    published: str = "2026-03-24T12:00:00Z",
    modified: str = "2026-03-25T12:00:00Z",
) -> dict[str, Any]:
    """A record that passes every rule; tests break one thing at a time."""
    purl_name = name.replace("@", "%40") if ecosystem == "npm" else name
    affected: dict[str, Any] = {
        "package": {"ecosystem": ecosystem, "name": name, "purl": f"pkg:{ecosystem.lower()}/{purl_name}"},
        "versions": list(versions),
    }
    if whole_package:
        affected["ranges"] = [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]
    data: dict[str, Any] = {
        "schema_version": "1.7.5",
        "id": advisory_id,
        "modified": modified,
        "published": published,
        "aliases": ["MAL-2026-2144"],
        "summary": f"Compromised {name} releases",
        "details": f"Releases of {name} were compromised. Do not install them.",
        "affected": [affected],
        "references": [{"type": "REPORT", "url": "https://example.org/report"}],
        "database_specific": {"depguard": {"kind": "malicious-package" if whole_package else "compromised-release"}},
    }
    if withdrawn:
        data["withdrawn"] = withdrawn
    return data


def write_record(root: Path, data: dict[str, Any], *, rel: str | None = None, raw: bytes | None = None) -> Path:
    """Write ``data`` canonically at its proper place (or at ``rel``, or ``raw`` bytes)."""
    pkg = data["affected"][0]["package"] if data.get("affected") else {"ecosystem": "PyPI", "name": "x"}
    path = root / (rel or str(record_relpath(pkg["ecosystem"], pkg["name"], data["id"])))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw if raw is not None else canonical_bytes(data))
    return path


def write_feed(root: Path, records: list[dict[str, Any]]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for data in records:
        write_record(root, copy.deepcopy(data))
    return root
