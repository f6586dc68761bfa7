"""Text that reaches a terminal: escaped, because feed text and file names are not trusted.

Git allows file names with terminal escape sequences, and a hostile feed can put control or
bidi characters in a summary; printing either raw could rewrite what the user sees. Kept in a
module of its own, importing nothing of depguard, so the CLI can use it without loading the heavy modules.
"""

from __future__ import annotations

import datetime as _dt

__all__ = ["describe_age", "is_plain", "printable"]


def printable(text: str) -> str:
    """``text`` with every unprintable character escaped (``\\x1b``, ``\\u202e``)."""
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


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
