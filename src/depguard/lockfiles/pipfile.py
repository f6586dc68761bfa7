"""``Pipfile.lock``: pipenv's JSON lockfile, packages under ``default`` and ``develop``.

Versions are written as ``"==1.82.7"``; hashes as ``"sha256:..."`` strings. Editable and
local-path entries are the user's own source and are left out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from depguard.errors import LockfileError
from depguard.lockfiles import Location, Package
from depguard.lockfiles._common import json_key_lines, load_json, read_text, sha256_of

__all__ = ["SECTIONS", "parse"]

SECTIONS = ("default", "develop")


def parse(path: Path, root: Path) -> list[Package]:
    """The locked packages of ``path`` (``root`` is unused: Pipfile.lock includes nothing)."""
    text = read_text(path)
    data = load_json(path, text)
    if not isinstance(data, dict):
        raise LockfileError(f"{path}:1: not a Pipfile.lock: the top level must be an object")
    lines = json_key_lines(text)
    packages = []
    for section in SECTIONS:
        entries = data.get(section, {})
        if not isinstance(entries, dict):
            raise LockfileError(f"{path}:{lines.get((section,), '?')}: {section!r} must be an object")
        for name, entry in entries.items():
            line = lines.get((section, name))
            if not isinstance(entry, dict):
                raise LockfileError(f"{path}:{line}: {section}.{name} must be an object")
            if entry.get("editable") is True or "path" in entry:
                continue
            hashes = entry.get("hashes", [])
            packages.append(
                Package(
                    "PyPI",
                    name,
                    _version(entry.get("version")),
                    sha256_of(hashes if isinstance(hashes, list) else []),
                    Location(path, line),
                )
            )
    return packages


def _version(value: Any) -> str | None:
    """``"==1.2"`` -> ``"1.2"``; anything that is not an exact pin gives None."""
    if isinstance(value, str):
        for operator in ("===", "=="):
            if value.startswith(operator) and "*" not in value:
                return value[len(operator) :].strip() or None
    return None
