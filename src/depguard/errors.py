"""The exception tree.

Every error depguard raises on purpose derives from :class:`DepguardError`, so a caller (the
CLI, or another tool importing the library) can tell "depguard refused this input" apart from
a bug. Errors subclass the built-in whose meaning they share, so ``except ValueError`` still
works for code that does not know about depguard.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DepguardError",
    "FeedError",
    "FeedSourceError",
    "GitError",
    "IntegrityError",
    "InvalidRecordError",
    "LockfileError",
    "ProjectError",
    "UnsafeEditError",
    "UnsafeValueError",
]


class DepguardError(Exception):
    """Base of every error depguard raises deliberately."""


class ConfigError(DepguardError, ValueError):
    """``[tool.depguard]`` or a command-line option is not usable."""


class FeedError(DepguardError):
    """The feed, as a whole, cannot be used."""


class InvalidRecordError(FeedError, ValueError):
    """A record is not valid OSV, or breaks depguard's profile."""


class FeedSourceError(FeedError, OSError):
    """No usable feed source: a missing path, a failed download, no cache."""


class IntegrityError(FeedError, ValueError):
    """A download does not match what its index promised, or rolls the feed back."""


class UnsafeValueError(DepguardError, ValueError):
    """A name, version or text from the feed could smuggle syntax into a user's file."""


class ProjectError(DepguardError):
    """A project file cannot be read or parsed."""


class UnsafeEditError(ProjectError, ValueError):
    """A project file has a shape that depguard cannot edit without changing other bytes."""


class LockfileError(DepguardError, ValueError):
    """A lockfile or requirements file cannot be parsed."""


class GitError(DepguardError):
    """A git operation was refused (no repo, detached HEAD, merge in progress)."""
