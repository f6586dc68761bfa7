"""pnpm ``pnpm-lock.yaml``: lockfileVersion 5.x, 6.x and 9.x.

Every installed package has one entry under ``packages``, keyed by what pnpm resolved:

* 9.x: ``name@version`` (``'@types/ms@2.1.0'``, ``react-dom@18.2.0(react@18.2.0)``), with the
  peer-dependency suffix in parentheses;
* 6.x: the same with a leading slash (``/@types/ms@2.1.0``);
* 5.x: ``/name/version`` with an ``_peer`` suffix (``/react-dom/18.2.0_react@18.2.0``).

Aliases (``"my-ms": "npm:ms@2.1.3"``) are keyed by the real package already; a key spelled
``my-ms@npm:ms@2.1.3`` is followed to ``ms`` 2.1.3 all the same. Packages from a tarball, git
or a directory carry explicit ``name``/``version`` fields, which win over the key. The
importers (the user's own projects and their links) are not packages that were downloaded,
and are left out. A pnpm 9+ file may hold a second YAML document (the package manager pnpm
installs for itself); its packages run too, and are read the same way.
"""

from __future__ import annotations

from pathlib import Path

from depguard.errors import LockfileError
from depguard.lockfiles import Location, Package
from depguard.lockfiles._jslock import (
    YMap,
    installed_identity,
    load_yaml,
    read_bounded,
    split_spec,
    sri_sha256,
    version_from_ref,
)

__all__ = ["parse"]


def parse(path: Path, root: Path) -> list[Package]:
    """The installed packages ``path`` lists (``root`` is unused: no includes)."""
    text = read_bounded(path)
    documents = [doc for doc in load_yaml(path, text) if doc is not None and doc != ""]
    if not documents or not any(isinstance(doc, YMap) and "lockfileVersion" in doc for doc in documents):
        raise LockfileError(f"{path}:1: not a pnpm lockfile: no lockfileVersion")
    found: list[Package] = []
    for doc in documents:
        if not isinstance(doc, YMap):
            raise LockfileError(f"{path}:1: not a pnpm lockfile: a document is not a mapping")
        found += _packages(path, doc)
    return found


def _packages(path: Path, doc: YMap) -> list[Package]:
    major = _major(path, doc)
    entries = doc.get("packages")
    if entries is None or entries == "":
        return []  # a project without dependencies
    if not isinstance(entries, YMap):
        raise LockfileError(f"{path}:{doc.lines['packages']}: packages must be a mapping")
    found = []
    for key, entry in entries.items():
        line = entries.lines[key]
        if not isinstance(entry, YMap):
            raise LockfileError(f"{path}:{line}: packages[{key!r}] must be a mapping")
        name, version = _identity(key, entry, major)
        if not name:
            raise LockfileError(
                f"{path}:{line}: cannot tell which package {key!r} is (no name in the key or the entry)"
            )
        if isinstance(entry.get("version"), str):
            line = entry.lines["version"]
        resolution = entry.get("resolution")
        integrity = resolution.get("integrity") if isinstance(resolution, YMap) else None
        found.append(Package("npm", name, version, sri_sha256(integrity), Location(path, line)))
    return found


def _major(path: Path, doc: YMap) -> int:
    """The lockfile's major version; a missing one (a pnpm 9 env document) reads as current."""
    value = doc.get("lockfileVersion", "9.0")
    try:
        return int(str(value).split(".", 1)[0])
    except ValueError:
        raise LockfileError(
            f"{path}:{doc.lines.get('lockfileVersion', 1)}: lockfileVersion {value!r} is not a number"
        ) from None


def _identity(key: str, entry: YMap, major: int) -> tuple[str | None, str | None]:
    """(name, version) of a ``packages`` entry: explicit fields first, else the key."""
    name, version = _from_key(key, major)
    explicit_name, explicit_version = entry.get("name"), entry.get("version")
    if isinstance(explicit_name, str) and explicit_name:
        name = explicit_name
    if isinstance(explicit_version, str) and explicit_version:
        version = explicit_version
    return name, version


def _from_key(key: str, major: int) -> tuple[str | None, str | None]:
    spec = key.removeprefix("/")
    if major < 6:
        return _from_v5_key(spec) if key.startswith("/") else (None, None)
    split = split_spec(spec.split("(", 1)[0])
    if split is None:
        return None, None
    name, rest = installed_identity(*split)
    return name, version_from_ref(rest)


def _from_v5_key(spec: str) -> tuple[str | None, str | None]:
    """``@types/ms/2.1.0`` or ``react-dom/18.2.0_react@18.2.0`` -> (name, version)."""
    name, slash, version = spec.rpartition("/")
    if not slash or not name:
        return None, None
    return name, version_from_ref(version.split("_", 1)[0])
