"""``poetry.lock``: one ``[[package]]`` table per locked distribution.

Hashes sit in the table's ``files`` array (lock-version 2) or, in older lockfiles
(lock-version 1.x), under ``[metadata.files]`` keyed by package name; both are read.
Path dependencies on a local ``directory`` are the user's code and are left out.
"""

from __future__ import annotations

from pathlib import Path

from depguard.lockfiles import Location, Package
from depguard.lockfiles._common import legacy_files, load_toml, package_tables, read_text, sha256_of

__all__ = ["parse"]


def parse(path: Path, root: Path) -> list[Package]:
    """The locked packages of ``path`` (``root`` is unused: poetry.lock includes nothing)."""
    text = read_text(path)
    data = load_toml(path, text)
    legacy = legacy_files(data)
    packages = []
    for table, name, line in package_tables(path, text, data, "package"):
        version = table.get("version")
        source = table.get("source")
        if isinstance(source, dict) and source.get("type") == "directory":
            continue
        own = table.get("files")
        files = own if isinstance(own, list) else legacy.get(name) or []
        hashes = sha256_of(f.get("hash") for f in files if isinstance(f, dict))
        packages.append(
            Package("PyPI", name, version if isinstance(version, str) else None, hashes, Location(path, line))
        )
    return packages
