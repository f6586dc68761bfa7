"""The last verified copy of each URL's feed: depguard's own "last known good" store.

Not an HTTP cache library: it is written only after full verification (content-addressed
blobs, then one atomic ``state.json``), it is the baseline for the rollback and shrink checks
of the next download, and it is revalidated on every online run instead of trusting heuristic
freshness. Next to the feed it keeps a map of where each package's records are
(:mod:`depguard.packagemap`), so a warm ``check`` hash-checks the files and then types only
the records a lockfile can match. :class:`CacheSource` reads it without a network (offline,
or standing in for a server that cannot be used).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from depguard.atomic import write_bytes
from depguard.clock import now
from depguard.errors import FeedSourceError
from depguard.jsonio import JSONError, strict_loads
from depguard.packagemap import MappedRecords, PackageMap
from depguard.records import Record, parse_timestamp
from depguard.redact import redact_url
from depguard.sources.interface import FeedSnapshot, FeedSource
from depguard.sources.options import FetchOptions
from depguard.sources.verify import FeedIndex, parse_index, verify_records

__all__ = ["Blobs", "CacheSource", "CachedFeed", "FeedCache", "cache_for", "now", "snapshot_of"]

#: Blobs no state file points at are removed once this old (another process may still be
#: about to point at them).
_STALE_BLOB_SECONDS = 600.0


@dataclass(frozen=True)
class Blobs:
    """One verified feed as the cache stores it: ``index.json``, ``all.json`` and their
    :class:`~depguard.packagemap.PackageMap`, each with its sha256 (the blob's file name).

    ``on_disk`` names the kinds (``index``, ``all``, ``packages``) read back from the cache
    and hash-checked in this run: only those are known to be right on disk already. Any other
    is written, even over a file of that name (a damaged blob keeps its name and often its
    size, and would otherwise never be repaired).
    """

    index_raw: bytes
    index_sha256: str
    all_bytes: bytes
    all_sha256: str
    map_raw: bytes
    map_sha256: str
    package_map: PackageMap
    on_disk: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls, index: FeedIndex, all_bytes: bytes, records: Sequence[Record], *, on_disk: frozenset[str] = frozenset()
    ) -> Blobs:
        """The blobs of a feed that just passed :func:`verify_records`, its map built from ``records``."""
        package_map = PackageMap.build(index.sha256, index.all_sha256, all_bytes, records, index.newest)
        map_raw = package_map.to_bytes()
        return cls(
            index.raw,
            index.sha256,
            all_bytes,
            index.all_sha256,
            map_raw,
            hashlib.sha256(map_raw).hexdigest(),
            package_map,
            on_disk,
        )


@dataclass(frozen=True)
class CachedFeed:
    """The last copy of a URL's feed that passed verification, and when the server vouched for it.

    ``records`` are typed on demand (:class:`~depguard.packagemap.MappedRecords`) when the
    cache holds a map this depguard wrote, and ``index`` is parsed on first use (unless the
    load parsed it already, ``parsed_index``): a warm run that gets a ``304`` needs neither,
    only the hashes that prove the bytes are the ones verified before.
    """

    directory: Path
    url: str
    blobs: Blobs
    records: Sequence[Record]
    etag: str | None
    last_modified: str | None
    fetched_at: _dt.datetime
    checked_at: _dt.datetime
    parsed_index: FeedIndex | None = field(default=None, repr=False)

    @cached_property
    def index(self) -> FeedIndex:
        """The cached ``index.json`` (the baseline for rollback and shrink checks)."""
        return self.parsed_index or parse_index(self.blobs.index_raw, str(self.directory))

    @property
    def all_bytes(self) -> bytes:
        return self.blobs.all_bytes

    @property
    def newest(self) -> str | None:
        """The ``modified`` of the cached ``index.json``."""
        return self.blobs.package_map.newest


class FeedCache:
    """One directory per feed URL: ``index-<sha>.json``, ``all-<sha>.json``, ``packages-<sha>.json``, ``state.json``.

    Blobs are named by their hash and written first; ``state.json`` is replaced atomically
    last and is the only thing a reader trusts, so a crash or a concurrent run leaves either
    the old verified copy or the new one. ``packages-`` is the feed's
    :class:`~depguard.packagemap.PackageMap`, derived from the other two and rebuilt from them
    whenever it is missing or was written by another depguard.
    """

    def __init__(self, root: Path, url: str) -> None:
        self.url = url
        self.directory = Path(root) / "feeds" / hashlib.sha256(url.encode("utf-8")).hexdigest()[:24]

    @property
    def state_path(self) -> Path:
        return self.directory / "state.json"

    def load(self) -> CachedFeed | None:
        """The cached copy, or None when there is none; raises FeedSourceError when it is damaged.

        Both files are hash-checked on every load. With a usable map, the records are typed
        only when asked for; without one (a cache from another depguard) they are checked
        against the index and typed now, as every load did before, and the map is built for
        the next write (:meth:`touch`).
        """
        try:
            state_bytes = self.state_path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise FeedSourceError(f"cannot read the cache {self.directory}: {exc.strerror or exc}") from None
        try:
            state = strict_loads(state_bytes)
            if not isinstance(state, dict) or state.get("format") != 1 or state.get("url") != redact_url(self.url):
                raise FeedSourceError("unknown state format")
            index_sha, all_sha = state["index_sha256"], state["all_sha256"]
            index_raw = self._blob("index", index_sha)
            all_bytes = self._blob("all", all_sha)
            blobs = self._stored_blobs(state.get("packages_sha256"), index_raw, index_sha, all_bytes, all_sha)
            records: Sequence[Record]
            index: FeedIndex | None = None
            if blobs is not None:
                records = MappedRecords(all_bytes, blobs.package_map, f"the cache {self.directory}")
            else:
                index = parse_index(index_raw, str(self.directory))
                # no map this depguard wrote: another version verified these bytes, under its
                # profile; only this version's profile vouches for them (see verify_records)
                records = verify_records(index, all_bytes, str(self.directory))
                blobs = Blobs.of(index, all_bytes, records, on_disk=frozenset({"index", "all"}))
            return CachedFeed(
                self.directory,
                self.url,
                blobs,
                records,
                state.get("etag"),
                state.get("last_modified"),
                _parse_time(state["fetched_at"]),
                _parse_time(state["checked_at"]),
                index,
            )
        except (JSONError, KeyError, TypeError, ValueError, OSError) as exc:
            raise FeedSourceError(f"the cache {self.directory} is damaged ({exc}); ignoring it") from None

    def _blob(self, kind: str, digest: str) -> bytes:
        data = (self.directory / f"{kind}-{digest}.json").read_bytes()
        if hashlib.sha256(data).hexdigest() != digest:
            raise ValueError(f"{kind} blob does not match its hash")
        return data

    def _stored_blobs(
        self, map_sha: Any, index_raw: bytes, index_sha: str, all_bytes: bytes, all_sha: str
    ) -> Blobs | None:
        """The blobs with the stored map, or None when there is no usable one (it is rebuilt then)."""
        if not isinstance(map_sha, str):
            return None
        try:
            map_raw = self._blob("packages", map_sha)
        except (OSError, ValueError):
            return None
        package_map = PackageMap.from_bytes(
            map_raw, index_sha256=index_sha, all_sha256=all_sha, all_size=len(all_bytes)
        )
        if package_map is None:
            return None
        return Blobs(
            index_raw,
            index_sha,
            all_bytes,
            all_sha,
            map_raw,
            map_sha,
            package_map,
            frozenset({"index", "all", "packages"}),
        )

    def commit(
        self,
        blobs: Blobs,
        *,
        etag: str | None,
        last_modified: str | None,
        fetched_at: _dt.datetime,
        checked_at: _dt.datetime,
    ) -> None:
        """Store a verified copy: blobs first, then the state file that points at them."""
        self.directory.mkdir(parents=True, exist_ok=True)
        keep: set[str] = set()
        for kind, digest, data in (
            ("index", blobs.index_sha256, blobs.index_raw),
            ("all", blobs.all_sha256, blobs.all_bytes),
            ("packages", blobs.map_sha256, blobs.map_raw),
        ):
            blob = self.directory / f"{kind}-{digest}.json"
            keep.add(blob.name)
            if kind in blobs.on_disk and blob.is_file():
                os.utime(blob)  # marks it in use: _remove_stale spares it
            else:
                write_bytes(blob, data)
        state = {
            "format": 1,
            "url": redact_url(self.url),
            "index_sha256": blobs.index_sha256,
            "all_sha256": blobs.all_sha256,
            "packages_sha256": blobs.map_sha256,
            "etag": etag,
            "last_modified": last_modified,
            "fetched_at": _format_time(fetched_at),
            "checked_at": _format_time(checked_at),
        }
        write_bytes(self.state_path, (json.dumps(state, indent=2) + "\n").encode("utf-8"))
        self._remove_stale(keep)

    def touch(self, cached: CachedFeed, checked_at: _dt.datetime) -> None:
        """Record that the server confirmed the cached copy (a 304) just now."""
        self.commit(
            cached.blobs,
            etag=cached.etag,
            last_modified=cached.last_modified,
            fetched_at=cached.fetched_at,
            checked_at=checked_at,
        )

    def _remove_stale(self, keep: set[str]) -> None:
        now = time.time()
        for blob in self.directory.glob("*-*.json"):
            try:
                if blob.name not in keep and now - blob.stat().st_mtime > _STALE_BLOB_SECONDS:
                    blob.unlink()
            except OSError:
                pass


def _format_time(moment: _dt.datetime) -> str:
    return moment.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: Any) -> _dt.datetime:
    if not isinstance(text, str):
        raise ValueError("not a timestamp")
    return parse_timestamp(text)


def cache_for(base: str, options: FetchOptions) -> FeedCache:
    """The cache of the feed at ``base`` (a checked base URL) under the options' cache root."""
    return FeedCache(options.cache_root, base)


def snapshot_of(
    cached: CachedFeed, base: str, kind: str, *, checked_at: _dt.datetime, warnings: tuple[str, ...] = ()
) -> FeedSnapshot:
    """A snapshot of the cached copy of ``base``'s feed."""
    return FeedSnapshot(cached.records, base, kind, warnings, checked_at=checked_at, cache=str(cached.directory))


class CacheSource(FeedSource):
    """The cached copy of the feed at a base URL, with no network at all.

    :meth:`load` raises :class:`FeedSourceError` when there is no copy or it is damaged;
    :meth:`peek` answers None for "no copy" instead (the published-feed chain asks it first).
    """

    def __init__(self, base: str, options: FetchOptions) -> None:
        self.base = base
        self.location = redact_url(base)
        self.cache = cache_for(base, options)

    def peek(self) -> CachedFeed | None:
        """The cached copy, None when there is none; raises :class:`FeedSourceError` when damaged."""
        return self.cache.load()

    def load(self) -> FeedSnapshot:
        cached = self.peek()
        if cached is None:
            raise FeedSourceError(f"no cached copy of {self.location}")
        return snapshot_of(cached, self.location, "cache", checked_at=cached.checked_at)
