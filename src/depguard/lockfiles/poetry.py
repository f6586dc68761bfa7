"""``poetry.lock``: one ``[[package]]`` table per locked distribution.

Hashes sit in the table's ``files`` array (lock-version 2) or, in older lockfiles
(lock-version 1.x), under ``[metadata.files]`` keyed by package name; both are read.
Path dependencies on a local ``directory`` are the user's code and are left out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from depguard.errors import LockfileError
from depguard.lockfiles import Location, Package
from depguard.lockfiles._common import array_table_name_lines, load_toml, read_text, sha256_of

__all__ = ["parse"]


def parse(path: Path, root: Path) -> list[Package]:
    """The locked packages of ``path`` (``root`` is unused: poetry.lock includes nothing)."""
    text = read_text(path)
    data = load_toml(path, text)
    tables = data.get("package", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise LockfileError(f"{path}:1: [[package]] must be an array of tables")
    legacy = _legacy_files(data)
    lines = array_table_name_lines(text, "package", [t.get("name") for t in tables])
    packages = []
    for table, line in zip(tables, lines, strict=True):
        name, version = table.get("name"), table.get("version")
        if not isinstance(name, str) or not name:
            raise LockfileError(f"{path}:{line or '?'}: a [[package]] table has no name")
        source = table.get("source")
        if isinstance(source, dict) and source.get("type") == "directory":
            continue
        files = table.get("files") if isinstance(table.get("files"), list) else legacy.get(name, [])
        hashes = sha256_of(f.get("hash") for f in files if isinstance(f, dict))
        packages.append(Package("PyPI", name, version if isinstance(version, str) else None, hashes, Location(path, line)))
    return packages


def _legacy_files(data: dict[str, Any]) -> dict[str, list[Any]]:
    metadata = data.get("metadata")
    files = metadata.get("files") if isinstance(metadata, dict) else None
    if not isinstance(files, dict):
        return {}
    return {name: value for name, value in files.items() if isinstance(value, list)}
