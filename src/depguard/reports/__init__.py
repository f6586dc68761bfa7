"""Renderers of a :class:`~depguard.check.CheckReport`: one module per output format.

Each module has ``render(report) -> str`` and nothing else public, so adding a format is a
new module and a line in :data:`FORMATS`. Renderers are pure: the same report gives the same
bytes (the golden-file tests depend on it), and paths are repo-relative so output does not
depend on where the repo was checked out.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from depguard.records import Record

if TYPE_CHECKING:
    from depguard.check import CheckReport

__all__ = ["FORMATS", "advisory_label", "help_uri", "render"]

#: Format name -> module under ``depguard.reports``.
FORMATS = {"text": "text", "json": "json", "sarif": "sarif"}


def render(report: CheckReport, fmt: str) -> str:
    """``report`` in format ``fmt`` (``text``, ``json`` or ``sarif``), ending with a newline."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}; choose from {', '.join(FORMATS)}")
    module = importlib.import_module(f"depguard.reports.{FORMATS[fmt]}")
    text: str = module.render(report)
    return text


def help_uri(record: Record) -> str | None:
    """Where a person reads more: the first ADVISORY reference, else the first reference."""
    for reference in record.references:
        if reference.type == "ADVISORY":
            return reference.url
    return record.references[0].url if record.references else None


def advisory_label(record: Record) -> str:
    """``x_DEPGUARD-2026-0001 (MAL-2026-2144)``: depguard's id plus the first public alias."""
    return f"{record.id} ({record.aliases[0]})" if record.aliases else record.id
