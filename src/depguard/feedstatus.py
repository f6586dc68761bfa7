"""Which feed sync would use, and what is in it: the report behind ``depguard feed status``.

:func:`status` resolves the feed exactly as sync does (the same precedence, the same cache,
one conditional request for a URL source) and returns a :class:`FeedStatus`; its
:meth:`~FeedStatus.to_json` and :meth:`~FeedStatus.render_text` are the two outputs. The feed
source is shown in those two methods only.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from depguard import feedstats
from depguard.config import load_config
from depguard.display import describe_age, printable
from depguard.records import parse_timestamp
from depguard.sources import FetchOptions, resolve
from depguard.sources.interface import FeedSnapshot

__all__ = ["FeedStatus", "from_snapshot", "status"]


@dataclass(frozen=True)
class FeedStatus:
    """A feed as a consumer sees it: where it came from, how old it is, what it holds."""

    source: str
    kind: str
    records: int
    in_force: int
    newest_modified: str | None
    checked_at: _dt.datetime | None
    #: The cache directory: the snapshot's own, else where this source would cache.
    cache: str
    #: Whether this source reads or writes that cache at all.
    cache_used: bool
    warnings: tuple[str, ...]
    stats: feedstats.FeedStats
    #: When the report was made: ages are measured from it.
    now: _dt.datetime

    @property
    def withdrawn(self) -> int:
        return self.records - self.in_force

    def newest_age(self) -> _dt.timedelta | None:
        return self.now - parse_timestamp(self.newest_modified) if self.newest_modified else None

    def to_json(self) -> dict[str, Any]:
        """For tools: exact strings, ages in whole seconds."""
        age = self.newest_age()
        return {
            "source": self.source,
            "kind": self.kind,
            "records": self.records,
            "in_force": self.in_force,
            "withdrawn": self.withdrawn,
            "newest_modified": self.newest_modified,
            "newest_age_seconds": int(age.total_seconds()) if age is not None else None,
            "checked_at": self.checked_at.isoformat().replace("+00:00", "Z") if self.checked_at else None,
            "cache": self.cache,
            "warnings": list(self.warnings),
            "stats": feedstats.to_json(self.stats),
        }

    def render_text(self) -> str:
        """For a terminal: one line per fact, then the counts of :func:`feedstats.render_text`.

        Warnings are not part of it (a caller prints them as diagnostics).
        """
        lines = [
            f"source:   {printable(self.source)} ({self.kind})",
            f"records:  {self.records} ({self.in_force} in force, {self.withdrawn} withdrawn)",
        ]
        age = self.newest_age()
        if age is not None:
            lines.append(f"newest:   {self.newest_modified} ({describe_age(age)} old)")
        if self.checked_at:
            lines.append(f"checked:  {describe_age(self.now - self.checked_at)} ago")
        lines.append(f"cache:    {printable(self.cache)}" + ("" if self.cache_used else " (not used by this source)"))
        return "\n".join(lines) + "\n" + feedstats.render_text(self.stats)


def from_snapshot(snapshot: FeedSnapshot, *, cache_root: Path, now: _dt.datetime | None = None) -> FeedStatus:
    """The status of a loaded feed; ``cache_root`` is where its source would cache."""
    return FeedStatus(
        source=snapshot.source,
        kind=snapshot.kind,
        records=len(snapshot.records),
        in_force=sum(1 for r in snapshot.records if not r.is_withdrawn),
        newest_modified=snapshot.newest_modified,
        checked_at=snapshot.checked_at,
        cache=snapshot.cache or str(cache_root),
        cache_used=bool(snapshot.cache),
        warnings=tuple(snapshot.warnings),
        stats=feedstats.compute(snapshot.records),
        now=now or _dt.datetime.now(_dt.timezone.utc),
    )


def status(feed: str | None, *, root: Path, offline: bool = False, now: _dt.datetime | None = None) -> FeedStatus:
    """The feed ``depguard sync`` would use in the repo at ``root``, given ``--feed`` (or None).

    Raises :class:`~depguard.errors.DepguardError` when no feed is usable, as sync would.
    """
    config = load_config(root / "pyproject.toml")
    options = FetchOptions.from_env(offline=offline)
    snapshot = resolve(feed, config_feed=config.feed, config_dir=root, options=options).load()
    return from_snapshot(snapshot, cache_root=options.cache_root, now=now)
