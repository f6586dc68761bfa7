"""depguard: keep projects from resolving compromised package releases.

The library is importable without the CLI: ``depguard.feed`` reads and checks a feed,
``depguard.affected`` compiles advisories into exclusions, ``depguard.sync`` plans and writes
them into projects. Submodules are imported on demand so importing ``depguard`` costs nothing.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
