"""Text that reaches a terminal: escaped, because feed text and file names are not trusted.

Git allows file names with terminal escape sequences, and a hostile feed can put control or
bidi characters in a summary; printing either raw could rewrite what the user sees. Kept in a
module of its own, importing nothing of depguard, so the CLI can use it without loading the heavy modules.
"""

from __future__ import annotations

import datetime as _dt

__all__ = ["describe_age", "is_plain", "printable", "printable_text"]


def printable(text: str) -> str:
    """``text`` with every unprintable character escaped (``\\x1b``, ``\\u202e``)."""
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


#: Layout characters a block of text (a diff, a report) keeps: they move the cursor only forward.
_LAYOUT = frozenset("\n\t")


def printable_text(text: str) -> str:
    """``text`` escaped as :func:`printable` does, except that line breaks and tabs stay.

    For multi-line output (a unified diff of a user's file, a rendered report): its lines must
    stay lines, but an ESC, a lone CR (which moves back over what was printed) or a bidi
    override must not reach the terminal. A CR before a newline stays too, so a diff of a
    CRLF file reads as it did.
    """
    if text.isprintable():
        return text
    out = []
    for i, c in enumerate(text):
        keep = c.isprintable() or c in _LAYOUT or (c == "\r" and text[i + 1 : i + 2] == "\n")
        out.append(c if keep else repr(c)[1:-1])
    return "".join(out)


def is_plain(text: str) -> bool:
    """Whether ``text`` is safe as a configured name (a file, a branch, a glob): no control,
    format (bidi overrides, zero-width) or line/paragraph separator characters at all.

    ``str.isprintable`` is False for exactly those categories (Cc, Cf, Zl, Zp, and the
    unassigned ones), plus every space but U+0020, which no name needs either.
    """
    return text.isprintable()


def describe_age(delta: _dt.timedelta) -> str:
    """A rough, human age: ``40 s``, ``12 min``, ``5 h``, ``3 days``."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 90 * 60:
        return f"{seconds // 60} min"
    if seconds < 36 * 3600:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"
