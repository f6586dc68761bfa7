"""What differs between package ecosystems: names, versions, ordering and purls.

Each ecosystem depguard covers gets a small :class:`Ecosystem` object, so the feed rules, the
compiler and the lockfile readers ask one place how PyPI or npm spell and compare things,
instead of sprinkling ``if ecosystem == "PyPI"`` through the code.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import quote

__all__ = [
    "ECOSYSTEMS",
    "GITHUB_ACTIONS",
    "NPM",
    "PYPI",
    "Ecosystem",
    "get",
    "is_full_sha",
    "parse_pep440",
    "pep503",
    "semver_key",
    "tag_key",
]

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
#: A GitHub Actions package: ``owner/repo`` or ``owner/repo/path`` (an action in a sub-folder).
#: Owners are letters, digits and single hyphens; repositories and folders add ``.`` and ``_``.
_ACTION_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}(?:/[A-Za-z0-9._-]{1,100}){0,8}$")
#: A tag as a workflow writes it after ``@``: a git ref name without spaces, ``~^:?*[\\``
#: or ``..`` (git check-ref-format), at most 128 characters.
_ACTION_TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+/-]{0,127}$")
_FULL_SHA = re.compile(r"^[0-9A-Fa-f]{40}$")
_TAG_PARTS = re.compile(r"(\d+)|(\D+)")
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


def is_full_sha(ref: str) -> bool:
    """Whether a ``uses:`` ref is a full 40-hex commit id (the one ref GitHub cannot move)."""
    return _FULL_SHA.fullmatch(ref) is not None


def _action_name_valid(name: str) -> bool:
    return _ACTION_NAME.fullmatch(name) is not None and ".." not in name and not name.endswith(".")


def _action_tag_valid(tag: str) -> bool:
    return _ACTION_TAG.fullmatch(tag) is not None and ".." not in tag and not tag.endswith((".", "/", ".lock"))


def tag_key(tag: str) -> tuple[Any, ...]:
    """A natural sort key for tags (``v2`` < ``v10`` < ``v10.1``; a leading ``v`` ignored).

    Tags have no precedence GitHub defines: the key only orders a record's list for people
    (``feed validate`` wants them sorted); matching is on the exact tag string.
    """
    text = tag[1:] if tag[:1] in "vV" and tag[1:2].isdigit() else tag
    parts = tuple((0, int(d), "") if d else (1, 0, s) for d, s in _TAG_PARTS.findall(text))
    return (parts, tag)


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
        if self.purl_type == "github":  # pkg:github/owner/repo, a sub-folder as the purl subpath
            owner, repo, *path = self.normalize_name(package).split("/")
            subpath = f"#{'/'.join(_quote(p) for p in path)}" if path else ""
            return f"pkg:github/{_quote(owner)}/{_quote(repo)}{subpath}"
        if self.purl_type == "npm" and package.startswith("@"):
            scope, _, rest = package.partition("/")
            return f"pkg:npm/{_quote(scope)}/{_quote(rest)}"
        return f"pkg:{self.purl_type}/{_quote(self.normalize_name(package))}"

    def feed_dir_parts(self, package: str) -> tuple[str, ...]:
        """Folder names under ``feed/<ecosystem>/`` for a package (npm scopes and GitHub
        owners become folders)."""
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

#: GitHub Actions (OSV's name): the package is the repository (lowercase, as GitHub treats
#: owner and repository names without case), the "version" the tag a workflow names after
#: ``@``, compared as the exact string (refs are case-sensitive). Known-bad commits are listed
#: per entry under ``database_specific.depguard.bad_commits`` (see :mod:`depguard.affected`).
GITHUB_ACTIONS = Ecosystem(
    name="GitHub Actions",
    purl_type="github",
    normalize_name=lambda name: name.lower(),
    name_is_valid=_action_name_valid,
    version_is_valid=_action_tag_valid,
    version_key=tag_key,
    normalize_version=lambda version: version,
)

ECOSYSTEMS: dict[str, Ecosystem] = {e.name: e for e in (PYPI, NPM, GITHUB_ACTIONS)}


def repository_of(name: str) -> str:
    """``owner/repo`` of a GitHub Actions package (``github/codeql-action/init`` -> ``github/codeql-action``):
    a moved tag moves every action in the repository."""
    return "/".join(name.split("/", 2)[:2])


def get(name: str) -> Ecosystem | None:
    """The ecosystem called ``name`` in OSV spelling, or None when depguard does not cover it."""
    return ECOSYSTEMS.get(name)
