"""Verification of a published tree (``index.json`` + ``all.json``), wherever it was read from.

A download (:mod:`depguard.sources.remote`), a built tree on disk
(:mod:`depguard.sources.static`) and the cache (:mod:`depguard.sources.cache`) are all checked
by these two functions: the index against its schema and format version, ``all.json``
against the index's hash and size, and every record against the consumer gate
(:func:`depguard.validation.safety.record_issues`).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from dataclasses import dataclass

from depguard.clock import now as _now
from depguard.display import printable
from depguard.errors import FeedSourceError, IntegrityError, InvalidRecordError
from depguard.feedformat import FORMAT, FORMAT_VERSION, INDEX_SCHEMA
from depguard.jsonio import JSONError, strict_loads
from depguard.records import Record, parse_timestamp
from depguard.validation.safety import record_issues
from depguard.validation.schema import validator

__all__ = ["FeedIndex", "parse_index", "verify_records"]


@dataclass(frozen=True)
class FeedIndex:
    """A parsed, schema-checked ``index.json``."""

    raw: bytes
    newest: str | None
    all_sha256: str
    all_size: int
    entries: dict[str, tuple[str, str | None]]  # id -> (modified, withdrawn)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()


def parse_index(raw: bytes, source: str) -> FeedIndex:
    """Parse and check ``index.json``; raises :class:`IntegrityError` when it is not one."""
    try:
        data = strict_loads(raw)
    except JSONError as exc:
        raise IntegrityError(f"{source}: index.json is not valid JSON: {exc}") from None
    if isinstance(data, dict) and data.get("format") == FORMAT and data.get("format_version") != FORMAT_VERSION:
        raise FeedSourceError(
            f"{source}: feed format version {data.get('format_version')!r} is not supported by this depguard "
            f"(it reads version {FORMAT_VERSION}); upgrade depguard"
        )
    errors = sorted(validator(INDEX_SCHEMA).iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "/"
        raise IntegrityError(
            f"{source}: not a depguard feed index: {where}: {' '.join(errors[0].message.split())[:200]}"
        )
    entries: dict[str, tuple[str, str | None]] = {}
    for item in data["records"]:
        if item["id"] in entries:
            raise IntegrityError(f"{source}: index.json lists {item['id']} twice")
        entries[item["id"]] = (item["modified"], item["withdrawn"])
    if data["count"] != len(entries):
        raise IntegrityError(f"{source}: index.json says {data['count']} records but lists {len(entries)}")
    newest = max((m for m, _ in entries.values()), key=parse_timestamp, default=None)
    if (newest is None) != (data["modified"] is None) or (
        newest and parse_timestamp(newest) != parse_timestamp(data["modified"])
    ):
        raise IntegrityError(
            f"{source}: index.json's modified {data['modified']} is not its newest record's ({newest})"
        )
    return FeedIndex(raw, data["modified"], data["all"]["sha256"], data["all"]["size"], entries)


def verify_records(
    index: FeedIndex, all_bytes: bytes, source: str, *, check_schema: bool = True, now: _dt.datetime | None = None
) -> tuple[Record, ...]:
    """The records of ``all.json`` once it matches ``index`` byte for byte and record by record.

    ``check_schema`` runs depguard's OSV profile on every record (skipped only for bytes that
    were verified before and whose hash still matches, i.e. the cache), together with
    :func:`depguard.validation.safety.unsafe_text_issues` (control characters, requirement syntax in
    versions, non-ASCII names), future-dated timestamps (against ``now``, default the current
    time) and whole-package blocks of protected packages.
    """
    moment = now if now is not None else _now()
    digest = hashlib.sha256(all_bytes).hexdigest()
    if digest != index.all_sha256 or len(all_bytes) != index.all_size:
        raise IntegrityError(
            f"{source}: all.json does not match index.json (sha256 {digest}, {len(all_bytes)} bytes; "
            f"the index promises {index.all_sha256}, {index.all_size} bytes); refusing the whole download"
        )
    try:
        data = strict_loads(all_bytes)
    except JSONError as exc:
        raise IntegrityError(f"{source}: all.json is not valid JSON: {exc}") from None
    if not isinstance(data, list):
        raise IntegrityError(f"{source}: all.json must be a JSON array of records")
    problems: list[str] = []
    records: list[Record] = []
    for number, item in enumerate(data):
        found = record_issues(item, now=moment) if check_schema else []
        label = (
            printable(item["id"]) if isinstance(item, dict) and isinstance(item.get("id"), str) else f"record {number}"
        )
        problems += [f"{label}#{p.pointer}: {p.message}" for p in found]
        if not found:
            try:
                records.append(Record.model_validate(item))
            except ValueError:
                problems.append(f"{label}: not a usable record")
    if problems:
        shown = "; ".join(problems[:3]) + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else "")
        raise InvalidRecordError(f"{source}: all.json has invalid records, refusing all of them: {shown}")
    listed = {r.id: (r.modified, r.withdrawn) for r in records}
    if len(listed) != len(records) or listed != index.entries:
        missing = sorted(set(index.entries) ^ set(listed))[:3]
        changed = sorted(i for i in set(index.entries) & set(listed) if index.entries[i] != listed[i])[:3]
        raise IntegrityError(
            f"{source}: all.json and index.json disagree about the records "
            f"(listed in one only: {', '.join(missing) or '-'}; different: {', '.join(changed) or '-'}; "
            f"duplicates: {len(records) - len(listed)})"
        )
    return tuple(records)
