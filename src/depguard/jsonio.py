"""Strict JSON for untrusted input.

``json.loads`` accepts things that are not JSON (``NaN``, ``Infinity``) and silently keeps the
last of two duplicate keys, which lets a crafted record say one thing to a reviewer and another
to a parser. Everything depguard reads from the feed goes through :func:`strict_loads`.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["JSONError", "strict_loads"]


class JSONError(ValueError):
    """Not strict JSON; ``line`` and ``column`` point at the problem when known."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        where = f" (line {line}, column {column})" if line is not None else ""
        super().__init__(message + where)
        self.line = line
        self.column = column


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise JSONError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise JSONError(f"{name} is not valid JSON")


def strict_loads(data: str | bytes) -> Any:
    """Parse JSON, refusing duplicate keys, NaN/Infinity, non-UTF-8 bytes and deep nesting.

    Nesting is bounded by the interpreter's recursion limit, which the C decoder honours, so a
    hostile ``[[[[...`` ends as a :class:`JSONError` rather than a crash.
    """
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JSONError(f"not UTF-8: {exc.reason} at byte {exc.start}") from None
    else:
        text = data
    if text.startswith("\ufeff"):
        raise JSONError("starts with a byte order mark")
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise JSONError(exc.msg, exc.lineno, exc.colno) from None
    except RecursionError:
        raise JSONError("nested too deeply") from None
