"""Which live advisories name a given package version: the question behind check and serve.

Built once per feed into a dictionary keyed by (ecosystem, normalized name), so looking up a
2,000-package lockfile is 2,000 dictionary hits plus a few comparisons each, not a scan of the
feed per package. Versions compare in each ecosystem's own terms: PEP 440 for PyPI
(``1.82.7 == 1.82.7.0``), SemVer precedence for npm.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from depguard import ecosystems
from depguard.records import Affected, Record

__all__ = ["Match", "AdvisoryIndex"]


@dataclass(frozen=True)
class Match:
    """A live advisory that covers a version, and how (listed version, range or known artifact)."""

    record: Record
    how: str


@dataclass
class _Entry:
    record: Record
    versions: frozenset[Any]
    intervals: tuple[tuple[Any | None, Any | None, bool], ...]  # (introduced, end, end_inclusive)


@dataclass
class AdvisoryIndex:
    """Live advisories by package, plus known-bad artifact hashes."""

    by_package: dict[tuple[str, str], list[_Entry]] = field(default_factory=dict)
    by_sha256: dict[str, list[Record]] = field(default_factory=dict)
    by_id: dict[str, Record] = field(default_factory=dict)

    @classmethod
    def from_records(cls, records: Iterable[Record], *, ignore: Iterable[str] = ()) -> AdvisoryIndex:
        index = cls()
        skip = set(ignore)
        for record in records:
            index.by_id[record.id] = record
            if record.is_withdrawn or record.id in skip:
                continue
            for affected in record.affected:
                index._add(record, affected)
            for artifact in record.depguard.artifacts:
                index.by_sha256.setdefault(artifact.sha256.lower(), []).append(record)
        return index

    def _add(self, record: Record, affected: Affected) -> None:
        if affected.package is None:
            return
        eco = ecosystems.get(affected.package.ecosystem)
        if eco is None:
            return
        versions = frozenset(_key(eco, v) for v in affected.versions if eco.version_is_valid(v))
        intervals = tuple(i for r in affected.ranges if r.type in {"ECOSYSTEM", "SEMVER"} for i in _intervals(eco, r.events))
        key = (eco.name, eco.normalize_name(affected.package.name))
        self.by_package.setdefault(key, []).append(_Entry(record, versions, intervals))

    def lookup(self, ecosystem: str, name: str, version: str | None) -> list[Match]:
        """Advisories covering ``name`` at ``version``; a None version matches only whole-package blocks."""
        eco = ecosystems.get(ecosystem)
        if eco is None:
            return []
        entries = self.by_package.get((eco.name, eco.normalize_name(name)), [])
        if not entries:
            return []
        key = _key(eco, version) if version is not None and eco.version_is_valid(version) else None
        found: dict[str, Match] = {}
        for entry in entries:
            how = _how(entry, key)
            if how and entry.record.id not in found:
                found[entry.record.id] = Match(entry.record, how)
        return sorted(found.values(), key=lambda m: m.record.id)

    def lookup_sha256(self, digest: str) -> list[Record]:
        return list(self.by_sha256.get(digest.lower(), []))

    def packages(self) -> int:
        return len(self.by_package)


def _key(eco: ecosystems.Ecosystem, version: str) -> Any:
    return eco.version_key(version)


def _how(entry: _Entry, key: Any | None) -> str | None:
    for low, high, inclusive in entry.intervals:
        if low is None and high is None:
            return "every version (whole-package block)"
        if key is None:
            continue
        if (low is None or key >= low) and (high is None or key < high or (inclusive and key == high)):
            return "affected range"
    if key is not None and key in entry.versions:
        return "listed version"
    return None


def _intervals(eco: ecosystems.Ecosystem, events: Iterable[Any]) -> list[tuple[Any | None, Any | None, bool]]:
    """OSV events, in order, as half-open (or last_affected-closed) intervals; ``0`` is unbounded."""
    result: list[tuple[Any | None, Any | None, bool]] = []
    start: Any | None = None
    open_ = False
    for event in events:
        if event.introduced is not None:
            start = None if event.introduced == "0" else _safe_key(eco, event.introduced)
            open_ = True
        elif open_ and (event.fixed is not None or event.last_affected is not None):
            bound = event.fixed if event.fixed is not None else event.last_affected
            result.append((start, _safe_key(eco, bound), event.fixed is None))
            open_ = False
    if open_:
        result.append((start, None, False))
    return result


def _safe_key(eco: ecosystems.Ecosystem, version: str) -> Any | None:
    return eco.version_key(version) if eco.version_is_valid(version) else None
