"""What every feed source is: something that loads a :class:`FeedSnapshot`.

``sync``, ``check``, ``feed status`` and ``serve`` never care whether records came from a
contributor's checkout, a static tree on a CDN, the on-disk cache or the snapshot inside the
wheel; they receive a :class:`FeedSnapshot` from :meth:`FeedSource.load`. Every source
validates what it returns: a feed with one invalid record is refused whole, because a partial
feed silently lifts constraints. Which source a command uses is decided in one place,
:func:`depguard.sources.resolve`.
"""

from __future__ import annotations

import abc
import datetime as _dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from depguard.packagemap import MappedRecords
from depguard.records import Record, parse_timestamp

__all__ = ["FeedSnapshot", "FeedSource"]


@dataclass(frozen=True)
class FeedSnapshot:
    """Validated records plus where they came from, for reports and warnings.

    ``records`` is a tuple, except for the cached copy of a URL's feed, whose records are
    typed on demand (:class:`~depguard.packagemap.MappedRecords`): a check asks
    :meth:`select` for the few it can match instead of typing them all.

    ``kind``: ``directory`` (a feed source), ``static`` (a built tree on disk), ``url`` (just
    confirmed by its server), ``cache`` (the last verified download, used offline or because
    the server could not be used) or ``bundled`` (the snapshot inside depguard).
    ``checked_at`` is when a server last vouched for these records (URL sources only), and
    ``cache`` the cache directory behind a URL source. ``fallback`` says the source asked for
    could not be used and this is a stand-in (the cache or the bundled snapshot): it may be
    older than what the project was last synced with, so sync must not lift anything from it.
    """

    records: Sequence[Record]
    source: str
    kind: str
    warnings: tuple[str, ...] = field(default=())
    checked_at: _dt.datetime | None = None
    cache: str | None = None
    fallback: bool = False

    @property
    def newest_modified(self) -> str | None:
        return max((r.modified for r in self.records), default=None, key=parse_timestamp)

    def select(self, keys: Iterable[tuple[str, str]], digests: Iterable[str]) -> Sequence[Record]:
        """At least every record that names one of ``keys`` or lists one of ``digests``.

        ``keys`` are :func:`depguard.advisoryindex.package_key` values, ``digests`` lowercase
        sha256 hex: an index of the result answers lookups of them exactly as an index of
        all the records would. Records that are already typed are all returned as they are.
        """
        if isinstance(self.records, MappedRecords):
            return self.records.select(keys, digests)
        return self.records

    def in_ecosystem(self, ecosystem: str) -> Sequence[Record]:
        """At least every record naming a package of ``ecosystem`` (an OSV name, e.g. ``PyPI``).

        What ``sync`` compiles its exclusions from: it writes PyPI constraints only, and typing
        the npm records of a feed to skip them was most of the work of a warm ``sync``.
        """
        if isinstance(self.records, MappedRecords):
            return self.records.in_ecosystem(ecosystem)
        return self.records


class FeedSource(abc.ABC):
    """One place records can come from. :meth:`load` reads and verifies them, every call anew.

    Implementations: :class:`~depguard.sources.directory.DirectorySource`,
    :class:`~depguard.sources.static.StaticTreeSource`,
    :class:`~depguard.sources.bundled.BundledSource`,
    :class:`~depguard.sources.remote.RemoteSource`, :class:`~depguard.sources.cache.CacheSource`,
    and the published-feed chain :func:`depguard.sources.resolve` builds from the last three.
    """

    #: Shown in messages; a path or a URL.
    location: str

    @abc.abstractmethod
    def load(self) -> FeedSnapshot:
        """The records, verified; raises a :class:`~depguard.errors.DepguardError` when unusable."""

    @property
    def local_path(self) -> Path | None:
        """The directory on disk behind this source (watched by ``serve``), None when there is none."""
        return None
