"""Typed, immutable views of OSV records.

The models mirror the OSV fields depguard acts on. Every model keeps fields it does not know
(``extra="allow"``), so a record read and written again loses nothing: the feed is an
interchange format and other databases may add fields depguard has never heard of.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "OSV_FIELD_ORDER",
    "Affected",
    "Artifact",
    "DepguardInfo",
    "Event",
    "Package",
    "Range",
    "Record",
    "Reference",
    "parse_timestamp",
    "timestamp_or_none",
]

#: The order in which the OSV specification lists the top-level fields; canonical files use it.
OSV_FIELD_ORDER: tuple[str, ...] = (
    "schema_version",
    "id",
    "modified",
    "published",
    "withdrawn",
    "aliases",
    "upstream",
    "related",
    "summary",
    "details",
    "severity",
    "affected",
    "references",
    "credits",
    "database_specific",
)

Kind = Literal["compromised-release", "malicious-package"]
IndexStatus = Literal["available", "yanked", "quarantined", "deleted"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)


class Event(_Model):
    """One OSV range event; exactly one of the fields is set in a valid record."""

    introduced: str | None = None
    fixed: str | None = None
    last_affected: str | None = None
    limit: str | None = None


class Range(_Model):
    type: str
    repo: str | None = None
    events: tuple[Event, ...] = ()


class Package(_Model):
    ecosystem: str
    name: str
    purl: str | None = None


class Affected(_Model):
    package: Package | None = None
    ranges: tuple[Range, ...] = ()
    versions: tuple[str, ...] = ()
    database_specific: dict[str, Any] | None = None
    ecosystem_specific: dict[str, Any] | None = None


class Reference(_Model):
    type: str
    url: str


class Artifact(_Model):
    filename: str
    sha256: str


class DepguardInfo(_Model):
    """``database_specific.depguard``: what depguard adds on top of OSV."""

    kind: Kind | None = None
    index_status: IndexStatus | None = None
    artifacts: tuple[Artifact, ...] = ()


class Record(_Model):
    """One OSV record. ``raw`` of the loader keeps the exact JSON; this is the typed view."""

    id: str
    modified: str
    schema_version: str | None = None
    published: str | None = None
    withdrawn: str | None = None
    aliases: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    upstream: tuple[str, ...] = ()
    summary: str | None = None
    details: str | None = None
    affected: tuple[Affected, ...] = ()
    references: tuple[Reference, ...] = ()
    database_specific: dict[str, Any] | None = None
    credits_: tuple[dict[str, Any], ...] = Field(default=(), alias="credits")

    @property
    def is_withdrawn(self) -> bool:
        return self.withdrawn is not None

    @property
    def depguard(self) -> DepguardInfo:
        """depguard's own fields; empty for records from other databases."""
        info = (self.database_specific or {}).get("depguard")
        return DepguardInfo.model_validate(info) if isinstance(info, dict) else DepguardInfo()

    @property
    def modified_at(self) -> _dt.datetime:
        return parse_timestamp(self.modified)

    def to_json(self) -> dict[str, Any]:
        """The record as JSON data again, unknown fields included."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


def parse_timestamp(text: str) -> _dt.datetime:
    """Parse an RFC 3339 timestamp as OSV writes it (``Z`` or an offset), always aware."""
    value = _dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.timezone.utc)
    return value


def timestamp_or_none(value: Any) -> _dt.datetime | None:
    """:func:`parse_timestamp` of an untrusted field: None for anything but a valid timestamp
    string (the rules that compare times leave a bad one to the schema's own message)."""
    if not isinstance(value, str):
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        return None
