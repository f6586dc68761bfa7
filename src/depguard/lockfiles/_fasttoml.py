"""A fast reader for the plain TOML that lockfile writers emit, held exactly to tomllib.

``tomllib`` is pure Python: it spent 0.3 s on a 2,000-package ``uv.lock`` (about 17 us a
line), most of a warm ``depguard check``. Lockfiles are machine-written in a small, regular
part of TOML: bare keys, ``[table]`` and ``[[array]]`` headers with bare dotted names,
one-line strings, integers, booleans, one-line inline tables, arrays that may span lines,
and comments on lines of their own. :func:`loads` reads exactly that part, a few times
faster, and returns None for anything else (a comment after a value, floats, dates,
multi-line strings, quoted or dotted keys, a lone ``\\r``, ...); the caller then asks
``tomllib``, which also words the error for a broken file.

Where :func:`loads` answers, the answer is tomllib's: the same values, and no document that
tomllib refuses is accepted (a key defined twice, a table declared twice, a header that
extends an inline table or a value: all None). Constructs on which TOML 1.0 and 1.1 differ
(newlines or a trailing comma in an inline table, ``\\e`` and ``\\x`` escapes) are left to
the tomllib or tomli of the running Python. ``tests/test_lockfiles_fasttoml.py`` holds it to
tomllib on real lockfiles, on generated documents and on random edits of them.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["loads"]

_KEY = re.compile(r"([A-Za-z0-9_-]+)[ \t]*=[ \t]*")
_TABLE = re.compile(r"\[([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)\][ \t]*(?:\n|\Z)")
_ARRAY_TABLE = re.compile(r"\[\[([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)\]\][ \t]*(?:\n|\Z)")
_END_OF_LINE = re.compile(r"[ \t]*(?:\n|\Z)")
#: A comment on a line of its own (poetry and pdm start with one); tab is the only control
#: character a comment may hold.
_COMMENT_LINE = re.compile(r"#[^\x00-\x08\x0a-\x1f\x7f]*(?:\n|\Z)")
_SPACE = re.compile(r"[ \t]*")
_SPACE_AND_NEWLINES = re.compile(r"[ \t\n]*")
#: A basic string without escapes, and one with the escapes TOML 1.0 and 1.1 agree on. Tab is
#: the only control character a one-line string may hold.
_PLAIN_STRING = re.compile(r'"([^"\\\x00-\x08\x0a-\x1f\x7f]*)"')
_ESCAPED_STRING = re.compile(r'"((?:[^"\\\x00-\x08\x0a-\x1f\x7f]|\\[btnfr"\\]|\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8})*)"')
_LITERAL_STRING = re.compile(r"'([^'\x00-\x08\x0a-\x1f\x7f]*)'")
_ESCAPE = re.compile(r"\\(?:([btnfr\"\\])|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8}))")
_SIMPLE_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}
#: Decimal integers without underscores.
_INTEGER = re.compile(r"[+-]?(?:0|[1-9][0-9]*)")
#: Shortcuts for the two commonest shapes, each read in one regex match: ``key = "text"`` on
#: its own line, and a one-line inline table of plain strings, integers and booleans
#: (``{ url = "...", hash = "sha256:...", size = 1234 }``). Whatever they do not match
#: exactly takes the general path above.
_STRING_LINE = re.compile(r'[ \t]*([A-Za-z0-9_-]+)[ \t]*=[ \t]*"([^"\\\x00-\x08\x0a-\x1f\x7f]*)"[ \t]*(?:\n|\Z)')
_FLAT_PAIR = r'([A-Za-z0-9_-]+)[ \t]*=[ \t]*("[^"\\\x00-\x08\x0a-\x1f\x7f]*"|[+-]?(?:0|[1-9][0-9]*)|true|false)[ \t]*'
_FLAT_TABLE = re.compile(r"\{[ \t]*((?:" + _FLAT_PAIR + r",[ \t]*)*" + _FLAT_PAIR + r")\}")
_FLAT_PAIRS = re.compile(_FLAT_PAIR)


class _Unsupported(Exception):
    """Outside the part of TOML this module reads: tomllib decides."""


def loads(text: str) -> dict[str, Any] | None:
    """``tomllib.loads(text)``, or None when ``text`` is not plain lockfile TOML (see above)."""
    try:
        return _Document(text.replace("\r\n", "\n")).parse()  # tomllib reads CRLF as LF too
    except (_Unsupported, RecursionError):
        return None


class _Document:
    """One parse. Tables are told apart by identity: those made by headers (declared, or implied
    as a parent) may be entered by later headers, declared ones not declared again, and only
    arrays made by ``[[headers]]`` may be appended to; inline tables and arrays are closed."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.root: dict[str, Any] = {}
        self.headed: set[int] = {id(self.root)}
        self.declared: set[int] = set()
        self.array_tables: set[int] = set()

    def parse(self) -> dict[str, Any]:
        text, size = self.text, len(self.text)
        table = self.root
        pos = 0
        while pos < size:
            match = _STRING_LINE.match(text, pos)
            if match is not None:
                if match[1] in table:
                    raise _Unsupported
                table[match[1]] = match[2]
                pos = match.end()
                continue
            pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]  # matches ""
            char = text[pos : pos + 1]
            if char == "\n":
                pos += 1
            elif char == "#":
                match = _COMMENT_LINE.match(text, pos)
                if match is None:
                    raise _Unsupported
                pos = match.end()
            elif char == "[":
                table, pos = self._header(pos)
            elif char:
                match = _KEY.match(text, pos)
                if match is None or match[1] in table:
                    raise _Unsupported
                value, pos = self._value(match.end())
                table[match[1]] = value
                pos = _end_of_line(text, pos)
        return self.root

    def _header(self, pos: int) -> tuple[dict[str, Any], int]:
        match = _ARRAY_TABLE.match(self.text, pos)
        if match is not None:
            *parents, last = match[1].split(".")
            container = self._enter(parents)
            if last in container:
                array = container[last]
                if id(array) not in self.array_tables:
                    raise _Unsupported  # a value, an inline array or a table holds the name
            else:
                array = container[last] = []
                self.array_tables.add(id(array))
            table: dict[str, Any] = {}
            array.append(table)
            self.headed.add(id(table))
            return table, match.end()
        match = _TABLE.match(self.text, pos)
        if match is None:
            raise _Unsupported
        *parents, last = match[1].split(".")
        container = self._enter(parents)
        if last in container:
            table = container[last]
            if id(table) not in self.headed or id(table) in self.declared:
                raise _Unsupported
        else:
            table = container[last] = {}
            self.headed.add(id(table))
        self.declared.add(id(table))
        return table, match.end()

    def _enter(self, keys: list[str]) -> dict[str, Any]:
        """The table a header's parent keys name, made when missing (the last of an array of tables)."""
        table = self.root
        for key in keys:
            found = table.get(key)
            if found is None:
                found = table[key] = {}
                self.headed.add(id(found))
            elif id(found) in self.array_tables:
                found = found[-1]
            elif id(found) not in self.headed:
                raise _Unsupported
            table = found
        return table

    def _value(self, pos: int) -> tuple[Any, int]:
        """The value at ``pos`` and where it ends. Callers check what follows (the end of the
        line, ``,`` or a closing bracket), which is what turns away ``1.5``, ``1_000``,
        ``1979-05-27``, ``trueish`` and ``\"\"\"``: each starts with a value read here."""
        text = self.text
        char = text[pos : pos + 1]
        if char == '"':
            match = _PLAIN_STRING.match(text, pos)
            if match is not None:
                return match[1], match.end()
            match = _ESCAPED_STRING.match(text, pos)
            if match is None:
                raise _Unsupported
            return _ESCAPE.sub(_unescape, match[1]), match.end()
        if char == "'":
            match = _LITERAL_STRING.match(text, pos)
            if match is None:
                raise _Unsupported
            return match[1], match.end()
        if char == "{":
            match = _FLAT_TABLE.match(text, pos)
            if match is not None:
                return _flat_table(match[1]), match.end()
            return self._inline_table(pos + 1)
        if char == "[":
            return self._array(pos + 1)
        if char == "t" and text.startswith("true", pos):
            return True, pos + 4
        if char == "f" and text.startswith("false", pos):
            return False, pos + 5
        match = _INTEGER.match(text, pos)
        if match is None:
            raise _Unsupported
        return int(match[0]), match.end()

    def _inline_table(self, pos: int) -> tuple[dict[str, Any], int]:
        text = self.text
        table: dict[str, Any] = {}
        pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
        if text[pos : pos + 1] == "}":
            return table, pos + 1
        while True:
            match = _KEY.match(text, pos)
            if match is None or match[1] in table:
                raise _Unsupported
            table[match[1]], pos = self._value(match.end())
            pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
            char = text[pos : pos + 1]
            if char == "}":
                return table, pos + 1
            if char != ",":
                raise _Unsupported
            pos = _SPACE.match(text, pos + 1).end()  # type: ignore[union-attr]

    def _array(self, pos: int) -> tuple[list[Any], int]:
        text = self.text
        array: list[Any] = []
        pos = _SPACE_AND_NEWLINES.match(text, pos).end()  # type: ignore[union-attr]
        while text[pos : pos + 1] != "]":
            value, pos = self._value(pos)
            array.append(value)
            pos = _SPACE_AND_NEWLINES.match(text, pos).end()  # type: ignore[union-attr]
            char = text[pos : pos + 1]
            if char == ",":
                pos = _SPACE_AND_NEWLINES.match(text, pos + 1).end()  # type: ignore[union-attr]
            elif char != "]":
                raise _Unsupported
        return array, pos + 1


def _flat_table(pairs: str) -> dict[str, Any]:
    """The inline table whose ``key = scalar`` pairs :data:`_FLAT_TABLE` matched."""
    found = _FLAT_PAIRS.findall(pairs)
    table = {key: _flat_scalar(raw) for key, raw in found}
    if len(table) != len(found):
        raise _Unsupported  # a key defined twice
    return table


def _flat_scalar(raw: str) -> Any:
    if raw[0] == '"':
        return raw[1:-1]
    if raw == "true":
        return True
    if raw == "false":
        return False
    return int(raw)


def _end_of_line(text: str, pos: int) -> int:
    match = _END_OF_LINE.match(text, pos)
    if match is None:
        raise _Unsupported  # a comment, or a second value on the line
    return match.end()


def _unescape(match: re.Match[str]) -> str:
    simple, short, long = match.groups()
    if simple is not None:
        return _SIMPLE_ESCAPES[simple]
    code = int(short or long, 16)
    if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
        raise _Unsupported  # not a Unicode scalar value: tomllib refuses it
    return chr(code)
