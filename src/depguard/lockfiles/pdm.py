"""``pdm.lock``: one ``[[package]]`` table per locked distribution.

Hashes are in each table's ``files`` array (lock_version 4.4+) or, in older lockfiles, under
``[metadata.files]`` keyed ``"name version"``; both are read. Editable entries are the
user's own source tree and are left out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from depguard.errors import LockfileError
from depguard.lockfiles import Location, Package
from depguard.lockfiles._common import array_table_name_lines, load_toml, read_text, sha256_of

__all__ = ["parse"]


def parse(path: Path, root: Path) -> list[Package]:
    """The locked packages of ``path`` (``root`` is unused: pdm.lock includes nothing)."""
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
        if table.get("editable") is True:
            continue
        files = table.get("files")
        if not isinstance(files, list):
            files = legacy.get(f"{name} {version}", [])
        hashes = sha256_of(f.get("hash") for f in files if isinstance(f, dict))
        packages.append(Package("PyPI", name, version if isinstance(version, str) else None, hashes, Location(path, line)))
    return packages


def _legacy_files(data: dict[str, Any]) -> dict[str, list[Any]]:
    metadata = data.get("metadata")
    files = metadata.get("files") if isinstance(metadata, dict) else None
    if not isinstance(files, dict):
        return {}
    return {key: value for key, value in files.items() if isinstance(value, list)}
