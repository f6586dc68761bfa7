"""npm ``package-lock.json`` / ``npm-shrinkwrap.json``, lockfile versions 1, 2 and 3.

Versions 2 and 3 list every installed folder under ``packages``, keyed by its path
(``node_modules/a/node_modules/b``); the package name is the ``name`` field when the folder
is an alias, else the path after the last ``node_modules/``. The root entry (``""``),
workspace folders and links are the user's own code and are left out. Version 1 files only
have the nested ``dependencies`` tree, which is walked instead.

npm records ``integrity`` as Subresource Integrity strings, almost always sha512; only sha256
ones can equal a feed artifact, so only those become hashes.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from depguard.errors import LockfileError
from depguard.lockfiles import Location, Package
from depguard.lockfiles._common import json_key_lines, load_json, read_text

__all__ = ["parse"]

_MARKER = "node_modules/"


def parse(path: Path, root: Path) -> list[Package]:
    """The installed packages ``path`` describes (``root`` is unused: no includes)."""
    text = read_text(path)
    data = load_json(path, text)
    if not isinstance(data, dict):
        raise LockfileError(f"{path}:1: not an npm lockfile: the top level must be an object")
    lines = json_key_lines(text)
    if isinstance(data.get("packages"), dict):
        return list(_from_packages(path, data["packages"], lines))
    if isinstance(data.get("dependencies"), dict):
        return list(_from_dependencies(path, data["dependencies"], ("dependencies",), lines))
    version = data.get("lockfileVersion")
    raise LockfileError(
        f"{path}:{lines.get(('lockfileVersion',), 1)}: lockfileVersion {version!r} has neither packages nor dependencies"
    )


def _from_packages(path: Path, entries: dict[str, Any], lines: dict[tuple[str | int, ...], int]) -> Iterator[Package]:
    for key, entry in entries.items():
        line = lines.get(("packages", key))
        if not isinstance(entry, dict):
            raise LockfileError(f"{path}:{line}: packages[{key!r}] must be an object")
        if _MARKER not in key or entry.get("link") is True:
            continue
        name = entry.get("name") or key.rsplit(_MARKER, 1)[1]
        yield _package(path, name, entry, line)


def _from_dependencies(
    path: Path, entries: dict[str, Any], prefix: tuple[str, ...], lines: dict[tuple[str | int, ...], int]
) -> Iterator[Package]:
    for name, entry in entries.items():
        line = lines.get((*prefix, name))
        if not isinstance(entry, dict):
            raise LockfileError(f"{path}:{line}: dependencies[{name!r}] must be an object")
        yield _package(path, name, entry, line)
        nested = entry.get("dependencies")
        if isinstance(nested, dict):
            yield from _from_dependencies(path, nested, (*prefix, name, "dependencies"), lines)


def _package(path: Path, name: Any, entry: dict[str, Any], line: int | None) -> Package:
    if not isinstance(name, str) or not name:
        raise LockfileError(f"{path}:{line}: a package entry has no usable name")
    version = entry.get("version")
    return Package(
        "npm",
        name,
        version if isinstance(version, str) else None,
        _sha256(entry.get("integrity")),
        Location(path, line),
    )


def _sha256(integrity: Any) -> tuple[str, ...]:
    """Hex sha256 digests out of an SRI string like ``"sha256-<base64> sha512-<base64>"``."""
    if not isinstance(integrity, str):
        return ()
    digests = []
    for item in integrity.split():
        algorithm, _, value = item.partition("-")
        if algorithm.lower() != "sha256":
            continue
        try:
            raw = base64.b64decode(value.split("?", 1)[0], validate=True)
        except (binascii.Error, ValueError):
            continue
        if len(raw) == 32:
            digests.append(raw.hex())
    return tuple(digests)
