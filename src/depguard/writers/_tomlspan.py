"""Byte offsets of the statements of a TOML document.

tomlkit tells what a document *means* but not *where* things are, and the pyproject writer edits
text by splicing so that bytes outside its region cannot change. This scanner supplies the
offsets: table headers, top-level key/value statements with their full dotted paths, the
top-level tokens of arrays, and every comment. It assumes a document tomlkit has already accepted
and is lenient otherwise; any disagreement between the two is caught by the writer's final
re-parse, so a scanner mistake can only turn into a refusal, never into a wrong edit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ArraySpan", "Comment", "Header", "KeyValue", "Scan", "ScanError", "Token", "scan"]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:\d{2})?")
_SCALAR = re.compile(r"[A-Za-z0-9_+\-.:]+")
_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|x[0-9A-Fa-f]{2}|.)", re.DOTALL)
_SIMPLE_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", "e": "\x1b", '"': '"', "\\": "\\"}


class ScanError(ValueError):
    """The scanner could not follow the document (the writer refuses rather than guess)."""


@dataclass(frozen=True)
class Token:
    """A top-level piece of an array: ``ws``, ``nl``, ``comment``, ``comma`` or ``value``."""

    kind: str
    start: int
    end: int


@dataclass(frozen=True)
class ArraySpan:
    """An array value: offsets of its brackets and its top-level tokens (nested values are one token)."""

    open: int
    close: int
    tokens: tuple[Token, ...]


@dataclass(frozen=True)
class Header:
    """A ``[table]`` or ``[[array.of.tables]]`` line."""

    path: tuple[str, ...]
    is_array: bool
    start: int
    end: int
    line_end: int


@dataclass(frozen=True)
class KeyValue:
    """A key/value statement directly in a table (not inside an inline table).

    ``path`` is the full path (header path plus the dotted key); ``header`` indexes
    :attr:`Scan.headers`, -1 for the root table; ``line_end`` is past the newline ending the
    statement's last line (or the end of the text).
    """

    header: int
    path: tuple[str, ...]
    start: int
    key_end: int
    value_start: int
    value_end: int
    line_end: int
    array: ArraySpan | None


@dataclass(frozen=True)
class Comment:
    """A ``#`` comment, without its line ending."""

    start: int
    end: int


@dataclass(frozen=True)
class Scan:
    headers: tuple[Header, ...]
    keyvalues: tuple[KeyValue, ...]
    comments: tuple[Comment, ...]


def scan(text: str) -> Scan:
    """Scan ``text`` (no byte-order mark); raises :class:`ScanError`."""
    return _Scanner(text).run()


def decode_basic(raw: str) -> str:
    """The value of a basic-string body (between the quotes)."""

    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if code[0] in "uUx" and len(code) > 1:
            return chr(int(code[1:], 16))
        if code in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[code]
        raise ScanError(f"unknown escape \\{code}")

    return _ESCAPE.sub(one, raw)


class _Scanner:
    """A recursive-descent walk over the text that records offsets instead of building values."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.n = len(text)
        self.i = 0
        self.headers: list[Header] = []
        self.keyvalues: list[KeyValue] = []
        self.comments: list[Comment] = []

    def run(self) -> Scan:
        current, table_path = -1, ()
        table: tuple[str, ...] = table_path
        while True:
            self._skip_ws()
            if self.i >= self.n:
                break
            if self._newline():
                continue
            char = self.s[self.i]
            if char == "#":
                self._comment()
            elif char == "[":
                header = self._header()
                self.headers.append(header)
                current, table = len(self.headers) - 1, header.path
            else:
                self.keyvalues.append(self._keyvalue(current, table))
        return Scan(tuple(self.headers), tuple(self.keyvalues), tuple(self.comments))

    # -- lexical helpers -------------------------------------------------------------------

    def _fail(self, what: str) -> ScanError:
        line = self.s.count("\n", 0, self.i) + 1
        return ScanError(f"{what} at line {line}")

    def _skip_ws(self) -> None:
        while self.i < self.n and self.s[self.i] in " \t":
            self.i += 1

    def _newline(self) -> bool:
        if self.s.startswith("\n", self.i):
            self.i += 1
            return True
        if self.s.startswith("\r\n", self.i):
            self.i += 2
            return True
        return False

    def _comment(self) -> Comment:
        start = self.i
        index = self.s.find("\n", start)
        end = self.n if index == -1 else (index - 1 if self.s[index - 1] == "\r" else index)
        self.i = end
        comment = Comment(start, end)
        self.comments.append(comment)
        return comment

    def _expect(self, literal: str) -> None:
        if not self.s.startswith(literal, self.i):
            raise self._fail(f"expected {literal!r}")
        self.i += len(literal)

    def _line_rest(self) -> int:
        """Consume the rest of a statement's line; return the offset past its newline."""
        self._skip_ws()
        if self.s.startswith("#", self.i):
            self._comment()
        if self.i >= self.n:
            return self.n
        if not self._newline():
            raise self._fail("expected the end of the line")
        return self.i

    # -- keys ------------------------------------------------------------------------------

    def _key(self) -> tuple[tuple[str, ...], int]:
        parts = [self._simple_key()]
        end = self.i
        while True:
            save = self.i
            self._skip_ws()
            if not self.s.startswith(".", self.i):
                self.i = save
                return tuple(parts), end
            self.i += 1
            self._skip_ws()
            parts.append(self._simple_key())
            end = self.i

    def _simple_key(self) -> str:
        char = self.s[self.i] if self.i < self.n else ""
        if char == '"':
            start = self.i
            self._basic_string()
            return decode_basic(self.s[start + 1 : self.i - 1])
        if char == "'":
            start = self.i
            self._literal_string()
            return self.s[start + 1 : self.i - 1]
        match = _BARE_KEY.match(self.s, self.i)
        if not match:
            raise self._fail("expected a key")
        self.i = match.end()
        return match.group()

    # -- statements ------------------------------------------------------------------------

    def _header(self) -> Header:
        start = self.i
        is_array = self.s.startswith("[[", self.i)
        self.i += 2 if is_array else 1
        self._skip_ws()
        path, _ = self._key()
        self._skip_ws()
        self._expect("]]" if is_array else "]")
        end = self.i
        return Header(path, is_array, start, end, self._line_rest())

    def _keyvalue(self, header: int, table: tuple[str, ...]) -> KeyValue:
        start = self.i
        key, key_end = self._key()
        self._skip_ws()
        self._expect("=")
        self._skip_ws()
        value_start = self.i
        array = self._array() if self.s.startswith("[", self.i) else None
        if array is None:
            self._value()
        value_end = self.i
        line_end = self._line_rest()
        return KeyValue(header, table + key, start, key_end, value_start, value_end, line_end, array)

    # -- values ----------------------------------------------------------------------------

    def _value(self) -> None:
        s, i = self.s, self.i
        if s.startswith('"""', i):
            self._multiline_basic()
        elif s.startswith("'''", i):
            self._multiline_literal()
        elif s.startswith('"', i):
            self._basic_string()
        elif s.startswith("'", i):
            self._literal_string()
        elif s.startswith("[", i):
            self._array()
        elif s.startswith("{", i):
            self._inline_table()
        else:
            match = _DATETIME.match(s, i) or _SCALAR.match(s, i)
            if not match:
                raise self._fail("expected a value")
            self.i = match.end()

    def _basic_string(self) -> None:
        j = self.i + 1
        while j < self.n:
            char = self.s[j]
            if char == "\\":
                j += 2
            elif char == '"':
                self.i = j + 1
                return
            elif char == "\n":
                break
            else:
                j += 1
        raise self._fail("unterminated string")

    def _literal_string(self) -> None:
        index = self.s.find("'", self.i + 1)
        if index == -1 or "\n" in self.s[self.i : index]:
            raise self._fail("unterminated string")
        self.i = index + 1

    def _multiline_basic(self) -> None:
        j = self.i + 3
        while j < self.n:
            if self.s[j] == "\\":
                j += 2
            elif self.s.startswith('"""', j):
                end = j + 3
                while end < self.n and self.s[end] == '"' and end - j < 5:
                    end += 1
                self.i = end
                return
            else:
                j += 1
        raise self._fail("unterminated multi-line string")

    def _multiline_literal(self) -> None:
        index = self.s.find("'''", self.i + 3)
        if index == -1:
            raise self._fail("unterminated multi-line string")
        end = index + 3
        while end < self.n and self.s[end] == "'" and end - index < 5:
            end += 1
        self.i = end

    def _array(self) -> ArraySpan:
        open_ = self.i
        self.i += 1
        tokens: list[Token] = []
        while self.i < self.n:
            start = self.i
            char = self.s[start]
            if char in " \t":
                self._skip_ws()
                tokens.append(Token("ws", start, self.i))
            elif self._newline():
                tokens.append(Token("nl", start, self.i))
            elif char == "#":
                comment = self._comment()
                tokens.append(Token("comment", comment.start, comment.end))
            elif char == ",":
                self.i += 1
                tokens.append(Token("comma", start, self.i))
            elif char == "]":
                self.i += 1
                return ArraySpan(open_, start, tuple(tokens))
            else:
                self._value()
                tokens.append(Token("value", start, self.i))
        raise self._fail("unterminated array")

    def _inline_table(self) -> None:
        self.i += 1
        while self.i < self.n:
            char = self.s[self.i]
            if char in " \t,":
                self.i += 1
            elif self._newline():
                continue
            elif char == "#":
                self._comment()
            elif char == "}":
                self.i += 1
                return
            else:
                self._key()
                self._skip_ws()
                self._expect("=")
                self._skip_ws()
                self._value()
        raise self._fail("unterminated inline table")
