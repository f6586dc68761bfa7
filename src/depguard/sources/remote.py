"""Pull a published feed (``depguard feed build``) over HTTPS: conditional, verified, bounded.

Why each rule exists:

* **https only** (plain http only on the loopback, for tests and local mirrors), and every
  redirect hop is checked, because the feed decides which releases users may install.
* **Conditional requests** on the small ``index.json``: an unchanged feed costs one ``304``
  and no body bytes, so ``sync`` can check for news on every run.
* **Integrity**: ``all.json`` must hash to what ``index.json`` says, and every record must pass
  the schemas, before anything is used (:mod:`depguard.sources.verify`). A refused download
  never replaces the last good copy (:mod:`depguard.sources.cache`).
* **Rollback and shrink**: a feed older than the copy already verified, or one that suddenly
  lost most of its records, would lift constraints; both are refused unless the caller says
  it means it. "Lost" counts live claims, not files: an update that lifts more than
  :data:`MAX_LIFTED_SHARE` of the exclusions in force (deleted records, every record
  withdrawn, versions removed: the mechanism does not matter) needs ``--allow-shrink`` too.
  A cached copy dated in the future (:mod:`depguard.clock`) is no rollback anchor: it would
  make every honest feed look older.
* **Credentials**: the URL fetched keeps its userinfo; every URL in a message, a warning or
  :attr:`FeedSnapshot.source` is redacted (:mod:`depguard.redact`).
* **Bounds**: a size limit counted after decompression (gzip bombs), per-read timeouts and a
  deadline for the whole response (slow drips), bounded retries for transient failures.

:class:`RemoteSource` has no fallback: its errors propagate. Which stand-in is used when the
server cannot be (the cache, then the bundled snapshot) is the published-feed chain of
:func:`depguard.sources.resolve`, not a transport concern.
"""

from __future__ import annotations

import datetime as _dt
import json
import time
import urllib.parse
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from depguard import __version__, ecosystems
from depguard.clock import is_future
from depguard.errors import DepguardError, FeedSourceError, IntegrityError
from depguard.feedformat import ALL_PATH, INDEX_PATH
from depguard.jsonio import gc_paused
from depguard.records import parse_timestamp
from depguard.redact import redact_text, redact_url
from depguard.sources.cache import Blobs, CachedFeed, FeedCache, cache_for, now, snapshot_of
from depguard.sources.interface import FeedSnapshot, FeedSource
from depguard.sources.options import FetchOptions
from depguard.sources.verify import FeedIndex, parse_index, verify_records

if TYPE_CHECKING:
    import httpx

__all__ = [
    "MAX_LIFTED_SHARE",
    "RemoteSource",
    "check_redirect",
    "check_url",
    "feed_base",
    "fetch",
    "is_url",
    "live_claims",
    "redacted_error",
    "redacted_snapshot",
]

#: The share of the exclusions in force (live claims) one update may lift without
#: ``--allow-shrink``: more than this is refused, however it is done.
MAX_LIFTED_SHARE = 0.5

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 5
_CHUNK = 64 * 1024


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

            import httpx  # lazy: 60 ms, only for commands that really download

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
        import httpx  # lazy: 60 ms, only for commands that really download

        retryable = (
            httpx.ConnectError,
            httpx.ConnectTimeout,
            httpx.RemoteProtocolError,
            httpx.ReadError,
            httpx.WriteError,
        )
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
            raise FeedSourceError(
                f"{url}: response declares {declared} bytes, more than the limit of {limit}; not downloaded"
            )
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


# --------------------------------------------------------------------------- fetch


def _conditional_headers(cached: CachedFeed | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    if cached is not None:
        if cached.etag:
            headers["If-None-Match"] = cached.etag
        if cached.last_modified:
            headers["If-Modified-Since"] = cached.last_modified
    return headers


def _against_cache(
    index: FeedIndex, cached: CachedFeed | None, base: str, options: FetchOptions, moment: _dt.datetime
) -> list[str]:
    """Rollback and shrink checks of a new index against the copy verified before."""
    if cached is None:
        return []
    warnings: list[str] = []
    old = cached.index
    future = _future_stamp(old, moment)
    if future is not None:
        warnings.append(
            f"the cached copy of {base} is dated in the future ({future}), so it is not used as the anchor of the "
            "rollback check: a future-dated feed would make every honest one look older"
        )
    else:
        warnings += _rollback(index, old, base, options)
    dropped = sorted(set(old.entries) - set(index.entries))
    if old.entries and 2 * len(dropped) > len(old.entries):
        message = (
            f"the feed at {base} dropped {len(dropped)} of the {len(old.entries)} records depguard verified before"
        )
        if not options.allow_shrink:
            raise IntegrityError(message + "; refusing it (pass --allow-shrink if this is intended)")
        warnings.append(f"SHRUNK FEED: {message}; accepted because of --allow-shrink, their constraints are lifted")
    elif dropped:
        warnings.append(
            f"the feed at {base} no longer lists {', '.join(dropped[:5])}{' ...' if len(dropped) > 5 else ''}; "
            "records should be withdrawn, not deleted"
        )
    return warnings


def _future_stamp(index: FeedIndex, moment: _dt.datetime) -> str | None:
    """A ``modified``/``withdrawn`` of ``index`` too far in the future (:mod:`depguard.clock`), or None."""
    for stamp in (s for entry in index.entries.values() for s in entry if s):
        try:
            if is_future(parse_timestamp(stamp), moment):
                return stamp
        except ValueError:
            return stamp
    return None


def _rollback(index: FeedIndex, old: FeedIndex, base: str, options: FetchOptions) -> list[str]:
    older = sorted(
        i
        for i, (modified, _) in index.entries.items()
        if i in old.entries and parse_timestamp(modified) < parse_timestamp(old.entries[i][0])
    )
    went_back = old.newest is not None and (
        index.newest is None or parse_timestamp(index.newest) < parse_timestamp(old.newest)
    )
    if not (went_back or older):
        return []
    detail = f"newest record {index.newest} < {old.newest}" if went_back else f"older copies of {', '.join(older[:3])}"
    message = f"the feed at {base} is older than the copy depguard verified before ({detail}): a replayed feed could lift constraints"
    if not options.allow_rollback:
        raise IntegrityError(message + "; refusing it (pass --allow-rollback if this is intended)")
    return [message + "; accepted because of --allow-rollback"]


def live_claims(records: Iterable[Any]) -> set[tuple[str, str, str]]:
    """The exclusions a feed puts in force: ``(ecosystem, normalized name, version)`` per listed
    version of a record that is not withdrawn, ``version`` ``"*"`` for a whole-package block
    and the range's JSON for any other range. Raw record dicts (``all.json`` as parsed).
    """
    claims: set[tuple[str, str, str]] = set()
    for data in records:
        if not isinstance(data, dict) or data.get("withdrawn"):
            continue
        for entry in data.get("affected") or ():
            package = entry.get("package") if isinstance(entry, dict) else None
            if not isinstance(package, dict) or not isinstance(package.get("name"), str):
                continue
            eco_name = str(package.get("ecosystem"))
            eco = ecosystems.get(eco_name)
            name = eco.normalize_name(package["name"]) if eco is not None else package["name"]
            claims.update((eco_name, name, str(v)) for v in entry.get("versions") or ())
            for rng in entry.get("ranges") or ():
                whole = rng == {"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}
                claims.add((eco_name, name, "*" if whole else json.dumps(rng, sort_keys=True)))
    return claims


def _lifted(old_all: bytes, new_all: bytes, base: str, options: FetchOptions) -> list[str]:
    """The shrink check on what is in force: refuses an update that lifts more than
    :data:`MAX_LIFTED_SHARE` of the live claims of the copy verified before."""
    with gc_paused():  # millions of small objects, no cycles (see jsonio.gc_paused)
        before = live_claims(json.loads(old_all))
        if not before:
            return []
        lost = before - live_claims(json.loads(new_all))
    if len(lost) <= MAX_LIFTED_SHARE * len(before):
        return []
    message = (
        f"the feed at {base} lifts {len(lost)} of the {len(before)} exclusions in force in the copy depguard verified "
        "before (records deleted or withdrawn, versions removed)"
    )
    if not options.allow_shrink:
        raise IntegrityError(message + "; refusing it (pass --allow-shrink if this is intended)")
    return [f"SHRUNK FEED: {message}; accepted because of --allow-shrink, those exclusions are lifted"]


def fetch(url: str, options: FetchOptions | None = None) -> FeedSnapshot:
    """Fetch, verify and cache the feed at ``url``, with no fallback: errors propagate.

    Raises :class:`FeedSourceError` for network and server trouble, :class:`IntegrityError`
    or :class:`InvalidRecordError` when the download is refused; the cache is untouched then.
    """
    return RemoteSource(url, options).load()


def _fetch(base: str, options: FetchOptions, cache: FeedCache, cached: CachedFeed | None) -> FeedSnapshot:
    moment = now()
    with _Downloader(options) as downloader:
        response = downloader.get(base + INDEX_PATH, _conditional_headers(cached))
        if response.status == 304:
            if cached is None:
                raise FeedSourceError(f"{base}{INDEX_PATH}: the server answered 304 to an unconditional request")
            problem = _store(lambda: cache.touch(cached, moment), cache)
            return snapshot_of(cached, base, "url", checked_at=moment, warnings=problem)
        index = parse_index(response.body, base + INDEX_PATH)
        warnings = _against_cache(index, cached, base, options, moment)
        if cached is not None and index.all_sha256 == cached.blobs.all_sha256:
            all_bytes = cached.all_bytes
            records = verify_records(index, all_bytes, base, check_schema=False)
            on_disk = cached.blobs.on_disk & {"all"}
        else:
            all_bytes = downloader.get(base + ALL_PATH).body
            records = verify_records(index, all_bytes, base, now=moment)
            on_disk = frozenset()
            if cached is not None and not any(
                w.startswith("SHRUNK FEED") for w in warnings
            ):  # one consent, one warning
                warnings += _lifted(cached.all_bytes, all_bytes, base, options)
    blobs = Blobs.of(index, all_bytes, records, on_disk=on_disk)
    warnings += _store(
        lambda: cache.commit(
            blobs,
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
            fetched_at=moment,
            checked_at=moment,
        ),
        cache,
    )
    return FeedSnapshot(records, base, "url", tuple(warnings), checked_at=moment, cache=str(cache.directory))


def _store(write: Callable[[], None], cache: FeedCache) -> tuple[str, ...]:
    """Run a cache write; a cache that cannot be written costs the next run a download, not this run its feed."""
    try:
        write()
    except OSError as exc:
        return (
            f"could not write the feed cache {cache.directory}: {exc.strerror or exc}; the next run downloads again",
        )
    return ()


class RemoteSource(FeedSource):
    """The published tree at a URL: fetched, verified and cached on every :meth:`load`, no fallback.

    ``base`` is the URL fetched, credentials included; ``location``, every message and the
    snapshot's ``source`` show it redacted (:func:`depguard.redact.redact_url`).
    """

    def __init__(self, url: str, options: FetchOptions | None = None) -> None:
        self.options = options or FetchOptions.from_env()
        try:
            self.base = feed_base(check_url(url))
        except DepguardError as exc:
            raise redacted_error(exc) from exc.__cause__
        self.location = redact_url(self.base)
        self.cache = cache_for(self.base, self.options)

    def load(self) -> FeedSnapshot:
        try:
            cached = self.cache.load()
        except DepguardError as exc:
            raise redacted_error(exc) from exc.__cause__
        return self.fetch(cached)

    def fetch(self, cached: CachedFeed | None) -> FeedSnapshot:
        """Fetch against ``cached`` (already loaded by the caller: the baseline of the rollback checks)."""
        try:
            snapshot = _fetch(self.base, self.options, self.cache, cached)
        except DepguardError as exc:
            raise redacted_error(exc) from exc.__cause__
        return redacted_snapshot(snapshot)


def redacted_error(exc: DepguardError) -> DepguardError:
    """``exc`` itself when its message names no credential, else a copy of the same type with
    every URL redacted (and the same ``__cause__``)."""
    text = redact_text(str(exc))
    if text == str(exc):
        return exc
    copy = type(exc)(text)
    copy.__cause__ = exc.__cause__
    return copy


def redacted_snapshot(snapshot: FeedSnapshot) -> FeedSnapshot:
    """``snapshot`` with its source and warnings redacted: what leaves the sources package."""
    return replace(
        snapshot, source=redact_url(snapshot.source), warnings=tuple(redact_text(w) for w in snapshot.warnings)
    )
