"""The feed client against a real static server on 127.0.0.1, driven through the real CLI.

The tree is built by `depguard feed build` code and served by nginx when it is installed (the
Python server otherwise); faults (redirects, endless or oversized bodies, gzip bombs, slow
drips, 5xx) come from the hookable Python server. Every test has its own cache directory.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from depguard.cli import app
from depguard.errors import FeedSourceError, IntegrityError
from depguard.publish import build_site
from depguard.sources import FetchOptions, open_url
from depguard.sources.remote import check_redirect, check_url, fetch

from feedkit import record, write_feed
from support.httpserver import Route, free_port

runner = CliRunner()
LITELLM = "x_DEPGUARD-2026-0001"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("DEPGUARD_CACHE_DIR", str(cache))
    for name in ("DEPGUARD_FEED", "DEPGUARD_OFFLINE", "DEPGUARD_MAX_DOWNLOAD_BYTES", "DEPGUARD_HTTP_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    return cache


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repo with one uv project that depends on litellm; the cwd of every CLI run."""
    root = tmp_path / "repo"
    root.mkdir()
    (root / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "0.1.0"\ndependencies = ["litellm>=1.82"]\n'
    )
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "pyproject.toml"], check=True)
    monkeypatch.chdir(root)
    return root


def feed_a() -> list[dict[str, Any]]:
    return [
        record(LITELLM, name="litellm", versions=("1.82.7", "1.82.8")),
        record("x_DEPGUARD-2026-0002", name="tinylib", versions=("2.0",)),
        record("x_DEPGUARD-2026-0003", name="evilpkg", versions=("0.1.0",), whole_package=True),
        record("x_DEPGUARD-2026-0004", name="is", versions=("3.3.1",), ecosystem="npm"),
    ]


def feed_b() -> list[dict[str, Any]]:
    """Feed A a week later: litellm 1.82.9 was found compromised too."""
    records = feed_a()
    records[0] = record(
        LITELLM, name="litellm", versions=("1.82.7", "1.82.8", "1.82.9"), modified="2026-04-01T00:00:00Z"
    )
    return records


class Publisher:
    """Builds feeds into one served directory, the way CI republishes the site."""

    def __init__(self, tmp_path: Path, www: Path) -> None:
        self.tmp, self.www, self.count = tmp_path, www, 0

    def __call__(self, records: list[dict[str, Any]]) -> Path:
        self.count += 1
        source = write_feed(self.tmp / f"feed-{self.count}", records)
        build_site(source, self.www)
        # Each publish is "later": nginx's ETag is mtime + size, so two builds within one second
        # whose index.json has the same length would look unchanged to every HTTP cache.
        stamp = time.time() + 10 * self.count
        for path in self.www.rglob("*"):
            os.utime(path, (stamp, stamp))
        return self.www


def sync(*args: str) -> Any:
    result = runner.invoke(app, ["sync", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def warnings_of(result: Any) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("depguard: warning: ")]


def constraints(project: Path) -> str:
    return (project / "pyproject.toml").read_text()


@pytest.fixture
def static(tmp_path: Path, serve_dir):
    """A built feed A served by nginx (Python's server without nginx); returns (server, publish)."""
    www = tmp_path / "www"
    www.mkdir()
    publish = Publisher(tmp_path, www)
    publish(feed_a())
    return serve_dir(www), publish


@pytest.fixture
def hookable(tmp_path: Path, http_server):
    """Feed A on the hookable Python server (for fault injection)."""
    publish = Publisher(tmp_path, http_server.root)
    publish(feed_a())
    return http_server, publish


def _body(server: Any, path: str) -> bytes:
    return (Path(server.root) / path.lstrip("/")).read_bytes()


# --------------------------------------------------------------------------- the normal path


@pytest.mark.parametrize("backend", ["python", "nginx"])
def test_cold_fetch_then_warm_run_costs_one_304_and_no_body_bytes(
    backend: str, tmp_path: Path, serve_dir, project: Path
) -> None:
    www = tmp_path / "www"
    www.mkdir()
    Publisher(tmp_path, www)(feed_a())
    server = serve_dir(www, backend=backend)
    url = server.url("/")

    cold = sync("--feed", url)
    assert cold.exit_code == 0, cold.output
    assert '"litellm!=1.82.7,!=1.82.8",  # x_DEPGUARD-2026-0001' in constraints(project)
    assert f"feed: {url} (url, 4 records" in cold.stdout
    requests = server.wait_for_requests(2)
    assert [(r.path, r.status) for r in requests] == [("/index.json", 200), ("/all.json", 200)]
    assert sum(r.body_bytes for r in requests) > 0

    server.reset_stats()
    warm = sync("--feed", url)
    assert warm.exit_code == 0 and warnings_of(warm) == []
    (request,) = server.wait_for_requests(1)
    time.sleep(0.1)  # nothing else may follow
    assert server.requests() == [request]
    assert (request.path, request.status, request.body_bytes) == ("/index.json", 304, 0)
    assert "if-none-match" in request.headers


def test_a_changed_feed_is_picked_up(static, project: Path) -> None:
    server, publish = static
    assert sync("--feed", server.url("/")).exit_code == 0
    assert "!=1.82.9" not in constraints(project)
    publish(feed_b())
    server.reset_stats()
    result = sync("--feed", server.url("/"))
    assert result.exit_code == 0, result.output
    assert '"litellm!=1.82.7,!=1.82.8,!=1.82.9"' in constraints(project)
    assert [r.path for r in server.wait_for_requests(2)] == ["/index.json", "/all.json"]


def test_feed_status_names_source_age_count_and_cache(static, project: Path, _isolated: Path) -> None:
    server, _ = static
    result = runner.invoke(app, ["feed", "status", "--feed", server.url("/"), "--format", "json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert (info["source"], info["kind"], info["records"], info["in_force"]) == (server.url("/"), "url", 4, 4)
    assert info["newest_modified"] == "2026-03-25T12:00:00Z" and info["checked_at"]
    assert Path(info["cache"]).parent.parent == _isolated and (Path(info["cache"]) / "state.json").is_file()
    text = runner.invoke(app, ["feed", "status", "--feed", server.url("/"), "--offline"])
    assert "records:  4 (4 in force, 0 withdrawn)" in text.stdout and f"cache:    {info['cache']}" in text.stdout
    assert "(cache)" in text.stdout


def test_a_relative_feed_in_tool_depguard_is_relative_to_the_repo(
    static, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _ = static
    import shutil

    shutil.copytree(server.root, project / "published")
    text = constraints(project) + '\n[tool.depguard]\nfeed = "published"\n'
    (project / "pyproject.toml").write_text(text)
    (project / "sub").mkdir()
    monkeypatch.chdir(project / "sub")
    result = sync()
    assert result.exit_code == 0, result.output
    assert f"feed: {project / 'published'} (static, 4 records" in result.stdout
    assert "litellm!=1.82.7" in constraints(project)


def test_offline_uses_the_cache_without_any_request(static, project: Path) -> None:
    server, _ = static
    assert sync("--feed", server.url("/")).exit_code == 0
    server.reset_stats()
    (project / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "0.1.0"\n')
    result = sync("--feed", server.url("/"), "--offline")
    assert result.exit_code == 0 and warnings_of(result) == []
    assert "(cache, 4 records" in result.stdout and "litellm!=1.82.7" in constraints(project)
    time.sleep(0.1)
    assert server.requests() == []


def test_a_built_tree_on_disk_is_verified_too(static, project: Path) -> None:
    server, _ = static
    www = Path(server.root)
    assert sync("--feed", str(www)).exit_code == 0
    assert "litellm!=1.82.7" in constraints(project)
    data = (www / "all.json").read_bytes()
    (www / "all.json").write_bytes(data.replace(b'"1.82.7"', b'"1.82.6"', 1))
    result = sync("--feed", str(www))
    assert result.exit_code == 2 and "does not match index.json" in result.stderr


# --------------------------------------------------------------------------- refusals


def test_tampered_record_is_refused_and_nothing_is_written(static, project: Path, _isolated: Path) -> None:
    server, _ = static
    all_json = Path(server.root) / "all.json"
    all_json.write_bytes(all_json.read_bytes().replace(b'"1.82.7"', b'"1.82.6"', 1))  # same size, other hash
    before = constraints(project)
    result = sync("--feed", server.url("/"))
    assert result.exit_code == 2
    assert "all.json does not match index.json (sha256" in result.stderr
    assert constraints(project) == before
    assert not list(_isolated.rglob("state.json")), "a refused download is never cached"


def test_tampered_update_keeps_the_last_good_copy(static, project: Path, _isolated: Path) -> None:
    server, publish = static
    assert sync("--feed", server.url("/")).exit_code == 0
    (state,) = _isolated.rglob("state.json")
    good_state = state.read_bytes()
    www = publish(feed_b())
    (www / "all.json").write_bytes((www / "all.json").read_bytes().replace(b'"1.82.9"', b'"1.82.1"'))
    result = sync("--feed", server.url("/"))
    assert result.exit_code == 0, result.output
    (warning,) = warnings_of(result)
    assert "refused the feed" in warning and "does not match index.json" in warning and "cached copy" in warning
    assert "!=1.82.9" not in constraints(project) and "litellm!=1.82.7,!=1.82.8" in constraints(project)
    assert state.read_bytes() == good_state


def test_a_schema_invalid_record_is_refused_even_with_matching_hashes(static, project: Path) -> None:
    server, _ = static
    www = Path(server.root)
    records = json.loads((www / "all.json").read_bytes())
    records[0]["affected"] = []
    all_bytes = json.dumps(records).encode()
    index = json.loads((www / "index.json").read_bytes())
    index["all"].update(sha256=hashlib.sha256(all_bytes).hexdigest(), size=len(all_bytes))
    (www / "all.json").write_bytes(all_bytes)
    (www / "index.json").write_bytes(json.dumps(index).encode())
    result = sync("--feed", server.url("/"))
    assert result.exit_code == 2
    assert "all.json has invalid records, refusing all of them" in result.stderr and "/affected" in result.stderr
    assert "constraint-dependencies" not in constraints(project)


def test_an_older_replayed_feed_is_refused_unless_allowed(static, project: Path) -> None:
    server, publish = static
    publish(feed_b())
    assert sync("--feed", server.url("/")).exit_code == 0
    assert "!=1.82.9" in constraints(project)
    publish(feed_a())  # the old feed, replayed
    result = sync("--feed", server.url("/"))
    assert result.exit_code == 0, result.output
    (warning,) = warnings_of(result)
    assert "older than the copy depguard verified before" in warning and "--allow-rollback" in warning
    assert "!=1.82.9" in constraints(project), "the replay did not lift the constraint"
    allowed = sync("--feed", server.url("/"), "--allow-rollback")
    assert allowed.exit_code == 0
    assert "accepted because of --allow-rollback" in warnings_of(allowed)[0]
    assert "!=1.82.9" not in constraints(project)


def test_a_feed_that_lost_most_records_is_refused_unless_allowed(static, project: Path) -> None:
    server, publish = static
    assert sync("--feed", server.url("/")).exit_code == 0
    publish([record(LITELLM, name="litellm", versions=("1.82.7",), modified="2026-05-01T00:00:00Z")])
    result = sync("--feed", server.url("/"))
    assert result.exit_code == 0
    (warning,) = warnings_of(result)
    assert "dropped 3 of the 4 records" in warning and "--allow-shrink" in warning
    assert '"tinylib!=2.0"' in constraints(project)
    allowed = sync("--feed", server.url("/"), "--allow-shrink")
    assert allowed.exit_code == 0
    assert "SHRUNK FEED" in warnings_of(allowed)[0]
    assert "tinylib" not in constraints(project)


# --------------------------------------------------------------------------- fallbacks


def test_server_down_uses_the_cache_with_one_warning(static, project: Path) -> None:
    server, _ = static
    url = server.url("/")
    assert sync("--feed", url).exit_code == 0
    server.stop()
    (project / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "0.1.0"\n')
    result = sync("--feed", url)
    assert result.exit_code == 0, result.output
    (warning,) = warnings_of(result)
    assert f"could not update the feed from {url}" in warning
    assert "using the cached copy last confirmed by the server" in warning and " s ago" in warning
    assert "litellm!=1.82.7" in constraints(project)


def test_no_cache_and_no_server_falls_back_to_the_bundled_snapshot(project: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    result = sync("--feed", url)
    assert result.exit_code == 0, result.output
    (warning,) = warnings_of(result)
    assert "no cached copy" in warning and "the snapshot bundled with depguard" in warning and "old)" in warning
    from depguard.feed import load_feed
    from depguard.resources import bundled_feed_dir

    assert f"(bundled, {len(load_feed(bundled_feed_dir()).entries)} records" in result.stdout
    assert '"litellm!=1.82.7,!=1.82.8",  # x_DEPGUARD-2026-0001' in constraints(project)


def test_server_errors_are_retried(hookable, project: Path) -> None:
    server, _ = hookable
    index = _body(server, "/index.json")
    server.set_route(
        "/index.json", Route(status=503), Route(status=502), Route(body=index, content_type="application/json")
    )
    result = sync("--feed", server.url("/"))
    assert result.exit_code == 0 and warnings_of(result) == [], result.output
    assert server.statuses("/index.json") == [503, 502, 200]


# --------------------------------------------------------------------------- transport rules


def test_plain_http_to_a_remote_host_is_refused(project: Path) -> None:
    result = sync("--feed", "http://feed.depguard.invalid/")
    assert result.exit_code == 2 and "only https URLs are allowed" in result.stderr


def test_a_redirect_to_http_is_refused(hookable, project: Path, _isolated: Path) -> None:
    server, _ = hookable
    server.redirect("/index.json", "http://feed.depguard.invalid/index.json")
    result = sync("--feed", server.url("/"))
    assert result.exit_code == 2
    assert "refusing the redirect" in result.stderr and "only fetched over https" in result.stderr
    assert "constraint-dependencies" not in constraints(project)
    assert not list(_isolated.rglob("state.json"))


def test_redirect_rules() -> None:
    assert check_redirect("https://a.example/f/", "https://b.example/f/index.json")
    assert check_redirect("http://127.0.0.1:1/", "http://localhost:2/index.json")
    for current, target in [
        ("https://a.example/", "http://a.example/index.json"),
        ("https://a.example/", "http://127.0.0.1/index.json"),
        ("http://127.0.0.1:1/", "http://a.example/index.json"),
        ("https://a.example/", "file:///etc/passwd"),
    ]:
        with pytest.raises(IntegrityError):
            check_redirect(current, target)
    for url in ("http://[::1]:8/", "http://localhost/", "https://feed.example/"):
        assert check_url(url) == url
    for url in ("http://10.0.0.1/", "ftp://feed.example/", "http://127.0.0.2/", "https:///nohost"):
        with pytest.raises(FeedSourceError):
            check_url(url)


def test_a_loopback_redirect_is_followed(hookable, project: Path) -> None:
    server, _ = hookable
    server.redirect("/old/index.json", "/index.json", status=301)
    server.redirect("/old/all.json", server.url("/all.json"), status=308)
    result = sync("--feed", server.url("/old/"))
    assert result.exit_code == 0, result.output
    assert "litellm!=1.82.7" in constraints(project)
    assert server.statuses("/all.json") == [200]


def test_an_endless_response_is_cut_off_at_the_size_limit(
    hookable, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _ = hookable
    monkeypatch.setenv("DEPGUARD_MAX_DOWNLOAD_BYTES", str(64 * 1024))
    server.endless("/all.json")
    started = time.monotonic()
    result = sync("--feed", server.url("/"))
    assert result.exit_code == 0  # the network-ish failure falls back to the bundled snapshot
    (warning,) = warnings_of(result)
    assert "larger than the limit of 65536 bytes; cut off" in warning and "bundled" in warning
    assert time.monotonic() - started < 10
    (request,) = server.wait_for_requests(1, "/all.json")
    deadline = time.monotonic() + 5
    while not request.aborted and time.monotonic() < deadline:
        time.sleep(0.02)
    assert request.aborted and not request.complete


def test_a_declared_oversized_body_is_not_downloaded(hookable, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server, _ = hookable
    monkeypatch.setenv("DEPGUARD_MAX_DOWNLOAD_BYTES", "10000")
    server.route("/all.json", b"[" + b" " * 20_000 + b"]", content_type="application/json")
    result = sync("--feed", server.url("/"))
    assert "declares 20002 bytes, more than the limit of 10000; not downloaded" in result.stderr


def test_a_gzip_bomb_is_cut_off_after_decompression(hookable, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server, _ = hookable
    monkeypatch.setenv("DEPGUARD_MAX_DOWNLOAD_BYTES", str(1024 * 1024))
    bomb = gzip.compress(b" " * (64 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 100_000
    server.route("/all.json", bomb, content_type="application/json", headers={"Content-Encoding": "gzip"})
    result = sync("--feed", server.url("/"))
    (warning,) = warnings_of(result)
    assert "decompresses to more than the limit of 1048576 bytes; cut off" in warning


def test_gzip_encoded_feed_is_accepted(hookable, project: Path) -> None:
    server, _ = hookable
    server.gzip = True
    result = sync("--feed", server.url("/"))
    assert result.exit_code == 0 and warnings_of(result) == []
    assert server.requests("/all.json")[0].body_bytes < len(_body(server, "/all.json")) / 2


def test_a_slow_drip_is_cut_off_by_the_deadline(hookable, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server, _ = hookable
    monkeypatch.setenv("DEPGUARD_HTTP_TIMEOUT", "1")
    server.drip("/all.json", _body(server, "/all.json"), chunk_size=64, delay=0.05)
    started = time.monotonic()
    result = sync("--feed", server.url("/"))
    elapsed = time.monotonic() - started
    (warning,) = warnings_of(result)
    assert "the download took longer than 1 s; cut off" in warning
    assert elapsed < 5


def test_no_usable_source_at_all_is_a_clear_error(hookable, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server, _ = hookable
    server.route("/index.json", b'{"format": "depguard-feed", "format_version": 1}', content_type="application/json")
    result = sync("--feed", server.url("/"))
    assert result.exit_code == 2
    assert "not a depguard feed index" in result.stderr
    assert "constraint-dependencies" not in constraints(project)


def test_nothing_usable_anywhere_is_exit_2_and_writes_nothing(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import depguard.resources

    broken = record()
    broken["affected"] = []
    write_feed(tmp_path / "broken-bundle", [broken])
    monkeypatch.setattr(depguard.resources, "bundled_feed_dir", lambda: tmp_path / "broken-bundle")
    before = constraints(project)
    result = sync("--feed", f"http://127.0.0.1:{free_port()}/")
    assert result.exit_code == 2
    assert "no cached copy, and the snapshot bundled with depguard is unusable" in result.stderr
    assert constraints(project) == before


def test_library_errors_say_why_nothing_is_usable(hookable, project: Path) -> None:
    server, _ = hookable
    server.redirect("/index.json", "http://feed.depguard.invalid/index.json")
    with pytest.raises(FeedSourceError, match="no usable feed") as caught:
        open_url(server.url("/"), FetchOptions.from_env())
    assert isinstance(caught.value.__cause__, IntegrityError)
    with pytest.raises(IntegrityError):
        fetch(server.url("/"))


def test_an_unwritable_cache_costs_a_warning_not_the_feed(
    static, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _ = static
    (tmp_path / "a-file").write_text("not a directory")
    monkeypatch.setenv("DEPGUARD_CACHE_DIR", str(tmp_path / "a-file" / "cache"))
    result = sync("--feed", server.url("/"))
    assert result.exit_code == 0, result.output
    (warning,) = warnings_of(result)
    assert "could not write the feed cache" in warning
    assert "litellm!=1.82.7" in constraints(project)
