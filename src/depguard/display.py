"""Text that reaches a terminal: escaped, because feed text and file names are not trusted.

Git allows file names with terminal escape sequences, and a hostile feed can put control or
bidi characters in a summary; printing either raw could rewrite what the user sees. Kept in a
module of its own, with no imports, so the CLI can use it without loading the heavy modules.
"""

from __future__ import annotations

__all__ = ["printable"]


def printable(text: str) -> str:
    """``text`` with every unprintable character escaped (``\\x1b``, ``\\u202e``)."""
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
