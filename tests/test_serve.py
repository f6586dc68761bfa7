"""``depguard serve``: the OSV API over the feed, checked with real HTTP and the real clients.

Every test talks to a real server on 127.0.0.1. The direct tests use ``http.client`` so they
control the raw request (bodies, lengths, methods); the client tests run the real ``uv audit``
and ``pip-audit`` against it, offline, isolated from this machine's pip/uv configuration.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import queue
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from depguard.errors import ConfigError
from depguard.serve import (
    MAX_BATCH_QUERIES,
    MAX_BODY_BYTES,
    Catalog,
    FeedServer,
    ReloadEvent,
    SourceProvider,
    is_loopback_host,
    parse_purl,
    parse_query,
    start_server,
)
from depguard.sources import source_for
from depguard.sources.interface import FeedSnapshot

from feedkit import record, write_feed, write_record
from support import pkgindex, resolvers

LITELLM = "x_DEPGUARD-2026-0001"  # litellm 1.82.7 and 1.82.8
EVIL = "x_DEPGUARD-2026-0002"  # evilpkg, every version
WITHDRAWN = "x_DEPGUARD-2026-0003"  # tinylib 1.0, withdrawn
TINYCOLOR = "x_DEPGUARD-2025-0001"  # npm @ctrl/tinycolor 4.1.1 and 4.1.2


def _records() -> list[dict[str, Any]]:
    return [
        record(LITELLM),
        record(EVIL, name="evilpkg", versions=("0.1.0",), whole_package=True),
        record(WITHDRAWN, name="tinylib", versions=("1.0",), withdrawn="2026-04-01T00:00:00Z"),
        record(TINYCOLOR, name="@ctrl/tinycolor", ecosystem="npm", versions=("4.1.1", "4.1.2")),
    ]


@pytest.fixture
def feed_dir(tmp_path: Path) -> Path:
    return write_feed(tmp_path / "feed", _records())


@pytest.fixture
def server(feed_dir: Path) -> Iterator[FeedServer]:
    with start_server(feed_dir, port=0, poll_interval=None) as srv:
        yield srv


# --- a raw HTTP client ---------------------------------------------------------------------


class Reply:
    def __init__(self, status: int, headers: http.client.HTTPMessage, body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    @property
    def json(self) -> Any:
        assert self.headers["Content-Type"] == "application/json", self.headers
        return json.loads(self.body)


def _connect(url: str) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)


def call(
    conn_or_url: http.client.HTTPConnection | str,
    method: str,
    path: str,
    body: Any = None,
    *,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    conn = _connect(conn_or_url) if isinstance(conn_or_url, str) else conn_or_url
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    conn.request(method, path, body=data, headers=headers or {})
    response = conn.getresponse()
    reply = Reply(response.status, response.headers, response.read())
    if isinstance(conn_or_url, str):
        conn.close()
    return reply


def pkg(name: str, version: str | None = None, ecosystem: str | None = "PyPI") -> dict[str, Any]:
    package = {"name": name} if ecosystem is None else {"name": name, "ecosystem": ecosystem}
    query: dict[str, Any] = {"package": package}
    if version is not None:
        query["version"] = version
    return query


def ids(reply: Reply) -> list[str]:
    return [v["id"] for v in reply.json.get("vulns", [])]


def assert_error(reply: Reply, status: int, code: int, *needles: str) -> None:
    assert reply.status == status, (reply.status, reply.body)
    data = reply.json
    assert set(data) == {"code", "message"} and data["code"] == code, data
    for needle in needles:
        assert needle in data["message"], data


# --- POST /v1/query ------------------------------------------------------------------------


def test_query_returns_full_records_and_an_empty_object_when_nothing_matches(
    server: FeedServer, feed_dir: Path
) -> None:
    reply = call(server.url, "POST", "/v1/query", pkg("litellm", "1.82.7"))
    assert reply.status == 200 and ids(reply) == [LITELLM]
    on_disk = json.loads(next(feed_dir.rglob(f"{LITELLM}.json")).read_text())
    assert reply.json["vulns"][0] == on_disk  # the whole record, every field as in the feed
    assert list(reply.json["vulns"][0])[:3] == ["schema_version", "id", "modified"]  # OSV order

    clean = call(server.url, "POST", "/v1/query", pkg("litellm", "1.82.6"))
    assert clean.status == 200 and clean.body == b"{}"  # osv.dev's empty answer; pip-audit relies on it


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (pkg("LiteLLM", "1.82.7.0"), [LITELLM]),  # PEP 503 name, PEP 440 version equality
        (pkg("litellm", "1.82.7+local"), [LITELLM]),  # a local build of it, as sync's !=1.82.7 excludes it
        (pkg("litellm", "1.82.7.post1"), []),  # a later release: !=1.82.7 admits it
        (pkg("@ctrl/tinycolor", "4.1.1+build.5", ecosystem="npm"), [TINYCOLOR]),  # SemVer: build metadata ignored
        (pkg("@ctrl/tinycolor", "4.1.1-rc.1", ecosystem="npm"), []),  # a pre-release is only itself
        (pkg("evilpkg", "9.9.9"), [EVIL]),  # whole-package block: every version
        (pkg("litellm"), [LITELLM]),  # no version: every advisory of the package, as osv.dev
        (pkg("litellm", "1.82.7", ecosystem=None), [LITELLM]),  # no ecosystem: all covered
        ({"package": {"purl": "pkg:pypi/litellm@1.82.8"}}, [LITELLM]),
        ({"package": {"purl": "pkg:pypi/litellm"}, "version": "1.82.8"}, [LITELLM]),
        ({"package": {"purl": "pkg:npm/%40ctrl/tinycolor@4.1.1"}}, [TINYCOLOR]),
        ({"package": {"purl": "pkg:npm/@ctrl/tinycolor@4.1.2"}}, [TINYCOLOR]),
        (pkg("@ctrl/tinycolor", "4.1.3", ecosystem="npm"), []),
        ({"package": {"purl": "pkg:golang/github.com/x/y@1.0.0"}}, []),  # an ecosystem not covered
        (pkg("litellm", "1.82.7", ecosystem="npm"), []),
        ({"commit": "6879efc2c1596d11a6a6ad296f80063b558d5e0f"}, []),  # no record lists this commit
        ({"commit": "6879efc2c1596d11a6a6ad296f80063b558d5e0f", "package": {"name": "litellm"}}, []),
        (pkg("tinylib", "1.0"), []),  # withdrawn: never reported
    ],
)
def test_query_matching(server: FeedServer, query: dict[str, Any], expected: list[str]) -> None:
    reply = call(server.url, "POST", "/v1/query", query)
    assert reply.status == 200, reply.body
    assert ids(reply) == expected


def test_withdrawn_records_are_not_reported_but_are_served_by_id(server: FeedServer) -> None:
    assert call(server.url, "POST", "/v1/query", pkg("tinylib", "1.0")).body == b"{}"
    batch = call(server.url, "POST", "/v1/querybatch", {"queries": [pkg("tinylib", "1.0")]})
    assert batch.json == {"results": [{}]}
    by_id = call(server.url, "GET", f"/v1/vulns/{WITHDRAWN}")
    assert by_id.status == 200 and by_id.json["withdrawn"] == "2026-04-01T00:00:00Z"


BAD_SHA = "0e58ed8671d6b60d0890c21b07f8835ace038e67"  # a known-bad commit of the action below
ACTION = "x_DEPGUARD-2026-0200"
GONE = "x_DEPGUARD-2026-0201"  # withdrawn: its bad commit matches nothing


def _action(advisory_id: str, name: str, shas: list[str], withdrawn: str | None = None) -> dict[str, Any]:
    """A GitHub Actions record whose entry lists ``shas`` as known-bad commits of tag v44."""
    data = record(advisory_id, name=name, ecosystem="GitHub Actions", versions=("v44",), withdrawn=withdrawn)
    entry = data["affected"][0]
    entry["package"]["purl"] = f"pkg:github/{name}"
    entry["database_specific"] = {"depguard": {"bad_commits": [{"sha": sha, "tags": ["v44"]} for sha in shas]}}
    return data


@pytest.fixture
def action_server(tmp_path: Path) -> Iterator[FeedServer]:
    other = "a" * 40
    records = [
        *_records(),
        _action(ACTION, "tj-actions/changed-files", [BAD_SHA, other]),
        _action(GONE, "reviewdog/action-setup", [BAD_SHA], withdrawn="2026-04-01T00:00:00Z"),
        _action("x_DEPGUARD-2026-0202", "aquasecurity/trivy-action", [other]),
    ]
    with start_server(write_feed(tmp_path / "feed", records), port=0, poll_interval=None) as srv:
        yield srv


def test_a_commit_query_finds_the_records_that_list_it_as_known_bad(action_server: FeedServer) -> None:
    url = action_server.url
    reply = call(url, "POST", "/v1/query", {"commit": BAD_SHA})
    assert ids(reply) == [ACTION] and reply.json["vulns"][0]["affected"][0]["package"]["ecosystem"] == "GitHub Actions"
    assert ids(call(url, "POST", "/v1/query", {"commit": BAD_SHA.upper()})) == [ACTION]  # git reads hex either way
    assert ids(call(url, "POST", "/v1/query", {"commit": "a" * 40})) == [ACTION, "x_DEPGUARD-2026-0202"]
    assert call(url, "POST", "/v1/query", {"commit": "b" * 40}).body == b"{}"
    with_package = {"commit": BAD_SHA, "package": {"name": "tj-actions/changed-files", "ecosystem": "GitHub Actions"}}
    assert ids(call(url, "POST", "/v1/query", with_package)) == [ACTION]
    assert ids(call(url, "POST", "/v1/query", pkg("tj-actions/changed-files", "v44", "GitHub Actions"))) == [ACTION]

    batch = call(url, "POST", "/v1/querybatch", {"queries": [{"commit": BAD_SHA}, {"commit": "b" * 40}, pkg("x", "1")]})
    assert batch.json == {"results": [{"vulns": [{"id": ACTION, "modified": "2026-03-25T12:00:00Z"}]}, {}, {}]}
    refused = call(url, "POST", "/v1/querybatch", {"queries": [{"commit": BAD_SHA}, {"commit": BAD_SHA[:12]}]})
    assert_error(refused, 400, 3, "queries[1].commit must be a full 40-hex commit id")


# --- POST /v1/querybatch -------------------------------------------------------------------


def _batch_case(i: int) -> tuple[dict[str, Any], list[str]]:
    """Query number ``i`` of a mixed batch, with the ids it must return."""
    cases: list[tuple[dict[str, Any], list[str]]] = [
        (pkg("litellm", "1.82.7"), [LITELLM]),
        (pkg("litellm", "1.82.6"), []),
        (pkg("evilpkg", f"0.{i}.0"), [EVIL]),
        (pkg(f"unknown-{i}", "1.0.0"), []),
        ({"package": {"purl": "pkg:npm/%40ctrl/tinycolor@4.1.1"}}, [TINYCOLOR]),
        (pkg("tinylib", "1.0"), []),
        (pkg("LITELLM", "1.82.8"), [LITELLM]),
    ]
    return cases[i % len(cases)]


def test_querybatch_answers_1000_queries_in_order_with_ids_and_modified(server: FeedServer) -> None:
    cases = [_batch_case(i) for i in range(MAX_BATCH_QUERIES)]
    conn = _connect(server.url)
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        reply = call(conn, "POST", "/v1/querybatch", {"queries": [q for q, _ in cases]})
        timings.append(time.perf_counter() - start)
    conn.close()
    assert reply.status == 200
    results = reply.json["results"]
    assert len(results) == MAX_BATCH_QUERIES
    modified = {r["id"]: r["modified"] for r in _records()}
    for i, ((_, expected), result) in enumerate(zip(cases, results, strict=True)):
        if not expected:
            assert result == {}, (i, result)
        else:
            assert result == {"vulns": [{"id": e, "modified": modified[e]} for e in expected]}, (i, result)
    # Round trip through a real socket, client encoding included; generous for a shared CI box.
    assert statistics.median(timings) < 0.5, timings


def test_querybatch_server_side_work_is_well_under_50ms(feed_dir: Path) -> None:
    """What the server does per 1,000-query batch: parse the body, validate, look up, encode."""
    from depguard.serve import _batch_queries

    catalog = Catalog.build(source_for(str(feed_dir)).load())
    body = json.dumps({"queries": [_batch_case(i)[0] for i in range(MAX_BATCH_QUERIES)]}).encode()
    timings = []
    for _ in range(7):
        start = time.perf_counter()
        catalog.batch_body(_batch_queries(json.loads(body)))
        timings.append(time.perf_counter() - start)
    assert statistics.median(timings) < 0.05, timings


def test_querybatch_over_the_limit_is_refused(server: FeedServer) -> None:
    reply = call(server.url, "POST", "/v1/querybatch", {"queries": [pkg("x", "1")] * (MAX_BATCH_QUERIES + 1)})
    assert_error(reply, 400, 3, "too many queries", str(MAX_BATCH_QUERIES))


def test_querybatch_names_the_bad_query(server: FeedServer) -> None:
    reply = call(server.url, "POST", "/v1/querybatch", {"queries": [pkg("x", "1"), {"package": {"name": 5}}]})
    assert_error(reply, 400, 3, "queries[1].package.name must be a string")


# --- GET /v1/vulns/{id} --------------------------------------------------------------------


def test_vulns_by_id_and_unknown_id(server: FeedServer) -> None:
    reply = call(server.url, "GET", f"/v1/vulns/{LITELLM}")
    assert reply.status == 200 and reply.json["id"] == LITELLM and reply.json["affected"]
    head = call(server.url, "HEAD", f"/v1/vulns/{LITELLM}")
    assert head.status == 200 and head.body == b"" and int(head.headers["Content-Length"]) == len(reply.body)
    assert_error(call(server.url, "GET", "/v1/vulns/x_DEPGUARD-2099-0001"), 404, 5, "not found")
    assert_error(call(server.url, "GET", f"/v1/vulns/{LITELLM.lower()}"), 404, 5)  # ids are case-sensitive


# --- refusing bad requests -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not valid JSON"),
        (b"[" * 100_000, "not valid JSON"),  # nesting deep enough to blow the decoder's stack
        (b"[]", "must be a JSON object"),
        (json.dumps({"package": {"name": "litellm"}, "version": 1}).encode(), "version must be a string"),
        (json.dumps({"package": "litellm"}).encode(), "package must be a JSON object"),
        (json.dumps({"version": "1.0"}).encode(), "needs a package"),
        (json.dumps({"package": {"ecosystem": "PyPI"}}).encode(), "needs a name"),
        (json.dumps({"package": {"purl": "pkg:pypi/a@1"}, "version": "1"}).encode(), "both in the purl"),
        (json.dumps({"package": {"purl": "pkg:pypi/a", "name": "a"}}).encode(), "purl together with"),
        (json.dumps({"package": {"purl": "litellm"}}).encode(), "invalid purl"),
        (json.dumps({"commit": "abc", "version": "1"}).encode(), "both commit and version"),
        (json.dumps({"commit": "6879efc2"}).encode(), "full 40-hex commit"),  # a prefix could match others
        (json.dumps({"commit": "6879efc2c1596d11a6a6ad296f80063b558d5e0g"}).encode(), "full 40-hex commit"),
        (json.dumps({"commit": "6879efc2c1596d11a6a6ad296f80063b558d5e0f\n"}).encode(), "full 40-hex commit"),
    ],
)
def test_bad_query_bodies_get_a_400_json_error(server: FeedServer, raw: bytes, needle: str) -> None:
    assert_error(call(server.url, "POST", "/v1/query", raw=raw), 400, 3, needle)


def test_querybatch_body_must_hold_a_queries_list(server: FeedServer) -> None:
    assert_error(call(server.url, "POST", "/v1/querybatch", {"queries": {}}), 400, 3, "'queries' list")


def test_oversized_body_gets_413_and_the_server_carries_on(server: FeedServer) -> None:
    raw = b'{"queries": [' + b" " * MAX_BODY_BYTES + b"]}"
    reply = call(server.url, "POST", "/v1/querybatch", raw=raw)
    assert_error(reply, 413, 8, str(MAX_BODY_BYTES))
    assert reply.headers["Connection"] == "close"
    exactly = b"{" + b" " * (MAX_BODY_BYTES - 2) + b"}"  # at the limit: accepted
    assert_error(call(server.url, "POST", "/v1/query", raw=exactly), 400, 3, "needs a package")
    assert ids(call(server.url, "POST", "/v1/query", pkg("litellm", "1.82.7"))) == [LITELLM]


def test_oversized_body_is_refused_before_it_is_sent_when_the_client_asks(server: FeedServer) -> None:
    conn = _connect(server.url)
    conn.putrequest("POST", "/v1/query")
    conn.putheader("Content-Length", str(MAX_BODY_BYTES + 1))
    conn.putheader("Expect", "100-continue")
    conn.endheaders()  # no body: a client that asked waits for 100 Continue first
    response = conn.getresponse()
    assert response.status == 413 and json.loads(response.read())["code"] == 8
    conn.close()


def test_chunked_bodies_are_read_and_a_missing_length_is_refused(server: FeedServer) -> None:
    conn = _connect(server.url)
    chunks = [b'{"package": {"name": "litellm", ', b'"ecosystem": "PyPI"}, "version": "1.82.7"}']
    conn.request("POST", "/v1/query", body=iter(chunks), encode_chunked=True)
    response = conn.getresponse()
    assert response.status == 200 and [v["id"] for v in json.loads(response.read())["vulns"]] == [LITELLM]
    big = iter([b'{"queries": [', *([b" " * 65536] * 17), b"]}"])
    conn.request("POST", "/v1/querybatch", body=big, encode_chunked=True)
    response = conn.getresponse()
    assert response.status == 413 and json.loads(response.read())["code"] == 8
    conn.close()

    conn = _connect(server.url)
    conn.putrequest("POST", "/v1/query")
    conn.endheaders()  # neither Content-Length nor chunked: no body at all
    response = conn.getresponse()
    assert response.status == 411 and json.loads(response.read())["code"] == 3
    conn.close()
    assert_error(
        call(server.url, "POST", "/v1/query", raw=b"{}", headers={"Content-Length": "-5"}), 400, 3, "Content-Length"
    )


def test_unknown_paths_404_and_wrong_methods_405(server: FeedServer) -> None:
    assert_error(call(server.url, "GET", "/"), 404, 5, "no such endpoint")
    assert_error(call(server.url, "POST", "/v1/queries", pkg("x", "1")), 404, 5)
    assert_error(call(server.url, "GET", "/v1/vulns/"), 404, 5)
    for method, path, allowed in [
        ("GET", "/v1/query", "POST"),
        ("PUT", "/v1/querybatch", "POST"),
        ("DELETE", f"/v1/vulns/{LITELLM}", "GET, HEAD"),
        ("POST", f"/v1/vulns/{LITELLM}", "GET, HEAD"),
    ]:
        reply = call(server.url, method, path)
        assert_error(reply, 405, 12, "not allowed")
        assert reply.headers["Allow"] == allowed
    assert_error(call(server.url, "BREW", "/v1/query"), 501, 12)  # a method HTTP does not know


def test_keep_alive_connection_survives_errors(server: FeedServer) -> None:
    """uv reuses one connection for many requests: an error must not desync the stream."""
    conn = _connect(server.url)
    assert call(conn, "POST", "/v1/query", raw=b"{oops").status == 400
    assert call(conn, "GET", "/v1/query", raw=b'{"a": 1}').status == 405  # unread body: closed...
    assert call(conn, "GET", "/nope").status == 404  # ...and http.client reconnects transparently
    timings = []
    for _ in range(20):
        start = time.perf_counter()
        assert ids(call(conn, "POST", "/v1/query", pkg("litellm", "1.82.7"))) == [LITELLM]
        timings.append(time.perf_counter() - start)
    conn.close()
    # Headers and body leave in two writes; without TCP_NODELAY each answer stalls ~40 ms on
    # the client's delayed ACK. A local query takes well under a millisecond.
    assert statistics.median(timings) < 0.03, timings


# --- concurrency ---------------------------------------------------------------------------


def test_twenty_concurrent_clients_are_all_answered(server: FeedServer) -> None:
    clients = 20
    barrier = threading.Barrier(clients)
    failures: list[str] = []
    answered: list[int] = []

    def client(n: int) -> None:
        try:
            conn = _connect(server.url)
            barrier.wait(timeout=10)
            for _ in range(5):
                assert ids(call(conn, "POST", "/v1/query", pkg("litellm", "1.82.7"))) == [LITELLM]
                batch = call(conn, "POST", "/v1/querybatch", {"queries": [_batch_case(i)[0] for i in range(200)]})
                assert [bool(r) for r in batch.json["results"]] == [bool(_batch_case(i)[1]) for i in range(200)]
                assert call(conn, "GET", f"/v1/vulns/{EVIL}").json["id"] == EVIL
            conn.close()
            answered.append(n)
        except Exception as exc:  # collected: an assert in a thread would be lost
            failures.append(f"client {n}: {exc!r}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not failures, failures
    assert sorted(answered) == list(range(clients))


# --- reloading -----------------------------------------------------------------------------


def _wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_reload_picks_up_a_new_record_and_survives_a_broken_one(feed_dir: Path) -> None:
    events: list[ReloadEvent] = []
    with start_server(feed_dir, port=0, poll_interval=0.05, on_reload=events.append) as srv:
        query = pkg("ultralytics", "8.3.41")
        assert call(srv.url, "POST", "/v1/query", query).body == b"{}"
        new_id = "x_DEPGUARD-2026-0004"
        write_record(feed_dir, record(new_id, name="ultralytics", versions=("8.3.41",)))
        assert _wait_for(lambda: ids(call(srv.url, "POST", "/v1/query", query)) == [new_id])
        assert call(srv.url, "GET", f"/v1/vulns/{new_id}").status == 200
        assert events[-1].ok and events[-1].records == 5 and srv.catalog.generation >= 2

        broken = feed_dir / "PyPI" / "ultralytics" / "x_DEPGUARD-2026-0005.json"
        broken.write_text("{ half a record")
        assert _wait_for(lambda: srv.last_error is not None)
        assert not events[-1].ok and "invalid" in (events[-1].error or "")
        assert ids(call(srv.url, "POST", "/v1/query", query)) == [new_id]  # the last good feed serves on

        broken.unlink()
        assert _wait_for(lambda: srv.last_error is None and events[-1].ok)


def test_forced_reload_without_polling(feed_dir: Path) -> None:
    with start_server(feed_dir, port=0, poll_interval=None) as srv:
        write_record(feed_dir, record("x_DEPGUARD-2026-0004", name="ultralytics", versions=("8.3.41",)))
        time.sleep(0.1)
        assert call(srv.url, "POST", "/v1/query", pkg("ultralytics", "8.3.41")).body == b"{}"  # no polling
        assert srv.reload() is True and srv.reload() is False  # changed once, then unchanged
        assert ids(call(srv.url, "POST", "/v1/query", pkg("ultralytics", "8.3.41"))) == ["x_DEPGUARD-2026-0004"]


# --- the library API -----------------------------------------------------------------------


def test_refuses_non_loopback_hosts_unless_allowed(feed_dir: Path) -> None:
    for host in ("0.0.0.0", "", "::", "192.0.2.1"):
        with pytest.raises(ConfigError, match="allow-remote"):
            start_server(feed_dir, host=host, port=0)
    assert is_loopback_host("127.0.0.1") and is_loopback_host("localhost") and is_loopback_host("::1")
    assert not is_loopback_host("0.0.0.0") and not is_loopback_host("")


def test_serves_a_fixed_snapshot_and_shuts_down_cleanly(feed_dir: Path) -> None:
    snapshot = source_for(str(feed_dir)).load()
    srv = start_server(snapshot, port=0)
    assert srv.url == f"http://127.0.0.1:{srv.port}"
    idle = _connect(srv.url)
    assert ids(call(idle, "POST", "/v1/query", pkg("litellm", "1.82.7"))) == [LITELLM]
    start = time.monotonic()
    srv.shutdown()  # ends the idle keep-alive connection too
    srv.shutdown()
    assert time.monotonic() - start < 5 and srv.wait(0)
    with pytest.raises(OSError):
        call(srv.url, "POST", "/v1/query", pkg("litellm", "1.82.7"))
    idle.close()


def test_ipv6_loopback(feed_dir: Path) -> None:
    try:
        srv = start_server(feed_dir, host="::1", port=0, poll_interval=None)
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    with srv:
        assert srv.url.startswith("http://[::1]:")
        conn = http.client.HTTPConnection("::1", srv.port, timeout=10)
        assert ids(call(conn, "POST", "/v1/query", pkg("litellm", "1.82.7"))) == [LITELLM]
        conn.close()


def test_source_provider_watches_directories_and_refetches_urls(feed_dir: Path) -> None:
    local = SourceProvider(feed_dir)
    before = local.fingerprint()
    assert local.is_local and local.fingerprint() == before
    (feed_dir / ".record.json.swp").write_text("editor noise")  # dot-files are not the feed
    assert local.fingerprint() == before
    write_record(feed_dir, record("x_DEPGUARD-2026-0004", name="ultralytics", versions=("8.3.41",)))
    assert local.fingerprint() != before
    remote = SourceProvider("https://feed.example/depguard/", refetch=3600)
    assert not remote.is_local and remote.fingerprint() == remote.fingerprint()  # one fetch an hour
    assert not SourceProvider(None).is_local  # the published feed


def test_a_reload_that_fell_back_to_an_older_copy_keeps_the_current_feed(feed_dir: Path) -> None:
    """A URL source that cannot be reached falls back to the cache or bundled snapshot, with a
    warning; a reload must not swap the served feed for that older copy."""
    current = source_for(str(feed_dir)).load()
    older = replace(current, records=current.records[:1], warnings=("network down; using the bundled snapshot",))
    older = replace(
        older, records=tuple(r.model_copy(update={"modified": "2020-01-01T00:00:00Z"}) for r in older.records)
    )

    class Flaky:
        def __init__(self) -> None:
            self.snapshot, self.turn = current, 0

        def load(self) -> FeedSnapshot:
            return self.snapshot

        def fingerprint(self) -> int:
            return self.turn

    provider = Flaky()
    events: list[ReloadEvent] = []
    with start_server(provider, port=0, poll_interval=None, on_reload=events.append) as srv:
        provider.snapshot, provider.turn = older, 1
        assert srv.reload() is False and "older copy" in (srv.last_error or "")
        assert srv.snapshot is current and not events[-1].ok
        newer = tuple(r.model_copy(update={"modified": "2026-05-01T00:00:00Z"}) for r in current.records)
        provider.snapshot, provider.turn = replace(current, records=newer, warnings=("served from cache",)), 2
        assert srv.reload() is True and events[-1].warnings == ("served from cache",)  # not older: fine


def test_a_refetch_that_finds_the_same_feed_swaps_nothing_and_says_nothing(feed_dir: Path) -> None:
    """Issue 13: a URL feed is fetched again every few minutes; an unchanged one is no reload,
    and its warnings (say, the server was unreachable and the cache answered) are not repeated."""
    current = source_for(str(feed_dir)).load()

    class Refetching:
        def __init__(self) -> None:
            self.turn = 0

        def load(self) -> FeedSnapshot:
            return replace(current, warnings=("could not fetch; served from cache",))

        def fingerprint(self) -> int:
            self.turn += 1  # the refetch timer: a new fingerprint every poll
            return self.turn

    events: list[ReloadEvent] = []
    with start_server(Refetching(), port=0, poll_interval=None, on_reload=events.append) as srv:
        first = srv.snapshot
        assert [srv.reload() for _ in range(3)] == [False, False, False]
        assert events == [] and srv.snapshot is first
        assert srv.reload(force=True) is True and len(events) == 1  # SIGHUP still reloads


def test_parse_helpers() -> None:
    assert parse_purl("pkg:npm/%40ctrl/tinycolor@4.1.1?x=1#sub") == ("npm", "@ctrl/tinycolor", "4.1.1")
    assert parse_purl("pkg:PYPI/Lite_LLM") == ("PyPI", "Lite_LLM", None)
    assert parse_purl("pkg:cargo/serde@1.0")[0] is None
    query = parse_query({"package": {"name": "x", "ecosystem": "PyPI"}, "version": "", "page_token": ""})
    assert query.version is None and query.name == "x"


# --- the real clients ----------------------------------------------------------------------


@pytest.mark.slow
def test_uv_audit_reports_the_depguard_advisory(
    server: FeedServer, tmp_path: Path, local_index: Path, uv_project
) -> None:
    bad = uv_project(["litellm==1.82.7", "tinylib==1.0"])
    good = uv_project(["litellm==1.82.6", "tinylib==1.0"])
    for project in (bad, good):
        resolvers.uv_lock(project, local_index).assert_ok()
    cache = tmp_path / "uv-cache"  # uv caches OSV answers for up to an hour: never share it
    env = resolvers.clean_env(offline=False, cache_dir=cache)  # uv audit refuses UV_OFFLINE

    def audit(project: Path, *args: str) -> resolvers.RunResult:
        cmd = [resolvers.find_uv(), "audit", "--frozen", "--service-url", server.url, *args]
        return resolvers.run(cmd, cwd=project, env=env, timeout=60)

    result = audit(bad, "--output-format", "json")
    assert result.returncode == 1, result.describe()
    found = json.loads(result.stdout)["vulnerabilities"]
    assert [(v["dependency"]["name"], v["dependency"]["version"], v["id"]) for v in found] == [
        ("litellm", "1.82.7", LITELLM)
    ]
    assert found[0]["summary"] == "Compromised litellm releases"  # fetched by id from /v1/vulns

    text = audit(bad)
    assert text.returncode == 1 and "litellm 1.82.7 has 1 known vulnerability" in text.stdout, text.describe()

    clean = audit(good)
    assert clean.returncode == 0 and "Found no known vulnerabilities" in clean.output, clean.describe()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _pip_audit() -> str:
    found = shutil.which("pip-audit", path=os.path.dirname(sys.executable)) or shutil.which("pip-audit")
    if not found:
        pytest.skip("pip-audit is not installed (pip install 'pip-audit>=2.10'; it is in the test extra)")
    return found


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["no-deps", "hashed"])
def test_pip_audit_reports_the_depguard_advisory(
    server: FeedServer, tmp_path: Path, local_index: Path, mode: str
) -> None:
    """pip-audit normally resolves requirements with pip in a fresh venv, from PyPI. Pinned
    requirements with ``--disable-pip`` skip that entirely (``--no-deps``, or hashes for every
    line), so the audit is offline and talks only to our server."""
    pip_audit = _pip_audit()
    pins = [("litellm", "1.82.7"), ("tinylib", "1.0")]
    if mode == "hashed":  # hashes of the local wheels: pip-audit only checks that every line has one
        lines = [f"{n}=={v} --hash=sha256:{_sha256(local_index / pkgindex.wheel_filename(n, v))}" for n, v in pins]
    else:
        lines = [f"{n}=={v}" for n, v in pins]
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("\n".join(lines) + "\n")
    cmd = [
        pip_audit,
        "--vulnerability-service",
        "osv",
        "--osv-url",
        f"{server.url}/v1/query",
        "-r",
        requirements,
        "--disable-pip",
        "--format",
        "json",
        "--aliases",
        "on",
        "--progress-spinner",
        "off",
        "--cache-dir",
        tmp_path / "pip-audit-cache",
    ]
    if mode == "no-deps":
        cmd.append("--no-deps")
    result = resolvers.run(cmd, cwd=tmp_path, env=resolvers.clean_env(offline=False), timeout=60)
    assert result.returncode == 1, result.describe()
    report = {d["name"]: d for d in json.loads(result.stdout)["dependencies"]}
    assert report["tinylib"]["vulns"] == []
    (vuln,) = report["litellm"]["vulns"]
    # pip-audit shows a PYSEC/CVE/... alias first when there is one; our id is then an alias.
    assert LITELLM in {vuln["id"], *vuln["aliases"]}, vuln


# --- the command line ----------------------------------------------------------------------


def _start_cli(*args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "DEPGUARD_FEED"}
    return subprocess.Popen(
        [sys.executable, "-m", "depguard", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


_LINES: dict[int, queue.Queue[str]] = {}


def _read_line(stream: Any, timeout: float = 15.0) -> str:
    """The next line of ``stream``, read by a thread: ``select`` on a buffered text stream
    misses lines that an earlier ``readline`` already pulled into Python's buffer."""
    import queue
    import threading

    lines = _LINES.get(id(stream))
    if lines is None:
        lines = _LINES[id(stream)] = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in iter(stream.readline, "")], daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError("no output from depguard serve") from None


def test_cli_serves_prints_the_url_reloads_on_sighup_and_stops_on_ctrl_c(feed_dir: Path) -> None:
    proc = _start_cli("--port", "0", "--feed", str(feed_dir), "--poll", "0")
    try:
        first = _read_line(proc.stdout)
        assert first.startswith("serving 4 record(s) from "), first
        url = first.rsplit(" at ", 1)[1].strip()
        assert url.startswith("http://127.0.0.1:")
        assert ids(call(url, "POST", "/v1/query", pkg("litellm", "1.82.7"))) == [LITELLM]
        write_record(feed_dir, record("x_DEPGUARD-2026-0004", name="ultralytics", versions=("8.3.41",)))
        proc.send_signal(signal.SIGHUP)
        lines = [_read_line(proc.stdout) for _ in range(3)]  # two usage hints, then the reload
        assert lines[-1].startswith("reloaded ") and "5 record(s)" in lines[-1], lines
        assert ids(call(url, "POST", "/v1/query", pkg("ultralytics", "8.3.41"))) == ["x_DEPGUARD-2026-0004"]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_refuses_a_remote_bind_without_allow_remote(feed_dir: Path) -> None:
    proc = _start_cli("--host", "0.0.0.0", "--port", "0", "--feed", str(feed_dir))
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "--allow-remote" in err, err
