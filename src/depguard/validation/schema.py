"""The bundled JSON Schemas, compiled once, reporting every error at once.

Two layers: ``osv.schema.json`` (the OSV format, compatible with the official schema) and
``depguard.schema.json`` (depguard's stricter profile for its own feed). A record from another
database only has to pass the first; a record in depguard's feed has to pass both.

Each schema is checked in two steps. :mod:`depguard.validation.fastschema` compiles it to plain Python
functions that only answer "valid?" (microseconds per record) and vouch only for instances
jsonschema also accepts; jsonschema, the reference implementation, runs only on what the
fast check does not vouch for, to find every error with its message. A valid feed of 20,000
records is therefore checked without ever importing jsonschema.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any

from depguard.resources import schemas_dir

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator

__all__ = [
    "SchemaIssue",
    "SchemaValidator",
    "fast_check",
    "load_schema",
    "osv_issues",
    "schema_issues",
    "validator",
]


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
def fast_check(name: str) -> Callable[[Any], bool] | None:
    """The compiled yes/no check of a bundled schema, or None when it cannot be compiled exactly."""
    from depguard.validation.fastschema import (  # lazy: ~15 ms, only once a record is checked
        Unsupported,
        compile_schema,
    )

    try:
        return compile_schema(load_schema(name), name)
    except Unsupported:
        return None


class SchemaValidator:
    """A bundled schema's validator: the compiled fast check first, jsonschema for the errors.

    It answers ``iter_errors`` and ``is_valid`` like a jsonschema validator and hands any other
    attribute to the real one (built on first need: importing jsonschema alone costs ~60 ms).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._fast = fast_check(name)

    @cached_property
    def reference(self) -> Validator:
        """jsonschema's compiled Draft 2020-12 validator with format checking."""
        from jsonschema import Draft202012Validator

        return Draft202012Validator(load_schema(self.name), format_checker=Draft202012Validator.FORMAT_CHECKER)

    def vouches_for(self, instance: Any) -> bool:
        """True when the fast check proves ``instance`` valid (False means: ask jsonschema).

        Anything unexpected in the fast check (say, an instance nested deeper than the
        recursion limit) is a "no": jsonschema then decides, as it would have anyway.
        """
        if self._fast is None:
            return False
        try:
            return self._fast(instance)
        except Exception:
            return False

    def iter_errors(self, instance: Any) -> Iterator[ValidationError]:
        if self.vouches_for(instance):
            return iter(())
        return self.reference.iter_errors(instance)

    def is_valid(self, instance: Any) -> bool:
        return self.vouches_for(instance) or self.reference.is_valid(instance)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.reference, name)


@cache
def validator(name: str) -> SchemaValidator:
    """The validator of a bundled schema, built once per process."""
    return SchemaValidator(name)


def schema_issues(name: str, instance: Any) -> list[SchemaIssue]:
    """Every violation of the bundled schema ``name`` (none when the compiled check vouches)."""
    checker = validator(name)
    if checker.vouches_for(instance):
        return []
    found = []
    for error in checker.reference.iter_errors(instance):
        pointer = "".join(f"/{_escape(part)}" for part in error.absolute_path) or ""
        found.append(SchemaIssue(pointer, _one_line(error.message)))
    return sorted(set(found))


def osv_issues(instance: Any) -> list[SchemaIssue]:
    """Violations of the OSV schema; empty when the record is valid OSV."""
    return schema_issues("osv.schema.json", instance)


def _escape(part: object) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def _one_line(message: str, limit: int = 300) -> str:
    text = " ".join(message.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
