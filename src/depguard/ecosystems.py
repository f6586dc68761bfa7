"""What differs between package ecosystems: names, versions, ordering and purls.

Each ecosystem depguard covers gets a small :class:`Ecosystem` object, so the feed rules, the
compiler and the lockfile readers ask one place how PyPI or npm spell and compare things,
instead of sprinkling ``if ecosystem == "PyPI"`` through the code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable
from urllib.parse import quote

__all__ = ["Ecosystem", "PYPI", "NPM", "ECOSYSTEMS", "get", "pep503", "semver_key", "parse_pep440"]

_PEP503 = re.compile(r"[-_.]+")
_PEP508_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)
#: Distinct version strings remembered per function: a 40,000-record feed has ~100,000.
_CACHE_SIZE = 1 << 17
_NPM_NAME = re.compile(r"^(?:@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]*$")
#: What ``urllib.parse.quote`` never escapes (RFC 3986 unreserved characters).
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


def pep503(name: str) -> str:
    """The PEP 503 normal form, the only spelling under which PyPI names compare equal."""
    return _PEP503.sub("-", name).lower()


@lru_cache(maxsize=_CACHE_SIZE)
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


@lru_cache(maxsize=_CACHE_SIZE)
def _semver_valid(version: str) -> bool:
    return _SEMVER.fullmatch(version) is not None


def parse_pep440(version: str) -> Any:
    """``packaging.version.Version(version)``, remembered; None when it is not PEP 440."""
    return _pep440(version)


@lru_cache(maxsize=_CACHE_SIZE)
def _pep440(version: str) -> Any:
    """The parsed version, or None when it is not PEP 440.

    Cached because the feed rules, the compiler, ``check`` and ``serve`` ask about the same
    strings again and again (valid? normal form? sort key?): one parse each instead of five.
    ``Version`` objects are immutable, so sharing them is safe.
    """
    from packaging.version import InvalidVersion, Version

    try:
        return Version(version)
    except InvalidVersion:
        return None


def _pep440_key(version: str) -> Any:
    parsed = _pep440(version)
    if parsed is None:
        from packaging.version import Version

        return Version(version)  # raises InvalidVersion, as before
    return parsed


def _is_pep440(version: str) -> bool:
    return _pep440(version) is not None


@lru_cache(maxsize=_CACHE_SIZE)
def _pep440_normal(version: str) -> str:
    return str(_pep440_key(version))


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
            return f"pkg:npm/{_quote(scope)}/{_quote(rest)}"
        return f"pkg:{self.purl_type}/{_quote(self.normalize_name(package))}"

    def feed_dir_parts(self, package: str) -> tuple[str, ...]:
        """Folder names under ``feed/<ecosystem>/`` for a package (npm scopes become folders)."""
        return tuple(self.normalize_name(package).split("/"))


def _quote(text: str) -> str:
    """``quote(text, safe="")``: text of unreserved characters only (most names) is returned as it is."""
    return text if _UNRESERVED.fullmatch(text) else quote(text, safe="")


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
    version_is_valid=_semver_valid,
    version_key=semver_key,
    normalize_version=lambda version: version,
)

ECOSYSTEMS: dict[str, Ecosystem] = {e.name: e for e in (PYPI, NPM)}


def get(name: str) -> Ecosystem | None:
    """The ecosystem called ``name`` in OSV spelling, or None when depguard does not cover it."""
    return ECOSYSTEMS.get(name)
