"""``uv.lock``: uv's own lockfile, one ``[[package]]`` table per locked distribution.

The project itself and other local source trees (``virtual``, ``editable``, ``directory``
sources) are left out: they are the user's code, not releases from an index, and a project
that happens to share a name with a compromised package is not that package. Hashes come from
the ``sdist`` and every entry of ``wheels``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from depguard.lockfiles import Location, Package
from depguard.lockfiles._common import load_toml, package_tables, read_text, sha256_of

__all__ = ["LOCAL_SOURCES", "parse"]

#: uv source kinds that point at the user's own source tree.
LOCAL_SOURCES = frozenset({"virtual", "editable", "directory"})


def parse(path: Path, root: Path) -> list[Package]:
    """The locked distributions of ``path`` (``root`` is unused: uv.lock includes nothing)."""
    text = read_text(path)
    data = load_toml(path, text)
    packages = []
    for table, name, line in package_tables(path, text, data, "package"):
        if _is_local(table.get("source")):
            continue
        version = table.get("version")
        packages.append(
            Package("PyPI", name, version if isinstance(version, str) else None, _hashes(table), Location(path, line))
        )
    return packages


def _is_local(source: Any) -> bool:
    return isinstance(source, dict) and not LOCAL_SOURCES.isdisjoint(source)


def _hashes(table: dict[str, Any]) -> tuple[str, ...]:
    files: list[Any] = []
    sdist = table.get("sdist")
    if isinstance(sdist, dict):
        files.append(sdist)
    wheels = table.get("wheels")
    if isinstance(wheels, list):
        files += [w for w in wheels if isinstance(w, dict)]
    return sha256_of(f.get("hash") for f in files)
