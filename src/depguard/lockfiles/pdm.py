"""``pdm.lock``: one ``[[package]]`` table per locked distribution.

Hashes are in each table's ``files`` array (lock_version 4.4+) or, in older lockfiles, under
``[metadata.files]`` keyed ``"name version"``; both are read. Editable entries are the
user's own source tree and are left out.
"""

from __future__ import annotations

from pathlib import Path

from depguard.lockfiles import Location, Package
from depguard.lockfiles._common import legacy_files, load_toml, package_tables, read_text, sha256_of

__all__ = ["parse"]


def parse(path: Path, root: Path) -> list[Package]:
    """The locked packages of ``path`` (``root`` is unused: pdm.lock includes nothing)."""
    text = read_text(path)
    data = load_toml(path, text)
    legacy = legacy_files(data)
    packages = []
    for table, name, line in package_tables(path, text, data, "package"):
        version = table.get("version")
        if table.get("editable") is True:
            continue
        files = table.get("files")
        if not isinstance(files, list):
            files = legacy.get(f"{name} {version}", [])
        hashes = sha256_of(f.get("hash") for f in files if isinstance(f, dict))
        packages.append(
            Package("PyPI", name, version if isinstance(version, str) else None, hashes, Location(path, line))
        )
    return packages
