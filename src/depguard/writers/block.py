"""What every writer shares: the markers, the result type and the byte-level helpers.

depguard owns exactly one region of a user's file, delimited by a begin and an end marker line.
Everything here exists so that each writer finds, renders and removes that region the same way,
and so that what a writer emits is checked once more (ASCII, no quoting characters) even though
:func:`depguard.exclusions.make_exclusion` already validated it: a writer must never be the place
where feed text turns into file syntax.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from depguard.config import MAX_PROJECT_FILE_BYTES
from depguard.errors import UnsafeEditError
from depguard.exclusions import ADVISORY_ID, Exclusion

__all__ = [
    "BEGIN_MARKER",
    "BOM",
    "END_MARKER",
    "BlockEdit",
    "MarkerPair",
    "entry_parts",
    "is_begin_marker",
    "is_end_marker",
    "line_number",
    "looks_rendered",
    "newline_before",
    "newline_of_line",
    "pair_markers",
    "refuse_lone_cr",
    "refuse_oversized",
    "split_bom",
]

BEGIN_MARKER = "# >>> depguard: managed by 'depguard sync'; change [tool.depguard] instead of editing these lines"
END_MARKER = "# <<< depguard"
BOM = "\ufeff"

# Lenient on purpose: a hand-mangled marker (``#>>>depguard``) must still be recognized as
# depguard's, or a second block would be appended next to it.
_BEGIN_RE = re.compile(r"^#\s*>>>\s*depguard\b")
_END_RE = re.compile(r"^#\s*<<<\s*depguard\b")
# What a rendered requirement may contain: no quote, backslash, ``#`` or newline can reach a
# file even if an Exclusion was built without make_exclusion.
_SAFE_REQUIREMENT = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9._-]*(?:(?:!=|>=|>|<)[A-Za-z0-9.!]+)(?:,(?:!=|>=|>|<)[A-Za-z0-9.!]+)*$"
)


@dataclass(frozen=True)
class BlockEdit:
    """The outcome of a writer's ``apply``; the caller writes ``text`` atomically.

    ``previous`` lets the sync layer report what changed; ``hand_edited`` lets it warn that a
    person edited lines depguard is about to overwrite. ``created_key``/``created_table`` say
    that this call had to add scaffolding (a key, a table) around the block; ``remove`` takes
    that scaffolding away again.
    """

    text: str
    previous: tuple[str, ...]
    hand_edited: bool
    created_key: bool = False
    created_table: bool = False


@dataclass(frozen=True)
class MarkerPair:
    """Indexes (into the list given to :func:`pair_markers`) of the begin and the end marker."""

    begin: int
    end: int


def is_begin_marker(comment: str) -> bool:
    """Whether a comment (starting with ``#``) is a depguard begin marker, even a mangled one."""
    return bool(_BEGIN_RE.match(comment))


def is_end_marker(comment: str) -> bool:
    """Whether a comment (starting with ``#``) is a depguard end marker, even a mangled one."""
    return bool(_END_RE.match(comment))


def pair_markers(kinds: Sequence[tuple[bool, int]], where: str) -> MarkerPair | None:
    """Check that the markers form exactly one well-ordered block.

    ``kinds`` lists ``(is_begin, line_number)`` in file order. Anything but zero or one
    begin-then-end pair is refused: guessing which of two blocks is depguard's could delete a
    person's lines.
    """
    if not kinds:
        return None
    begins = [i for i, (is_begin, _) in enumerate(kinds) if is_begin]
    ends = [i for i, (is_begin, _) in enumerate(kinds) if not is_begin]
    lines = [line for _, line in kinds]
    if len(begins) > 1:
        found = ", ".join(str(lines[i]) for i in begins)
        raise UnsafeEditError(
            f"{where}: more than one depguard begin marker (lines {found}); keep one block and delete the other"
        )
    if len(ends) > 1:
        found = ", ".join(str(lines[i]) for i in ends)
        raise UnsafeEditError(
            f"{where}: more than one depguard end marker (lines {found}); keep one block and delete the other"
        )
    if not begins:
        raise UnsafeEditError(f"{where}: depguard end marker at line {lines[ends[0]]} has no begin marker")
    if not ends:
        raise UnsafeEditError(f"{where}: depguard begin marker at line {lines[begins[0]]} has no end marker")
    if ends[0] < begins[0]:
        raise UnsafeEditError(
            f"{where}: depguard end marker (line {lines[ends[0]]}) comes before the begin marker (line {lines[begins[0]]})"
        )
    return MarkerPair(begins[0], ends[0])


def entry_parts(exclusion: Exclusion) -> tuple[str, str]:
    """The requirement and comment text to render, re-checked to be inert ASCII."""
    requirement, comment = exclusion.requirement, exclusion.comment
    if not _SAFE_REQUIREMENT.fullmatch(requirement) or not requirement.isascii():
        raise UnsafeEditError(f"refusing to write requirement {requirement!r}: not a plain exclusion")
    if not _is_advisory_list(comment):
        raise UnsafeEditError(f"refusing to write comment {comment!r}: not a list of advisory ids")
    return requirement, comment


def looks_rendered(requirement: str | None, comment: str | None) -> bool:
    """Whether an entry read back from a block could have been rendered by depguard.

    Part of hand-edit detection: re-rendering what was read only catches layout changes, so the
    content must also have depguard's shape (an exclusion, a list of advisory ids).
    """
    if requirement is None or comment is None:
        return False
    return bool(_SAFE_REQUIREMENT.fullmatch(requirement)) and requirement.isascii() and _is_advisory_list(comment)


def _is_advisory_list(comment: str) -> bool:
    ids = comment.split(", ")
    return comment.isascii() and all(ADVISORY_ID.fullmatch(advisory) and len(advisory) <= 64 for advisory in ids)


def split_bom(text: str) -> tuple[str, str]:
    """``(bom, body)``: writers edit the body and put a byte-order mark back unchanged."""
    if text.startswith(BOM):
        return BOM, text[1:]
    return "", text


def refuse_oversized(text: str, where: str) -> None:
    """Refuse a file larger than :data:`depguard.config.MAX_PROJECT_FILE_BYTES` (UTF-8 bytes)."""
    if len(text) > MAX_PROJECT_FILE_BYTES // 4 and len(text.encode("utf-8", "surrogatepass")) > MAX_PROJECT_FILE_BYTES:
        raise UnsafeEditError(f"{where}: larger than the {MAX_PROJECT_FILE_BYTES} bytes depguard edits; not editing")


def refuse_lone_cr(text: str, where: str) -> None:
    """Refuse a carriage return that does not end a line.

    Tools disagree on whether a lone CR breaks a line (pip's ``splitlines`` says yes, TOML says
    it is an error), so depguard cannot tell which line it would splice next to.
    """
    index = text.find("\r")
    while index != -1:
        if not text.startswith("\r\n", index):
            raise UnsafeEditError(
                f"{where}: line {line_number(text, index)} contains a carriage return that does not end a line"
            )
        index = text.find("\r", index + 2)


def line_number(text: str, offset: int) -> int:
    """1-based line of ``offset``, for messages."""
    return text.count("\n", 0, offset) + 1


def newline_of_line(text: str, offset: int) -> str | None:
    """The line ending of the line containing ``offset``, or None when that line has none."""
    index = text.find("\n", offset)
    if index == -1:
        return None
    return "\r\n" if index > 0 and text[index - 1] == "\r" else "\n"


def newline_before(text: str, offset: int) -> str:
    """The line ending to use for lines spliced in at ``offset``.

    The ending of the line just before the splice point wins (mixed files stay locally
    consistent); failing that the nearest earlier one, then the first one in the file, then LF.
    """
    index = text.rfind("\n", 0, offset)
    if index != -1:
        return "\r\n" if index > 0 and text[index - 1] == "\r" else "\n"
    return newline_of_line(text, 0) or "\n"
