"""Writers: pure text-to-text edits of the files depguard manages a block in.

Each module edits one file format and never touches the file system, so the caller can write
atomically and tests can check every byte. :mod:`.pyproject` and :mod:`.constraints` share the
interface ``apply(text, exclusions) -> BlockEdit``, ``remove(text) -> str`` and
``read_block(text) -> tuple[str, ...] | None``; :mod:`.requirements_in` only makes a pip-tools input
file point at the constraints file.

The writer modules are imported by name (``from depguard.writers import pyproject``), not here:
a sync that writes only the uv target does not load the others, nor tomlkit for a pip target.
"""

from __future__ import annotations

from depguard.writers.block import BEGIN_MARKER, END_MARKER, BlockEdit

__all__ = ["BEGIN_MARKER", "END_MARKER", "BlockEdit", "constraints", "pyproject", "requirements_in"]
