"""How big and how fresh a feed is: counts per ecosystem and per year, the newest incidents.

The same numbers appear in ``depguard feed status``, ``depguard feed stats``, the published
``index.html`` and the README's headline, so they are computed in one place from the typed
records and rendered from one :class:`FeedStats`. Everything here is a pure function of the
records: no clock, no file system, a fixed order everywhere, so a page or README block built
from the same feed is byte-identical.

What is counted, and why so:

* only **live** records count (``withdrawn`` unset); withdrawn ones are counted on their own,
  because a retracted advisory no longer keeps anything out of an install;
* a record counts once per ecosystem it affects (and once in the total);
* **packages** are distinct names in each ecosystem's normal form (PEP 503 for PyPI, so
  ``Some_Pkg`` and ``some-pkg`` are one package; an npm scope is part of the name);
* **package@version pairs** are the distinct exact versions named by entries that do *not*
  block the whole package, compared as the ecosystem compares them (``1.0`` is ``1.0.0`` on
  PyPI): a whole-package block already covers every version it might list;
* **whole-package blocks** are distinct packages with an entry whose range starts at
  ``introduced: "0"`` and never ends (a package malicious from its first upload);
* the **year** is the UTC year of ``published`` (``modified`` for a record without one).
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from depguard import ecosystems
from depguard.affected import blocks_every_version
from depguard.display import printable
from depguard.errors import InvalidRecordError
from depguard.jsonio import gc_paused
from depguard.records import Record, parse_timestamp

__all__ = [
    "FORMATS",
    "EcosystemCounts",
    "FeedStats",
    "Incident",
    "YearCounts",
    "compute",
    "newest_first_key",
    "render",
    "render_markdown",
    "render_text",
    "to_json",
]

#: How many incidents the text and JSON renderings list.
NEWEST_SHOWN = 10
#: ``feed stats --format`` values, each with its renderer in :func:`render`.
FORMATS = ("text", "json", "markdown")
#: Packages named per incident in text before "and N more".
_PACKAGES_SHOWN = 3

RecordLike = Record | Mapping[str, Any]


@dataclass(frozen=True)
class EcosystemCounts:
    """The live records of one ecosystem (or of all, ``ecosystem="all"``) and what they block."""

    ecosystem: str
    records: int
    packages: int
    package_versions: int
    whole_package_blocks: int
    withdrawn: int

    def to_json(self) -> dict[str, Any]:
        return {
            "ecosystem": self.ecosystem,
            "records": self.records,
            "packages": self.packages,
            "package_versions": self.package_versions,
            "whole_package_blocks": self.whole_package_blocks,
            "withdrawn": self.withdrawn,
        }


@dataclass(frozen=True)
class YearCounts:
    """Live records first published in ``year``: in all, and per ecosystem (sorted by name)."""

    year: int
    records: int
    by_ecosystem: tuple[tuple[str, int], ...]

    def to_json(self) -> dict[str, Any]:
        return {"year": self.year, "records": self.records, "ecosystems": dict(self.by_ecosystem)}


@dataclass(frozen=True)
class Incident:
    """One live advisory as a headline: when, which id, which packages, what happened."""

    id: str
    published: str
    date: str
    packages: tuple[tuple[str, str], ...]
    summary: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "published": self.published,
            "date": self.date,
            "id": self.id,
            "packages": [{"ecosystem": e, "name": n} for e, n in self.packages],
            "summary": self.summary,
        }


@dataclass(frozen=True)
class FeedStats:
    """A feed's size and freshness; :func:`compute` builds it, the ``render_*`` functions show it.

    ``ecosystems`` is sorted by name, ``years`` newest first, ``newest`` holds every live
    record newest first (by ``published``, then id), ``total`` sums the live records once each.
    """

    ecosystems: tuple[EcosystemCounts, ...]
    total: EcosystemCounts
    years: tuple[YearCounts, ...]
    newest: tuple[Incident, ...]

    @property
    def live(self) -> int:
        return self.total.records

    @property
    def withdrawn(self) -> int:
        return self.total.withdrawn

    @property
    def newest_published(self) -> str | None:
        return self.newest[0].published if self.newest else None


# --------------------------------------------------------------------------- computing


def _published_at(record: Record) -> _dt.datetime:
    text = record.published or record.modified
    try:
        return parse_timestamp(text).astimezone(_dt.timezone.utc)
    except ValueError:
        raise InvalidRecordError(f"{record.id}: {text!r} is not an RFC 3339 timestamp") from None


def newest_first_key(record: Record) -> tuple[_dt.datetime, str]:
    """Sort key for newest first with ``reverse=True``: ``published`` (UTC), then id.

    Ties on the date go to the higher id, which a feed hands out later; the order never
    depends on the file system.
    """
    return _published_at(record), record.id


def _typed(records: Iterable[RecordLike]) -> list[Record]:
    """Typed records; ``all.json`` entries (plain mappings) are typed here."""
    return [r if isinstance(r, Record) else Record.model_validate(dict(r)) for r in records]


def _package_key(ecosystem: str, name: str) -> str:
    eco = ecosystems.get(ecosystem)
    return eco.normalize_name(name) if eco is not None else name


def _version_key(ecosystem: str, version: str) -> Any:
    """A version as its ecosystem compares it (``1.0`` is ``1.0.0`` on PyPI); else the string."""
    eco = ecosystems.get(ecosystem)
    if eco is None or not eco.version_is_valid(version):
        return ("raw", version)
    return ("key", eco.version_key(version))


class _Tally:
    """What one ecosystem's live records name, as sets so nothing counts twice."""

    def __init__(self) -> None:
        self.records = 0
        self.withdrawn = 0
        self.packages: set[Any] = set()  # names; (ecosystem, name) in the total
        self.versions: set[tuple[Any, Any]] = set()  # (package, version key)
        self.whole: set[Any] = set()

    def counts(self, ecosystem: str) -> EcosystemCounts:
        return EcosystemCounts(
            ecosystem, self.records, len(self.packages), len(self.versions), len(self.whole), self.withdrawn
        )


def compute(records: Iterable[RecordLike]) -> FeedStats:
    """The stats of ``records``: :class:`~depguard.records.Record` models or ``all.json`` entries.

    One pass, each date parsed once, with the cyclic collector paused: the page of a
    20,000-record build computes this too (see :func:`depguard.jsonio.gc_paused`).
    """
    with gc_paused():
        return _compute(_typed(records))


def _compute(typed: list[Record]) -> FeedStats:
    tallies: dict[str, _Tally] = {}
    total = _Tally()
    years: dict[int, dict[str, int]] = {}
    year_totals: dict[int, int] = {}
    live: list[tuple[_dt.datetime, str, Record, tuple[tuple[str, str], ...]]] = []
    for record in typed:
        names = tuple(
            dict.fromkeys([(a.package.ecosystem, a.package.name) for a in record.affected if a.package is not None])
        )
        record_ecosystems = (
            tuple(dict.fromkeys([ecosystem for ecosystem, _ in names]))
            if len(names) > 1
            else tuple(e for e, _ in names)
        )
        if record.withdrawn is not None:
            total.withdrawn += 1
            for ecosystem in record_ecosystems:
                tallies.setdefault(ecosystem, _Tally()).withdrawn += 1
            continue
        moment = _published_at(record)
        live.append((moment, record.id, record, names))
        total.records += 1
        year = moment.year
        year_totals[year] = year_totals.get(year, 0) + 1
        per_year = years.setdefault(year, {})
        for ecosystem in record_ecosystems:
            tallies.setdefault(ecosystem, _Tally()).records += 1
            per_year[ecosystem] = per_year.get(ecosystem, 0) + 1
        for affected in record.affected:
            if affected.package is None:
                continue
            ecosystem = affected.package.ecosystem
            package = _package_key(ecosystem, affected.package.name)
            tally = tallies[ecosystem]
            tally.packages.add(package)
            total.packages.add((ecosystem, package))
            if blocks_every_version(affected):
                tally.whole.add(package)
                total.whole.add((ecosystem, package))
                continue
            for version in affected.versions:
                key = _version_key(ecosystem, version)
                tally.versions.add((package, key))
                total.versions.add(((ecosystem, package), key))
    # a package blocked whole by one entry: the versions other entries list are covered already
    for tally in (*tallies.values(), total):
        tally.versions = {pair for pair in tally.versions if pair[0] not in tally.whole}
    live.sort(key=lambda entry: (entry[0], entry[1]), reverse=True)  # newest_first_key, computed once
    return FeedStats(
        ecosystems=tuple(tallies[e].counts(e) for e in sorted(tallies)),
        total=total.counts("all"),
        years=tuple(
            YearCounts(year, year_totals[year], tuple(sorted(years[year].items())))
            for year in sorted(year_totals, reverse=True)
        ),
        newest=tuple(
            Incident(record.id, record.published or record.modified, moment.date().isoformat(), names, record.summary)
            for moment, _, record, names in live
        ),
    )


# --------------------------------------------------------------------------- rendering


def to_json(stats: FeedStats, *, newest: int = NEWEST_SHOWN) -> dict[str, Any]:
    """The stats as JSON data, with the ``newest`` most recent incidents."""
    return {
        "records": stats.live + stats.withdrawn,
        "in_force": stats.live,
        "withdrawn": stats.withdrawn,
        "newest_published": stats.newest_published,
        "ecosystems": [counts.to_json() for counts in stats.ecosystems],
        "total": stats.total.to_json(),
        "years": [year.to_json() for year in stats.years],
        "newest": [incident.to_json() for incident in stats.newest[:newest]],
    }


_COLUMNS = ("ecosystem", "records", "packages", "package@version pairs", "whole-package blocks")


def _rows(stats: FeedStats) -> list[tuple[str, int, int, int, int]]:
    return [
        (c.ecosystem, c.records, c.packages, c.package_versions, c.whole_package_blocks)
        for c in (*stats.ecosystems, stats.total)
    ]


def _year_line(year: YearCounts) -> str:
    detail = ", ".join(f"{printable(e)} {n}" for e, n in year.by_ecosystem)
    return f"{year.year}: {year.records}" + (f" ({detail})" if detail else "")


def _packages_text(incident: Incident) -> str:
    shown = [f"{printable(name)} ({printable(eco)})" for eco, name in incident.packages[:_PACKAGES_SHOWN]]
    more = len(incident.packages) - _PACKAGES_SHOWN
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def render_text(stats: FeedStats, *, newest: int = NEWEST_SHOWN) -> str:
    """For a terminal: the counts table, one line per year, the newest incidents.

    Every string from the feed goes through :func:`depguard.display.printable`.
    """
    table: list[tuple[object, ...]] = [(*_COLUMNS, "withdrawn")]
    table += [(*row, counts.withdrawn) for row, counts in zip(_rows(stats), (*stats.ecosystems, stats.total))]
    rows = [tuple(printable(str(v)) for v in row) for row in table]
    widths = [max(len(row[i]) for row in rows) for i in range(len(table[0]))]
    lines = ["records in force per ecosystem (withdrawn apart):"]
    for row in rows:
        lines.append(
            "  "
            + "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))
            ).rstrip()
        )
    if stats.years:
        lines.append("published per year (in force):")
        lines += [f"  {_year_line(year)}" for year in stats.years]
    if stats.newest and newest > 0:
        lines.append(f"newest incidents ({min(newest, len(stats.newest))} of {len(stats.newest)}):")
        for incident in stats.newest[:newest]:
            summary = printable(incident.summary) if incident.summary else ""
            lines.append(
                f"  {incident.date}  {printable(incident.id)}  {_packages_text(incident)}"
                + (f": {summary}" if summary else "")
            )
    return "\n".join(lines) + "\n"


def _md_cell(value: object) -> str:
    """A table cell: printable, and no ``|`` or markup that would break the table."""
    text = printable(str(value))
    for char in "\\|*_`<>[]":
        text = text.replace(char, "\\" + char)
    return text


def _md_code(text: str) -> str:
    """``text`` as a code span, or escaped when it holds a backtick (a span cannot)."""
    return _md_cell(text) if "`" in text or printable(text) != text else f"`{text}`"


def render_markdown(stats: FeedStats) -> str:
    """The README's headline: a counts table and one line per year, nothing that depends on the clock."""
    lines = [
        "| " + " | ".join(_COLUMNS) + " |",
        "| --- |" + " ---: |" * (len(_COLUMNS) - 1),
    ]
    for row in _rows(stats):
        cells = [_md_cell(row[0]) if row[0] != "all" else "**all**", *(str(v) for v in row[1:])]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    years = "; ".join(
        f"{year.year}: {year.records}"
        + (f" ({', '.join(f'{_md_cell(e)} {n}' for e, n in year.by_ecosystem)})" if year.by_ecosystem else "")
        for year in stats.years
    )
    newest = stats.newest[0] if stats.newest else None
    parts = [f"Records in force by year published: {years or 'none'}.", f"Withdrawn: {stats.withdrawn}."]
    if newest is not None:
        parts.append(f"Newest incident: {newest.date} ({_md_code(newest.id)}).")
    lines.append(" ".join(parts))
    return "\n".join(lines) + "\n"


def render(stats: FeedStats, fmt: str) -> str:
    """``stats`` in ``fmt`` (one of :data:`FORMATS`), ending with a newline."""
    if fmt == "text":
        return render_text(stats)
    if fmt == "json":
        return json.dumps(to_json(stats), indent=2) + "\n"
    if fmt == "markdown":
        return render_markdown(stats)
    raise ValueError(f"unknown stats format {fmt!r}; choose from {', '.join(FORMATS)}")
