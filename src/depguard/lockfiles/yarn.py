"""yarn ``yarn.lock``: classic (v1) and berry (yarn 2 and later).

Berry writes YAML with a ``__metadata`` entry; each other entry is keyed by the descriptors
it satisfies (``"ms@npm:^2.1.3, my-ms@npm:ms@2.1.3"``) and says what was installed in
``resolution`` (``"ms@npm:2.1.3"``: the real package, also for an alias) and ``version``.
Workspaces, links and portals (``linkType: soft``) are the user's own code and are left out.

Classic yarn writes its own format, which no maintained Python parser reads, so it is parsed
here, to the grammar yarn 1.22's writer emits (and its reader accepts)::

    # comment
    "@scope/a@^1.0.0", a-alias@npm:a@^1:   <- entry header: the ranges it satisfies
      version "1.2.3"                       <- field: key value (quoted with JSON escapes, or bare)
      dependencies:                         <- nested block, two more spaces of indent
        b "^2.0.0"

The package name comes from the header (following an ``npm:`` alias to the real package) and
the version from ``version``. Each package is reported at its ``version`` line, the line that
names what was installed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from depguard.errors import LockfileError
from depguard.lockfiles import Location, Package
from depguard.lockfiles._jslock import YMap, installed_identity, load_yaml, read_bounded, split_spec, sri_sha256

__all__ = ["ClassicEntry", "parse", "parse_classic"]

_BERRY = re.compile(r"^__metadata:[ \t]*$", re.MULTILINE)
_OWN_CODE = ("workspace:", "link:", "portal:")
#: Classic yarn nests two levels (entry fields, then dependency maps); a little slack only.
_CLASSIC_MAX_LEVEL = 8
#: ``key value``, ``key: value`` or ``key:`` with plain or escape-free quoted strings.
_SIMPLE_LINE = re.compile(r'(?:"([^"\\]*)"|([^\s",:]+))(?:(:)|:? (?:"([^"\\]*)"|([^\s",:]+)))')
_CLASSIC_TOKEN = re.compile(r'[ \t]*(?:("(?:[^"\\]|\\.)*")|([^\s",:]+)|(:)|(,))')


def parse(path: Path, root: Path) -> list[Package]:
    """The installed packages ``path`` lists, whichever yarn wrote it (``root`` is unused)."""
    text = read_bounded(path)
    if _BERRY.search(text):
        return _berry(path, text)
    return [_classic_package(path, entry) for entry in parse_classic(path, text) if entry is not None]


# --- berry ----------------------------------------------------------------------------------


def _berry(path: Path, text: str) -> list[Package]:
    documents = load_yaml(path, text)
    if len(documents) != 1 or not isinstance(documents[0], YMap):
        raise LockfileError(f"{path}:1: not a yarn lockfile: expected one YAML mapping")
    doc: YMap = documents[0]
    found = []
    for key, entry in doc.items():
        if key == "__metadata":
            continue
        line = doc.lines[key]
        if not isinstance(entry, YMap):
            raise LockfileError(f"{path}:{line}: entry {key!r} must be a mapping")
        resolution = entry.get("resolution")
        split = split_spec(resolution) if isinstance(resolution, str) else None
        if split is None:
            raise LockfileError(
                f"{path}:{entry.lines.get('resolution', line)}: entry {key!r} has no usable resolution (name@reference)"
            )
        name, reference = split
        if reference.startswith(_OWN_CODE) or entry.get("linkType") == "soft":
            continue
        version = entry.get("version")
        if not isinstance(version, str) or not version:
            raise LockfileError(f"{path}:{line}: entry {key!r} has no version")
        found.append(Package("npm", name, version, (), Location(path, entry.lines["version"])))
    return found


# --- classic --------------------------------------------------------------------------------


@dataclass
class ClassicEntry:
    """One classic entry: its header ranges, its fields and where they are."""

    keys: list[str]
    fields: YMap


def _classic_package(path: Path, entry: ClassicEntry) -> Package:
    header_line = entry.fields.line
    split = split_spec(entry.keys[0])
    if split is None:
        raise LockfileError(f"{path}:{header_line}: {entry.keys[0]!r} is not name@range")
    name, _range = installed_identity(*split)
    version = entry.fields.get("version")
    if not isinstance(version, str) or not version:
        raise LockfileError(f"{path}:{header_line}: entry {entry.keys[0]!r} has no version")
    return Package(
        "npm", name, version, sri_sha256(entry.fields.get("integrity")), Location(path, entry.fields.lines["version"])
    )


def parse_classic(path: Path, text: str) -> list[ClassicEntry | None]:
    """The entries of a classic yarn.lock, in order (None for the user's own links and workspaces).

    Raises :class:`LockfileError` naming the line for anything yarn 1 would not write: tabs or
    odd indentation, a line indented under no block, a field at the top level, a duplicate key.
    """
    entries: list[ClassicEntry | None] = []
    seen: dict[str, int] = {}
    stack: list[YMap] = []  # stack[level - 1] receives the lines indented ``level`` times
    for number, raw in enumerate(text.splitlines(), start=1):
        content = raw.lstrip(" ")
        if not content.strip() or content.startswith("#"):
            continue
        indent = len(raw) - len(content)
        if content[0] == "\t" or indent % 2:
            raise LockfileError(f"{path}:{number}: indentation must be pairs of spaces")
        level = indent // 2
        if level > len(stack) or level > _CLASSIC_MAX_LEVEL:
            raise LockfileError(f"{path}:{number}: indented under nothing")
        del stack[level:]
        keys, value, opens = _classic_line(path, number, content)
        if level == 0:
            if not opens:
                raise LockfileError(f"{path}:{number}: expected an entry header ending in ':'")
            fields = YMap(number)
            for key in keys:
                if key in seen:
                    raise LockfileError(f"{path}:{number}: {key!r} already has an entry (line {seen[key]})")
                seen[key] = number
            split = split_spec(keys[0])
            own = split is not None and split[1].startswith(_OWN_CODE)
            entries.append(None if own else ClassicEntry(keys, fields))
            stack.append(fields)
            continue
        if len(keys) != 1:
            raise LockfileError(f"{path}:{number}: a field has one key")
        target, key = stack[-1], keys[0]
        if key in target.lines:
            raise LockfileError(f"{path}:{number}: duplicate key {key!r} (first on line {target.lines[key]})")
        target.lines[key] = number
        if opens:
            child = YMap(number)
            target[key] = child
            stack.append(child)
        else:
            target[key] = value
    return entries


def _classic_line(path: Path, number: int, content: str) -> tuple[list[str], str | None, bool]:
    """(keys, value, opens a block) of one line without its indentation."""
    content = content.rstrip()
    simple = _SIMPLE_LINE.fullmatch(content)  # nearly every line: one key, a value or ':', no escapes
    if simple is not None:
        key = simple[1] if simple[1] is not None else simple[2]
        if simple[4] is None and simple[5] is None:
            return [key], None, True
        return [key], simple[4] if simple[4] is not None else simple[5], False
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(content):
        match = _CLASSIC_TOKEN.match(content, position)
        if match is None or match.end() == position:
            raise LockfileError(
                f"{path}:{number}: unexpected character {content[position : position + 1]!r} at column {position + 1}"
            )
        position = match.end()
        if match[1] is not None:
            try:
                tokens.append(("s", json.loads(match[1])))
            except json.JSONDecodeError:
                raise LockfileError(f"{path}:{number}: invalid quoted string at column {match.start(1) + 1}") from None
        elif match[2] is not None:
            tokens.append(("s", match[2]))
        else:
            tokens.append(("p", match[3] or match[4]))
    return _classic_shape(path, number, tokens)


def _classic_shape(path: Path, number: int, tokens: list[tuple[str, str]]) -> tuple[list[str], str | None, bool]:
    kinds = "".join("s" if kind == "s" else text for kind, text in tokens)
    values = [text for kind, text in tokens if kind == "s"]
    if kinds == "ss" or kinds == "s:s":  # key value / key: value
        return [values[0]], values[1], False
    if re.fullmatch(r"s(,s)*:", kinds):  # header or nested block
        return values, None, True
    raise LockfileError(f"{path}:{number}: expected 'key value' or 'key:' (yarn v1 lockfile)")
