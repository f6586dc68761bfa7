"""Pull a published feed (``depguard feed build``) over HTTPS: conditional, verified, bounded.

Why each rule exists:

* **https only** (plain http only on the loopback, for tests and local mirrors), and every
  redirect hop is checked, because the feed decides which releases users may install.
* **Conditional requests** on the small ``index.json``: an unchanged feed costs one ``304``
  and no body bytes, so ``sync`` can check for news on every run.
* **Integrity**: ``all.json`` must hash to what ``index.json`` says, and every record must pass
  the schemas, before anything is used. A refused download never replaces the last good copy.
* **Rollback and shrink**: a feed older than the copy already verified, or one that suddenly
  lost most of its records, would lift constraints; both are refused unless the caller says
  it means it.
* **Bounds**: a size limit counted after decompression (gzip bombs), per-read timeouts and a
  deadline for the whole response (slow drips), bounded retries for transient failures.
* **Fallbacks**: network trouble falls back to the cache, then to the snapshot bundled in
  the wheel, with one warning that says which and how old. A refused download falls back to
  the cache only: an older bundled snapshot must not quietly stand in for a feed that failed
  verification.

The on-disk cache is depguard's own "last known good" store rather than an HTTP cache
library: it is written only after full verification (content-addressed blobs, then one
atomic ``state.json``), it is the baseline for the rollback and shrink checks, and it is
revalidated on every online run instead of trusting heuristic freshness. Next to the feed it
keeps a map of where each package's records are (:mod:`depguard.packagemap`), so a warm
``check`` hash-checks the files and then types only the records a lockfile can match.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import time
import urllib.parse
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from depguard.errors import ConfigError, FeedSourceError, IntegrityError, InvalidRecordError
from depguard.jsonio import JSONError, strict_loads
from depguard.packagemap import MappedRecords, PackageMap
from depguard.records import Record, parse_timestamp
from depguard.source import FeedSnapshot

if TYPE_CHECKING:
    import httpx

__all__ = [
    "DEFAULT_FEED_URL",
    "DEFAULT_MAX_BYTES",
    "FORMAT",
    "FORMAT_VERSION",
    "INDEX_PATH",
    "ALL_PATH",
    "FetchOptions",
    "FeedIndex",
    "CachedFeed",
    "FeedCache",
    "check_url",
    "check_redirect",
    "feed_base",
    "is_url",
    "is_static_tree",
    "parse_index",
    "verify_records",
    "read_static_tree",
    "fetch",
    "open_url",
    "cache_root",
    "describe_age",
]

#: The project's published feed (GitHub Pages); used when no source is configured.
DEFAULT_FEED_URL = "https://depguard.github.io/depguard/"
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
FORMAT = "depguard-feed"
FORMAT_VERSION = 1
INDEX_PATH = "index.json"
ALL_PATH = "all.json"

ENV_CACHE_DIR = "DEPGUARD_CACHE_DIR"
ENV_MAX_BYTES = "DEPGUARD_MAX_DOWNLOAD_BYTES"
ENV_OFFLINE = "DEPGUARD_OFFLINE"
ENV_TIMEOUT = "DEPGUARD_HTTP_TIMEOUT"

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 5
_CHUNK = 64 * 1024
#: Blobs no state file points at are removed once this old (another process may still be
#: about to point at them).
_STALE_BLOB_SECONDS = 600.0
_TRUE = frozenset({"1", "true", "yes", "on"})


# --------------------------------------------------------------------------- options


@dataclass(frozen=True)
class FetchOptions:
    """How to fetch: safety overrides, limits and where the cache lives."""

    offline: bool = False
    allow_rollback: bool = False
    allow_shrink: bool = False
    max_bytes: int = DEFAULT_MAX_BYTES
    cache_dir: Path | None = None
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    deadline: float = 120.0
    attempts: int = 3
    backoff: float = 0.2

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        offline: bool = False,
        allow_rollback: bool = False,
        allow_shrink: bool = False,
        max_bytes: int | None = None,
    ) -> FetchOptions:
        """Options from ``DEPGUARD_*`` variables, with command-line flags on top.

        ``DEPGUARD_CACHE_DIR`` (cache root), ``DEPGUARD_MAX_DOWNLOAD_BYTES`` (per response),
        ``DEPGUARD_OFFLINE`` (1/true), ``DEPGUARD_HTTP_TIMEOUT`` (seconds for a whole response).
        """
        env = os.environ if env is None else env
        cache = env.get(ENV_CACHE_DIR) or None
        limit = max_bytes if max_bytes is not None else _positive(env, ENV_MAX_BYTES, int, DEFAULT_MAX_BYTES)
        if limit <= 0:
            raise ConfigError(f"the download size limit must be positive, not {limit}")
        deadline = _positive(env, ENV_TIMEOUT, float, cls.deadline)
        return cls(
            offline=offline or env.get(ENV_OFFLINE, "").strip().lower() in _TRUE,
            allow_rollback=allow_rollback,
            allow_shrink=allow_shrink,
            max_bytes=limit,
            cache_dir=Path(cache) if cache else None,
            read_timeout=min(cls.read_timeout, deadline),
            connect_timeout=min(cls.connect_timeout, deadline),
            deadline=deadline,
        )


def _positive(env: Mapping[str, str], name: str, kind: type, default: Any) -> Any:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        raise ConfigError(f"{name} must be a positive number, not {text!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be a positive number, not {text!r}")
    return value


def cache_root(options: FetchOptions) -> Path:
    """``$DEPGUARD_CACHE_DIR`` (via options) or the user cache dir of the platform."""
    if options.cache_dir is not None:
        return Path(options.cache_dir)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("depguard", appauthor=False))


# --------------------------------------------------------------------------- URL policy


def is_url(spec: str) -> bool:
    """Whether a feed spec names a URL (any scheme) rather than a path."""
    scheme, sep, _ = spec.partition("://")
    return bool(sep) and scheme.isascii() and scheme.replace("+", "").replace("-", "").replace(".", "").isalnum()


def _split(url: str) -> urllib.parse.SplitResult:
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise FeedSourceError(f"not a usable feed URL: {url!r} ({exc})") from None
    return parts


def _is_loopback_http(url: str) -> bool:
    parts = _split(url)
    return parts.scheme.lower() == "http" and (parts.hostname or "") in _LOOPBACK


def check_url(url: str) -> str:
    """``url`` if depguard may fetch it: https, or plain http to 127.0.0.1/localhost/[::1]."""
    parts = _split(url)
    if parts.scheme.lower() == "https" and parts.hostname:
        return url
    if _is_loopback_http(url):
        return url
    raise FeedSourceError(
        f"refusing to fetch the feed from {url}: only https URLs are allowed "
        "(plain http only for 127.0.0.1, localhost and [::1])"
    )


def check_redirect(current: str, target: str) -> str:
    """``target`` if a redirect from ``current`` may be followed; a downgrade is refused.

    A hop must go to https. The only exception keeps local test servers usable: from a
    loopback http URL to another loopback http URL.
    """
    parts = _split(target)
    if parts.scheme.lower() == "https" and parts.hostname:
        return target
    if _is_loopback_http(current) and _is_loopback_http(target):
        return target
    raise IntegrityError(f"refusing the redirect from {current} to {target}: the feed is only fetched over https")


def feed_base(url: str) -> str:
    """The feed's base URL with one trailing slash; ``.../index.json`` is accepted too."""
    parts = _split(url)
    path = parts.path
    if path.endswith("/" + INDEX_PATH) or path == INDEX_PATH:
        path = path[: -len(INDEX_PATH)]
    if not path.endswith("/"):
        path += "/"
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


# --------------------------------------------------------------------------- download


@dataclass(frozen=True)
class _Response:
    status: int
    headers: dict[str, str]
    body: bytes
    url: str


class _Retryable(Exception):
    """A transient failure (connection, 5xx): worth another try after a pause."""


class _BoundedBody:
    """Collects a response body, decoding gzip itself so the *decoded* size is bounded.

    httpx would inflate a whole network chunk at once; doing it here with ``max_length``
    means a gzip bomb is cut off after at most ``limit + 1`` bytes of output.
    """

    def __init__(self, encoding: str, limit: int, url: str) -> None:
        self._limit, self._url = limit, url
        self._parts: list[bytes] = []
        self._size = self._raw = 0
        if encoding in ("", "identity"):
            self._inflater = None
        elif encoding in ("gzip", "x-gzip"):
            self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        else:
            raise FeedSourceError(f"{url}: unsupported Content-Encoding {encoding!r}")

    def feed(self, chunk: bytes) -> None:
        self._raw += len(chunk)
        if self._raw > self._limit:
            raise FeedSourceError(f"{self._url}: response is larger than the limit of {self._limit} bytes; cut off")
        if self._inflater is None:
            self._add(chunk)
            return
        data = chunk
        while data:
            if self._inflater.eof:
                raise FeedSourceError(f"{self._url}: data after the end of the gzip stream")
            out = self._inflater.decompress(data, self._limit - self._size + 1)
            self._add(out)
            if self._inflater.eof and self._inflater.unused_data:
                raise FeedSourceError(f"{self._url}: data after the end of the gzip stream")
            if not out and self._inflater.unconsumed_tail == data:
                break
            data = self._inflater.unconsumed_tail

    def _add(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self._limit:
            what = "decompresses to" if self._inflater is not None else "is"
            raise FeedSourceError(f"{self._url}: response {what} more than the limit of {self._limit} bytes; cut off")
        if data:
            self._parts.append(data)

    def finish(self) -> bytes:
        if self._inflater is not None:
            self._add(self._inflater.flush())
            if not self._inflater.eof:
                raise FeedSourceError(f"{self._url}: the gzip stream is truncated")
        return b"".join(self._parts)


class _Downloader:
    """httpx clients with depguard's rules: no automatic redirects, bounded everything.

    One client per URL scheme, made when the first URL of that scheme is fetched: setting up
    TLS (loading the CA bundle) costs 20-30 ms, and a loopback ``http://`` mirror never needs
    it. The ``http`` client gets a TLS context that trusts no certificate at all, so it could
    not complete a TLS handshake even if it were ever handed an https URL.
    """

    def __init__(self, options: FetchOptions) -> None:
        self._options = options
        self._clients: dict[str, httpx.Client] = {}

    def __enter__(self) -> _Downloader:
        return self

    def __exit__(self, *exc: object) -> None:
        for client in self._clients.values():
            client.close()

    def _client(self, url: str) -> httpx.Client:
        scheme = _split(url).scheme.lower()
        client = self._clients.get(scheme)
        if client is None:
            import ssl

            import httpx

            from depguard import __version__

            client = self._clients[scheme] = httpx.Client(
                timeout=httpx.Timeout(self._options.read_timeout, connect=self._options.connect_timeout),
                follow_redirects=False,
                headers={"User-Agent": f"depguard/{__version__}", "Accept-Encoding": "gzip"},
                verify=True if scheme == "https" else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT),
            )
        return client

    def get(self, url: str, headers: Mapping[str, str] | None = None) -> _Response:
        """GET with redirects checked hop by hop; returns 200, 304 (empty body) or raises."""
        current = check_url(url)
        for _ in range(_MAX_REDIRECTS + 1):
            response = self._with_retries(current, dict(headers or {}))
            if response.status not in _REDIRECTS:
                return response
            location = response.headers.get("location")
            if not location:
                raise FeedSourceError(f"{current}: redirect without a Location header")
            current = check_redirect(current, urllib.parse.urljoin(current, location))
        raise FeedSourceError(f"{url}: more than {_MAX_REDIRECTS} redirects")

    def _with_retries(self, url: str, headers: dict[str, str]) -> _Response:
        reason = ""
        for attempt in range(self._options.attempts):
            if attempt:
                time.sleep(self._options.backoff * 2 ** (attempt - 1))
            try:
                return self._once(url, headers)
            except _Retryable as exc:
                reason = str(exc)
        raise FeedSourceError(f"{url}: {reason} (tried {self._options.attempts} times)")

    def _once(self, url: str, headers: dict[str, str]) -> _Response:
        import httpx

        retryable = (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
        try:
            with self._client(url).stream("GET", url, headers=headers) as response:
                status = response.status_code
                if status >= 500 or status == 429:
                    raise _Retryable(f"HTTP {status}")
                found = {k.lower(): v for k, v in response.headers.items()}
                if status in _REDIRECTS or status == 304:
                    return _Response(status, found, b"", url)
                if status != 200:
                    raise FeedSourceError(f"{url}: HTTP {status}")
                return _Response(status, found, self._read(response, url), url)
        except retryable as exc:
            raise _Retryable(_describe(exc)) from None
        except httpx.TimeoutException as exc:
            raise FeedSourceError(f"{url}: timed out ({_describe(exc)})") from None
        except httpx.HTTPError as exc:
            raise FeedSourceError(f"{url}: {_describe(exc)}") from None

    def _read(self, response: httpx.Response, url: str) -> bytes:
        limit = self._options.max_bytes
        declared = response.headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > limit:
            raise FeedSourceError(f"{url}: response declares {declared} bytes, more than the limit of {limit}; not downloaded")
        body = _BoundedBody(response.headers.get("content-encoding", "").strip().lower(), limit, url)
        deadline = time.monotonic() + self._options.deadline
        for chunk in response.iter_raw(_CHUNK):
            body.feed(chunk)
            if time.monotonic() > deadline:
                raise FeedSourceError(f"{url}: the download took longer than {self._options.deadline:g} s; cut off")
        return body.finish()


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text


# --------------------------------------------------------------------------- verification


@dataclass(frozen=True)
class FeedIndex:
    """A parsed, schema-checked ``index.json``."""

    raw: bytes
    newest: str | None
    all_sha256: str
    all_size: int
    entries: dict[str, tuple[str, str | None]]  # id -> (modified, withdrawn)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()


def parse_index(raw: bytes, source: str) -> FeedIndex:
    """Parse and check ``index.json``; raises :class:`IntegrityError` when it is not one."""
    from depguard.schema import validator

    try:
        data = strict_loads(raw)
    except JSONError as exc:
        raise IntegrityError(f"{source}: index.json is not valid JSON: {exc}") from None
    if isinstance(data, dict) and data.get("format") == FORMAT and data.get("format_version") != FORMAT_VERSION:
        raise FeedSourceError(
            f"{source}: feed format version {data.get('format_version')!r} is not supported by this depguard "
            f"(it reads version {FORMAT_VERSION}); upgrade depguard"
        )
    errors = sorted(validator("index.schema.json").iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "/"
        raise IntegrityError(f"{source}: not a depguard feed index: {where}: {' '.join(errors[0].message.split())[:200]}")
    entries: dict[str, tuple[str, str | None]] = {}
    for item in data["records"]:
        if item["id"] in entries:
            raise IntegrityError(f"{source}: index.json lists {item['id']} twice")
        entries[item["id"]] = (item["modified"], item["withdrawn"])
    if data["count"] != len(entries):
        raise IntegrityError(f"{source}: index.json says {data['count']} records but lists {len(entries)}")
    newest = max((m for m, _ in entries.values()), key=parse_timestamp, default=None)
    if (newest is None) != (data["modified"] is None) or (newest and parse_timestamp(newest) != parse_timestamp(data["modified"])):
        raise IntegrityError(f"{source}: index.json's modified {data['modified']} is not its newest record's ({newest})")
    return FeedIndex(raw, data["modified"], data["all"]["sha256"], data["all"]["size"], entries)


def verify_records(index: FeedIndex, all_bytes: bytes, source: str, *, check_schema: bool = True) -> tuple[Record, ...]:
    """The records of ``all.json`` once it matches ``index`` byte for byte and record by record.

    ``check_schema`` runs depguard's OSV profile on every record (skipped only for bytes that
    were verified before and whose hash still matches, i.e. the cache), together with
    :func:`depguard.source.unsafe_text_issues` (control characters, requirement syntax in
    versions, non-ASCII names).
    """
    from depguard.display import printable
    from depguard.source import record_issues

    digest = hashlib.sha256(all_bytes).hexdigest()
    if digest != index.all_sha256 or len(all_bytes) != index.all_size:
        raise IntegrityError(
            f"{source}: all.json does not match index.json (sha256 {digest}, {len(all_bytes)} bytes; "
            f"the index promises {index.all_sha256}, {index.all_size} bytes); refusing the whole download"
        )
    try:
        data = strict_loads(all_bytes)
    except JSONError as exc:
        raise IntegrityError(f"{source}: all.json is not valid JSON: {exc}") from None
    if not isinstance(data, list):
        raise IntegrityError(f"{source}: all.json must be a JSON array of records")
    problems: list[str] = []
    records: list[Record] = []
    for number, item in enumerate(data):
        found = record_issues(item) if check_schema else []
        label = printable(item["id"]) if isinstance(item, dict) and isinstance(item.get("id"), str) else f"record {number}"
        problems += [f"{label}#{p.pointer}: {p.message}" for p in found]
        if not found:
            try:
                records.append(Record.model_validate(item))
            except ValueError:
                problems.append(f"{label}: not a usable record")
    if problems:
        shown = "; ".join(problems[:3]) + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else "")
        raise InvalidRecordError(f"{source}: all.json has invalid records, refusing all of them: {shown}")
    listed = {r.id: (r.modified, r.withdrawn) for r in records}
    if len(listed) != len(records) or listed != index.entries:
        missing = sorted(set(index.entries) ^ set(listed))[:3]
        changed = sorted(i for i in set(index.entries) & set(listed) if index.entries[i] != listed[i])[:3]
        raise IntegrityError(
            f"{source}: all.json and index.json disagree about the records "
            f"(listed in one only: {', '.join(missing) or '-'}; different: {', '.join(changed) or '-'}; "
            f"duplicates: {len(records) - len(listed)})"
        )
    return tuple(records)


def is_static_tree(path: Path) -> bool:
    """Whether ``path`` is a built tree (``index.json`` + ``all.json``) rather than a feed source."""
    return (path / INDEX_PATH).is_file() and (path / ALL_PATH).is_file()


def read_static_tree(root: Path) -> FeedSnapshot:
    """A built tree on disk, verified exactly like a download (hashes, schemas, agreement)."""
    try:
        index_bytes = (root / INDEX_PATH).read_bytes()
        all_bytes = (root / ALL_PATH).read_bytes()
    except OSError as exc:
        raise FeedSourceError(f"cannot read the feed tree {root}: {exc.strerror or exc}") from None
    index = parse_index(index_bytes, str(root / INDEX_PATH))
    records = verify_records(index, all_bytes, str(root))
    return FeedSnapshot(records, str(root), "static")


# --------------------------------------------------------------------------- cache


@dataclass(frozen=True)
class _Blobs:
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
    def of(cls, index: FeedIndex, all_bytes: bytes, records: Sequence[Record], *, on_disk: frozenset[str] = frozenset()) -> _Blobs:
        """The blobs of a feed that just passed :func:`verify_records`, its map built from ``records``."""
        package_map = PackageMap.build(index.sha256, index.all_sha256, all_bytes, records, index.newest)
        map_raw = package_map.to_bytes()
        return cls(index.raw, index.sha256, all_bytes, index.all_sha256, map_raw, hashlib.sha256(map_raw).hexdigest(), package_map, on_disk)


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
    blobs: _Blobs
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
            if not isinstance(state, dict) or state.get("format") != 1 or state.get("url") != self.url:
                raise FeedSourceError("unknown state format")
            index_sha, all_sha = state["index_sha256"], state["all_sha256"]
            index_raw = self._blob("index", index_sha)
            all_bytes = self._blob("all", all_sha)
            blobs = self._stored_blobs(state.get("packages_sha256"), index_raw, index_sha, all_bytes, all_sha)
            records: Sequence[Record]
            index: FeedIndex | None = None
            if blobs is not None:
                records = MappedRecords(all_bytes, blobs.package_map, str(self.directory))
            else:
                index = parse_index(index_raw, str(self.directory))
                # no map this depguard wrote: another version verified these bytes, under its
                # profile; only this version's profile vouches for them (see verify_records)
                records = verify_records(index, all_bytes, str(self.directory))
                blobs = _Blobs.of(index, all_bytes, records, on_disk=frozenset({"index", "all"}))
            return CachedFeed(
                self.directory, self.url, blobs, records, state.get("etag"), state.get("last_modified"),
                _parse_time(state["fetched_at"]), _parse_time(state["checked_at"]), index,
            )
        except (JSONError, KeyError, TypeError, ValueError, OSError) as exc:
            raise FeedSourceError(f"the cache {self.directory} is damaged ({exc}); ignoring it") from None

    def _blob(self, kind: str, digest: str) -> bytes:
        data = (self.directory / f"{kind}-{digest}.json").read_bytes()
        if hashlib.sha256(data).hexdigest() != digest:
            raise ValueError(f"{kind} blob does not match its hash")
        return data

    def _stored_blobs(self, map_sha: Any, index_raw: bytes, index_sha: str, all_bytes: bytes, all_sha: str) -> _Blobs | None:
        """The blobs with the stored map, or None when there is no usable one (it is rebuilt then)."""
        if not isinstance(map_sha, str):
            return None
        try:
            map_raw = self._blob("packages", map_sha)
        except (OSError, ValueError):
            return None
        package_map = PackageMap.from_bytes(map_raw, index_sha256=index_sha, all_sha256=all_sha, all_size=len(all_bytes))
        if package_map is None:
            return None
        return _Blobs(index_raw, index_sha, all_bytes, all_sha, map_raw, map_sha, package_map, frozenset({"index", "all", "packages"}))

    def commit(
        self, blobs: _Blobs, *, etag: str | None, last_modified: str | None,
        fetched_at: _dt.datetime, checked_at: _dt.datetime,
    ) -> None:
        """Store a verified copy: blobs first, then the state file that points at them."""
        from depguard.atomic import write_bytes

        self.directory.mkdir(parents=True, exist_ok=True)
        keep: set[str] = set()
        for kind, digest, data in (
            ("index", blobs.index_sha256, blobs.index_raw), ("all", blobs.all_sha256, blobs.all_bytes),
            ("packages", blobs.map_sha256, blobs.map_raw),
        ):
            blob = self.directory / f"{kind}-{digest}.json"
            keep.add(blob.name)
            if kind in blobs.on_disk and blob.is_file():
                os.utime(blob)  # marks it in use: _remove_stale spares it
            else:
                write_bytes(blob, data)
        state = {
            "format": 1, "url": self.url, "index_sha256": blobs.index_sha256, "all_sha256": blobs.all_sha256,
            "packages_sha256": blobs.map_sha256, "etag": etag, "last_modified": last_modified,
            "fetched_at": _format_time(fetched_at), "checked_at": _format_time(checked_at),
        }
        write_bytes(self.state_path, (json.dumps(state, indent=2) + "\n").encode("utf-8"))
        self._remove_stale(keep)

    def touch(self, cached: CachedFeed, checked_at: _dt.datetime) -> None:
        """Record that the server confirmed the cached copy (a 304) just now."""
        self.commit(
            cached.blobs, etag=cached.etag, last_modified=cached.last_modified,
            fetched_at=cached.fetched_at, checked_at=checked_at,
        )

    def _remove_stale(self, keep: set[str]) -> None:
        now = time.time()
        for blob in self.directory.glob("*-*.json"):
            try:
                if blob.name not in keep and now - blob.stat().st_mtime > _STALE_BLOB_SECONDS:
                    blob.unlink()
            except OSError:
                pass


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)


def _format_time(moment: _dt.datetime) -> str:
    return moment.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: Any) -> _dt.datetime:
    if not isinstance(text, str):
        raise ValueError("not a timestamp")
    return parse_timestamp(text)


def describe_age(delta: _dt.timedelta) -> str:
    """A rough, human age: ``40 s``, ``12 min``, ``5 h``, ``3 days``."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 90 * 60:
        return f"{seconds // 60} min"
    if seconds < 36 * 3600:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


# --------------------------------------------------------------------------- fetch


def _conditional_headers(cached: CachedFeed | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    if cached is not None:
        if cached.etag:
            headers["If-None-Match"] = cached.etag
        if cached.last_modified:
            headers["If-Modified-Since"] = cached.last_modified
    return headers


def _against_cache(index: FeedIndex, cached: CachedFeed | None, base: str, options: FetchOptions) -> list[str]:
    """Rollback and shrink checks of a new index against the copy verified before."""
    if cached is None:
        return []
    warnings: list[str] = []
    old = cached.index
    older = sorted(
        i for i, (modified, _) in index.entries.items()
        if i in old.entries and parse_timestamp(modified) < parse_timestamp(old.entries[i][0])
    )
    went_back = old.newest is not None and (index.newest is None or parse_timestamp(index.newest) < parse_timestamp(old.newest))
    if went_back or older:
        detail = f"newest record {index.newest} < {old.newest}" if went_back else f"older copies of {', '.join(older[:3])}"
        message = f"the feed at {base} is older than the copy depguard verified before ({detail}): a replayed feed could lift constraints"
        if not options.allow_rollback:
            raise IntegrityError(message + "; refusing it (pass --allow-rollback if this is intended)")
        warnings.append(message + "; accepted because of --allow-rollback")
    dropped = sorted(set(old.entries) - set(index.entries))
    if old.entries and 2 * len(dropped) > len(old.entries):
        message = f"the feed at {base} dropped {len(dropped)} of the {len(old.entries)} records depguard verified before"
        if not options.allow_shrink:
            raise IntegrityError(message + "; refusing it (pass --allow-shrink if this is intended)")
        warnings.append(f"SHRUNK FEED: {message}; accepted because of --allow-shrink, their constraints are lifted")
    elif dropped:
        warnings.append(
            f"the feed at {base} no longer lists {', '.join(dropped[:5])}{' ...' if len(dropped) > 5 else ''}; "
            "records should be withdrawn, not deleted"
        )
    return warnings


def fetch(url: str, options: FetchOptions | None = None) -> FeedSnapshot:
    """Fetch, verify and cache the feed at ``url``, with no fallback: errors propagate.

    Raises :class:`FeedSourceError` for network and server trouble, :class:`IntegrityError`
    or :class:`InvalidRecordError` when the download is refused; the cache is untouched then.
    """
    options = options or FetchOptions.from_env()
    base = feed_base(check_url(url))
    cache = FeedCache(cache_root(options), base)
    return _fetch(base, options, cache, cache.load())


def _fetch(base: str, options: FetchOptions, cache: FeedCache, cached: CachedFeed | None) -> FeedSnapshot:
    now = _now()
    with _Downloader(options) as downloader:
        response = downloader.get(base + INDEX_PATH, _conditional_headers(cached))
        if response.status == 304:
            if cached is None:
                raise FeedSourceError(f"{base}{INDEX_PATH}: the server answered 304 to an unconditional request")
            problem = _store(lambda: cache.touch(cached, now), cache)
            return _snapshot(cached, base, "url", checked_at=now, warnings=problem)
        index = parse_index(response.body, base + INDEX_PATH)
        warnings = _against_cache(index, cached, base, options)
        if cached is not None and index.all_sha256 == cached.blobs.all_sha256:
            all_bytes = cached.all_bytes
            records = verify_records(index, all_bytes, base, check_schema=False)
            on_disk = cached.blobs.on_disk & {"all"}
        else:
            all_bytes = downloader.get(base + ALL_PATH).body
            records = verify_records(index, all_bytes, base)
            on_disk = frozenset()
    blobs = _Blobs.of(index, all_bytes, records, on_disk=on_disk)
    warnings += _store(
        lambda: cache.commit(
            blobs, etag=response.headers.get("etag"), last_modified=response.headers.get("last-modified"),
            fetched_at=now, checked_at=now,
        ),
        cache,
    )
    return FeedSnapshot(records, base, "url", tuple(warnings), checked_at=now, cache=str(cache.directory))


def _store(write: Callable[[], None], cache: FeedCache) -> tuple[str, ...]:
    """Run a cache write; a cache that cannot be written costs the next run a download, not this run its feed."""
    try:
        write()
    except OSError as exc:
        return (f"could not write the feed cache {cache.directory}: {exc.strerror or exc}; the next run downloads again",)
    return ()


def _snapshot(cached: CachedFeed, base: str, kind: str, *, checked_at: _dt.datetime, warnings: tuple[str, ...] = ()) -> FeedSnapshot:
    return FeedSnapshot(cached.records, base, kind, warnings, checked_at=checked_at, cache=str(cached.directory))


def open_url(url: str, options: FetchOptions | None = None) -> FeedSnapshot:
    """The feed at ``url``, falling back when it cannot be fetched; see the module docstring.

    Network or server trouble: the cached copy, else the bundled snapshot, each with one
    warning naming it and its age. A refused download: the cached copy, else
    :class:`FeedSourceError` (caused by the refusal). ``--offline``: the cached copy, else the
    bundled snapshot. No usable source at all: :class:`FeedSourceError`.
    """
    options = options or FetchOptions.from_env()
    base = feed_base(check_url(url))
    cache = FeedCache(cache_root(options), base)
    try:
        cached = cache.load()
        damage = ""
    except FeedSourceError as exc:
        cached, damage = None, f"; {exc}"
    if options.offline:
        if cached is not None:
            return _snapshot(cached, base, "cache", checked_at=cached.checked_at)
        return _bundled_instead(f"offline and no cached copy of {base}{damage}")
    try:
        return _fetch(base, options, cache, cached)
    except (IntegrityError, InvalidRecordError) as exc:
        if cached is None:
            raise FeedSourceError(f"{exc}; no verified copy of {base} is cached, so there is no usable feed") from exc
        return _cached_instead(cached, base, f"refused the feed from {base}: {exc}")
    except FeedSourceError as exc:
        if cached is not None:
            return _cached_instead(cached, base, f"could not update the feed from {base}: {exc}")
        return _bundled_instead(f"could not fetch the feed from {base}: {exc}{damage}; no cached copy")


def _cached_instead(cached: CachedFeed, base: str, reason: str) -> FeedSnapshot:
    age = describe_age(_now() - cached.checked_at)
    warning = (
        f"{reason}; using the cached copy last confirmed by the server {age} ago "
        f"({len(cached.records)} records, newest {cached.newest or 'none'}; cache {cached.directory})"
    )
    return replace(_snapshot(cached, base, "cache", checked_at=cached.checked_at, warnings=(warning,)), fallback=True)


def _bundled_instead(reason: str) -> FeedSnapshot:
    from depguard import __version__
    from depguard.source import bundled

    try:
        snapshot = bundled()
    except (FeedSourceError, InvalidRecordError) as exc:
        raise FeedSourceError(f"{reason}, and the snapshot bundled with depguard is unusable: {exc}") from None
    newest = snapshot.newest_modified
    age = f", {describe_age(_now() - parse_timestamp(newest))} old" if newest else ""
    warning = (
        f"{reason}; using the snapshot bundled with depguard {__version__} "
        f"({len(snapshot.records)} records, newest {newest or 'none'}{age}): it may miss recent advisories"
    )
    return replace(snapshot, warnings=(*snapshot.warnings, warning), fallback=True)

