"""Hostile HTTP clients of ``depguard serve`` (issue 14 item 13): ambiguous framing that a proxy
in front could read differently (request smuggling), and clients that hoard connections.

Raw bytes over real sockets to a real server on 127.0.0.1: every ambiguous request gets one
400 JSON answer and the connection is closed, so no byte of it is read as a second request.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from depguard import serve

from feedkit import write_feed
from hostilekit import LITELLM, good_records

QUERY = b'{"package": {"name": "litellm", "ecosystem": "PyPI"}, "version": "1.82.7"}'
SMUGGLED = b"GET /v1/vulns/" + LITELLM.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[serve.FeedServer]:
    with serve.start_server(write_feed(tmp_path / "feed", good_records()), port=0, poll_interval=None) as running:
        yield running


def exchange(server: serve.FeedServer, raw: bytes, *, wait: float = 5.0) -> bytes:
    """Send ``raw``, then read until the server closes the connection (or ``wait`` passes)."""
    with socket.create_connection((server.host, server.port), timeout=wait) as conn:
        conn.sendall(raw)
        received = b""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                return received
            received += chunk
        raise AssertionError(f"the connection was left open after {received!r}")


def assert_one_400(reply: bytes, needle: str) -> None:
    assert reply.count(b"HTTP/1.1 ") == 1, reply  # no second (smuggled) response
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), reply
    assert b"Connection: close" in head
    assert needle in json.loads(body)["message"], body


def post(headers: bytes, body: bytes) -> bytes:
    return b"POST /v1/query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + headers + b"\r\n" + body


@pytest.mark.parametrize(
    "raw,needle",
    [
        pytest.param(
            post(b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n" + SMUGGLED),
            "both Content-Length and Transfer-Encoding",
            id="cl-and-te",
        ),
        pytest.param(
            post(b"Transfer-Encoding: chunked\r\nContent-Length: 79\r\n", b"0\r\n\r\n" + SMUGGLED),
            "both Content-Length and Transfer-Encoding",
            id="te-and-cl",
        ),
        pytest.param(
            post(b"Content-Length: 2\r\nContent-Length: %d\r\n" % len(QUERY), QUERY),
            "conflicting Content-Length",
            id="duplicate-cl-different",
        ),
        pytest.param(post(b"Content-Length: +%d\r\n" % len(QUERY), QUERY), "bad Content-Length", id="cl-plus-sign"),
        pytest.param(post(b"Content-Length: %d_0\r\n" % len(QUERY), QUERY), "bad Content-Length", id="cl-underscore"),
        pytest.param(post(b"Content-Length: 1, 2\r\n", QUERY), "conflicting Content-Length", id="cl-list"),
        pytest.param(
            post(b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n"),
            "multiple Transfer-Encoding",
            id="duplicate-te",
        ),
        pytest.param(
            post(b"Transfer-Encoding: gzip, chunked\r\n", b"0\r\n\r\n"), "Transfer-Encoding: chunked", id="te-list"
        ),
        pytest.param(
            post(b"Transfer-Encoding: xchunked\r\n", b"0\r\n\r\n"), "Transfer-Encoding: chunked", id="te-lookalike"
        ),
        pytest.param(
            post(b"Transfer-Encoding: chunked\r\n", b"0x4a\r\n" + QUERY + b"\r\n0\r\n\r\n"),
            "malformed chunked body",
            id="chunk-size-0x",
        ),
        pytest.param(
            post(b"Transfer-Encoding: chunked\r\n", b"+4a\r\n" + QUERY + b"\r\n0\r\n\r\n"),
            "malformed chunked body",
            id="chunk-size-plus",
        ),
        pytest.param(
            post(b"Transfer-Encoding: chunked\r\n", b"4_a\r\n" + QUERY + b"\r\n0\r\n\r\n"),
            "malformed chunked body",
            id="chunk-size-underscore",
        ),
        pytest.param(
            post(b"Transfer-Encoding: chunked\r\n", b"%x\n" % len(QUERY) + QUERY + b"\r\n0\r\n\r\n"),
            "malformed chunked body",
            id="chunk-size-bare-lf",
        ),
        pytest.param(
            post(b"Transfer-Encoding: chunked\r\n", b"%x\r\n" % len(QUERY) + QUERY + b"XX0\r\n\r\n"),
            "malformed chunked body",
            id="chunk-without-crlf",
        ),
    ],
)
def test_ambiguous_framing_is_refused_and_the_connection_closed(
    server: serve.FeedServer, raw: bytes, needle: str
) -> None:
    assert_one_400(exchange(server, raw), needle)


def test_a_repeated_identical_content_length_is_one_length(server: serve.FeedServer) -> None:
    """RFC 9110 section 8.6 lets a recipient read a Content-Length repeated with the same value
    as that value (h11 does). It is not ambiguous: every reading frames the body alike, so what
    follows is the next request for any parser, and both are answered."""
    twice = b"Content-Length: %d\r\nContent-Length: %d\r\n" % (len(QUERY), len(QUERY))
    closing = SMUGGLED.replace(b"Host: x\r\n", b"Host: x\r\nConnection: close\r\n")
    reply = exchange(server, post(twice, QUERY) + closing)
    assert reply.count(b"HTTP/1.1 200 OK") == 2, reply


def test_ambiguous_framing_is_refused_before_the_body_when_the_client_expects_100(server: serve.FeedServer) -> None:
    reply = exchange(server, post(b"Expect: 100-continue\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n", b""))
    assert b"100 Continue" not in reply
    assert_one_400(reply, "both Content-Length and Transfer-Encoding")


def test_plain_requests_still_work_on_one_keep_alive_connection(server: serve.FeedServer) -> None:
    """The strict reading refuses nothing a real client sends: length, chunked, then a GET."""
    chunked = b"%x\r\n" % len(QUERY) + QUERY + b"\r\n0\r\n\r\n"
    raw = (
        post(b"Content-Length: %d\r\n" % len(QUERY), QUERY)
        + post(b"Transfer-Encoding: chunked\r\n", chunked)
        + b"GET /v1/vulns/"
        + LITELLM.encode()
        + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    reply = exchange(server, raw)
    assert reply.count(b"HTTP/1.1 200 OK") == 3, reply


def test_connections_are_capped_and_served_again_once_freed(
    server: serve.FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(serve, "MAX_CONNECTIONS", 4)
    hoard = [socket.create_connection((server.host, server.port), timeout=5) for _ in range(4)]
    try:
        time.sleep(0.3)  # the server has accepted them all
        reply = exchange(server, b"GET /v1/vulns/" + LITELLM.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 503 ") and b"Connection: close" in reply, reply
        assert b"more than 4 connections" in reply
    finally:
        for conn in hoard:
            conn.close()
    deadline = time.monotonic() + 10
    while True:
        reply = exchange(
            server, b"GET /v1/vulns/" + LITELLM.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        if reply.startswith(b"HTTP/1.1 200 ") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert reply.startswith(b"HTTP/1.1 200 "), reply


def test_an_idle_connection_is_closed(tmp_path: Path) -> None:
    """A client that connects and says nothing loses its connection; one that stops mid-request
    is told so (408) first."""
    feed = write_feed(tmp_path / "feed", good_records())
    with serve.start_server(feed, port=0, poll_interval=None, read_timeout=0.3) as server:
        for raw, answer in [(b"", b""), (b"POST /v1/query HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{", b"408")]:
            start = time.monotonic()
            reply = exchange(server, raw, wait=5.0)  # raises when the server keeps the connection open
            assert time.monotonic() - start < 2
            assert reply.startswith(b"HTTP/1.1 " + answer if answer else b""), reply


def dribble(server: serve.FeedServer, fast: bytes, raw: bytes, pause: float) -> tuple[bytes, float]:
    """Send ``fast`` at once, then ``raw`` a byte every ``pause`` seconds (each read is quick,
    the request is slow); stop at the server's first answer and read to the end of the stream.
    Returns the reply and the seconds from the first byte sent."""
    start = time.monotonic()
    with socket.create_connection((server.host, server.port), timeout=5) as conn:
        conn.sendall(fast)
        conn.settimeout(pause)
        received = b""
        for i in range(len(raw)):
            try:
                conn.sendall(raw[i : i + 1])
                received = conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:  # the server closed first
                break
            break  # an answer, or the server's end of stream
        conn.settimeout(5)
        while chunk := conn.recv(65536):
            received += chunk
    return received, time.monotonic() - start


@pytest.fixture
def impatient(tmp_path: Path) -> Iterator[serve.FeedServer]:
    """A server that allows a whole request 0.3 s; reads may pause far longer (5 s)."""
    feed = write_feed(tmp_path / "feed", good_records())
    with serve.start_server(feed, port=0, poll_interval=None, read_timeout=5, request_deadline=0.3) as running:
        yield running


@pytest.mark.parametrize("slow", ["head", "body"])
def test_a_request_that_trickles_in_gets_408_at_the_deadline(impatient: serve.FeedServer, slow: str) -> None:
    """Slowloris: a byte every 50 ms never trips the read timeout, but the whole request is due
    within the deadline, headers and body alike."""
    head = post(b"Content-Length: %d\r\n" % len(QUERY), b"")
    if slow == "head":
        reply, took = dribble(impatient, b"", head + QUERY, 0.05)
    else:
        reply, took = dribble(impatient, head, QUERY, 0.05)
    assert reply.startswith(b"HTTP/1.1 408 "), reply
    assert b"Connection: close" in reply and b"within 0.3 seconds" in reply
    assert 0.25 < took < 1.5, took


def test_the_deadline_counts_from_the_first_byte_of_each_request(impatient: serve.FeedServer) -> None:
    """Idle time on a keep-alive connection is the read timeout's business, not the deadline's."""
    request = post(b"Content-Length: %d\r\n" % len(QUERY), QUERY)
    with socket.create_connection((impatient.host, impatient.port), timeout=5) as conn:
        for _ in range(2):
            time.sleep(0.4)  # idle longer than the deadline, then a prompt request
            conn.sendall(request)
            reply = b""
            while not reply.endswith(b"]}"):
                reply += conn.recv(65536)
            assert reply.startswith(b"HTTP/1.1 200 OK"), reply


def test_an_http11_request_without_host_is_refused(server: serve.FeedServer) -> None:
    """RFC 9112 section 3.2: a server must answer 400 to an HTTP/1.1 request that lacks Host."""
    reply = exchange(server, b"GET /v1/vulns/" + LITELLM.encode() + b" HTTP/1.1\r\n\r\n")
    assert_one_400(reply, "Host")
