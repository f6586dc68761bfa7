"""What the pnpm, yarn and bun readers share: bounded reading, YAML with lines, npm specs.

These lockfiles come from any repository ``check`` is pointed at, so every reader bounds what
it reads (file size, nesting) and turns every failure into one
:class:`~depguard.errors.LockfileError` naming the file and line.

YAML (pnpm-lock.yaml, yarn berry's yarn.lock) is read from PyYAML's *event* stream rather than
``safe_load``: events carry the line of every key, every scalar stays the string the file
wrote (``version: 1.10`` is not the float 1.1), nesting is bounded here instead of by the
interpreter's recursion limit, and aliases are refused, so a "billion laughs" file cannot
expand. PyYAML is imported on first use: only repos with these files pay for it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from depguard.errors import LockfileError
from depguard.lockfiles._common import read_text
from depguard.lockfiles.npm import _sha256

__all__ = [
    "MAX_DEPTH",
    "MAX_LOCKFILE_BYTES",
    "YMap",
    "installed_identity",
    "load_yaml",
    "read_bounded",
    "split_spec",
    "sri_sha256",
    "version_from_ref",
]

#: The largest lockfile read. Real pnpm/yarn lockfiles of big monorepos reach 10-20 MB; a
#: file far beyond that is more likely an attack on the reader than a project.
MAX_LOCKFILE_BYTES = 64 * 1024 * 1024
#: The deepest nesting accepted. These formats nest five levels at most.
MAX_DEPTH = 64
#: ``npm:`` alias hops followed (``a@npm:b@npm:c@1`` is legal, a long chain is not real).
_MAX_ALIAS_HOPS = 4
_NO_KEY = object()


class YMap(dict[str, Any]):
    """A YAML mapping (string keys, in file order) that remembers the 1-based line of each key."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.lines: dict[str, int] = {}
        self.pending: Any = _NO_KEY


def read_bounded(path: Path) -> str:
    """The file's text, refusing files larger than :data:`MAX_LOCKFILE_BYTES` before reading."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise LockfileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if size > MAX_LOCKFILE_BYTES:
        raise LockfileError(
            f"{path}:1: {size} bytes is more than the {MAX_LOCKFILE_BYTES} bytes depguard reads from a lockfile"
        )
    return read_text(path)


def load_yaml(path: Path, text: str) -> list[Any]:
    """The documents of a YAML file as :class:`YMap` / list / str trees (every scalar a str).

    Raises :class:`LockfileError` (file and line) for invalid YAML, aliases, non-string keys,
    duplicate keys and nesting deeper than :data:`MAX_DEPTH`.
    """
    import yaml  # type: ignore[import-untyped,unused-ignore]

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return _build(path, yaml.parse(text, Loader=loader))
    except yaml.YAMLError as exc:
        raise LockfileError(f"{path}:{_yaml_error_line(exc, text)}: invalid YAML: {_yaml_problem(exc)}") from None


def _yaml_error_line(exc: Any, text: str) -> int:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        return int(mark.line) + 1
    position = getattr(exc, "position", None)  # ReaderError: a character YAML does not allow
    if isinstance(position, int):
        return text.count("\n", 0, position) + 1
    return 1


def _yaml_problem(exc: Any) -> str:
    problem = getattr(exc, "problem", None)
    if problem:
        context, mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        problem_mark = getattr(exc, "problem_mark", None)
        if context and mark is not None and problem_mark is not None and mark.line != problem_mark.line:
            context = f"{context} from line {mark.line + 1}"  # an unclosed '{' is found lines later
        return f"{context}: {problem}" if context else str(problem)
    return " ".join(str(exc).split())


def _build(path: Path, events: Any) -> list[Any]:
    """Assemble nodes from parser events with an explicit stack (no recursion).

    Dispatch is on the event's exact class and the line is only computed where it is kept:
    this loop is most of the time a 2,000-package pnpm-lock.yaml takes to read.
    """
    import yaml  # type: ignore[import-untyped,unused-ignore]

    scalar, mapping, sequence = yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent
    ends = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
    documents: list[Any] = []
    stack: list[Any] = []
    top: Any = None
    for event in events:
        kind = event.__class__
        if kind is scalar:
            value = event.value
        elif kind is mapping or kind is sequence:
            line = event.start_mark.line + 1
            if len(stack) >= MAX_DEPTH:
                raise LockfileError(f"{path}:{line}: nested more than {MAX_DEPTH} levels deep")
            if top.__class__ is YMap and top.pending is _NO_KEY:
                raise LockfileError(f"{path}:{line}: a mapping key must be a plain string")
            top = YMap(line) if kind is mapping else []
            stack.append(top)
            continue
        elif kind in ends:
            value = stack.pop()
            top = stack[-1] if stack else None
        elif kind is yaml.AliasEvent:
            line = event.start_mark.line + 1
            raise LockfileError(
                f"{path}:{line}: YAML aliases (*{event.anchor}) are not used by lockfiles; refusing the file"
            )
        else:
            continue  # stream and document boundaries
        if top is None:
            documents.append(value)
        elif top.__class__ is list:
            top.append(value)
        elif top.pending is _NO_KEY:  # a key: always a scalar (collections were refused above)
            line = event.start_mark.line + 1
            if value in top.lines:
                raise LockfileError(f"{path}:{line}: duplicate key {value!r} (first on line {top.lines[value]})")
            top.pending = value
            top.lines[value] = line
        else:
            top[top.pending] = value
            top.pending = _NO_KEY
    return documents


def split_spec(spec: str) -> tuple[str, str] | None:
    """``"name@rest"`` -> ``("name", "rest")``; a scope's leading ``@`` is part of the name.

    None when there is no ``@`` after the name. npm names cannot contain ``@`` elsewhere, so
    the first one after position 0 is the separator whatever ``rest`` holds (a range, a
    version, ``npm:other@1.0.0``, a URL).
    """
    at = spec.find("@", 1)
    if at <= 0:
        return None
    return spec[:at], spec[at + 1 :]


def installed_identity(name: str, rest: str) -> tuple[str, str]:
    """Follow ``npm:`` aliases: ``("my-ms", "npm:ms@2.1.3")`` -> ``("ms", "2.1.3")``.

    An alias installs the real package under another folder name; what runs, and what an
    advisory names, is the real package at its version.
    """
    for _ in range(_MAX_ALIAS_HOPS):
        if not rest.startswith("npm:"):
            break
        target = rest[4:]
        split = split_spec(target)
        if split is None:  # "npm:ms" (no version): the name alone
            return target, ""
        name, rest = split
    return name, rest


_PLAIN_VERSION = re.compile(r"[0-9A-Za-z.+-]+")


def version_from_ref(ref: str) -> str | None:
    """The version in a lockfile's ``name@<ref>`` when ref is a version, not a URL or protocol."""
    return ref if ref and _PLAIN_VERSION.fullmatch(ref) else None


def sri_sha256(integrity: Any) -> tuple[str, ...]:
    """sha256 digests (hex) of a Subresource Integrity string; npm's reader decides the spelling."""
    return _sha256(integrity)
