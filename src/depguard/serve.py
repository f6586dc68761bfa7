"""A read-only OSV API over the feed, so existing scanners can use depguard's advisories.

``uv audit --service-url``, ``pip-audit --vulnerability-service osv --osv-url`` and other
OSV clients already speak osv.dev's JSON API. Serving the feed in that shape lets a team point
them at depguard's curated records without another integration. Three endpoints, with
osv.dev's request and response shapes:

* ``POST /v1/query``: one package version -> ``{"vulns": [full records]}``, or ``{}`` when
  nothing matches (pip-audit relies on the empty object). A query may name a commit instead
  (``{"commit": "<full 40-hex id>"}``): it matches the GitHub Actions records that list that
  commit as known-bad.
* ``POST /v1/querybatch``: up to 1,000 queries -> ``{"results": [...]}`` in input order, each
  ``{"vulns": [{"id", "modified"}]}`` or ``{}``; clients then fetch records by id (uv does).
* ``GET /v1/vulns/{id}``: one full record; ids are case-sensitive, as on osv.dev.

Errors are JSON ``{"code": <gRPC status code>, "message": "..."}``, the shape osv.dev's
gateway uses, never an HTML page or a traceback.

Withdrawn records follow osv.dev: they never match a query (osv.dev marks them invalid for
queries) but are still served by id, so a client that cached the id can learn why it went away.

Stack: the standard library's ``ThreadingTCPServer``, with h11 (already installed with httpx)
reading and writing HTTP/1.1: request framing is where hand-written servers go wrong
(request smuggling), and h11 is a strict, maintained parser of it. The work per request is a
few dictionary hits against an index built once per feed load, so a thread per connection is
never the bottleneck for the local or CI use this is for (at most :data:`MAX_CONNECTIONS` of
them, each request due whole within :data:`REQUEST_DEADLINE`; a request whose framing two
parsers could read differently is refused with 400 and its connection closed, see
``_check_framing``). The index lives in an immutable :class:`Catalog`; a reload builds a new one and swaps a single
reference, so a request sees either the old feed or the new one, never a mix.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from pathlib import Path
from typing import Any, Protocol, Union
from urllib.parse import unquote, urlsplit

import h11

from depguard import __version__, ecosystems
from depguard.advisoryindex import AdvisoryIndex
from depguard.affected import bad_commits
from depguard.errors import ConfigError, DepguardError, FeedSourceError
from depguard.jsonio import gc_paused
from depguard.records import OSV_FIELD_ORDER, Record, parse_timestamp
from depguard.sources import FetchOptions, source_for
from depguard.sources.interface import FeedSnapshot, FeedSource

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_PORT",
    "DEFAULT_REFETCH_INTERVAL",
    "MAX_BATCH_QUERIES",
    "MAX_BODY_BYTES",
    "READ_TIMEOUT",
    "REQUEST_DEADLINE",
    "ApiError",
    "Catalog",
    "FeedServer",
    "Query",
    "ReloadEvent",
    "SnapshotProvider",
    "SourceProvider",
    "StaticProvider",
    "is_loopback_host",
    "parse_purl",
    "parse_query",
    "start_server",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
#: Seconds between feed change checks: quick enough that an edit shows up while you watch.
DEFAULT_POLL_INTERVAL = 2.0
#: Seconds between fetches of a feed URL (the published feed): news is rare, CDNs are shared.
DEFAULT_REFETCH_INTERVAL = 300.0
#: A 1,000-query batch with long names is ~150 KiB; 1 MiB leaves room and bounds memory.
MAX_BODY_BYTES = 1024 * 1024
#: osv.dev's own limit for ``/v1/querybatch``; clients already split their batches at it.
MAX_BATCH_QUERIES = 1000
#: Bodies over the limit are read and dropped up to here, so the client sees the 413 instead
#: of a connection reset; beyond it the connection is simply closed.
_DRAIN_LIMIT = 16 * MAX_BODY_BYTES
#: A connection that sends nothing this long, between requests or in the middle of one, is
#: closed (and its thread freed); also the limit for a client to take each part of an answer.
READ_TIMEOUT = 30.0
#: A whole request, head and body, must arrive within this many seconds of its first byte. The
#: read timeout alone lets a client that sends a byte every 29 seconds (slowloris) hold a thread
#: and one of the MAX_CONNECTIONS slots for ever; with this, 64 of them must reconnect every
#: 30 s, and each gets a 408. Thirty seconds carries a full 1 MiB body at 35 KB/s, far slower
#: than any link a CI runner or a developer machine has to this server.
REQUEST_DEADLINE = 30.0
#: Request line plus headers; as http.server allowed (64 KiB lines), well over what clients send.
_MAX_HEAD_BYTES = 64 * 1024
_RECV_BYTES = 64 * 1024
#: After an answer that closes the connection, read what the client still sends this long (at
#: most _RECV_BYTES), so the kernel does not reset the connection over unread bytes.
_LINGER_SECONDS = 1.0
#: Connections served at once (a thread each); one more is answered 503 and closed, so a
#: client that opens connections and idles cannot exhaust threads or descriptors.
MAX_CONNECTIONS = 64
#: Methods routed (to an answer or a 405); any other gets 501, as RFC 9110 section 9.1 asks.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
_SERVER = f"depguard/{__version__}"

# gRPC status codes, which osv.dev's gateway puts in "code".
_INVALID_ARGUMENT, _DEADLINE_EXCEEDED, _NOT_FOUND, _RESOURCE_EXHAUSTED = 3, 4, 5, 8
_UNIMPLEMENTED, _INTERNAL, _UNAVAILABLE = 12, 13, 14
_GRPC_CODE = {
    400: _INVALID_ARGUMENT,
    404: _NOT_FOUND,
    405: _UNIMPLEMENTED,
    408: _DEADLINE_EXCEEDED,
    411: _INVALID_ARGUMENT,
    413: _RESOURCE_EXHAUSTED,
    414: _INVALID_ARGUMENT,
    431: _INVALID_ARGUMENT,
    500: _INTERNAL,
    501: _UNIMPLEMENTED,
    503: _UNAVAILABLE,
}

_log = logging.getLogger("depguard.serve")


# --- requests ------------------------------------------------------------------------------


class ApiError(Exception):
    """A request the API refuses, with the HTTP status and the message the client sees."""

    def __init__(
        self, status: int, message: str, *, close: bool = False, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.close = close
        self.headers = headers or {}

    def body(self) -> bytes:
        return _dumps({"code": _GRPC_CODE.get(self.status, _INVALID_ARGUMENT), "message": self.message})


@dataclass(frozen=True)
class Query:
    """One OSV query reduced to what the index answers. ``ecosystem`` None means every one
    depguard covers (osv.dev accepts a bare name), ``""`` one it does not cover (a purl of
    another type: no matches); ``version`` None means every version. ``commit`` is a full
    commit id in lower case; a commit query names no package."""

    ecosystem: str | None = None
    name: str | None = None
    version: str | None = None
    commit: str | None = None


def _field(obj: dict[str, Any], key: str, where: str) -> str | None:
    """A string field; null and "" count as absent, as protobuf JSON treats them."""
    value = obj.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ApiError(400, f"{where}{key} must be a string")
    return value


def parse_purl(purl: str) -> tuple[str | None, str, str | None]:
    """``(ecosystem, name, version)`` of a package URL; ecosystem None for a type depguard
    does not cover. The npm scope may be written ``%40scope`` (the spec) or ``@scope``."""
    if not purl.startswith("pkg:"):
        raise ApiError(400, f"invalid purl {purl!r}: it must start with 'pkg:'")
    rest = purl[4:].lstrip("/").split("#", 1)[0].split("?", 1)[0]
    kind, _, path = rest.partition("/")
    version: str | None = None
    head, _, last = path.rpartition("/")
    if "@" in last[1:]:
        last, _, version = last.rpartition("@")
    name = unquote(last)
    namespace = "/".join(unquote(part) for part in head.split("/") if part)
    if not kind or not name:
        raise ApiError(400, f"invalid purl {purl!r}: it needs a type and a name")
    eco = next((e for e in ecosystems.ECOSYSTEMS.values() if e.purl_type == kind.lower()), None)
    full = f"{namespace}/{name}" if namespace else name
    return (eco.name if eco else None), full, (unquote(version) if version else None)


def parse_query(data: Any, where: str = "") -> Query:
    """Validate one OSV query object the way osv.dev does, or raise a 400 :class:`ApiError`."""
    if not isinstance(data, dict):
        raise ApiError(400, f"{where or 'the query'} must be a JSON object")
    version = _field(data, "version", where)
    commit = _field(data, "commit", where)
    _field(data, "page_token", where)  # type-checked only: every answer here is complete, never paged
    if commit is not None and version is not None:
        raise ApiError(400, f"{where or 'the query'} sets both commit and version; use one")
    if commit is not None:
        if not ecosystems.is_full_sha(commit):  # a prefix could match commits nobody meant
            raise ApiError(400, f"{where}commit must be a full 40-hex commit id, not {commit[:80]!r}")
        commit = commit.lower()
    package = data.get("package")
    if package is None:
        if commit is None:
            raise ApiError(400, f"{where or 'the query'} needs a package (name and ecosystem, or purl) or a commit")
        return Query(commit=commit)
    if not isinstance(package, dict):
        raise ApiError(400, f"{where}package must be a JSON object")
    name = _field(package, "name", f"{where}package.")
    eco = _field(package, "ecosystem", f"{where}package.")
    purl = _field(package, "purl", f"{where}package.")
    if purl is not None:
        if name is not None or eco is not None:
            raise ApiError(400, f"{where}package sets purl together with name or ecosystem; use one")
        eco, name, purl_version = parse_purl(purl)
        if purl_version is not None and version is not None:
            raise ApiError(400, f"{where or 'the query'} has a version both in the purl and in 'version'; use one")
        if eco is None:  # a purl type depguard has no records for: a valid query, no matches
            eco = ""
        version = purl_version or version
    elif name is None:
        raise ApiError(400, f"{where}package needs a name (or a purl)")
    if commit is not None:  # a commit query: the package only says where the commit lives
        return Query(commit=commit)
    return Query(eco, name, version)


def _batch_queries(data: Any) -> list[Query]:
    if not isinstance(data, dict) or not isinstance(data.get("queries"), list):
        raise ApiError(400, "the body must be a JSON object with a 'queries' list")
    queries = data["queries"]
    if len(queries) > MAX_BATCH_QUERIES:
        raise ApiError(400, f"too many queries: {len(queries)} (at most {MAX_BATCH_QUERIES} per batch)")
    return [parse_query(q, f"queries[{i}].") for i, q in enumerate(queries)]


# --- the loaded feed -----------------------------------------------------------------------


def _dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _osv_order(data: dict[str, Any]) -> dict[str, Any]:
    """Top-level keys in the specification's order, as osv.dev and the feed files list them."""
    ordered = {key: data[key] for key in OSV_FIELD_ORDER if key in data}
    ordered.update((key, value) for key, value in data.items() if key not in ordered)
    return ordered


@dataclass(frozen=True)
class Catalog:
    """One feed load, ready to answer: the index plus every record pre-encoded as JSON.

    Encoding once per load keeps a request to dictionary lookups and a byte join; nothing in
    here changes after construction, which is what makes the reload swap safe.
    """

    snapshot: FeedSnapshot
    index: AdvisoryIndex
    generation: int
    records: dict[str, bytes]
    summaries: dict[str, bytes]
    #: Known-bad commit (lowercase) -> ids of the live records that list it, sorted.
    commits: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def build(cls, snapshot: FeedSnapshot, generation: int = 1) -> Catalog:
        index = AdvisoryIndex.from_records(snapshot.records)
        with gc_paused():  # 20,000 records dumped and encoded: see jsonio.gc_paused
            records = {r.id: _dumps(_osv_order(r.to_json())) for r in snapshot.records}
            summaries = {r.id: _dumps({"id": r.id, "modified": r.modified}) for r in snapshot.records}
        return cls(snapshot, index, generation, records, summaries, _bad_commits(snapshot.records))

    def find(self, query: Query) -> list[Record]:
        """Live records matching ``query``, by id. A commit query matches the GitHub Actions
        records that list that commit as known-bad (``bad_commits``). An unknown ecosystem
        matches nothing, as on osv.dev."""
        if query.commit is not None:
            return [self.index.by_id[i] for i in self.commits.get(query.commit, ())]
        if query.name is None:
            return []
        if query.ecosystem is None:
            ecos: Iterable[ecosystems.Ecosystem] = ecosystems.ECOSYSTEMS.values()
        else:
            eco = ecosystems.get(query.ecosystem)
            ecos = (eco,) if eco is not None else ()
        found: dict[str, Record] = {}
        for eco in ecos:
            if query.version is None:
                entries = self.index.by_package.get((eco.name, eco.normalize_name(query.name)), ())
                found.update((e.record.id, e.record) for e in entries)
            else:
                found.update((m.record.id, m.record) for m in self.index.lookup(eco.name, query.name, query.version))
        return [found[k] for k in sorted(found)]

    def query_body(self, query: Query) -> bytes:
        ids = [r.id for r in self.find(query)]
        if not ids:
            return b"{}"
        return b'{"vulns":[' + b",".join(self.records[i] for i in ids) + b"]}"

    def batch_body(self, queries: list[Query]) -> bytes:
        parts = []
        for query in queries:
            ids = [r.id for r in self.find(query)]
            parts.append(b'{"vulns":[' + b",".join(self.summaries[i] for i in ids) + b"]}" if ids else b"{}")
        return b'{"results":[' + b",".join(parts) + b"]}"


def _bad_commits(records: Iterable[Record]) -> dict[str, tuple[str, ...]]:
    """Every known-bad commit of the live GitHub Actions records, with the ids that list it.

    The feed files them under ``affected[].database_specific.depguard.bad_commits`` (read by
    :func:`depguard.affected.bad_commits`, as ``check`` does); withdrawn records are left out,
    as from every query.
    """
    found: dict[str, set[str]] = {}
    for record in records:
        if record.is_withdrawn:
            continue
        for entry in record.affected:
            if entry.package is not None and ecosystems.get(entry.package.ecosystem) is ecosystems.GITHUB_ACTIONS:
                for sha in bad_commits(entry):
                    found.setdefault(sha, set()).add(record.id)
    return {sha: tuple(sorted(ids)) for sha, ids in found.items()}


# --- where snapshots come from -------------------------------------------------------------


class SnapshotProvider(Protocol):
    """A feed the server can (re)load. ``fingerprint`` must be cheap: it runs every poll, and
    ``load`` (full validation) runs only when the fingerprint changes."""

    def load(self) -> FeedSnapshot: ...

    def fingerprint(self) -> Hashable: ...


class StaticProvider:
    """A snapshot that never changes (a fixed feed handed in by another tool)."""

    def __init__(self, snapshot: FeedSnapshot) -> None:
        self._snapshot = snapshot

    def load(self) -> FeedSnapshot:
        return self._snapshot

    def fingerprint(self) -> Hashable:
        return id(self._snapshot)


class SourceProvider:
    """A :class:`~depguard.sources.interface.FeedSource` (or the spec of one), and how to notice news.

    A local directory (a feed source or a built tree) is watched by file metadata: every
    visible file's path, mtime, size and inode. An atomic rename changes the inode even within
    one mtime tick, and dot-files (editor swap files, temporary files of atomic writers) are
    ignored, as the feed loader ignores them. A URL, or None (the published feed), cannot be
    watched cheaply, so it is fetched again every ``refetch`` seconds; the client's
    conditional requests make an unchanged feed cost one small 304.
    """

    def __init__(
        self,
        spec: FeedSource | str | os.PathLike[str] | None = None,
        options: FetchOptions | None = None,
        *,
        refetch: float = DEFAULT_REFETCH_INTERVAL,
    ) -> None:
        self.source = spec if isinstance(spec, FeedSource) else source_for(spec, options)
        self.refetch = refetch

    @property
    def is_local(self) -> bool:
        return self.source.local_path is not None

    def load(self) -> FeedSnapshot:
        return self.source.load()

    def fingerprint(self) -> Hashable:
        path = self.source.local_path
        if path is not None:
            return _tree_fingerprint(path)
        return int(time.monotonic() // self.refetch)


def _tree_fingerprint(root: Path) -> tuple[tuple[str, int, int, int], ...]:
    """Metadata of every visible file under ``root``; a missing ``root`` raises OSError.

    A file or folder that disappears during the walk is skipped: the change it belongs to
    alters the fingerprint anyway, and the next poll sees the settled tree.
    """
    entries: list[tuple[str, int, int, int]] = []
    pending = [os.fspath(root)]
    top = True
    while pending:
        folder = pending.pop()
        try:
            listing = list(os.scandir(folder))
        except FileNotFoundError:
            if top:
                raise
            continue
        top = False
        for entry in listing:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir():
                    pending.append(entry.path)
                    continue
                st = entry.stat()
            except FileNotFoundError:
                continue
            entries.append((entry.path, st.st_mtime_ns, st.st_size, st.st_ino))
    return tuple(sorted(entries))


FeedSpec = Union[str, "os.PathLike[str]", FeedSnapshot, FeedSource, SnapshotProvider, None]


def _provider(feed: FeedSpec) -> SnapshotProvider:
    if isinstance(feed, FeedSnapshot):
        return StaticProvider(feed)
    if feed is None or isinstance(feed, (str, os.PathLike, FeedSource)):
        return SourceProvider(feed)
    return feed


# --- HTTP ----------------------------------------------------------------------------------


def is_loopback_host(host: str) -> bool:
    """True when every address ``host`` names is a loopback address ("" and 0.0.0.0 are not)."""
    if not host:
        return False
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return False
    return bool(infos) and all(ipaddress.ip_address(str(i[4][0]).split("%")[0]).is_loopback for i in infos)


class _IdleTimeout(Exception):
    """No byte of a next request arrived within the read timeout: close quietly."""


class _RequestTimeout(Exception):
    """A request started but did not arrive whole in time: answer 408 and close."""


class _Connection:
    """One client connection: bytes from the socket into h11, events out, answers back.

    h11 does all the HTTP/1.1 framing (request line, headers, Content-Length and chunked
    bodies, ``Expect: 100-continue``, keep-alive); this class owns only the socket side of it:
    the read timeout, the whole-request deadline and the lingering close.
    """

    def __init__(self, sock: socket.socket, *, read_timeout: float, request_deadline: float) -> None:
        self.sock = sock
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_HEAD_BYTES)
        self.read_timeout = read_timeout
        self.request_deadline = request_deadline
        self._deadline: float | None = None

    def next_request(self) -> h11.Request | None:
        """The head of the next request, or None when the client closed the connection.

        The deadline starts with the request's first byte, so an idle keep-alive connection is
        bounded by the read timeout alone (it raises :class:`_IdleTimeout`), a request in
        progress by both.
        """
        self._deadline = None
        if self.h11.trailing_data[0]:  # a pipelined request is already (partly) here
            self._deadline = time.monotonic() + self.request_deadline
        event = self.next_event()
        return event if isinstance(event, h11.Request) else None  # else ConnectionClosed

    def next_event(self) -> Any:
        """The next h11 event of the client, reading the socket while h11 needs more bytes."""
        while True:
            event = self.h11.next_event()
            if event is not h11.NEED_DATA:
                return event
            self._receive()

    def _receive(self) -> None:
        timeout = self.read_timeout
        if self._deadline is not None:
            timeout = min(timeout, self._deadline - time.monotonic())
            if timeout <= 0:
                raise _RequestTimeout
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(_RECV_BYTES)
        except TimeoutError:
            raise (_IdleTimeout if self._deadline is None else _RequestTimeout) from None
        if self._deadline is None:
            self._deadline = time.monotonic() + self.request_deadline
        self.h11.receive_data(data)  # b"" is the client's end of stream

    def read_body(self, limit: int) -> bytes | None:
        """The current request's body, or None when it is over ``limit`` bytes.

        A body over the limit is read on and dropped up to :data:`_DRAIN_LIMIT`, so the client
        sees the 413 instead of a reset connection. A client waiting for ``100 Continue``
        gets it here, only once the server has decided to read the body.
        """
        if self.h11.they_are_waiting_for_100_continue:
            self.send(h11.InformationalResponse(status_code=100, headers=[], reason=b"Continue"))
        parts: list[bytes] = []
        total = 0
        while True:
            event = self.next_event()
            if isinstance(event, h11.EndOfMessage):
                return b"".join(parts) if total <= limit else None
            if isinstance(event, h11.Data):
                total += len(event.data)
                if total <= limit:
                    parts.append(bytes(event.data))
                else:
                    parts.clear()
                    if total > _DRAIN_LIMIT:
                        return None

    def request_complete(self) -> bool:
        """Take what is left of the request out of the bytes already received, without waiting;
        True when the whole request is in. A body left unread (a 404 or 405 to a POST, a
        client still waiting for 100 Continue) would be parsed as the next request: close."""
        try:
            while self.h11.their_state is h11.SEND_BODY:
                if self.h11.next_event() is h11.NEED_DATA:
                    return False
        except h11.RemoteProtocolError:
            return False
        return self.h11.their_state is h11.DONE

    def send(self, *events: Any) -> None:
        """Encode ``events`` with h11 and write them in one go (no small-write stalls)."""
        data = b"".join(self.h11.send(event) or b"" for event in events)
        self.sock.settimeout(self.read_timeout)
        self.sock.sendall(data)

    def reusable(self) -> bool:
        """True when both sides finished their message and keep-alive holds: start the next one."""
        if self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE:
            self.h11.start_next_cycle()
            return True
        return False

    def linger(self) -> None:
        """End our side, then read and drop what the client still sends, briefly.

        Closing a socket with unread bytes makes the kernel send a reset, which can destroy the
        answer (a 400, 408 or 413) before the client reads it; a client that has read it
        closes too, which ends this at once.
        """
        try:
            self.sock.shutdown(socket.SHUT_WR)
            end = time.monotonic() + _LINGER_SECONDS
            budget = _RECV_BYTES
            while budget > 0 and (left := end - time.monotonic()) > 0:
                self.sock.settimeout(left)
                data = self.sock.recv(_RECV_BYTES)
                if not data:
                    return
                budget -= len(data)
        except OSError:
            pass


def _header(request: h11.Request, name: bytes) -> bytes | None:
    """The value of header ``name`` (lower case), as h11 validated and normalized it."""
    return next((value for key, value in request.headers if key == name), None)


def _check_framing(request: h11.Request) -> None:
    """Refuse a request with both Content-Length and Transfer-Encoding (400, close).

    h11 frames such a body by Transfer-Encoding alone, as RFC 9112 section 6.1 allows, but a
    proxy in front might frame it by Content-Length, and the leftover bytes would be read as a
    second, smuggled request. Everything else about framing (one valid Content-Length, only
    ``chunked``, well-formed chunks) h11 already enforces.
    """
    if _header(request, b"content-length") is not None and _header(request, b"transfer-encoding") is not None:
        raise ApiError(400, "both Content-Length and Transfer-Encoding: ambiguous framing", close=True)


def _protocol_error(exc: h11.RemoteProtocolError, what: str = "request") -> ApiError:
    """h11's refusal of a malformed ``what`` as an API error; the connection closes after it.

    h11 hints 501 for a Transfer-Encoding it does not support; this answers 400 instead: RFC
    9112 section 6.3 requires 400 when ``chunked`` is not the final coding of a request, and
    for a request this server refuses either way one status is simpler to rely on. h11 quotes
    the offending line, which can be long: the message keeps its start.
    """
    status = 431 if exc.error_status_hint == 431 else 400
    detail = str(exc)
    if len(detail) > 200:
        detail = detail[:200] + "..."
    return ApiError(status, f"malformed {what}: {detail}", close=True)


class _Handler(socketserver.BaseRequestHandler):
    """One connection's requests, answered in turn: routes, body limits and JSON errors.

    Reads the catalog reference once per request.
    """

    server: _HTTPServer
    command = ""
    path = ""

    def handle(self) -> None:
        owner = self.server.owner
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # a 100 Continue is its own write
        self.conn = _Connection(self.request, read_timeout=owner.read_timeout, request_deadline=owner.request_deadline)
        try:
            while self._answer_one():
                pass
        except (OSError, _IdleTimeout):  # the client went away, or idled past the read timeout
            pass
        finally:
            self.conn.linger()

    def _answer_one(self) -> bool:
        """Read one request and answer it; True when the connection can carry another."""
        self.command = self.path = ""
        try:
            request = self.conn.next_request()
            if request is None:
                return False
            self._request = request
            self.command = request.method.decode("ascii")
            self.path = request.target.decode("ascii")
            _check_framing(request)
            status, body, headers = self._route()
            close = False
        except ApiError as err:
            status, body, headers, close = err.status, err.body(), err.headers, err.close
        except h11.RemoteProtocolError as exc:
            refusal = _protocol_error(exc)
            status, body, headers, close = refusal.status, refusal.body(), {}, True
        except _RequestTimeout:
            message = f"the request did not arrive whole within {self.conn.request_deadline:g} seconds"
            status, body, headers, close = 408, ApiError(408, message).body(), {}, True
        except (OSError, _IdleTimeout):  # nobody to answer: handle() closes the connection
            raise
        except Exception:  # a bug: log it, answer like osv.dev, never show a traceback
            _log.exception("error answering %s %s", self.command, self.path)
            status, body, headers, close = 500, ApiError(500, "internal error").body(), {}, True
        if not close and not self.conn.request_complete():
            close = True
        self._send(status, body, headers, close=close)
        _log.debug("%s %s %s -> %d", self.client_address[0], self.command, self.path, status)
        return self.conn.reusable()

    def _route(self) -> tuple[int, bytes, dict[str, str]]:
        if self.command not in _METHODS:
            raise ApiError(501, f"unsupported method {self.command!r}")
        path = urlsplit(self.path).path
        catalog = self.server.owner.catalog
        if path in ("/v1/query", "/v1/querybatch"):
            self._require("POST")
            data = self._read_json()
            if path == "/v1/query":
                return 200, catalog.query_body(parse_query(data)), {}
            return 200, catalog.batch_body(_batch_queries(data)), {}
        if path.startswith("/v1/vulns/") and len(path) > len("/v1/vulns/"):
            self._require("GET", "HEAD")
            vuln_id = unquote(path[len("/v1/vulns/") :])
            body = catalog.records.get(vuln_id)
            if body is None:
                raise ApiError(404, "Bug not found.")  # osv.dev's wording, which clients may match
            return 200, body, {}
        raise ApiError(404, f"no such endpoint: {path} (try POST /v1/query, POST /v1/querybatch, GET /v1/vulns/ID)")

    def _require(self, *methods: str) -> None:
        if self.command not in methods:
            raise ApiError(
                405,
                f"{self.command} is not allowed here; use {' or '.join(methods)}",
                headers={"Allow": ", ".join(methods)},
            )

    def _read_json(self) -> Any:
        body = self._read_body()
        try:
            return json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise ApiError(400, f"the body is not valid JSON: {exc}") from None

    def _read_body(self) -> bytes:
        """The body, within :data:`MAX_BODY_BYTES`; h11 frames it, this only sets the limits."""
        raw_length = _header(self._request, b"content-length")
        if raw_length is None and _header(self._request, b"transfer-encoding") is None:
            raise ApiError(411, "a Content-Length header (or a chunked body) is required", close=True)
        length = None if raw_length is None else int(raw_length)  # h11 checked: digits only
        if length is None:
            too_large = f"request body of over {MAX_BODY_BYTES} bytes is over the limit"
        else:
            too_large = f"request body of {length} bytes is over the {MAX_BODY_BYTES}-byte limit"
            if length > MAX_BODY_BYTES and self.conn.h11.they_are_waiting_for_100_continue:
                raise ApiError(413, too_large, close=True)  # refused before the client sends it (curl asks first)
        try:
            body = self.conn.read_body(MAX_BODY_BYTES)
        except h11.RemoteProtocolError as exc:
            raise _protocol_error(exc, "body" if length is not None else "chunked body") from None
        if body is None:
            raise ApiError(413, too_large, close=True)
        return body

    def _send(self, status: int, body: bytes, headers: dict[str, str], *, close: bool) -> None:
        """One answer; the headers are written even for HEAD, the body then left out."""
        fields = [
            ("Server", _SERVER),
            ("Date", formatdate(usegmt=True)),
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            *headers.items(),
        ]
        if close:
            fields.append(("Connection", "close"))
        events: list[Any] = [h11.Response(status_code=status, headers=fields, reason=HTTPStatus(status).phrase)]
        if self.command != "HEAD":
            events.append(h11.Data(data=body))
        events.append(h11.EndOfMessage())
        try:
            self.conn.send(*events)
        except h11.LocalProtocolError:  # h11 sees no answer possible in this state: the connection closes
            _log.debug("no answer possible to %s %s", self.command, self.path, exc_info=True)


class _HTTPServer(socketserver.ThreadingTCPServer):
    """One thread per connection; remembers open connections so shutdown can end them."""

    daemon_threads = True
    allow_reuse_address = True  # a restart binds the port again at once (as http.server does)
    request_queue_size = 128  # the default 5 drops SYNs when 20 clients connect at once

    def __init__(self, address: tuple[Any, ...], family: socket.AddressFamily, owner: FeedServer) -> None:
        self.address_family = family
        self.owner = owner
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            full = len(self._connections) >= MAX_CONNECTIONS
            if not full:
                self._connections.add(request)
        if full:  # answered here, without a thread: the busy server stays responsive
            body = ApiError(503, f"more than {MAX_CONNECTIONS} connections open; try again").body()
            try:
                request.settimeout(1.0)
                request.sendall(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
                )
            except OSError:
                pass
            socketserver.TCPServer.shutdown_request(self, request)
            return
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-response is routine: log it, never print to stderr."""
        _log.debug("connection from %s ended with an error", client_address, exc_info=True)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


# --- the server ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReloadEvent:
    """What a reload attempt did, for a caller that reports it (the CLI prints it)."""

    ok: bool
    generation: int
    records: int
    source: str
    error: str | None = None
    warnings: tuple[str, ...] = ()


class FeedServer:
    """The OSV API over a feed: HTTP on a background thread, plus a watcher that reloads.

    Create it with :func:`start_server`. ``url`` is the base URL (give it to ``uv audit
    --service-url``; pip-audit wants ``url + "/v1/query"``). A failed reload (say, a record
    saved half-way) keeps the previous feed serving and is reported through ``on_reload``
    and ``last_error``; the next change is tried again. ``read_timeout`` and
    ``request_deadline`` (seconds) default to :data:`READ_TIMEOUT` and :data:`REQUEST_DEADLINE`.
    """

    def __init__(
        self,
        feed: FeedSpec = None,
        *,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        allow_remote: bool = False,
        poll_interval: float | None = DEFAULT_POLL_INTERVAL,
        on_reload: Callable[[ReloadEvent], None] | None = None,
        read_timeout: float = READ_TIMEOUT,
        request_deadline: float = REQUEST_DEADLINE,
    ) -> None:
        if not allow_remote and not is_loopback_host(host):
            raise ConfigError(
                f"refusing to listen on {host or 'all interfaces'!s}: not a loopback address; "
                "pass allow_remote (--allow-remote) to serve the feed to other machines"
            )
        self._provider = _provider(feed)
        self.read_timeout = read_timeout
        self.request_deadline = request_deadline
        self._poll_interval = poll_interval if poll_interval and poll_interval > 0 else None
        self._on_reload = on_reload
        self._reload_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._force = False
        self.last_error: str | None = None
        self._fingerprint = self._provider.fingerprint()
        self.catalog = Catalog.build(self._provider.load())
        family, address = _bind_address(host, port)
        self._httpd = _HTTPServer(address, family, self)
        self._threads: list[threading.Thread] = []

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def snapshot(self) -> FeedSnapshot:
        return self.catalog.snapshot

    def start(self) -> FeedServer:
        """Serve on a daemon thread and watch the feed on another; returns at once."""
        serve = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="depguard-serve", daemon=True
        )
        watch = threading.Thread(target=self._watch, name="depguard-serve-watch", daemon=True)
        self._threads = [serve, watch]
        for thread in self._threads:
            thread.start()
        return self

    def reload(self, *, force: bool = False) -> bool:
        """Reload now if the feed changed (or always, with ``force``); True when swapped.

        A refetch that finds the feed being served (a URL is fetched again every few minutes)
        swaps nothing and says nothing, unless it ends an earlier failed reload.
        """
        with self._reload_lock:
            old = self.catalog
            swapped = False
            try:
                fingerprint = self._provider.fingerprint()
                if not force and fingerprint == self._fingerprint:
                    return False
                self._fingerprint = fingerprint  # a broken feed is retried on its next change
                snapshot = self._provider.load()
                if not force and _content_key(snapshot) == _content_key(old.snapshot):
                    if self.last_error is None:
                        return False
                    event = ReloadEvent(True, old.generation, len(old.snapshot.records), old.snapshot.source)
                else:
                    _refuse_fallback_rollback(snapshot, old.snapshot)
                    catalog = Catalog.build(snapshot, old.generation + 1)
                    self.catalog = catalog  # one reference swap: requests see the old or the new feed
                    swapped = True
                    event = ReloadEvent(
                        True, catalog.generation, len(snapshot.records), snapshot.source, warnings=snapshot.warnings
                    )
                self.last_error = None
            except Exception as exc:  # whatever went wrong, the last good feed keeps serving
                if not isinstance(exc, (DepguardError, OSError)):
                    _log.exception("feed reload failed")
                self.last_error = str(exc) or type(exc).__name__
                event = ReloadEvent(
                    False, old.generation, len(old.snapshot.records), old.snapshot.source, self.last_error
                )
        self._notify(event)  # outside the lock: a callback may call reload() itself
        return swapped

    def request_reload(self) -> None:
        """Ask the watcher for a forced reload; safe to call from a signal handler (SIGHUP)."""
        self._force = True
        self._wake.set()

    def _watch(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self._poll_interval)
            self._wake.clear()
            if self._stopping.is_set():
                return
            force, self._force = self._force, False
            self.reload(force=force)

    def _notify(self, event: ReloadEvent) -> None:
        if self._on_reload is not None:
            try:
                self._on_reload(event)
            except Exception:
                _log.exception("on_reload callback failed")

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the server has shut down (or ``timeout``); True when it has."""
        if not self._threads:
            return True
        self._threads[0].join(timeout)
        return not self._threads[0].is_alive()

    def shutdown(self) -> None:
        """Stop serving, end open keep-alive connections, close the socket. Idempotent."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._wake.set()
        if self._threads:
            self._httpd.shutdown()
        self._httpd.close_connections()
        self._httpd.server_close()
        for thread in self._threads:
            thread.join(5)

    def __enter__(self) -> FeedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def _content_key(snapshot: FeedSnapshot) -> tuple[tuple[str, str, str | None], ...]:
    """What makes two snapshots the same feed for serving: every record's id, ``modified`` and
    ``withdrawn``. A merged record never changes without a later ``modified`` (the history
    rules of ``feed validate --changed-since``), so equal keys mean equal content; SIGHUP forces
    a reload regardless."""
    return tuple(sorted((r.id, r.modified, r.withdrawn) for r in snapshot.records))


def _refuse_fallback_rollback(new: FeedSnapshot, current: FeedSnapshot) -> None:
    """A URL source that could not be fetched falls back to the cache or the bundled snapshot
    (with warnings). At startup that beats serving nothing; on a reload it would swap a newer
    feed for an older one because of a network hiccup, so keep serving the current one."""
    if not new.warnings or current.newest_modified is None:
        return
    if new.newest_modified is None or parse_timestamp(new.newest_modified) < parse_timestamp(current.newest_modified):
        raise FeedSourceError(
            "kept the feed being served; the reload fell back to an older copy: " + "; ".join(new.warnings)
        )


def _bind_address(host: str, port: int) -> tuple[socket.AddressFamily, tuple[Any, ...]]:
    """The socket family and address for ``host`` (IPv4 or IPv6, name or literal)."""
    try:
        infos = socket.getaddrinfo(host.strip("[]") or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise ConfigError(f"cannot resolve host {host!r}: {exc}") from None
    family, _, _, _, address = infos[0]
    return family, address


def start_server(
    feed: FeedSpec = None,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    allow_remote: bool = False,
    poll_interval: float | None = DEFAULT_POLL_INTERVAL,
    on_reload: Callable[[ReloadEvent], None] | None = None,
    read_timeout: float = READ_TIMEOUT,
    request_deadline: float = REQUEST_DEADLINE,
) -> FeedServer:
    """Load ``feed`` and serve it over the OSV API; returns the running :class:`FeedServer`.

    ``feed``: a :class:`~depguard.sources.interface.FeedSource` (what :func:`depguard.sources.resolve`
    returns), anything :func:`depguard.sources.source_for` reads (a feed directory, a built
    tree, a URL; None for the published feed, with its cache and bundled fallbacks), a fixed
    :class:`FeedSnapshot`, or any :class:`SnapshotProvider`. ``port`` 0 picks a free port (read ``.url``).
    ``poll_interval`` seconds between change checks (None: only :meth:`FeedServer.reload` and
    :meth:`FeedServer.request_reload`). ``read_timeout``: seconds a connection may stay silent;
    ``request_deadline``: seconds a whole request may take to arrive. Raises :class:`ConfigError` for a non-loopback host
    without ``allow_remote``, a feed error when the first load fails, OSError when the port
    is taken.
    """
    server = FeedServer(
        feed,
        host=host,
        port=port,
        allow_remote=allow_remote,
        poll_interval=poll_interval,
        on_reload=on_reload,
        read_timeout=read_timeout,
        request_deadline=request_deadline,
    )
    return server.start()
