"""What the lockfile readers share: reading, TOML and JSON with line numbers, hash spellings.

The stdlib parsers give data but no positions, and a finding must name the line of the
package entry. Rather than a position-keeping parser per format, the data is parsed with the
stdlib (fast, exact) and the text is then scanned for where each entry starts; the scan is
checked against the parsed data, so a file the scan misreads gets no line rather than a
wrong one.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from depguard.errors import LockfileError
from depguard.jsonio import JSONError, gc_paused, strict_loads
from depguard.tomlread import TOMLReadError, loads

__all__ = [
    "array_table_name_lines",
    "json_key_lines",
    "legacy_files",
    "load_json",
    "load_toml",
    "package_tables",
    "read_text",
    "sha256_of",
]

#: The largest lockfile read. The largest real ones (a monorepo's package-lock.json) are tens
#: of megabytes; the bound only keeps a hostile file from exhausting memory.
MAX_LOCKFILE_BYTES = 256 * 1024 * 1024
_HEADER = re.compile(r"^\s*\[\[?\s*([^\[\]]+?)\s*\]\]?\s*(?:#.*)?$")
_NAME_LINE = re.compile(r"^\s*name\s*=")
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\],:]')
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_LOWER_HEX64 = re.compile(r"[0-9a-f]{64}")


def read_text(path: Path) -> str:
    """The file as text; unreadable or non-UTF-8 files are errors that name the file.

    Only a regular file of at most :data:`MAX_LOCKFILE_BYTES`: a FIFO, a device or a file in
    ``/proc`` could block ``check`` or never end (the file is opened non-blocking, then
    checked with fstat before a byte is read).
    """
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise LockfileError(f"{path}: not a regular file; not read")
            if info.st_size > MAX_LOCKFILE_BYTES:
                raise LockfileError(
                    f"{path}: {info.st_size} bytes is more than the {MAX_LOCKFILE_BYTES} bytes depguard reads from a lockfile"
                )
            with os.fdopen(os.dup(fd), "rb") as handle:
                data = handle.read(MAX_LOCKFILE_BYTES + 1)
        finally:
            os.close(fd)
    except OSError as exc:
        raise LockfileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_LOCKFILE_BYTES:
        raise LockfileError(f"{path}: more than the {MAX_LOCKFILE_BYTES} bytes depguard reads from a lockfile")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise LockfileError(f"{path}:{line}: not UTF-8 (byte {exc.start})") from None


def load_toml(path: Path, text: str) -> dict[str, Any]:
    """Parse TOML with :func:`depguard.tomlread.loads`; the error names the file and the line."""

    try:
        with gc_paused():  # a 2,000-package lockfile is ~100,000 objects: see jsonio.gc_paused
            return loads(text)
    except TOMLReadError as exc:
        where = f"{path}:{exc.line}" if exc.line is not None else str(path)
        raise LockfileError(f"{where}: invalid TOML: {exc}") from None


def load_json(path: Path, text: str) -> Any:
    """Parse JSON strictly (no duplicate keys, no NaN); the error names file and line."""
    try:
        return strict_loads(text)
    except JSONError as exc:
        line = exc.line
        if line is None:
            try:
                json_key_lines(text)
            except LockfileError as located:
                raise LockfileError(f"{path}:{located.args[0]}") from None
        raise LockfileError(f"{path}:{line if line is not None else '?'}: invalid JSON: {exc}") from None


def package_tables(
    path: Path, text: str, data: dict[str, Any], key: str
) -> list[tuple[dict[str, Any], str, int | None]]:
    """Each ``[[key]]`` table of a TOML lockfile with its name and the line of ``name = ...``.

    uv.lock, pylock.toml, poetry.lock and pdm.lock all list one table per distribution; this
    is the part of reading them that does not depend on the format, checked the same way.
    """
    tables = data.get(key, [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise LockfileError(f"{path}:1: [[{key}]] must be an array of tables")
    lines = array_table_name_lines(text, key, [t.get("name") for t in tables])
    found = []
    for table, line in zip(tables, lines, strict=True):
        name = table.get("name")
        if not isinstance(name, str) or not name:
            raise LockfileError(f"{path}:{line or '?'}: a [[{key}]] table has no name")
        found.append((table, name, line))
    return found


def legacy_files(data: dict[str, Any]) -> dict[str, list[Any]]:
    """``[metadata.files]`` of older poetry and pdm lockfiles: hashes keyed by package."""
    metadata = data.get("metadata")
    files = metadata.get("files") if isinstance(metadata, dict) else None
    if not isinstance(files, dict):
        return {}
    return {key: value for key, value in files.items() if isinstance(value, list)}


def array_table_name_lines(text: str, key: str, names: list[str | None]) -> list[int | None]:
    """For each ``[[key]]`` table, in order, the line of its ``name = ...`` entry.

    ``names`` are the parsed names of the same tables; a scanned line whose value disagrees
    (a header inside a multi-line string, an inline-table array) falls back to the table's
    header line, and tables the scan did not find get None.
    """
    lines = text.splitlines()
    # "[[" in line: a cheap necessary condition, so the header regex runs on a few lines only
    starts = [i for i, line in enumerate(lines) if "[[" in line and _is_header(line, key, array=True)]
    result: list[int | None] = []
    for index, expected in enumerate(names):
        if index >= len(starts) or len(starts) != len(names):
            result.append(None)
            continue
        result.append(_name_line(lines, starts[index], expected))
    return result


def _is_header(line: str, key: str, *, array: bool) -> bool:
    stripped = line.strip()
    if array != stripped.startswith("[["):
        return False
    match = _HEADER.match(line)
    return match is not None and match[1].replace(" ", "") == key


def _name_line(lines: list[str], start: int, expected: str | None) -> int:
    """1-based line of ``name =`` in the table starting at ``start`` (0-based), else the header's."""
    for offset in range(start + 1, len(lines)):
        line = lines[offset]
        if _HEADER.match(line):
            break
        if _NAME_LINE.match(line) and _toml_value(line) == expected:
            return offset + 1
    return start + 1


#: ``name = "plain"``: what every lockfile writer emits. For such a line the value is the text
#: between the quotes, exactly; anything else (escapes, literal strings, comments) goes to
#: the TOML parser. A 2,000-package uv.lock spent most of its parse time calling tomllib per line.
_PLAIN_NAME_LINE = re.compile(r'[ \t]*name[ \t]*=[ \t]*"([A-Za-z0-9._+@/-]*)"[ \t]*')


def _toml_value(line: str) -> Any:
    plain = _PLAIN_NAME_LINE.fullmatch(line)
    if plain is not None:
        return plain[1]
    try:
        return loads(line).get("name")
    except TOMLReadError:
        return None


def json_key_lines(text: str) -> dict[tuple[str | int, ...], int]:
    """The line of every object key, by its path of keys and array indexes.

    ``{"packages": {"node_modules/debug": {...}}}`` gives
    ``{("packages",): 1, ("packages", "node_modules/debug"): 2, ...}``. Only strings and
    structural characters are tokens, so it runs at regex speed on large lockfiles. A key
    seen twice in one object raises :class:`LockfileError` with its line as the message
    prefix (``"12: duplicate key ..."``), since JSON parsers disagree on which one wins.
    """
    found: dict[tuple[str | int, ...], int] = {}
    stack: list[list[Any]] = []
    line, last = 1, 0
    previous: tuple[str, int] | None = None
    for match in _JSON_TOKEN.finditer(text):
        token, pos = match.group(), match.start()
        line += text.count("\n", last, pos)
        last = pos
        if token[0] == '"':
            previous = (token, line)
            continue
        if token == ":" and previous is not None and stack:
            stack[-1][1] = json.loads(previous[0])
            path = tuple(frame[1] for frame in stack)
            if path in found:
                raise LockfileError(f"{previous[1]}: duplicate key {stack[-1][1]!r}")
            found[path] = previous[1]
        elif token in "{[":
            stack.append([token, 0 if token == "[" else None])
        elif token in "}]" and stack:
            stack.pop()
        elif token == "," and stack and stack[-1][0] == "[":
            stack[-1][1] += 1
        previous = None
    return found


def sha256_of(values: Iterable[Any]) -> tuple[str, ...]:
    """sha256 hex digests from ``sha256:HEX`` / ``sha256=HEX`` / ``{"sha256": HEX}`` spellings.

    Other algorithms are dropped: the feed lists sha256 only, and a digest of another
    algorithm can never equal one.
    """
    digests: list[str] = []
    for value in values:
        digest = _sha256_digest(value)
        if digest is not None and digest not in digests:
            digests.append(digest)
    return tuple(digests)


def _sha256_digest(value: Any) -> str | None:
    if type(value) is str and len(value) == 71 and value.startswith("sha256:") and _LOWER_HEX64.fullmatch(value, 7):
        return value[7:]  # how lockfiles write it: nothing to strip or lowercase
    if isinstance(value, dict):
        value = value.get("sha256")
        candidate = value if isinstance(value, str) else None
    elif isinstance(value, str):
        algorithm, sep, digest = value.replace("=", ":", 1).partition(":")
        candidate = digest if sep and algorithm.strip().lower() == "sha256" else None
    else:
        candidate = None
    if candidate and _HEX64.match(candidate.strip()):
        return candidate.strip().lower()
    return None
