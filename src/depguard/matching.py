"""Which live advisories name a given package version: the question behind check and serve.

Built once per feed into a dictionary keyed by (ecosystem, normalized name), so looking up a
2,000-package lockfile is 2,000 dictionary hits plus a few comparisons each, not a scan of the
feed per package. Versions compare in each ecosystem's own terms: PEP 440 for PyPI
(``1.82.7 == 1.82.7.0``), SemVer precedence for npm.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from depguard import ecosystems
from depguard.jsonio import gc_paused
from depguard.records import Affected, Record

__all__ = ["Match", "AdvisoryIndex", "package_key", "may_list_artifacts"]


@lru_cache(maxsize=1 << 16)
def package_key(ecosystem: str, name: str) -> tuple[str, str] | None:
    """What advisories are filed under: (OSV ecosystem, name in its normal form).

    None for an ecosystem depguard does not cover. The one place that decides which spellings
    are the same package, for the index here and for the map the feed cache keeps
    (:mod:`depguard.packagemap`), so the two can never disagree. Remembered: a check asks for
    each locked package twice (which records to read, then the lookup).
    """
    eco = ecosystems.get(ecosystem)
    return None if eco is None else (eco.name, eco.normalize_name(name))


@dataclass(frozen=True)
class Match:
    """A live advisory that covers a version, and how (listed version, range or known artifact)."""

    record: Record
    how: str


class _Entry:
    """One affected entry of a live record, its versions and intervals parsed on first lookup.

    Parsing every version of a 20,000-record feed took longer than the whole lookup of a
    2,000-package lockfile, which only ever asks about a few hundred packages; the parsed
    values are kept, so later lookups (serve answers many) pay nothing.
    """

    __slots__ = ("record", "_affected", "_eco", "_versions", "_intervals")

    def __init__(self, record: Record, affected: Affected, eco: ecosystems.Ecosystem) -> None:
        self.record = record
        self._affected = affected
        self._eco = eco
        self._versions: frozenset[Any] | None = None
        self._intervals: tuple[tuple[Any | None, Any | None, bool], ...] | None = None

    @property
    def versions(self) -> frozenset[Any]:
        if self._versions is None:
            eco = self._eco
            self._versions = frozenset(_key(eco, v) for v in self._affected.versions if eco.version_is_valid(v))
        return self._versions

    @property
    def intervals(self) -> tuple[tuple[Any | None, Any | None, bool], ...]:
        """(introduced, end, end_inclusive) of each ECOSYSTEM/SEMVER range."""
        if self._intervals is None:
            ranges = self._affected.ranges
            self._intervals = tuple(i for r in ranges if r.type in {"ECOSYSTEM", "SEMVER"} for i in _intervals(self._eco, r.events))
        return self._intervals


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
        with gc_paused():  # see jsonio.gc_paused
            for record in records:
                index.by_id[record.id] = record
                if record.is_withdrawn or record.id in skip:
                    continue
                for affected in record.affected:
                    index._add(record, affected)
                if may_list_artifacts(record):
                    for artifact in record.depguard.artifacts:
                        index.by_sha256.setdefault(artifact.sha256.lower(), []).append(record)
        return index

    def _add(self, record: Record, affected: Affected) -> None:
        if affected.package is None:
            return
        key = package_key(affected.package.ecosystem, affected.package.name)
        if key is None:
            return
        self.by_package.setdefault(key, []).append(_Entry(record, affected, ecosystems.ECOSYSTEMS[key[0]]))

    def lookup(self, ecosystem: str, name: str, version: str | None) -> list[Match]:
        """Advisories covering ``name`` at ``version``; a None version matches only whole-package blocks."""
        key = package_key(ecosystem, name)
        entries = self.by_package.get(key, []) if key is not None else []
        if not entries:
            return []
        eco = ecosystems.ECOSYSTEMS[key[0]]
        version_key = _key(eco, version) if version is not None and eco.version_is_valid(version) else None
        found: dict[str, Match] = {}
        for entry in entries:
            how = _how(entry, version_key)
            if how and entry.record.id not in found:
                found[entry.record.id] = Match(entry.record, how)
        return sorted(found.values(), key=lambda m: m.record.id)

    def lookup_sha256(self, digest: str) -> list[Record]:
        return list(self.by_sha256.get(digest.lower(), []))

    def packages(self) -> int:
        return len(self.by_package)


def may_list_artifacts(record: Record) -> bool:
    """Whether ``database_specific.depguard`` has an ``artifacts`` key at all.

    ``record.depguard`` validates a pydantic model on every access; asking the plain dict
    first spares that for the records (nearly all) that name no artifact, which was a fifth of
    the time ``check`` spent indexing a 20,000-record feed.
    """
    info = (record.database_specific or {}).get("depguard")
    return isinstance(info, dict) and "artifacts" in info


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
    """OSV events as half-open (or last_affected-closed) intervals; ``0`` is unbounded.

    Events are taken in OSV's order - sorted by version (stable), ``introduced: "0"`` first -
    as OSV's IsVulnerable does (a feed's ``[fixed 0.1, introduced 0]`` is ``[0, 0.1)``, not
    every version); with an invalid bound the feed's order is kept. A second ``introduced``
    inside an open interval does not move its start.
    """
    result: list[tuple[Any | None, Any | None, bool]] = []
    start: Any | None = None
    open_ = False
    try:
        events = sorted(events, key=lambda e: (0,) if e.introduced == "0" else (1, eco.version_key(e.introduced or e.fixed or e.last_affected or e.limit)))
    except (TypeError, ValueError):
        pass
    for event in events:
        if event.introduced is not None:
            if not open_:
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
