"""The pip-tools target: make a ``requirements*.in`` file read depguard's constraints file.

pip-compile honours ``-c <file>`` lines in its inputs, so depguard does not write exclusions into
``.in`` files at all; it only makes sure one line points at the constraints file it manages. The
line it adds carries the comment ``# depguard`` so :func:`remove_constraint_line` takes away
exactly what :func:`ensure_constraint_line` added, and never a line the user wrote.

Recognized existing references (pip's option syntax): ``-c PATH``, ``-cPATH``,
``--constraint PATH`` and ``--constraint=PATH``, compared after normalizing ``./`` and ``a/../``.
``-c=PATH`` is not one: pip's option parser reads its value as ``=PATH``.
"""

from __future__ import annotations

import posixpath
import re
import shlex

from depguard.errors import UnsafeEditError
from depguard.writers.block import newline_before, refuse_lone_cr, refuse_oversized, split_bom

__all__ = ["MARK", "constraint_line", "ensure_constraint_line", "references", "remove_constraint_line"]

#: The trailing comment on the ``-c`` line depguard adds.
MARK = "# depguard"
_WHERE = "requirements input file"
_PIP_COMMENT = re.compile(r"(^|\s+)#.*$")
# Conservative on purpose: the path is written unquoted into a file pip parses with shlex.
_SAFE_PATH = re.compile(r"^(?!-)[A-Za-z0-9._/@+-]+$")
_ADDED_LINE = re.compile(r"^-c \S+  # depguard$")


def constraint_line(constraints_relpath: str) -> str:
    """The line depguard adds (without a line ending)."""
    return f"-c {_checked(constraints_relpath)}  {MARK}"


def references(text: str, constraints_relpath: str) -> bool:
    """Whether some line already passes ``constraints_relpath`` as a constraints file."""
    wanted = _normalized(constraints_relpath)
    _, body = split_bom(text)
    for start, end, _ in _lines(body):
        path = _constraint_target(body[start:end])
        if path is not None and _normalized(path) == wanted:
            return True
    return False


def ensure_constraint_line(text: str, constraints_relpath: str) -> str:
    """``text`` with a ``-c`` line for ``constraints_relpath``: after the leading comment block
    (at the top when there is none; at the end when the file is only comments)."""
    line = constraint_line(constraints_relpath)
    refuse_oversized(text, _WHERE)
    bom, body = split_bom(text)
    refuse_lone_cr(body, _WHERE)
    if references(body, constraints_relpath):
        return text
    lines = _lines(body)
    index = 0
    while index < len(lines) and body[lines[index][0] : lines[index][1]].lstrip(" \t").startswith("#"):
        index += 1
    pos = lines[index][0] if index < len(lines) else len(body)
    newline = newline_before(body, pos)
    if pos == len(body) and body and not body.endswith("\n"):
        return bom + body + newline + line
    return bom + body[:pos] + line + newline + body[pos:]


def remove_constraint_line(text: str, constraints_relpath: str | None = None) -> str:
    """``text`` without the ``-c`` lines depguard added (for ``constraints_relpath``, or any path)."""
    bom, body = split_bom(text)
    if MARK not in body:
        return text
    wanted = constraint_line(constraints_relpath) if constraints_relpath is not None else None
    for start, end, stop in reversed(_lines(body)):
        content = body[start:end]
        ours = content == wanted if wanted is not None else bool(_ADDED_LINE.fullmatch(content))
        if not ours:
            continue
        if stop == end and start > 0:  # last line without an ending: apply added the one before
            start -= 2 if body[:start].endswith("\r\n") else 1
        body = body[:start] + body[stop:]
    return bom + body


def _checked(path: str) -> str:
    if not isinstance(path, str) or not _SAFE_PATH.fullmatch(path):
        raise UnsafeEditError(
            f"{_WHERE}: refusing to write constraints path {path!r} (use a plain relative POSIX path)"
        )
    return path


def _normalized(path: str) -> str:
    return posixpath.normpath(path.replace("\\", "/"))


def _constraint_target(line: str) -> str | None:
    """The path of a ``-c``/``--constraint`` option on this line, if it is one."""
    content = _PIP_COMMENT.sub("", line).strip()
    if not content.startswith("-"):
        return None
    try:
        words = shlex.split(content)
    except ValueError:
        words = content.split()
    if not words:
        return None
    first, rest = words[0], words[1:]
    if first in ("-c", "--constraint"):
        return rest[0] if rest else None
    if first.startswith("--constraint="):
        return first[len("--constraint=") :] or None
    if first.startswith("-c") and not first.startswith("--") and not first.startswith("-c="):
        return first[2:]
    return None


def _lines(text: str) -> list[tuple[int, int, int]]:
    """``(start, content_end, stop)`` per line; ``stop`` is past the line ending."""
    lines, start = [], 0
    while start < len(text):
        index = text.find("\n", start)
        if index == -1:
            lines.append((start, len(text), len(text)))
            break
        end = index - 1 if index > start and text[index - 1] == "\r" else index
        lines.append((start, end, index + 1))
        start = index + 1
    return lines
