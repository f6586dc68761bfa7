"""One TOML reader for untrusted files (lockfiles, pyproject.toml): compiled, bounded, one-line errors.

Lockfiles are large (a 2,000-package uv.lock is ~1 MB) and tomllib is pure Python, so the
parse dominated a warm ``depguard check``. ``rtoml`` (Rust, maintained, wheels for every
common platform) reads the same file about ten times faster and returns the same values
(``tests/test_tomlread.py`` holds it to tomllib on the corpus and on hostile input). Where
its wheel is missing (Windows on ARM under Python 3.10, exotic platforms) tomllib / tomli
takes over, so depguard still installs and reads the same files.

Both paths refuse a document nested deeper than the parser can follow safely (rtoml stops
at 80 levels; tomllib's RecursionError is caught) with the same one-line error as any
other syntax error: one bad file must be reported and skipped, never crash the run, since
a crash's exit status could be mistaken for a verdict.
"""

from __future__ import annotations

import re
import sys
from typing import Any

__all__ = ["TOMLReadError", "backend", "loads"]

_SPACES = re.compile(r"\s+")
_LINE = re.compile(r"at line (\d+)")
#: rtoml ends a message with "at line 5 column 13"; tomllib with "(at line 5, column 13)".
_RTOML_WHERE = re.compile(r" at line (\d+) column (\d+)$")


class TOMLReadError(ValueError):
    """A document that is not valid TOML, or nested too deeply; ``str()`` is one line."""

    def __init__(self, message: str) -> None:
        super().__init__(_SPACES.sub(" ", message).strip())

    @property
    def line(self) -> int | None:
        """The 1-based line the parser named, when it named one."""
        match = _LINE.search(str(self))
        return int(match[1]) if match else None


def backend() -> str:
    """The parser in use: ``"rtoml"``, or ``"tomllib"`` where rtoml is not installed."""
    return "tomllib" if _rtoml() is None else "rtoml"


def loads(text: str) -> dict[str, Any]:
    """Parse ``text`` as TOML; every failure (syntax, depth) is a :class:`TOMLReadError`."""
    rtoml = _rtoml()
    if rtoml is not None:
        try:
            return rtoml.loads(text)
        except rtoml.TomlParsingError as exc:
            message = _SPACES.sub(" ", str(exc)).strip()
            raise TOMLReadError(_RTOML_WHERE.sub(r" (at line \1, column \2)", message)) from None
    return _tomllib_loads(text)


def _tomllib_loads(text: str) -> dict[str, Any]:
    """The fallback: the running Python's tomllib (tomli on 3.10), with its recursion caught."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10
        import tomli as tomllib
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TOMLReadError(str(exc)) from None
    except RecursionError:
        raise TOMLReadError("nested too deeply for depguard to read") from None


_MISSING: Any = object()
_module: Any = _MISSING


def _rtoml() -> Any:
    """rtoml, imported on first use (it is only needed by commands that read TOML), or None."""
    global _module
    if _module is _MISSING:
        try:
            import rtoml
        except ImportError:
            _module = None
        else:
            _module = rtoml
    return _module
