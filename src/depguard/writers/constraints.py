"""The pip / ``uv pip`` target: depguard's block of plain lines in a constraints file.

A constraints file is line-oriented, so the block is whole lines::

    # >>> depguard: managed by 'depguard sync'; change [tool.depguard] instead of editing these lines
    litellm!=1.82.7,!=1.82.8  # x_DEPGUARD-2026-0001
    # <<< depguard

When there is no block it is appended at the end, after exactly one added line ending: a blank
separating line when the file ends with a newline, or the missing final newline when it does
not. ``remove`` deletes the block and, when the block is the last thing in the file, that one
line ending, so ``remove(apply(x)) == x`` byte for byte. ``apply(text, [])`` is ``remove(text)``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from depguard.errors import UnsafeEditError
from depguard.exclusions import Exclusion
from depguard.writers.block import (
    BEGIN_MARKER,
    END_MARKER,
    BlockEdit,
    entry_parts,
    is_begin_marker,
    is_end_marker,
    looks_rendered,
    newline_before,
    pair_markers,
    refuse_lone_cr,
    refuse_oversized,
    split_bom,
)

__all__ = ["BlockEdit", "apply", "read_block", "remove", "render"]

_WHERE = "constraints file"
# pip's own comment rule (``req_file.COMMENT_RE``): a ``#`` at the start or after whitespace.
_PIP_COMMENT = re.compile(r"(^|\s+)#.*$")
_ENTRY = re.compile(r"^(?P<requirement>\S+)  # (?P<comment>\S.*)$")


@dataclass(frozen=True)
class _Line:
    start: int
    end: int  # end of the content, before the line ending
    stop: int  # after the line ending


@dataclass(frozen=True)
class _Block:
    start: int
    end: int
    newline: str
    requirements: tuple[str, ...]
    hand_edited: bool


def render(entries: Sequence[tuple[str, str]], newline: str = "\n") -> str:
    """The block's bytes for ``(requirement, comment)`` pairs (whole lines)."""
    lines = "".join(f"{requirement}  # {comment}{newline}" for requirement, comment in entries)
    return f"{BEGIN_MARKER}{newline}{lines}{END_MARKER}{newline}"


def apply(text: str, exclusions: Sequence[Exclusion]) -> BlockEdit:
    """Make the block hold exactly ``exclusions`` (in the given order); ``[]`` means :func:`remove`."""
    entries = [entry_parts(exclusion) for exclusion in exclusions]
    refuse_oversized(text, _WHERE)
    bom, body = split_bom(text)
    refuse_lone_cr(body, _WHERE)
    block = _find_block(body)
    previous = block.requirements if block else ()
    hand_edited = block.hand_edited if block else False
    if not entries:
        return BlockEdit(bom + _without_block(body, block), previous, hand_edited)
    if block is not None:
        new_body = body[: block.start] + render(entries, block.newline) + body[block.end :]
    else:
        _refuse_open_continuation(body)
        newline = newline_before(body, len(body))
        new_body = body + (newline if body else "") + render(entries, newline)
    written = _find_block(new_body)
    requirements = tuple(requirement for requirement, _ in entries)
    if written is None or written.requirements != requirements or written.hand_edited:
        raise UnsafeEditError(f"{_WHERE}: the edited block does not read back as written; not editing")
    return BlockEdit(bom + new_body, previous, hand_edited)


def remove(text: str) -> str:
    """The text without depguard's block (and without the line ending apply added before it)."""
    bom, body = split_bom(text)
    if "depguard" not in body:
        return text
    refuse_lone_cr(body, _WHERE)
    return bom + _without_block(body, _find_block(body))


def read_block(text: str) -> tuple[str, ...] | None:
    """The requirement lines inside depguard's block (comments stripped), None when absent."""
    _, body = split_bom(text)
    if "depguard" not in body:
        return None
    refuse_lone_cr(body, _WHERE)
    block = _find_block(body)
    return block.requirements if block else None


def _lines(text: str) -> list[_Line]:
    lines, start = [], 0
    while start < len(text):
        index = text.find("\n", start)
        if index == -1:
            lines.append(_Line(start, len(text), len(text)))
            break
        end = index - 1 if index > start and text[index - 1] == "\r" else index
        lines.append(_Line(start, end, index + 1))
        start = index + 1
    return lines


def _find_block(text: str) -> _Block | None:
    lines = _lines(text)
    markers = []
    for number, line in enumerate(lines):
        content = text[line.start : line.end].strip(" \t")
        if is_begin_marker(content) or is_end_marker(content):
            markers.append((number, is_begin_marker(content)))
    pair = pair_markers([(is_begin, number + 1) for number, is_begin in markers], _WHERE)
    if pair is None:
        return None
    first, last = lines[markers[pair.begin][0]], lines[markers[pair.end][0]]
    inner = lines[markers[pair.begin][0] + 1 : markers[pair.end][0]]
    newline = text[first.end : first.stop]
    entries = [_ENTRY.fullmatch(text[line.start : line.end]) for line in inner]
    requirements = []
    for line in inner:
        requirement = _PIP_COMMENT.sub("", text[line.start : line.end]).strip()
        if requirement:
            requirements.append(requirement)
    canonical = render([(m["requirement"], m["comment"]) if m else ("", "") for m in entries], newline)
    hand_edited = text[first.start : last.stop] != canonical or not all(
        m is not None and looks_rendered(m["requirement"], m["comment"]) for m in entries
    )
    return _Block(first.start, last.stop, newline, tuple(requirements), hand_edited)


def _without_block(body: str, block: _Block | None) -> str:
    if block is None:
        return body
    start = block.start
    if block.end == len(body) and start > 0:
        start -= 2 if body[:start].endswith("\r\n") else 1  # the line ending apply added
    return body[:start] + body[block.end :]


def _refuse_open_continuation(body: str) -> None:
    """A last line ending in ``\\`` would swallow the begin marker into a user's requirement."""
    lines = _lines(body)
    last = body[lines[-1].start : lines[-1].end] if lines else ""
    if last.rstrip(" \t").endswith("\\") and not last.lstrip(" \t").startswith("#"):
        raise UnsafeEditError(f"{_WHERE}: the last line ends with a line continuation ('\\'); not appending after it")
