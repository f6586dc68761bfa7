"""The snapshot shipped inside depguard: always there, possibly old.

The last stand-in of the published-feed chain (:func:`depguard.sources.resolve`) when neither
the server nor the cache can be used, and never for a download that was refused.
"""

from __future__ import annotations

from pathlib import Path

from depguard import resources
from depguard.errors import FeedSourceError
from depguard.sources.directory import from_directory
from depguard.sources.interface import FeedSnapshot, FeedSource

__all__ = ["BundledSource", "bundled"]


def bundled() -> FeedSnapshot:
    """The bundled snapshot, checked like any feed directory (kind ``bundled``)."""
    try:
        root = resources.bundled_feed_dir()
    except FileNotFoundError as exc:
        raise FeedSourceError(str(exc)) from None
    return from_directory(root, kind="bundled")


class BundledSource(FeedSource):
    """The feed directory bundled with this depguard."""

    location = "bundled snapshot"

    def load(self) -> FeedSnapshot:
        return bundled()

    @property
    def local_path(self) -> Path | None:
        try:
            return resources.bundled_feed_dir()
        except FileNotFoundError:
            return None
