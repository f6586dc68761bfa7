"""Where a command's feed comes from: one precedence rule, one interface, one module per kind.

Every command that reads the feed (``sync``, ``check``, ``feed status``, ``serve``) calls
:func:`resolve`, which picks the source by this rule, the first that is set:

1. ``--feed`` (the ``spec`` argument),
2. ``$DEPGUARD_FEED``,
3. ``[tool.depguard] feed`` of the repo's pyproject.toml (a relative path is relative to that
   file's directory),
4. the project's published feed (:data:`depguard.feedformat.DEFAULT_FEED_URL`).

A spec names its kind: a URL (``https://``; ``http://`` on the loopback only) is a published
tree fetched by :class:`~depguard.sources.remote.RemoteSource`; a directory holding
``index.json`` and ``all.json`` is a built tree (:class:`~depguard.sources.static.StaticTreeSource`);
any other directory is a feed source (:class:`~depguard.sources.directory.DirectorySource`).

A URL is read through :class:`PublishedFeed`, the fallback chain: the server, then the cache
(:mod:`depguard.sources.cache`), then the snapshot bundled with depguard
(:mod:`depguard.sources.bundled`), each stand-in with one warning that says which and how old.
A refused download (integrity, rollback, shrink, invalid records) falls back to the cache
only: an older bundled snapshot must not quietly stand in for a feed that failed verification.
``--offline``: the cache, else the bundled snapshot.

A URL may carry credentials (``https://user:token@host/``, a signed query): they are used to
fetch and nowhere else. Every error, warning and :attr:`FeedSnapshot.source` that leaves this
package shows the URL redacted (:mod:`depguard.redact`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from depguard import __version__
from depguard.display import describe_age
from depguard.errors import DepguardError, FeedSourceError, IntegrityError, InvalidRecordError
from depguard.feedformat import ALL_PATH, DEFAULT_FEED_URL, INDEX_PATH
from depguard.records import parse_timestamp
from depguard.sources.cache import CachedFeed, CacheSource, now
from depguard.sources.interface import FeedSnapshot, FeedSource
from depguard.sources.options import FetchOptions
from depguard.sources.remote import RemoteSource, is_url, redacted_error, redacted_snapshot

__all__ = [
    "ENV_FEED",
    "FeedSnapshot",
    "FeedSource",
    "FetchOptions",
    "PublishedFeed",
    "choose",
    "open_url",
    "resolve",
    "source_for",
]

#: The environment variable second in the precedence rule.
ENV_FEED = "DEPGUARD_FEED"


def choose(
    spec: str | None = None,
    *,
    config_feed: str | None = None,
    config_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """The feed spec the precedence rule picks (see the module docstring); never None."""
    env = os.environ if env is None else env
    if spec:
        return spec
    if env.get(ENV_FEED):
        return env[ENV_FEED]
    if config_feed:
        if config_dir is not None and not is_url(config_feed) and not Path(config_feed).is_absolute():
            return str(config_dir / config_feed)
        return config_feed
    return DEFAULT_FEED_URL


def source_for(spec: str | os.PathLike[str] | None, options: FetchOptions | None = None) -> FeedSource:
    """The source ``spec`` names: a URL, a built tree, a feed directory; None is the published feed."""
    if spec is None:
        return PublishedFeed(DEFAULT_FEED_URL, options)
    text = os.fspath(spec)
    if is_url(text):
        return PublishedFeed(text, options)
    path = Path(text)
    if not path.exists():
        raise FeedSourceError(f"feed source not found: {text}")
    if not path.is_dir():
        raise FeedSourceError(f"feed source is not a directory: {text}")
    if (path / INDEX_PATH).is_file() and (path / ALL_PATH).is_file():
        from depguard.sources.static import StaticTreeSource  # lazy: a warm URL run needs neither local kind

        return StaticTreeSource(path)
    from depguard.sources.directory import (
        DirectorySource,  # lazy: feed.py and the schemas (~20 ms), for a directory only
    )

    return DirectorySource(path)


def resolve(
    spec: str | None = None,
    *,
    config_feed: str | None = None,
    config_dir: Path | None = None,
    options: FetchOptions | None = None,
    env: Mapping[str, str] | None = None,
) -> FeedSource:
    """THE feed source of a command: the precedence rule (:func:`choose`), then its kind (:func:`source_for`).

    ``options`` default to :meth:`FetchOptions.from_env`. Raises
    :class:`~depguard.errors.FeedSourceError` for a path that does not exist or a URL depguard
    may not fetch; call :meth:`FeedSource.load` for the records.
    """
    chosen = choose(spec, config_feed=config_feed, config_dir=config_dir, env=env)
    return source_for(chosen, options or FetchOptions.from_env(env))


class PublishedFeed(FeedSource):
    """A published tree at a URL with its fallbacks: server, then cache, then the bundled snapshot."""

    def __init__(self, url: str, options: FetchOptions | None = None) -> None:
        self.remote = RemoteSource(url, options)
        self.options = self.remote.options
        self.base = self.remote.base  # fetched: may hold credentials
        self.location = self.remote.location  # shown: redacted
        self.cache = CacheSource(self.base, self.options)

    def load(self) -> FeedSnapshot:
        """The chain; every message and the snapshot's source show the URL redacted."""
        try:
            return redacted_snapshot(self._load())
        except DepguardError as exc:
            raise redacted_error(exc) from exc.__cause__

    def _load(self) -> FeedSnapshot:
        base = self.location
        try:
            cached = self.cache.peek()
            damage = ""
        except FeedSourceError as exc:
            cached, damage = None, f"; {exc}"
        if self.options.offline:
            if cached is not None:
                return _cached(cached, base)
            return _bundled_instead(f"offline and no cached copy of {base}{damage}")
        try:
            return self.remote.fetch(cached)
        except (IntegrityError, InvalidRecordError) as exc:
            if cached is None:
                raise FeedSourceError(
                    f"{exc}; no verified copy of {base} is cached, so there is no usable feed"
                ) from exc
            return _cached_instead(cached, base, f"refused the feed from {base}: {exc}")
        except FeedSourceError as exc:
            if cached is not None:
                return _cached_instead(cached, base, f"could not update the feed from {base}: {exc}")
            return _bundled_instead(f"could not fetch the feed from {base}: {exc}{damage}; no cached copy")


def open_url(url: str, options: FetchOptions | None = None) -> FeedSnapshot:
    """The feed at ``url`` with the published-feed fallbacks (:class:`PublishedFeed`)."""
    return PublishedFeed(url, options).load()


def _cached(cached: CachedFeed, base: str, warnings: tuple[str, ...] = (), *, fallback: bool = False) -> FeedSnapshot:
    snapshot = FeedSnapshot(
        cached.records, base, "cache", warnings, checked_at=cached.checked_at, cache=str(cached.directory)
    )
    return replace(snapshot, fallback=True) if fallback else snapshot


def _cached_instead(cached: CachedFeed, base: str, reason: str) -> FeedSnapshot:
    age = describe_age(now() - cached.checked_at)
    warning = (
        f"{reason}; using the cached copy last confirmed by the server {age} ago "
        f"({len(cached.records)} records, newest {cached.newest or 'none'}; cache {cached.directory})"
    )
    return _cached(cached, base, (warning,), fallback=True)


def _bundled_instead(reason: str) -> FeedSnapshot:
    from depguard.sources.bundled import BundledSource  # lazy: feed.py and the schemas, only when falling back

    try:
        snapshot = BundledSource().load()
    except (FeedSourceError, InvalidRecordError) as exc:
        raise FeedSourceError(f"{reason}, and the snapshot bundled with depguard is unusable: {exc}") from None
    newest = snapshot.newest_modified
    age = f", {describe_age(now() - parse_timestamp(newest))} old" if newest else ""
    warning = (
        f"{reason}; using the snapshot bundled with depguard {__version__} "
        f"({len(snapshot.records)} records, newest {newest or 'none'}{age}): it may miss recent advisories"
    )
    return replace(snapshot, warnings=(*snapshot.warnings, warning), fallback=True)
