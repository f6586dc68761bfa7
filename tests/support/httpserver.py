"""Real HTTP servers on 127.0.0.1 for tests: a hookable Python server and nginx.

``LocalHTTPServer`` (stdlib ``ThreadingHTTPServer``, HTTP/1.1, keep-alive) serves a
directory statically: strong ``ETag`` (content sha256) and ``Last-Modified``, ``304`` on
``If-None-Match`` / ``If-Modified-Since``, optional gzip (compressible types only, weak
ETag then, like nginx), an nginx-like autoindex for directories (so a directory works
as ``--find-links http://...``). It records every request (``RequestRecord``) and counts
body bytes actually written per path. Records are appended *before* the body is
written, so right after a client has read a response the counts are exact.

Test hooks (keyed by URL path, query ignored): ``set_route`` with ``Route`` objects
(custom bytes/status/headers, ``Content-Length`` lies, chunked, slow drip, endless
stream, a list served in turn), ``redirect``, ``set_handler`` for anything else.

``NginxServer`` runs the real nginx (``daemon off;`` in a subprocess) with its own
config, pid, logs and temp dirs in a private directory; ``gzip on; etag on;``; its
JSON-lines access log gives the same ``RequestRecord`` stats (from ``$body_bytes_sent``).
nginx writes a log line just after the response, so use ``wait_for_requests(n)``
before reading its stats (harmless and instant on the Python server).
"""

from __future__ import annotations

import email.utils
import gzip as gzip_mod
import hashlib
import html
import json
import os
import posixpath
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = [
    "LocalHTTPServer",
    "NginxServer",
    "NginxUnavailable",
    "RequestRecord",
    "Route",
    "find_nginx",
    "free_port",
]

#: Types both servers compress when gzip is on (nginx: ``gzip_types``).
GZIP_TYPES = (
    "text/plain",
    "text/html",
    "text/css",
    "text/xml",
    "application/json",
    "application/xml",
    "application/javascript",
    "application/toml",
)
GZIP_MIN_LENGTH = 20

_TYPES = {
    ".json": "application/json",
    ".txt": "text/plain",
    ".html": "text/html",
    ".htm": "text/html",
    ".css": "text/css",
    ".xml": "application/xml",
    ".js": "application/javascript",
    ".toml": "application/toml",
    ".whl": "application/octet-stream",
    ".zip": "application/zip",
    ".gz": "application/gzip",
}


def guess_type(path: str) -> str:
    return _TYPES.get(posixpath.splitext(path)[1].lower(), "application/octet-stream")


def free_port(host: str = "127.0.0.1") -> int:
    """A port free right now on *host* (another process may take it before you bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class RequestRecord:
    """One request as the server saw it. ``body_bytes``: body bytes written to the
    socket (compressed size when gzipped; 0 for 304 and HEAD)."""

    method: str
    path: str  # URL path, percent-decoded, no query
    target: str  # request target as sent (with query)
    status: int = 0
    body_bytes: int = 0
    headers: dict[str, str] = field(default_factory=dict)  # request headers (lower-case keys)
    complete: bool = False  # the whole response was written
    aborted: bool = False  # the client went away mid-response


@dataclass
class Route:
    """A canned response for one path.

    ``content_length``: ``"auto"`` (the true length), ``None`` (no header: the body then
    ends when the connection closes, unless ``chunked``), or an int — a lie when it
    differs from ``len(body)`` (the connection is closed after the body).
    ``delay``: seconds slept before each ``chunk_size`` piece (slow drip).
    ``endless``: repeat ``body`` forever (stops when the client goes, the server stops,
    or after ``max_seconds``). ``conditional``: ETag/Last-Modified/304 like a static file.
    """

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = "application/octet-stream"
    content_length: int | str | None = "auto"
    chunk_size: int = 64 * 1024
    delay: float = 0.0
    initial_delay: float = 0.0
    endless: bool = False
    chunked: bool = False
    close: bool = False
    conditional: bool = False
    last_modified: float | None = None  # epoch seconds, for conditional
    max_seconds: float = 60.0


Handler = Callable[[BaseHTTPRequestHandler], None]


def _etag_matches(header: str, etag: str) -> bool:
    """Weak comparison (RFC 9110 13.1.2) of an If-None-Match list against *etag*."""
    if header.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(candidate.strip().removeprefix("W/") == bare for candidate in header.split(","))


def _accepts_gzip(header: str) -> bool:
    for part in header.split(","):
        token, _, params = part.strip().partition(";")
        if token.strip().lower() in ("gzip", "*"):
            m = re.search(r"q\s*=\s*([0-9.]+)", params)
            return not (m and float(m.group(1)) == 0)
    return False


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "depguard-test-server/1.0"
    timeout = 10  # idle keep-alive connections end by themselves
    server: _Server

    def log_message(self, format, *args):
        pass

    # ---- dispatch
    def do_GET(self):
        self._dispatch()

    def do_HEAD(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def _dispatch(self):
        owner = self.server.owner
        split = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(split.path) or "/"
        self._record = RequestRecord(
            method=self.command,
            path=path,
            target=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
        )
        self._recorded = False
        try:
            hook = owner._next_hook(path)
            if hook is None:
                self._serve_static(path)
            elif callable(hook) and not isinstance(hook, Route):
                hook(self)
            else:
                self._serve_route(hook)
            self._record.complete = not self._record.aborted
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self._record.aborted = True
            self.close_connection = True
        finally:
            self._ensure_recorded(self._record.status)

    # ---- recording helpers (usable by custom handlers)
    def _ensure_recorded(self, status: int) -> None:
        if not self._recorded:
            self._record.status = status
            self.server.owner._add_record(self._record)
            self._recorded = True

    def start_response(self, status: int, headers: Iterable[tuple[str, str]]) -> None:
        """Send status + headers and record the request (custom handlers use this)."""
        self._ensure_recorded(status)
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()

    def write_body(self, data: bytes) -> None:
        """Write body bytes, counting them first (custom handlers use this)."""
        if not data:
            return
        with self.server.owner._lock:
            self._record.body_bytes += len(data)
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self._record.aborted = True
            raise

    # ---- static files
    def _serve_static(self, path: str) -> None:
        owner = self.server.owner
        if owner.root is None:
            return self._simple(404, b"not found\n")
        parts = [p for p in posixpath.normpath(path).split("/") if p not in ("", ".", "..")]
        fs_path = owner.root.joinpath(*parts)
        if fs_path.is_dir():
            if not path.endswith("/"):
                return self._simple(301, b"", [("Location", path + "/")])
            index = fs_path / "index.html"
            if index.is_file():
                fs_path = index
            else:
                return self._simple(200, self._listing(path, fs_path), [], "text/html")
        if not fs_path.is_file():
            return self._simple(404, b"not found\n")
        data = fs_path.read_bytes()
        mtime = fs_path.stat().st_mtime
        self._send_entity(data, guess_type(fs_path.name), mtime, [])

    def _listing(self, url_path: str, directory: Path) -> bytes:
        rows = []
        for entry in sorted(directory.iterdir()):
            name = entry.name + ("/" if entry.is_dir() else "")
            rows.append(f'<a href="{urllib.parse.quote(name)}">{html.escape(name)}</a>\n')
        title = html.escape(url_path)
        return (
            f"<html><head><title>Index of {title}</title></head><body>\n"
            f"<h1>Index of {title}</h1><hr><pre>{''.join(rows)}</pre><hr></body></html>\n"
        ).encode()

    def _send_entity(
        self, data: bytes, ctype: str, mtime: float | None, extra: list[tuple[str, str]], status: int = 200
    ) -> None:
        """A cacheable entity: ETag/Last-Modified, 304, optional gzip."""
        owner = self.server.owner
        etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
        use_gzip = (
            owner.gzip
            and ctype.split(";")[0].strip() in GZIP_TYPES
            and len(data) >= GZIP_MIN_LENGTH
            and _accepts_gzip(self.headers.get("Accept-Encoding", ""))
        )
        if use_gzip:
            etag = "W/" + etag
        headers = [("ETag", etag)]
        if mtime is not None:
            headers.append(("Last-Modified", email.utils.formatdate(mtime, usegmt=True)))
        if owner.gzip and ctype.split(";")[0].strip() in GZIP_TYPES:
            headers.append(("Vary", "Accept-Encoding"))
        headers += extra
        if status == 200 and self._not_modified(etag, mtime):
            self.start_response(304, headers)
            return
        body = gzip_mod.compress(data, compresslevel=6, mtime=0) if use_gzip else data
        if use_gzip:
            headers.append(("Content-Encoding", "gzip"))
        headers += [("Content-Type", ctype), ("Content-Length", str(len(body)))]
        self.start_response(status, headers)
        if self.command != "HEAD":
            self.write_body(body)

    def _not_modified(self, etag: str, mtime: float | None) -> bool:
        if self.command not in ("GET", "HEAD"):
            return False
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            return _etag_matches(inm, etag)
        ims = self.headers.get("If-Modified-Since")
        if ims is not None and mtime is not None:
            try:
                since = email.utils.parsedate_to_datetime(ims).timestamp()
            except (TypeError, ValueError):
                return False
            return int(mtime) <= since
        return False

    def _simple(self, status: int, body: bytes, headers=(), ctype: str = "text/plain") -> None:
        self.start_response(status, [*headers, ("Content-Type", ctype), ("Content-Length", str(len(body)))])
        if self.command != "HEAD":
            self.write_body(body)

    # ---- routes
    def _serve_route(self, route: Route) -> None:
        owner = self.server.owner
        if route.initial_delay:
            owner._stopping.wait(route.initial_delay)
        if route.conditional:
            return self._send_entity(
                route.body,
                route.content_type,
                route.last_modified,
                list(route.headers.items()),
                status=route.status,
            )
        headers = [("Content-Type", route.content_type), *route.headers.items()]
        close = route.close
        if route.chunked:
            headers.append(("Transfer-Encoding", "chunked"))
        elif route.endless or route.content_length is None:
            close = True
        elif route.content_length == "auto":
            headers.append(("Content-Length", str(len(route.body))))
        else:
            headers.append(("Content-Length", str(int(route.content_length))))
            if int(route.content_length) != len(route.body):
                close = True
        if close:
            headers.append(("Connection", "close"))
            self.close_connection = True
        self.start_response(route.status, headers)
        if self.command == "HEAD" or route.status in (204, 304) or 100 <= route.status < 200:
            return
        deadline = time.monotonic() + route.max_seconds
        for piece in self._pieces(route, deadline):
            if route.delay and owner._stopping.wait(route.delay):
                break
            if owner._stopping.is_set() or time.monotonic() > deadline:
                break
            if route.chunked:
                self.wfile.write(f"{len(piece):x}\r\n".encode())
                self.write_body(piece)
                self.wfile.write(b"\r\n")
            else:
                self.write_body(piece)
        if route.chunked and not owner._stopping.is_set():
            self.wfile.write(b"0\r\n\r\n")

    @staticmethod
    def _pieces(route: Route, deadline: float) -> Iterator[bytes]:
        body = route.body or (b"x" if route.endless else b"")
        size = max(1, route.chunk_size)
        while True:
            for i in range(0, len(body), size):
                yield body[i : i + size]
            if not route.endless or time.monotonic() > deadline:
                return


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    owner: LocalHTTPServer


class _Addressed:
    """What both test servers share: a context manager with a loopback address and URLs, and
    the counts tests assert on, derived from each server's own :meth:`requests` log."""

    host: str
    _port: int

    def start(self):
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self._port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + ("" if path.startswith("/") else "/") + path

    def requests(self, path: str | None = None) -> list[RequestRecord]:
        raise NotImplementedError

    def request_count(self, path: str | None = None) -> int:
        return len(self.requests(path))

    def body_bytes(self, path: str | None = None) -> int:
        return sum(r.body_bytes for r in self.requests(path))

    def statuses(self, path: str | None = None) -> list[int]:
        return [r.status for r in self.requests(path)]


class LocalHTTPServer(_Addressed):
    """A threaded HTTP/1.1 server on 127.0.0.1 serving *root* (may be ``None``: hooks only).

    Use as a context manager or call ``start()``/``stop()``. ``gzip=True`` compresses
    ``GZIP_TYPES`` bodies for clients that accept gzip.
    """

    kind = "python"

    def __init__(
        self, root: str | os.PathLike | None = None, *, gzip: bool = False, host: str = "127.0.0.1", port: int = 0
    ):
        self.root = Path(root).resolve() if root is not None else None
        self.gzip = gzip
        self.host = host
        self._port = port
        self._lock = threading.Lock()
        self._hooks: dict[str, list[Route | Handler]] = {}
        self._records: list[RequestRecord] = []
        self._stopping = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle
    def start(self) -> LocalHTTPServer:
        self._stopping.clear()
        self._httpd = _Server((self.host, self._port), _RequestHandler)
        self._httpd.owner = self
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name=f"test-http-{self._port}",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    # ---- hooks
    def set_route(self, path: str, *routes: Route | Handler) -> None:
        """Serve *path* with *routes* in turn; the last one repeats."""
        if not routes:
            raise ValueError("give at least one Route or handler")
        with self._lock:
            self._hooks[path] = list(routes)

    def route(self, path: str, body: bytes | str = b"", status: int = 200, **kwargs) -> Route:
        """``set_route(path, Route(...))`` and return the Route."""
        if isinstance(body, str):
            body = body.encode()
        r = Route(status=status, body=body, **kwargs)
        self.set_route(path, r)
        return r

    def serve_bytes(
        self, path: str, body: bytes | str, *, content_type: str | None = None, conditional: bool = True, **kwargs
    ) -> Route:
        """Serve fixed bytes like a static file (ETag/304 on by default)."""
        return self.route(path, body, content_type=content_type or guess_type(path), conditional=conditional, **kwargs)

    def redirect(self, path: str, location: str, status: int = 302) -> Route:
        return self.route(path, b"", status=status, headers={"Location": location})

    def drip(self, path: str, body: bytes | str, *, chunk_size: int = 1, delay: float = 0.05, **kwargs) -> Route:
        """Send *body* slowly: *chunk_size* bytes, then sleep *delay*, ..."""
        return self.route(path, body, chunk_size=chunk_size, delay=delay, **kwargs)

    def endless(self, path: str, chunk: bytes = b"x" * 16384, *, delay: float = 0.0, **kwargs) -> Route:
        """A body that never ends (no Content-Length unless given; ``chunked=True`` ok)."""
        kwargs.setdefault("content_length", None)
        return self.route(path, chunk, chunk_size=len(chunk), delay=delay, endless=True, **kwargs)

    def lie_content_length(self, path: str, body: bytes | str, claimed: int, **kwargs) -> Route:
        """Announce ``Content-Length: claimed`` but send *body* (then close)."""
        return self.route(path, body, content_length=claimed, **kwargs)

    def set_handler(self, path: str, handler: Handler) -> None:
        """Fully custom: ``handler(request_handler)``; use ``request_handler.start_response``
        and ``request_handler.write_body`` so the request is counted."""
        self.set_route(path, handler)

    def clear_routes(self, path: str | None = None) -> None:
        with self._lock:
            if path is None:
                self._hooks.clear()
            else:
                self._hooks.pop(path, None)

    def _next_hook(self, path: str) -> Route | Handler | None:
        with self._lock:
            queue = self._hooks.get(path)
            if not queue:
                return None
            return queue.pop(0) if len(queue) > 1 else queue[0]

    # ---- stats
    def _add_record(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def requests(self, path: str | None = None) -> list[RequestRecord]:
        with self._lock:
            return [r for r in self._records if path is None or r.path == path]

    def reset_stats(self) -> None:
        with self._lock:
            self._records.clear()

    def wait_for_requests(self, count: int, path: str | None = None, timeout: float = 5.0) -> list[RequestRecord]:
        deadline = time.monotonic() + timeout
        while True:
            recs = self.requests(path)
            if len(recs) >= count or time.monotonic() > deadline:
                return recs
            time.sleep(0.01)


# --------------------------------------------------------------------------- nginx


class NginxUnavailable(RuntimeError):
    pass


def find_nginx() -> str | None:
    """Path of nginx on PATH or in /usr/sbin, else ``None``."""
    found = shutil.which("nginx")
    if found:
        return found
    for candidate in ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


_LOG_FORMAT = (
    "log_format depguard escape=json '{"
    '"method":"$request_method","request_uri":"$request_uri","status":$status,'
    '"body_bytes_sent":$body_bytes_sent,"bytes_sent":$bytes_sent,'
    '"if_none_match":"$http_if_none_match","if_modified_since":"$http_if_modified_since",'
    '"accept_encoding":"$http_accept_encoding","range":"$http_range"'
    "}';"
)


class NginxServer(_Addressed):
    """The real nginx serving *root* on 127.0.0.1:<free port>; config/pid/logs/temp in
    *workdir* (a new temp dir by default). ``gzip on; etag on; autoindex on;``."""

    kind = "nginx"

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        gzip: bool = True,
        workdir: str | os.PathLike | None = None,
        binary: str | None = None,
    ):
        self.root = Path(root).resolve()
        self.gzip = gzip
        self.binary = binary or find_nginx()
        if not self.binary:
            raise NginxUnavailable("nginx is not installed (apt-get install -y --no-install-recommends nginx)")
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="depguard-nginx-")).resolve()
        self.host = "127.0.0.1"
        self._port = 0
        self._proc: subprocess.Popen | None = None
        self._log_offset = 0  # reset_stats: records before this byte offset are ignored

    @property
    def access_log(self) -> Path:
        return self.workdir / "access.log"

    @property
    def error_log(self) -> Path:
        return self.workdir / "error.log"

    def _config(self, port: int) -> str:
        w = self.workdir
        temp = "\n".join(
            f"    {d}_temp_path {w / 'tmp' / d};" for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        user = ""
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            import grp
            import pwd

            user = f"user {pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name};"
        types = "\n".join(f"        {t} {ext.lstrip('.')};" for ext, t in _TYPES.items())
        return f"""
{user}
daemon off;
master_process on;
worker_processes 1;
pid {w / "nginx.pid"};
error_log {self.error_log} warn;
events {{ worker_connections 128; }}
http {{
    types {{
{types}
    }}
    default_type application/octet-stream;
{temp}
    {_LOG_FORMAT}
    access_log {self.access_log} depguard;
    sendfile on;
    keepalive_timeout 10;
    etag on;
    if_modified_since before;
    gzip {"on" if self.gzip else "off"};
    gzip_types {" ".join(t for t in GZIP_TYPES if t != "text/html")};
    gzip_min_length {GZIP_MIN_LENGTH};
    gzip_vary on;
    gzip_proxied any;
    server_tokens off;
    server {{
        listen {self.host}:{port};
        server_name localhost;
        root {self.root};
        autoindex on;
        location / {{ }}
    }}
}}
"""

    def start(self, timeout: float = 10.0) -> NginxServer:
        (self.workdir / "tmp").mkdir(parents=True, exist_ok=True)
        last_error = ""
        for _attempt in range(5):
            port = free_port(self.host)
            conf = self.workdir / "nginx.conf"
            conf.write_text(self._config(port))
            self.access_log.write_bytes(b"")
            self._log_offset = 0
            cmd = [self.binary, "-p", str(self.workdir), "-c", str(conf), "-e", str(self.error_log)]
            stderr_path = self.workdir / "stderr.log"
            with open(stderr_path, "wb") as err:
                self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    break
                try:
                    with socket.create_connection((self.host, port), timeout=0.2):
                        self._port = port
                        return self
                except OSError:
                    time.sleep(0.02)
            last_error = self._read(stderr_path) + self._read(self.error_log)
            self._terminate()
            if "in use" not in last_error:
                break
        raise NginxUnavailable(f"nginx did not start: {last_error.strip()}")

    @staticmethod
    def _read(path: Path) -> str:
        try:
            return path.read_text(errors="replace")
        except OSError:
            return ""

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()  # SIGTERM: fast shutdown
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)

    def stop(self) -> None:
        self._terminate()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # ---- stats from the access log
    def requests(self, path: str | None = None) -> list[RequestRecord]:
        try:
            with open(self.access_log, "rb") as fh:
                fh.seek(self._log_offset)
                data = fh.read()
        except FileNotFoundError:
            return []
        records = []
        for line in data.decode("utf-8", "replace").splitlines():
            if not line.strip().endswith("}"):
                continue  # a line being written
            entry = json.loads(line)
            target = entry["request_uri"]
            rpath = urllib.parse.unquote(urllib.parse.urlsplit(target).path) or "/"
            if path is not None and rpath != path:
                continue
            headers = {
                k.replace("_", "-"): entry[k]
                for k in ("if_none_match", "if_modified_since", "accept_encoding", "range")
                if entry.get(k)
            }
            records.append(
                RequestRecord(
                    method=entry["method"],
                    path=rpath,
                    target=target,
                    status=int(entry["status"]),
                    body_bytes=int(entry["body_bytes_sent"]),
                    headers=headers,
                    complete=True,
                )
            )
        return records

    def reset_stats(self) -> None:
        try:
            self._log_offset = self.access_log.stat().st_size
        except FileNotFoundError:
            self._log_offset = 0

    def wait_for_requests(self, count: int, path: str | None = None, timeout: float = 5.0) -> list[RequestRecord]:
        deadline = time.monotonic() + timeout
        while True:
            recs = self.requests(path)
            if len(recs) >= count or time.monotonic() > deadline:
                return recs
            time.sleep(0.01)
