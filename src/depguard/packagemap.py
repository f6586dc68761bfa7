"""Where each package's records are in a verified ``all.json``, so a check types only those.

A warm ``depguard check`` of a 2,000-package lockfile against a 20,000-record feed used to
parse the whole cached ``all.json`` and build 20,000 typed records to look up a few hundred
packages. The feed client writes a :class:`PackageMap` next to the cached ``all.json`` once
that file has passed every check (hash, schemas, agreement with ``index.json``): the byte
span of each record under every package it names and under every known-bad artifact digest
it lists. :class:`MappedRecords` then types only the records a lockfile can match, and still
types all of them, exactly as before, for the commands that need every record.

The map is derived data, never a source of truth: it is content-addressed like the other
cache blobs, names the ``index.json`` and ``all.json`` digests it was built from and the
depguard version that built it (package keys follow that version's name normalization, see
:func:`depguard.advisoryindex.package_key`), and the client rebuilds it from ``all.json`` whenever
any of that does not hold.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import depguard
from depguard.advisoryindex import may_list_artifacts, package_key
from depguard.errors import FeedSourceError
from depguard.jsonio import JSONError, gc_paused, strict_loads
from depguard.records import Record

__all__ = ["FORMAT", "Filing", "MappedRecords", "PackageMap", "data_keys", "record_keys", "record_spans"]

#: Bumped when the layout or the meaning of a stored map changes.
FORMAT = 1
_JSON_SPACE = re.compile(r"[ \t\n\r]*")

Span = tuple[int, int]


def record_spans(all_bytes: bytes) -> list[Span]:
    """Byte offsets ``[start, end)`` of each element of ``all_bytes``, a JSON array.

    Only for bytes that already passed :func:`depguard.jsonio.strict_loads`: this walk locates
    the elements, it does not judge them. Raises ValueError when ``all_bytes`` is not an array.
    """
    text = all_bytes.decode("utf-8")
    decoder = json.JSONDecoder()
    spans: list[Span] = []
    pos = _skip_space(text, 0)
    if text[pos : pos + 1] != "[":
        raise ValueError("all.json is not a JSON array")
    pos = _skip_space(text, pos + 1)
    if text[pos : pos + 1] == "]":
        return spans
    while True:
        _, end = decoder.raw_decode(text, pos)
        spans.append((pos, end))
        pos = _skip_space(text, end)
        separator = text[pos : pos + 1]
        if separator == "]":
            break
        if separator != ",":
            raise ValueError(f"all.json: expected ',' or ']' at character {pos}")
        pos = _skip_space(text, pos + 1)
    return spans if all_bytes.isascii() else _byte_spans(text, spans)


def _skip_space(text: str, pos: int) -> int:
    return _JSON_SPACE.match(text, pos).end()  # type: ignore[union-attr]  # it matches the empty string


def _byte_spans(text: str, spans: list[Span]) -> list[Span]:
    """Character spans of ``text`` as spans of its UTF-8 encoding."""
    result: list[Span] = []
    offset = previous = 0
    for start, end in spans:
        offset += len(text[previous:start].encode("utf-8"))
        length = len(text[start:end].encode("utf-8"))
        result.append((offset, offset + length))
        offset += length
        previous = end
    return result


@dataclass
class Filing:
    """Span bounds by package key and by artifact digest, as records are placed one by one:
    what a :class:`PackageMap` is made of.

    A feed directory's jobs each file their own records, at offsets from the start of their
    chunk, and the filings are joined with :meth:`extend`, shifted to where each chunk lands
    in the joined array: a step per package rather than per record and key, in the process
    that has to wait for it.
    """

    packages: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    artifacts: dict[str, list[int]] = field(default_factory=dict)
    count: int = 0

    def add(self, start: int, end: int, keys: Iterable[tuple[str, str]], digests: Iterable[str]) -> None:
        """File the record at ``[start, end)`` under its :func:`record_keys`."""
        for ecosystem, name in keys:
            self.packages.setdefault(ecosystem, {}).setdefault(name, []).extend((start, end))
        for digest in digests:
            self.artifacts.setdefault(digest, []).extend((start, end))
        self.count += 1

    def extend(self, other: Filing, shift: int) -> None:
        """Add every record ``other`` filed, its offsets moved ``shift`` bytes on."""
        for ecosystem, names in other.packages.items():
            _merge(self.packages.setdefault(ecosystem, {}), names, shift)
        _merge(self.artifacts, other.artifacts, shift)
        self.count += other.count


def _merge(into: dict[str, list[int]], table: dict[str, list[int]], shift: int) -> None:
    for key, bounds in table.items():
        moved = [bound + shift for bound in bounds]
        known = into.get(key)
        if known is None:
            into[key] = moved
        else:
            known += moved


@dataclass(frozen=True)
class PackageMap:
    """Spans of records in one ``all.json``, by package key and by artifact digest.

    ``tables`` maps an OSV ecosystem to ``{normalized name: bounds}``, where ``bounds`` is a
    flat list of span bounds (``[start, end, start, end, ...]``). A stored map holds each table
    as JSON text, parsed on the first lookup in its ecosystem, so checking a Python project
    never pays for the npm names that make up most of a real malicious-packages feed; a map
    built in this process holds the tables themselves. ``artifacts`` maps a
    lowercase sha256 to bounds. ``newest`` is the ``modified`` of ``index.json``, for the
    warning that names the cache.
    """

    index_sha256: str
    all_sha256: str
    all_size: int
    count: int
    newest: str | None
    tables: dict[str, str | dict[str, list[int]]] = field(repr=False)
    artifacts: dict[str, list[int]] = field(repr=False)
    _parsed: dict[str, dict[str, Any]] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def build(
        cls, index_sha256: str, all_sha256: str, all_bytes: bytes, records: Sequence[Record], newest: str | None
    ) -> PackageMap:
        """The map of verified ``all_bytes``, whose typed ``records`` are given in file order."""
        spans = record_spans(all_bytes)
        if len(spans) != len(records):
            raise ValueError(f"all.json has {len(spans)} elements but {len(records)} records")
        with gc_paused():  # see jsonio.gc_paused
            placed = [(span, *record_keys(record)) for record, span in zip(records, spans)]
        return cls.of_spans(index_sha256, all_sha256, len(all_bytes), placed, newest)

    @classmethod
    def of_spans(
        cls,
        index_sha256: str,
        all_sha256: str,
        all_size: int,
        placed: Sequence[tuple[Span, Iterable[tuple[str, str]], Iterable[str]]],
        newest: str | None,
    ) -> PackageMap:
        """The map of records already placed: (span, :func:`record_keys`) for each, in file order."""
        filing = Filing()
        for (start, end), keys, digests in placed:
            filing.add(start, end, keys, digests)
        return cls.of_filing(index_sha256, all_sha256, all_size, filing, newest)

    @classmethod
    def of_filing(
        cls, index_sha256: str, all_sha256: str, all_size: int, filing: Filing, newest: str | None
    ) -> PackageMap:
        """The map of the records ``filing`` placed in ``all.json``."""
        tables: dict[str, str | dict[str, list[int]]] = dict(filing.packages)
        return cls(index_sha256, all_sha256, all_size, filing.count, newest, tables, filing.artifacts)

    def to_bytes(self) -> bytes:
        return _compact(
            {
                "format": FORMAT,
                "depguard": depguard.__version__,
                "index_sha256": self.index_sha256,
                "all_sha256": self.all_sha256,
                "all_size": self.all_size,
                "count": self.count,
                "newest": self.newest,
                "tables": {k: v if isinstance(v, str) else _compact(v) for k, v in self.tables.items()},
                "artifacts": self.artifacts,
            }
        ).encode("ascii")

    @classmethod
    def from_bytes(cls, data: bytes, *, index_sha256: str, all_sha256: str, all_size: int) -> PackageMap | None:
        """The stored map, or None when it is not one this depguard wrote for these exact files.

        Tables and span bounds are checked when they are used (:meth:`spans`): checking all of
        them here would cost as much as the lookups they serve.
        """
        try:
            stored = strict_loads(data)
        except JSONError:
            return None
        if not isinstance(stored, dict):
            return None
        expected = {
            "format": FORMAT,
            "depguard": depguard.__version__,
            "index_sha256": index_sha256,
            "all_sha256": all_sha256,
            "all_size": all_size,
        }
        if any(stored.get(key) != value or type(stored.get(key)) is not type(value) for key, value in expected.items()):
            return None
        count, newest, tables, artifacts = (stored.get(k) for k in ("count", "newest", "tables", "artifacts"))
        if type(count) is not int or count < 0 or not (newest is None or isinstance(newest, str)):
            return None
        if (
            not isinstance(artifacts, dict)
            or not isinstance(tables, dict)
            or not all(isinstance(v, str) for v in tables.values())
        ):
            return None
        return cls(index_sha256, all_sha256, all_size, count, newest, tables, artifacts)

    def spans(self, keys: Iterable[tuple[str, str]], digests: Iterable[str]) -> list[Span]:
        """The spans of every record naming one of ``keys`` or listing one of ``digests``, in file order.

        Raises ValueError when the stored map does not describe spans inside ``all.json``.
        """
        found: set[Span] = set()
        for ecosystem, name in keys:
            self._add(found, self._table(ecosystem).get(name))
        for digest in digests:
            self._add(found, self.artifacts.get(digest))
        return sorted(found)

    def ecosystem_spans(self, ecosystem: str) -> list[Span]:
        """The spans of every record naming a package of ``ecosystem`` (an OSV name), in file order.

        Raises ValueError when the stored map does not describe spans inside ``all.json``.
        """
        found: set[Span] = set()
        for bounds in self._table(ecosystem).values():
            self._add(found, bounds)
        return sorted(found)

    def _table(self, ecosystem: str) -> dict[str, Any]:
        table = self._parsed.get(ecosystem)
        if table is None:
            text = self.tables.get(ecosystem)
            if isinstance(text, dict):
                self._parsed[ecosystem] = text
                return text
            try:
                table = strict_loads(text) if text is not None else {}
            except JSONError as exc:
                raise ValueError(f"the {ecosystem} table is not JSON: {exc}") from None
            if not isinstance(table, dict):
                raise ValueError(f"the {ecosystem} table is not an object")
            self._parsed[ecosystem] = table
        return table

    def _add(self, found: set[Span], bounds: Any) -> None:
        if bounds is None:
            return
        if not isinstance(bounds, list) or len(bounds) % 2:
            raise ValueError("stored bounds are not pairs")
        for start, end in zip(bounds[::2], bounds[1::2]):
            if type(start) is not int or type(end) is not int or not 0 <= start < end <= self.all_size:
                raise ValueError(f"stored span {start!r}..{end!r} is not inside all.json")
            found.add((start, end))


def record_keys(record: Record) -> tuple[list[tuple[str, str]], list[str]]:
    """What a map files ``record`` under: its package keys (see
    :func:`~depguard.advisoryindex.package_key`) and the sha256 of each artifact it lists, sorted."""
    packages = ((a.package.ecosystem, a.package.name) for a in record.affected if a.package is not None)
    digests = (a.sha256 for a in record.depguard.artifacts) if may_list_artifacts(record) else ()
    return _filed(packages, digests)


def data_keys(data: dict[str, Any]) -> tuple[list[tuple[str, str]], list[str]]:
    """:func:`record_keys` of a record's JSON data, without typing it.

    Only for data that passed :func:`depguard.validation.safety.record_issues` (both schemas
    vouch for every field read here): a feed directory files 20,000 records this way, and
    typing each one only to read its package names was a sixth of the work of loading it.
    """
    packages = ((p["ecosystem"], p["name"]) for a in data.get("affected") or () if (p := a.get("package")) is not None)
    specific = data.get("database_specific")
    info = specific.get("depguard") if isinstance(specific, dict) else None
    artifacts = info.get("artifacts") or () if isinstance(info, dict) else ()
    return _filed(packages, (a["sha256"] for a in artifacts))


def _filed(packages: Iterable[tuple[str, str]], digests: Iterable[str]) -> tuple[list[tuple[str, str]], list[str]]:
    keys = {package_key(ecosystem, name) for ecosystem, name in packages}
    return sorted(key for key in keys if key is not None), sorted({digest.lower() for digest in digests})


def _compact(data: Any) -> str:
    return json.dumps(data, ensure_ascii=True, separators=(",", ":"), sort_keys=True)


class MappedRecords(Sequence[Record]):
    """The records of a verified ``all.json``: counted by its map, typed only when asked for.

    Used as :attr:`depguard.sources.interface.FeedSnapshot.records` for the cached feed and for
    a feed directory, whose checked files are joined into one such array. ``source`` names the
    bytes in messages ("the cache ...") and ``remedy`` says what to do if they turn out
    damaged after all. Anything that
    reads the records one by one (sync, serve, ``feed status``) gets all of them, typed at
    once on first use exactly as the verified download was; :meth:`select` types only the
    records that can match a set of packages, which is all a check needs.
    """

    def __init__(
        self, all_bytes: bytes, package_map: PackageMap, source: str, *, remedy: str = "delete it and run again"
    ) -> None:
        self._bytes = all_bytes
        self._map = package_map
        self._source = source
        self._remedy = remedy
        self._typed: tuple[Record, ...] | None = None

    def __len__(self) -> int:
        return self._map.count

    @overload
    def __getitem__(self, index: int) -> Record: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Record]: ...

    def __getitem__(self, index: int | slice) -> Record | Sequence[Record]:
        return self.typed()[index]

    def __iter__(self) -> Iterator[Record]:
        return iter(self.typed())

    def typed(self) -> tuple[Record, ...]:
        """Every record, typed once (the bytes were verified when the map was written)."""
        if self._typed is None:
            with gc_paused():  # see jsonio.gc_paused
                self._typed = tuple(Record.model_validate(item) for item in self._parse(self._bytes))
        return self._typed

    def select(self, keys: Iterable[tuple[str, str]], digests: Iterable[str]) -> list[Record]:
        """The records naming one of ``keys`` (see :func:`~depguard.advisoryindex.package_key`) or
        listing one of ``digests``, in feed order: every record a lookup of them can return."""
        if self._typed is not None:
            return list(self._typed)
        return self._typed_at(lambda: self._map.spans(keys, digests))

    def in_ecosystem(self, ecosystem: str) -> list[Record]:
        """The records naming a package of ``ecosystem`` (an OSV name), in feed order: all that
        ``sync`` compiles exclusions from, for PyPI (a few dozen of a feed's thousand)."""
        if self._typed is not None:
            return list(self._typed)
        return self._typed_at(lambda: self._map.ecosystem_spans(ecosystem))

    def _typed_at(self, where: Callable[[], list[Span]]) -> list[Record]:
        """The records at the spans ``where()`` gives, typed; a map that misleads is damage."""
        try:
            spans = where()
        except ValueError as exc:
            raise self._damaged(str(exc)) from None
        with gc_paused():  # and the parsed JSON is freed before it resumes: never traversed
            # one parse of the selected records as one array: a parse per record cost twice as much
            items = self._parse(b"[" + b",".join(self._bytes[start:end] for start, end in spans) + b"]")
            if len(items) != len(spans):
                raise self._damaged("the map does not point at whole records")
            try:
                records = [Record.model_validate(item) for item in items]
            except ValueError as exc:  # pydantic's ValidationError
                raise self._damaged(f"not a record where the map points: {exc}") from None
            del items
        return records

    def _parse(self, data: bytes) -> Any:
        try:
            return strict_loads(data)
        except JSONError as exc:
            raise self._damaged(f"not JSON: {exc}") from None

    def _damaged(self, detail: str) -> FeedSourceError:
        return FeedSourceError(f"{self._source} is damaged ({detail}); {self._remedy}")
