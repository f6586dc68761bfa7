"""``pylock.toml`` / ``pylock.NAME.toml``: the standard lockfile of PEP 751.

Every ``[[packages]]`` table names a distribution; ``version`` is optional in the standard
(a VCS or directory entry may have none). Hashes are tables keyed by algorithm on the
``sdist``, each ``wheels`` entry and an ``archive``. Local ``directory`` entries are the
user's own code and are left out, as in uv.lock.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from depguard.errors import LockfileError
from depguard.lockfiles import Location, Package
from depguard.lockfiles._common import load_toml, package_tables, read_text, sha256_of

__all__ = ["parse"]


def parse(path: Path, root: Path) -> list[Package]:
    """The packages of a PEP 751 lockfile (``root`` is unused: pylock includes nothing)."""
    text = read_text(path)
    data = load_toml(path, text)
    if "lock-version" not in data:
        raise LockfileError(f"{path}:1: no lock-version: not a PEP 751 lockfile")
    packages = []
    for table, name, line in package_tables(path, text, data, "packages"):
        if "directory" in table:
            continue
        version = table.get("version")
        packages.append(
            Package("PyPI", name, version if isinstance(version, str) else None, _hashes(table), Location(path, line))
        )
    return packages


def _hashes(table: dict[str, Any]) -> tuple[str, ...]:
    files: list[Any] = [table.get("sdist"), table.get("archive")]
    wheels = table.get("wheels")
    if isinstance(wheels, list):
        files += wheels
    return sha256_of(f.get("hashes") for f in files if isinstance(f, dict) and isinstance(f.get("hashes"), dict))
