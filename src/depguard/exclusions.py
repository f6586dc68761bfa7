"""The one thing depguard writes into other people's files: a version exclusion.

An :class:`Exclusion` is built only through :func:`make_exclusion`, which accepts nothing but a
PEP 503 name and the specifier forms that can only *remove* versions (``!=V``, ``>=V``, ``>V``
and the whole-package block ``<0``). Every writer renders exclusions and nothing else, so this
module is the gate between the untrusted feed and a user's pyproject.toml or constraints file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from depguard.ecosystems import parse_pep440
from depguard.errors import UnsafeValueError

__all__ = ["ADVISORY_ID", "Exclusion", "make_exclusion", "safe_name", "safe_version"]

#: A PEP 508 project name (ASCII letters, digits, ``.``, ``_``, ``-``; alphanumeric at both ends).
_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,198}[A-Za-z0-9])?$")
#: Advisory ids that may appear in a generated comment.
ADVISORY_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(-[A-Za-z0-9_.:]+)+$")
_SEPARATORS = re.compile(r"[-_.]+")
_BLOCK = "<0"
_OPERATORS = ("!=", ">=", ">")


@dataclass(frozen=True)
class Exclusion:
    """A requirement that only removes versions of one package, with the advisories behind it."""

    name: str
    specifiers: tuple[str, ...]
    advisories: tuple[str, ...]

    @property
    def requirement(self) -> str:
        """The PEP 508 string, e.g. ``litellm!=1.82.7,!=1.82.8``."""
        return self.name + ",".join(self.specifiers)

    @property
    def blocks_everything(self) -> bool:
        return _BLOCK in self.specifiers

    @property
    def comment(self) -> str:
        """The trailing comment a writer puts after the entry: the advisory ids."""
        return ", ".join(self.advisories)


def safe_name(name: str) -> str:
    """The PEP 503 form of ``name``; refuses anything that is not a plain PEP 508 name."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise UnsafeValueError(f"not a valid package name: {name!r}")
    return _SEPARATORS.sub("-", name).lower()


def safe_version(version: str) -> str:
    """The normalized PEP 440 form of ``version``; refuses anything else (local labels too).

    The normalized string is what gets written, so odd spellings in the feed (``v1.0``,
    ``1.0-1``) never reach a user's file verbatim.
    """
    if not isinstance(version, str):
        raise UnsafeValueError(f"not a valid PEP 440 version: {version!r}")
    return _safe_version(version)


@lru_cache(maxsize=1 << 17)
def _safe_version(version: str) -> str:
    """:func:`safe_version` of a string, remembered: a large feed's compile and the gate in
    :func:`make_exclusion` ask about the same strings again (a refusal is not remembered)."""
    if not version or version != version.strip() or len(version) > 128:
        raise UnsafeValueError(f"not a valid PEP 440 version: {version!r}")
    parsed = parse_pep440(version)  # one parse per distinct string, shared with the feed rules
    if parsed is None:
        raise UnsafeValueError(f"not a valid PEP 440 version: {version!r}")
    if parsed.local is not None:
        raise UnsafeValueError(f"a local version label cannot be excluded on its own: {version!r}")
    return str(parsed)


def make_exclusion(
    name: str, specifiers: list[str] | tuple[str, ...], advisories: list[str] | tuple[str, ...]
) -> Exclusion:
    """Build an :class:`Exclusion`, checking every part; raises :class:`UnsafeValueError`."""
    checked_specs: list[str] = []
    for spec in specifiers:
        if spec == _BLOCK:
            checked_specs.append(spec)
            continue
        op = next((o for o in _OPERATORS if spec.startswith(o)), None)
        if op is None or spec.startswith("=="):
            raise UnsafeValueError(f"only exclusions may be written, not {spec!r}")
        checked_specs.append(op + safe_version(spec[len(op) :]))
    if not checked_specs:
        raise UnsafeValueError(f"an exclusion for {name!r} needs at least one specifier")
    ids = []
    for advisory in advisories:
        if not isinstance(advisory, str) or len(advisory) > 64 or not ADVISORY_ID.fullmatch(advisory):
            raise UnsafeValueError(f"not a valid advisory id: {advisory!r}")
        ids.append(advisory)
    if not ids:
        raise UnsafeValueError(f"an exclusion for {name!r} must name the advisory behind it")
    specs = (_BLOCK,) if _BLOCK in checked_specs else tuple(checked_specs)
    return Exclusion(safe_name(name), specs, tuple(sorted(set(ids))))
