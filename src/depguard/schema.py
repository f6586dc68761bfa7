"""The bundled JSON Schemas, compiled once, reporting every error at once.

Two layers: ``osv.schema.json`` (the OSV format, compatible with the official schema) and
``depguard.schema.json`` (depguard's stricter profile for its own feed). A record from another
database only has to pass the first; a record in depguard's feed has to pass both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from depguard.resources import schemas_dir

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

__all__ = ["SchemaIssue", "load_schema", "validator", "osv_issues", "profile_issues"]


@dataclass(frozen=True, order=True)
class SchemaIssue:
    """One schema violation: where (RFC 6901 pointer) and what."""

    pointer: str
    message: str


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A bundled schema by file name, e.g. ``osv.schema.json``."""
    return json.loads((schemas_dir() / name).read_text(encoding="utf-8"))


@cache
def validator(name: str) -> Validator:
    """A compiled Draft 2020-12 validator with format checking, built once per process."""
    from jsonschema import Draft202012Validator

    schema = load_schema(name)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _issues(name: str, instance: Any) -> list[SchemaIssue]:
    found = []
    for error in validator(name).iter_errors(instance):
        pointer = "".join(f"/{_escape(part)}" for part in error.absolute_path) or ""
        found.append(SchemaIssue(pointer, _one_line(error.message)))
    return sorted(set(found))


def osv_issues(instance: Any) -> list[SchemaIssue]:
    """Violations of the OSV schema; empty when the record is valid OSV."""
    return _issues("osv.schema.json", instance)


def profile_issues(instance: Any) -> list[SchemaIssue]:
    """Violations of the OSV schema and of depguard's profile, for records in depguard's feed."""
    return sorted(set(osv_issues(instance)) | set(_issues("depguard.schema.json", instance)))


def _escape(part: object) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def _one_line(message: str, limit: int = 300) -> str:
    text = " ".join(message.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
