"""Hostile or broken *transport*: bad JSON, oversized and endless bodies, bombs, drips,
redirects, plain http, tampering, disagreement, replay and shrink - over real HTTP.

What the published-feed source does (``sources/remote.py``, with the fallback chain of
``depguard.sources.PublishedFeed``), and so what each case asserts:

* a download that is **refused** (integrity: hash, JSON, schema, index/all agreement,
  redirect to http, rollback, shrink) falls back to the last verified copy in the cache, with
  one warning naming the refusal (exit 0, files exactly as the good sync left them); with no
  cached copy it is exit 2 and nothing is written;
* **network trouble** (size limit, timeout, redirect loop, cut connection, odd encoding)
  falls back to the cache too; with no cache, to the snapshot bundled with depguard (one
  warning; see the last case).
"""

from __future__ import annotations

import gzip
import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from feedkit import record
from hostilekit import (
    LITELLM,
    Site,
    cache_states,
    fell_back,
    good_records,
    refused,
    sync_url,
    tree_digest,
    victim,
    warning_lines,
)
from repokit import depguard

MiB = 1024 * 1024


def feed_b() -> list[dict[str, Any]]:
    """The good feed a week later: litellm 1.82.9 too (newer, so a client downloads it)."""
    records = good_records()
    records[0] = record(
        LITELLM, name="litellm", versions=("1.82.7", "1.82.8", "1.82.9"), modified="2026-04-01T00:00:00Z"
    )
    return records


def assert_nothing_written(repo: Path, before: dict[str, str]) -> None:
    assert tree_digest(repo) == before
    assert cache_states() == [], "a refused download is never cached"


def measured(repo: Path, *args: str, env: dict[str, str]) -> tuple[Any, int]:
    """The CLI in a subprocess that reports its own peak RSS (bytes) on stderr at exit."""
    import os
    import subprocess

    code = (
        "import atexit, resource, sys\n"
        "atexit.register(lambda: sys.stderr.write('MAXRSS %d\\n' % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))\n"
        "sys.argv = ['depguard', *sys.argv[1:]]\n"
        "from depguard.cli import main\n"
        "main()\n"
    )
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DEPGUARD_FEED")}
    full_env.update({"DEPGUARD_OFFLINE": "0", **env})
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=repo, env=full_env, capture_output=True, text=True, timeout=120
    )
    rss = [int(line.split()[1]) * 1024 for line in proc.stderr.splitlines() if line.startswith("MAXRSS ")]
    proc.stderr = "\n".join(line for line in proc.stderr.splitlines() if not line.startswith("MAXRSS "))
    return proc, rss[0]


# --------------------------------------------------------------------------- JSON


def test_invalid_json_index_is_refused_with_its_position(site: Site, repo: Path) -> None:
    site.publish(good_records())
    site.server.serve_bytes(
        "/index.json", b'{"format": "depguard-feed",\n "count": 4,,\n}', content_type="application/json"
    )
    before = tree_digest(repo)
    refused(sync_url(repo, site.url), "index.json is not valid JSON", "(line 2, column", "no usable feed")
    assert_nothing_written(repo, before)


def test_truncated_all_json_signed_by_the_host_is_refused(site: Site, repo: Path) -> None:
    whole = json.dumps(good_records()).encode()
    site.hostile(good_records(), all_bytes=whole[: len(whole) // 2])
    before = tree_digest(repo)
    refused(sync_url(repo, site.url, inproc=True), "all.json is not valid JSON", "no usable feed")
    assert_nothing_written(repo, before)


def test_truncated_all_json_in_transit_falls_back_to_the_cache(site: Site, repo: Path, primed: dict[str, str]) -> None:
    site.publish(feed_b())
    body = (site.www / "all.json").read_bytes()
    site.server.route("/all.json", body[: len(body) - 100], content_type="application/json")
    fell_back(sync_url(repo, site.url), "refused the feed", "all.json does not match index.json")
    assert tree_digest(repo) == primed


def test_duplicate_keys_are_refused(site: Site, repo: Path) -> None:
    text = json.dumps(good_records())
    # a reviewer sees the first "versions", a lenient parser keeps the last (empty) one
    body = text.replace(
        '"versions": ["1.82.7", "1.82.8"]', '"versions": ["1.82.7", "1.82.8"], "versions": ["0.0.1"]', 1
    )
    assert body != text
    site.hostile(good_records(), all_bytes=body.encode())
    before = tree_digest(repo)
    refused(sync_url(repo, site.url, inproc=True), "all.json is not valid JSON", "duplicate key 'versions'")
    assert_nothing_written(repo, before)


@pytest.mark.parametrize("where,constant", [("index", "NaN"), ("all", "Infinity"), ("all", "-Infinity")])
def test_nan_and_infinity_are_refused(site: Site, repo: Path, where: str, constant: str) -> None:
    if where == "index":
        site.hostile(good_records(), index_patch=lambda index: index.update(count=float("nan")))
    else:
        body = json.dumps(good_records()).replace('"schema_version"', f'"x": {constant}, "schema_version"', 1)
        site.hostile(good_records(), all_bytes=body.encode())
    before = tree_digest(repo)
    refused(
        sync_url(repo, site.url, inproc=True),
        f"{where}.json is not valid JSON",
        f"{constant.lstrip('-')} is not valid JSON",
    )
    assert_nothing_written(repo, before)


@pytest.mark.parametrize("where", ["index", "all"])
def test_deeply_nested_json_is_refused_without_a_crash(site: Site, repo: Path, where: str) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    site.publish(good_records())
    if where == "index":
        site.server.serve_bytes("/index.json", deep, content_type="application/json")
    else:
        site.hostile(good_records(), all_bytes=deep)
    before = tree_digest(repo)
    refused(sync_url(repo, site.url), f"{where}.json is not valid JSON: nested too deeply")
    assert_nothing_written(repo, before)


@pytest.mark.parametrize(
    "prefix,message",
    [(b"\xef\xbb\xbf", "starts with a byte order mark"), (b"\xff\xfe", "not UTF-8")],
    ids=["bom", "utf16"],
)
def test_index_that_is_not_plain_utf8_json_is_refused(site: Site, repo: Path, prefix: bytes, message: str) -> None:
    site.publish(good_records())
    site.server.serve_bytes(
        "/index.json", prefix + (site.www / "index.json").read_bytes(), content_type="application/json"
    )
    before = tree_digest(repo)
    refused(sync_url(repo, site.url, inproc=True), message)
    assert_nothing_written(repo, before)


# --------------------------------------------------------------------------- sizes


def test_endless_body_over_a_small_limit_is_cut_off(site: Site, repo: Path, primed: dict[str, str]) -> None:
    site.publish(feed_b())
    site.server.endless("/all.json")
    started = time.monotonic()
    proc = sync_url(repo, site.url, env={"DEPGUARD_MAX_DOWNLOAD_BYTES": str(MiB)})
    fell_back(proc, "larger than the limit of 1048576 bytes; cut off")
    assert time.monotonic() - started < 15
    assert tree_digest(repo) == primed
    (request,) = site.server.wait_for_requests(1, "/all.json")
    deadline = time.monotonic() + 5
    while not request.aborted and time.monotonic() < deadline:
        time.sleep(0.02)
    assert request.aborted and request.body_bytes < 8 * MiB


def test_100_mb_stream_is_cut_off_at_the_default_64_mib_without_holding_it_all(
    site: Site, repo: Path, primed: dict[str, str]
) -> None:
    site.publish(feed_b())
    url = site.url
    baseline_proc, baseline = measured(repo, "sync", "--feed", url, "--offline", env={})
    assert baseline_proc.returncode == 0, baseline_proc.stderr
    site.server.endless("/all.json", b"[" * (256 * 1024), max_seconds=30)  # would go on far past 100 MB
    started = time.monotonic()
    proc, peak = measured(repo, "sync", "--feed", url, env={"DEPGUARD_MAX_DOWNLOAD_BYTES": ""})
    fell_back(proc, "larger than the limit of 67108864 bytes; cut off")
    assert time.monotonic() - started < 30
    assert tree_digest(repo) == primed
    (request,) = site.server.wait_for_requests(1, "/all.json")
    assert request.body_bytes < 100 * 1000 * 1000, "the client stopped reading before 100 MB"
    # the body is held up to the limit (64 MiB) and no further: far less than the 100 MB sent
    assert peak - baseline < 100 * 1000 * 1000, f"peak RSS grew by {(peak - baseline) // MiB} MiB"


def test_declared_100_mb_body_is_not_downloaded(site: Site, repo: Path, primed: dict[str, str]) -> None:
    site.publish(feed_b())
    site.server.lie_content_length("/all.json", b"[]", 100_000_000, content_type="application/json")
    fell_back(
        sync_url(repo, site.url, inproc=True),
        "declares 100000000 bytes, more than the limit of 67108864; not downloaded",
    )
    assert tree_digest(repo) == primed


def test_gzip_bomb_is_cut_off_after_decompression(site: Site, repo: Path, primed: dict[str, str]) -> None:
    site.publish(feed_b())
    bomb = gzip.compress(b"[" + b" " * (32 * MiB), compresslevel=9)
    assert len(bomb) < 64 * 1024
    site.server.route("/all.json", bomb, content_type="application/json", headers={"Content-Encoding": "gzip"})
    proc = sync_url(repo, site.url, env={"DEPGUARD_MAX_DOWNLOAD_BYTES": str(4 * MiB)}, inproc=True)
    fell_back(proc, "decompresses to more than the limit of 4194304 bytes; cut off")
    assert tree_digest(repo) == primed


def test_oversized_body_without_a_cache_uses_the_bundled_snapshot(site: Site, tmp_path: Path) -> None:
    """The one place a bad download does not end in the cache or exit 2: with no verified copy,
    network-class trouble (here the size limit) falls back to the snapshot in the wheel."""
    repo, control = victim(tmp_path / "repo"), victim(tmp_path / "control")
    assert depguard(control, "sync", "--offline").returncode == 0  # what the bundled snapshot writes
    site.publish(good_records())
    site.server.endless("/all.json")
    proc = sync_url(repo, site.url, env={"DEPGUARD_MAX_DOWNLOAD_BYTES": str(MiB)})
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    (warning,) = warning_lines(proc)
    assert "cut off" in warning and "no cached copy" in warning and "the snapshot bundled with depguard" in warning
    assert tree_digest(repo) == tree_digest(control)
    assert cache_states() == []


# --------------------------------------------------------------------------- content and time


def test_captive_portal_html_instead_of_the_index_is_refused(site: Site, repo: Path) -> None:
    site.publish(good_records())
    site.server.route(
        "/index.json",
        b"<!doctype html><html><body>Please log in to the hotel Wi-Fi</body></html>",
        content_type="text/html",
    )
    before = tree_digest(repo)
    refused(sync_url(repo, site.url, inproc=True), "index.json is not valid JSON", "no usable feed")
    assert_nothing_written(repo, before)


def test_slow_drip_is_cut_off_by_the_deadline(site: Site, repo: Path, primed: dict[str, str]) -> None:
    site.publish(feed_b())
    site.server.drip("/all.json", (site.www / "all.json").read_bytes(), chunk_size=64, delay=0.05)
    started = time.monotonic()
    fell_back(
        sync_url(repo, site.url, env={"DEPGUARD_HTTP_TIMEOUT": "1"}, inproc=True),
        "the download took longer than 1 s; cut off",
    )
    assert time.monotonic() - started < 8
    assert tree_digest(repo) == primed


def test_connection_cut_mid_body_falls_back_to_the_cache(site: Site, repo: Path, primed: dict[str, str]) -> None:
    site.publish(feed_b())
    body = (site.www / "all.json").read_bytes()
    site.server.lie_content_length("/all.json", body[:200], len(body), content_type="application/json")
    fell_back(sync_url(repo, site.url, inproc=True), "could not update the feed", "tried 3 times")
    assert tree_digest(repo) == primed
    assert len(site.server.requests("/all.json")) == 3


def test_unknown_content_encoding_is_refused(site: Site, repo: Path, primed: dict[str, str]) -> None:
    site.publish(feed_b())
    site.server.route("/all.json", b"\x1b\x00\x00", content_type="application/json", headers={"Content-Encoding": "br"})
    fell_back(sync_url(repo, site.url, inproc=True), "unsupported Content-Encoding 'br'")
    assert tree_digest(repo) == primed


# --------------------------------------------------------------------------- redirects and TLS


def test_redirect_loop_is_bounded(site: Site, repo: Path, primed: dict[str, str]) -> None:
    site.server.redirect("/index.json", "/loop/index.json")
    site.server.redirect("/loop/index.json", "/index.json")
    fell_back(sync_url(repo, site.url, inproc=True), "more than 5 redirects")
    assert tree_digest(repo) == primed
    assert len(site.server.requests()) <= 3 * 6


@pytest.mark.parametrize(
    "target", ["http://feed.example/index.json", "file:///etc/passwd", "ftp://feed.example/index.json"]
)
def test_redirect_away_from_https_is_refused(site: Site, repo: Path, target: str) -> None:
    site.publish(good_records())
    site.server.redirect("/index.json", target)
    before = tree_digest(repo)
    refused(sync_url(repo, site.url, inproc=target.startswith("f")), "refusing the redirect", "only fetched over https")
    assert_nothing_written(repo, before)


@pytest.mark.parametrize("where", ["command-line", "tool-depguard"])
def test_feed_url_without_tls_is_refused(tmp_path: Path, where: str) -> None:
    config = '\n[tool.depguard]\nfeed = "http://feed.example/"\n' if where == "tool-depguard" else ""
    repo = victim(tmp_path / "repo", {"pyproject.toml": '[project]\nname = "victim"\nversion = "0.1.0"\n' + config})
    before = tree_digest(repo)
    args = ("sync",) if config else ("sync", "--feed", "http://feed.example/")
    proc = depguard(repo, *args, env={"DEPGUARD_OFFLINE": "0"})
    refused(proc, "refusing to fetch the feed from http://feed.example/", "only https URLs are allowed")
    assert tree_digest(repo) == before


# --------------------------------------------------------------------------- integrity


def test_hash_mismatch_on_one_record_refuses_the_whole_download(site: Site, repo: Path) -> None:
    site.publish(good_records())
    body = (site.www / "all.json").read_bytes()
    (site.www / "all.json").write_bytes(body.replace(b'"1.82.7"', b'"1.82.1"', 1))  # same size, other hash
    before = tree_digest(repo)
    refused(sync_url(repo, site.url), "all.json does not match index.json", "refusing the whole download")
    assert_nothing_written(repo, before)


@pytest.mark.parametrize("how", ["missing-record", "other-modified", "extra-record"])
def test_index_and_all_json_that_disagree_are_refused(site: Site, repo: Path, how: str) -> None:
    records = good_records()
    served = [dict(r) for r in records]
    if how == "missing-record":
        served = served[1:]  # the host drops litellm from all.json but keeps it in the index
    elif how == "other-modified":
        served[0]["modified"] = "2026-03-26T00:00:00Z"
    else:
        served.append(record("x_DEPGUARD-2026-0009", name="numpy", versions=("2.0.0",)))
    body = json.dumps(served).encode()
    site.hostile(records, all_bytes=body)
    before = tree_digest(repo)
    refused(sync_url(repo, site.url, inproc=True), "all.json and index.json disagree about the records")
    assert_nothing_written(repo, before)


def test_damaged_cache_is_not_trusted(site: Site, repo: Path, primed: dict[str, str]) -> None:
    """A local attacker edits the cached all.json: its hash no longer matches, so the cache is
    ignored (said so), not used as a fallback for a hostile download."""
    (blob,) = [p for p in cache_states()[0].parent.glob("all-*.json")]
    blob.write_bytes(blob.read_bytes().replace(b'"1.82.7"', b'"1.82.1"'))
    records = feed_b()
    records[0]["affected"][0]["versions"].append("==1.82.6")
    site.hostile(records)
    line = refused(sync_url(repo, site.url, inproc=True), "no verified copy", "is cached, so there is no usable feed")
    assert "/affected/0/versions/3" in line
    assert tree_digest(repo) == primed


# --------------------------------------------------------------------------- replay and shrink


def test_replayed_older_feed_is_refused_unless_allowed(site: Site, repo: Path, primed: dict[str, str]) -> None:
    site.publish(feed_b())
    assert sync_url(repo, site.url).returncode == 0
    newer = tree_digest(repo)
    assert newer != primed and "!=1.82.9" in (repo / "pyproject.toml").read_text()
    site.publish(good_records())  # the older feed, replayed by a compromised mirror
    fell_back(sync_url(repo, site.url, inproc=True), "older than the copy depguard verified before", "--allow-rollback")
    assert tree_digest(repo) == newer, "the replay lifted nothing"
    allowed = sync_url(repo, site.url, "--allow-rollback", inproc=True)
    assert allowed.returncode == 0 and "accepted because of --allow-rollback" in warning_lines(allowed)[0]
    assert tree_digest(repo) == primed


def test_feed_that_drops_90_percent_of_its_records_needs_allow_shrink(site: Site, repo: Path) -> None:
    ten = [record(f"x_DEPGUARD-2026-{i:04d}", name=f"pkg{i}", versions=("1.0",)) for i in range(1, 11)]
    site.publish(ten)
    assert sync_url(repo, site.url).returncode == 0
    full = tree_digest(repo)
    site.publish(
        [record("x_DEPGUARD-2026-0001", name="pkg1", versions=("1.0", "1.1"), modified="2026-04-01T00:00:00Z")]
    )
    warning = fell_back(
        sync_url(repo, site.url), "dropped 9 of the 10 records depguard verified before", "--allow-shrink"
    )
    assert "refusing it" in warning
    assert tree_digest(repo) == full
    allowed = sync_url(repo, site.url, "--allow-shrink", inproc=True)
    assert allowed.returncode == 0
    (loud,) = warning_lines(allowed)
    assert loud.startswith("depguard: warning: SHRUNK FEED") and "their constraints are lifted" in loud
    text = (repo / "pyproject.toml").read_text()
    assert "pkg1!=1.0,!=1.1" in text and "pkg2" not in text
