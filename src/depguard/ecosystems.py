"""What differs between package ecosystems: names, versions, ordering and purls.

Each ecosystem depguard covers gets a small :class:`Ecosystem` object, so the feed rules, the
compiler and the lockfile readers ask one place how PyPI or npm spell and compare things,
instead of sprinkling ``if ecosystem == "PyPI"`` through the code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import quote

__all__ = ["Ecosystem", "PYPI", "NPM", "ECOSYSTEMS", "get", "pep503", "semver_key"]

_PEP503 = re.compile(r"[-_.]+")
_PEP508_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)
_NPM_NAME = re.compile(r"^(?:@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]*$")


def pep503(name: str) -> str:
    """The PEP 503 normal form, the only spelling under which PyPI names compare equal."""
    return _PEP503.sub("-", name).lower()


def semver_key(version: str) -> tuple[Any, ...]:
    """A sort key that orders SemVer 2.0 strings by precedence (build metadata ignored)."""
    match = _SEMVER.fullmatch(version)
    if match is None:
        raise ValueError(f"not a semver version: {version!r}")
    major, minor, patch, pre = int(match[1]), int(match[2]), int(match[3]), match[4]
    if pre is None:
        return (major, minor, patch, 1, ())
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (major, minor, patch, 0, parts)


def _pep440_key(version: str) -> Any:
    from packaging.version import Version

    return Version(version)


def _is_pep440(version: str) -> bool:
    from packaging.version import InvalidVersion, Version

    try:
        Version(version)
    except InvalidVersion:
        return False
    return True


def _pep440_normal(version: str) -> str:
    from packaging.version import Version

    return str(Version(version))


@dataclass(frozen=True)
class Ecosystem:
    """The rules of one ecosystem, by its OSV name."""

    name: str
    purl_type: str
    normalize_name: Callable[[str], str]
    name_is_valid: Callable[[str], bool]
    version_is_valid: Callable[[str], bool]
    version_key: Callable[[str], Any]
    normalize_version: Callable[[str], str]

    def purl(self, package: str) -> str:
        """The package URL without a version, as OSV's ``package.purl`` carries it."""
        if self.purl_type == "npm" and package.startswith("@"):
            scope, _, rest = package.partition("/")
            return f"pkg:npm/{quote(scope, safe='')}/{quote(rest, safe='')}"
        return f"pkg:{self.purl_type}/{quote(self.normalize_name(package), safe='')}"

    def feed_dir_parts(self, package: str) -> tuple[str, ...]:
        """Folder names under ``feed/<ecosystem>/`` for a package (npm scopes become folders)."""
        return tuple(self.normalize_name(package).split("/"))


PYPI = Ecosystem(
    name="PyPI",
    purl_type="pypi",
    normalize_name=pep503,
    name_is_valid=lambda name: bool(_PEP508_NAME.fullmatch(name)),
    version_is_valid=_is_pep440,
    version_key=_pep440_key,
    normalize_version=_pep440_normal,
)

NPM = Ecosystem(
    name="npm",
    purl_type="npm",
    normalize_name=lambda name: name,
    name_is_valid=lambda name: len(name) <= 214 and bool(_NPM_NAME.fullmatch(name)),
    version_is_valid=lambda version: bool(_SEMVER.fullmatch(version)),
    version_key=semver_key,
    normalize_version=lambda version: version,
)

ECOSYSTEMS: dict[str, Ecosystem] = {e.name: e for e in (PYPI, NPM)}


def get(name: str) -> Ecosystem | None:
    """The ecosystem called ``name`` in OSV spelling, or None when depguard does not cover it."""
    return ECOSYSTEMS.get(name)
