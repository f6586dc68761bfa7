"""A static file server on 127.0.0.1 that answers conditional requests and counts body bytes.

What a CDN does for a published feed, reduced to what the sync benchmark needs: a strong
``ETag`` per file, ``304 Not Modified`` on a matching ``If-None-Match``, and a tally of the
body bytes it actually sent, so the benchmark can prove an unchanged feed costs 0 bytes.
It runs on a daemon thread of the benchmark process and is stopped by :meth:`close`.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = ["FeedServer"]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the benchmark prints a table, not an access log."""

    def do_GET(self) -> None:
        rel = self.path.split("?", 1)[0].lstrip("/")
        target = (self.server.root / rel).resolve()
        if self.server.root not in target.parents or not target.is_file():
            self._send(404, b"not found", {})
            return
        body = target.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        headers = {"ETag": etag, "Content-Type": "application/json", "Cache-Control": "no-cache"}
        if self.headers.get("If-None-Match") == etag:
            self._send(304, b"", headers)
        else:
            self._send(200, body, headers)

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)
        with self.server.lock:
            self.server.statuses[status] += 1
            self.server.body_bytes += len(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.lock = threading.Lock()
        self.statuses: Counter[int] = Counter()
        self.body_bytes = 0
        super().__init__(("127.0.0.1", 0), _Handler)


class FeedServer:
    """Serve ``root`` (a built feed tree) on a free loopback port until :meth:`close`."""

    def __init__(self, root: Path) -> None:
        self._server = _Server(root)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def reset(self) -> None:
        """Start counting afresh (after the cache-warming run)."""
        with self._server.lock:
            self._server.statuses.clear()
            self._server.body_bytes = 0

    @property
    def body_bytes(self) -> int:
        with self._server.lock:
            return self._server.body_bytes

    @property
    def statuses(self) -> dict[int, int]:
        with self._server.lock:
            return dict(self._server.statuses)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
