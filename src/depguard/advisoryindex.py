"""The live advisories of a feed filed by package and by artifact digest, for check and serve.

Built once per feed into a dictionary keyed by (ecosystem, normalized name), so looking up a
2,000-package lockfile is 2,000 dictionary hits plus a set lookup each, not a scan of the feed
per package. Whether a version is affected is :mod:`depguard.affected`'s answer, the same one
``sync`` writes as exclusions; this module only files entries where a lookup finds them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from depguard import ecosystems
from depguard.affected import Entry, read_entry, release, require_profile
from depguard.jsonio import gc_paused
from depguard.records import Affected, Record

__all__ = ["AdvisoryIndex", "Filed", "Match", "lookup_keys", "may_list_artifacts", "package_key"]


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


def lookup_keys(ecosystem: str, name: str) -> tuple[tuple[str, str], ...]:
    """Every key advisories for ``name`` may be filed under: its :func:`package_key`, and for
    a GitHub action in a sub-folder (``owner/repo/path``) also its repository's, because a
    moved tag or a bad commit moves every action of the repository."""
    key = package_key(ecosystem, name)
    if key is None:
        return ()
    if key[0] == ecosystems.GITHUB_ACTIONS.name and key[1].count("/") > 1:
        return (key, (key[0], ecosystems.repository_of(key[1])))
    return (key,)


@dataclass(frozen=True)
class Match:
    """A live advisory that covers a version, and how (listed version, whole package or known artifact)."""

    record: Record
    how: str


@dataclass(frozen=True)
class Filed:
    """One ``affected`` entry of a live record, under its package; read on first lookup (a
    check asks about a few hundred of a large feed's packages)."""

    record: Record
    affected: Affected

    @cached_property
    def entry(self) -> Entry:
        entry = read_entry(self.affected)
        assert entry is not None  # filed under a package_key, so in a covered ecosystem
        return entry


@dataclass
class AdvisoryIndex:
    """Live advisories by package, plus known-bad artifact hashes."""

    by_package: dict[tuple[str, str], list[Filed]] = field(default_factory=dict)
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
        """File one entry; :class:`~depguard.affected.OutsideProfileError` for a shape the
        profile refuses (the sources refuse such records before they get here)."""
        require_profile(affected)
        key = package_key(affected.package.ecosystem, affected.package.name) if affected.package is not None else None
        if key is not None:
            self.by_package.setdefault(key, []).append(Filed(record, affected))

    def lookup(self, ecosystem: str, name: str, version: str | None) -> list[Match]:
        """Advisories covering ``name`` at ``version``; a None version matches only whole-package blocks."""
        keys = lookup_keys(ecosystem, name)
        entries = [filed for key in keys for filed in self.by_package.get(key, [])]
        if not entries:
            return []
        key = keys[0]
        eco = ecosystems.ECOSYSTEMS[key[0]]
        version_key = release(eco, version) if version is not None else None
        found: dict[str, Match] = {}
        for filed in entries:
            how = filed.entry.how_release(version_key)
            if how and filed.record.id not in found:
                found[filed.record.id] = Match(filed.record, how)
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
