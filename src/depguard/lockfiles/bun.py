"""bun's text lockfile ``bun.lock`` (lockfileVersion 0-2; not the binary ``bun.lockb``).

The file is JSON plus two liberties bun allows itself: trailing commas, and (read by bun,
not written) comments. Both are blanked out by a scan that knows where strings are, keeping
every other byte and every newline where it was, so the strict JSON reader's line numbers
and :func:`~depguard.lockfiles._common.json_key_lines` still point into the file as written.

``packages`` maps an install path (``"debug/ms"`` is the ms inside debug) to an array whose
first item is what was resolved: ``"ms@2.1.3"``, or for an alias ``"my-ms": ["ms@2.1.3",
...]`` the real package. npm packages carry their integrity as the fourth item. Workspace,
link and root entries are the user's own code and are left out.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from depguard.errors import LockfileError
from depguard.lockfiles import Location, Package
from depguard.lockfiles._common import json_key_lines, load_json
from depguard.lockfiles._jslock import (
    MAX_DEPTH,
    installed_identity,
    read_bounded,
    split_spec,
    sri_sha256,
    version_from_ref,
)

__all__ = ["parse", "to_strict_json"]

_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|//[^\n]*|/\*.*?\*/|[\[\]{},]', re.DOTALL)
_OWN_CODE = ("workspace:", "link:", "root:")
_PACKAGES_LINE = re.compile(r'^  "packages": \{[ \t]*$', re.MULTILINE)
_ENTRY_LINE = re.compile(r'^    ("(?:[^"\\\n]|\\.)*"): \[', re.MULTILINE)


def parse(path: Path, root: Path) -> list[Package]:
    """The installed packages ``path`` lists (``root`` is unused: no includes)."""
    text = to_strict_json(path, read_bounded(path))
    data = load_json(path, text)
    if not isinstance(data, dict) or "lockfileVersion" not in data:
        raise LockfileError(f"{path}:1: not a bun.lock: the top level must be an object with a lockfileVersion")
    entries = data.get("packages", {})
    if not isinstance(entries, dict):
        raise LockfileError(f"{path}:{json_key_lines(text).get(('packages',), 1)}: packages must be an object")
    lines = _package_lines(text, list(entries))
    found = []
    for key, value in entries.items():
        line = lines.get(key)
        package = _package(path, key, value, line)
        if package is not None:
            found.append(package)
    return found


def _package_lines(text: str, keys: list[str]) -> dict[str, int]:
    """The line of each ``packages`` key.

    bun writes one package per line (``    "debug/ms": ["ms@2.1.3", ...],``) under a
    ``  "packages": {`` line, so a line scan finds them at regex speed; it is used only when it
    finds exactly the parsed keys in the parsed order, else every key is located by the
    JSON token scan (several times slower on a 3,000-package file).
    """
    start = _PACKAGES_LINE.search(text)
    if start is not None:
        first = text.count("\n", 0, start.start()) + 1
        found, number, last = [], first, start.end()
        for match in _ENTRY_LINE.finditer(text, start.end()):
            number += text.count("\n", last, match.start())
            last = match.start()
            found.append((json.loads(match[1]), number))
        if [key for key, _ in found] == keys:
            return dict(found)
    lines = json_key_lines(text)
    return {key: line for key in keys if (line := lines.get(("packages", key))) is not None}


def _package(path: Path, key: str, value: Any, line: int | None) -> Package | None:
    if not isinstance(value, list) or not value or not isinstance(value[0], str):
        raise LockfileError(f'{path}:{line}: packages[{key!r}] must be an array starting with "name@version"')
    split = split_spec(value[0])
    if split is None:
        raise LockfileError(f'{path}:{line}: packages[{key!r}]: {value[0]!r} is not "name@version"')
    name, ref = installed_identity(*split)
    if ref.startswith(_OWN_CODE):
        return None
    integrity = value[3] if len(value) > 3 else None
    return Package("npm", name, version_from_ref(ref), sri_sha256(integrity), Location(path, line))


def to_strict_json(path: Path, text: str) -> str:
    """``text`` with comments and trailing commas blanked (same length, same newlines).

    Also bounds nesting at :data:`MAX_DEPTH`, so the strict reader never meets a file that
    would exhaust the interpreter's recursion limit.
    """
    pieces: list[str] = []
    last = 0  # end of the text already copied to pieces
    comma: int | None = None  # offset of a comma with only blanks and comments after it so far
    depth = 0
    previous_end = 0
    after_value = False  # whether the last thing seen ends a value (so a comma may follow it)
    for match in _TOKEN.finditer(text):
        start, token = match.start(), match.group()
        if text[previous_end:start].strip():
            comma = None  # a number, true, false or null came after the comma
            after_value = True
        previous_end = match.end()
        if token[0] == "/":
            pieces += [text[last:start], re.sub(r"[^\n]", " ", token)]
            last = match.end()
            continue
        if token in "]}" and comma is not None:
            pieces += [text[last:comma], " "]
            last = comma + 1
        # "[," or ",," is not a trailing comma but an error, left for the JSON reader to name
        comma = start if token == "," and after_value else None
        after_value = token[0] == '"' or token in "]}"
        if token in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise LockfileError(
                    f"{path}:{text.count(chr(10), 0, start) + 1}: nested more than {MAX_DEPTH} levels deep"
                )
        elif token in "]}":
            depth -= 1
    pieces.append(text[last:])
    return "".join(pieces)
