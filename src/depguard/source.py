"""Where a feed comes from, reduced to one typed answer: the records and their provenance.

``sync`` and ``check`` never care whether records came from a contributor's checkout, a
static tree on a CDN, the on-disk cache or the snapshot inside the wheel; they receive a
:class:`FeedSnapshot`. Everything that arrives here is validated before it is returned: a
feed with one invalid record is refused whole, because a partial feed silently lifts
constraints.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from depguard.errors import FeedSourceError, InvalidRecordError
from depguard.records import Record

if TYPE_CHECKING:
    from depguard.client import FetchOptions

__all__ = ["FeedSnapshot", "from_directory", "bundled", "open_source"]


@dataclass(frozen=True)
class FeedSnapshot:
    """Validated records plus where they came from, for reports and warnings.

    ``kind``: ``directory`` (a feed source), ``static`` (a built tree on disk), ``url`` (just
    confirmed by its server), ``cache`` (the last verified download, used offline or because
    the server could not be used) or ``bundled`` (the snapshot inside depguard).
    ``checked_at`` is when a server last vouched for these records (URL sources only), and
    ``cache`` the cache directory behind a URL source.
    """

    records: tuple[Record, ...]
    source: str
    kind: str
    warnings: tuple[str, ...] = field(default=())
    checked_at: _dt.datetime | None = None
    cache: str | None = None

    @property
    def newest_modified(self) -> str | None:
        return max((r.modified for r in self.records), default=None, key=lambda m: _ts(m))


def _ts(text: str) -> object:
    from depguard.records import parse_timestamp

    return parse_timestamp(text)


def from_directory(root: Path, *, kind: str = "directory") -> FeedSnapshot:
    """A feed source directory (``feed/`` layout), schema-checked record by record.

    Formatting lints do not matter to a consumer; schema and JSON problems do, and refuse the
    whole directory.
    """
    from depguard.feed import load_feed
    from depguard.schema import profile_issues

    feed = load_feed(root)
    fatal = [str(i) for i in feed.load_issues if i.rule in {"json", "readable"}]
    for entry in feed.entries:
        problems = [f"{entry.path}#{p.pointer}: {p.message}" for p in profile_issues(entry.data)]
        if entry.record is None and not problems:
            problems.append(f"{entry.path}: not a usable record")
        fatal += problems
    if fatal:
        shown = "; ".join(fatal[:3]) + (f" (and {len(fatal) - 3} more)" if len(fatal) > 3 else "")
        raise InvalidRecordError(f"feed {root} has invalid records, refusing all of it: {shown}")
    return FeedSnapshot(tuple(feed.records()), str(root), kind)


def bundled() -> FeedSnapshot:
    """The snapshot shipped inside depguard: always there, possibly old."""
    from depguard.resources import bundled_feed_dir

    try:
        root = bundled_feed_dir()
    except FileNotFoundError as exc:
        raise FeedSourceError(str(exc)) from None
    return from_directory(root, kind="bundled")


def open_source(spec: str | None, options: FetchOptions | None = None) -> FeedSnapshot:
    """A snapshot from ``spec``: a URL, a built tree, a feed directory, or None for the default.

    * a URL (``https://...``; ``http://`` on the loopback only) is pulled by the client, with
      its cache, checks and fallbacks (:func:`depguard.client.open_url`);
    * a directory holding ``index.json`` and ``all.json`` is a built tree, verified like a
      download;
    * any other directory is a feed source (``feed/`` layout);
    * None is the project's published feed (:data:`depguard.client.DEFAULT_FEED_URL`).
    """
    from depguard import client

    if spec is None:
        return client.open_url(client.DEFAULT_FEED_URL, options)
    if client.is_url(spec):
        return client.open_url(spec, options)
    path = Path(spec)
    if not path.exists():
        raise FeedSourceError(f"feed source not found: {spec}")
    if not path.is_dir():
        raise FeedSourceError(f"feed source is not a directory: {spec}")
    if client.is_static_tree(path):
        return client.read_static_tree(path)
    return from_directory(path)
