"""The test infrastructure itself: local index, real uv/pip runs, real HTTP servers."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import sys
import time
import zipfile
from email.utils import formatdate
from pathlib import Path

import httpx
import pytest

from depguard import tomlread

from support import httpserver, pkgindex, resolvers
from support.httpserver import LocalHTTPServer, Route

LITELLM_BAD = "litellm!=1.82.7,!=1.82.8,!=1.82.9"


def client(**kwargs) -> httpx.Client:
    kwargs.setdefault("timeout", 10)
    return httpx.Client(trust_env=False, **kwargs)


# =========================================================================== pkgindex


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def test_build_wheel_is_valid(tmp_path: Path) -> None:
    whl = pkgindex.build_wheel(tmp_path, "Good.Pkg", "1.0.0", ["litellm>=1.82", "tinylib<2"])
    assert whl.name == "good_pkg-1.0.0-py3-none-any.whl"
    with zipfile.ZipFile(whl) as zf:
        assert zf.testzip() is None
        names = zf.namelist()
        assert names == [
            "good_pkg/__init__.py",
            "good_pkg-1.0.0.dist-info/METADATA",
            "good_pkg-1.0.0.dist-info/WHEEL",
            "good_pkg-1.0.0.dist-info/RECORD",
        ]
        assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in zf.infolist())
        meta = zf.read("good_pkg-1.0.0.dist-info/METADATA").decode()
        assert meta.splitlines()[:3] == ["Metadata-Version: 2.1", "Name: Good.Pkg", "Version: 1.0.0"]
        assert "Requires-Dist: litellm>=1.82\nRequires-Dist: tinylib<2\n" in meta
        wheel = zf.read("good_pkg-1.0.0.dist-info/WHEEL").decode()
        assert "Tag: py3-none-any" in wheel and "Root-Is-Purelib: true" in wheel
        record = zf.read("good_pkg-1.0.0.dist-info/RECORD").decode().splitlines()
        assert record[-1] == "good_pkg-1.0.0.dist-info/RECORD,,"
        entries = [line.split(",") for line in record[:-1]]
        assert [e[0] for e in entries] == names[:-1]
        for arcname, digest, size in entries:
            data = zf.read(arcname)
            assert digest == _record_hash(data)
            assert int(size) == len(data)


def test_build_wheel_is_deterministic(tmp_path: Path) -> None:
    a = pkgindex.build_wheel(tmp_path / "a", "litellm", "1.82.7", ["x>=1"])
    time.sleep(0.01)
    b = pkgindex.build_wheel(tmp_path / "b", "litellm", "1.82.7", ["x>=1"])
    assert a.read_bytes() == b.read_bytes()
    c = pkgindex.build_wheel(tmp_path / "c", "litellm", "1.82.8", ["x>=1"])
    assert c.read_bytes() != a.read_bytes()


def test_build_index_accepts_both_spec_forms(tmp_path: Path) -> None:
    d1 = pkgindex.build_index(tmp_path / "d1", {"foo": ["1.0", ("2.0", ["bar>=1"])], "bar": ["1.5"]})
    d2 = pkgindex.build_index(tmp_path / "d2", [("foo", "1.0"), ("foo", "2.0", ["bar>=1"]), ("bar", "1.5", ())])
    names = sorted(p.name for p in d1.iterdir())
    assert names == ["bar-1.5-py3-none-any.whl", "foo-1.0-py3-none-any.whl", "foo-2.0-py3-none-any.whl"]
    for name in names:
        assert (d1 / name).read_bytes() == (d2 / name).read_bytes()
    with pytest.raises(TypeError):
        pkgindex.build_index(tmp_path / "d3", {"foo": "1.0"})


def test_local_index_has_the_default_packages(local_index: Path) -> None:
    names = {p.name for p in local_index.glob("*.whl")}
    expected = {
        pkgindex.wheel_filename(name, item if isinstance(item, str) else item[0])
        for name, items in pkgindex.DEFAULT_PACKAGES.items()
        for item in items
    }
    assert names == expected
    assert "litellm-1.82.8-py3-none-any.whl" in names
    assert "ultralytics-8.3.45-py3-none-any.whl" in names
    with zipfile.ZipFile(local_index / "goodpkg-1.0.0-py3-none-any.whl") as zf:
        assert "Requires-Dist: litellm>=1.82" in zf.read("goodpkg-1.0.0.dist-info/METADATA").decode()


def test_make_index_factory(make_index) -> None:
    extra = make_index({"newpkg": ["3.0"]})
    assert [p.name for p in extra.iterdir()] == ["newpkg-3.0-py3-none-any.whl"]
    both = make_index({"newpkg": ["3.0"]}, base=True)
    assert (both / "litellm-1.82.6-py3-none-any.whl").is_file()
    assert extra != both


def test_build_simple_index(tmp_path: Path, local_index: Path) -> None:
    root = pkgindex.build_simple_index(local_index, tmp_path / "site" / "simple")
    assert 'href="litellm/"' in (root / "index.html").read_text()
    page = (root / "litellm" / "index.html").read_text()
    data = (local_index / "litellm-1.82.7-py3-none-any.whl").read_bytes()
    assert f"../../files/litellm-1.82.7-py3-none-any.whl#sha256={hashlib.sha256(data).hexdigest()}" in page
    assert (tmp_path / "site" / "files" / "litellm-1.82.7-py3-none-any.whl").read_bytes() == data


# =========================================================================== resolvers: pure


def test_uv_is_recent_enough(uv_bin: str) -> None:
    assert Path(uv_bin).is_file()
    assert resolvers.uv_version() >= resolvers.MIN_UV_VERSION


def test_clean_env_drops_machine_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_FIND_LINKS", "/opt/wheels")
    monkeypatch.setenv("PIP_CONSTRAINT", "/etc/evil.txt")
    monkeypatch.setenv("UV_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("UV_CONSTRAINT", "/etc/evil.txt")
    monkeypatch.setenv("VIRTUAL_ENV", "/somewhere")
    env = resolvers.clean_env(extra={"PIP_CONSTRAINT": "/mine.txt"})
    assert not {"PIP_FIND_LINKS", "UV_INDEX_URL", "UV_CONSTRAINT", "VIRTUAL_ENV"} & env.keys()
    assert env["PIP_CONSTRAINT"] == "/mine.txt"  # extra is applied after the purge
    assert env["PIP_CONFIG_FILE"] == os.devnull
    assert env["UV_NO_CONFIG"] == "1" and env["UV_OFFLINE"] == "1"
    assert env["UV_PYTHON"] == sys.executable and env["UV_PYTHON_DOWNLOADS"] == "never"
    assert Path(env["UV_CACHE_DIR"]).is_dir()
    assert "127.0.0.1" in env["NO_PROXY"]
    honoring = resolvers.clean_env(honor_project_config=True, offline=False)
    assert "UV_NO_CONFIG" not in honoring and "UV_OFFLINE" not in honoring
    assert Path(honoring["XDG_CONFIG_HOME"]).is_dir()


def test_write_project_and_locked_versions(tmp_path: Path) -> None:
    path = resolvers.write_project(
        tmp_path, ['litellm>=1.82; python_version >= "3"'], constraints=[LITELLM_BAD], tool_uv="no-index = true"
    )
    data = tomlread.loads(path.read_text(encoding="utf-8"))
    assert data["project"]["dependencies"] == ['litellm>=1.82; python_version >= "3"']
    assert data["tool"]["uv"] == {"constraint-dependencies": [LITELLM_BAD], "no-index": True}
    assert data["project"]["requires-python"] == f">={sys.version_info.major}.{sys.version_info.minor}"
    (tmp_path / "uv.lock").write_text(
        'version = 1\nrequires-python = ">=3.10"\n\n'
        '[[package]]\nname = "demo"\nversion = "0.1.0"\nsource = { virtual = "." }\n\n'
        '[[package]]\nname = "Lite_LLM"\nversion = "1.82.6"\nsource = { registry = "/x" }\n'
    )
    assert resolvers.locked_versions(tmp_path) == {"lite-llm": "1.82.6"}
    assert resolvers.locked_versions(tmp_path / "uv.lock", include_project=True) == {
        "demo": "0.1.0",
        "lite-llm": "1.82.6",
    }


# =========================================================================== resolvers: real uv


@pytest.mark.slow
def test_uv_lock_honours_constraint_dependencies(uv_project, local_index: Path) -> None:
    project = uv_project(["litellm>=1.82"], constraints=[LITELLM_BAD])
    result = resolvers.uv_lock(project, local_index).assert_ok()
    assert resolvers.locked_versions(project) == {"litellm": "1.82.6"}
    assert result.duration < 30
    # without the constraint the newest (compromised) release wins
    free = uv_project(["litellm>=1.82"])
    resolvers.uv_lock(free, local_index).assert_ok()
    assert resolvers.locked_versions(free) == {"litellm": "1.82.9"}


@pytest.mark.slow
def test_uv_lock_fails_on_a_pinned_blocked_release(uv_project, local_index: Path) -> None:
    project = uv_project(["litellm==1.82.7"], constraints=[LITELLM_BAD])
    result = resolvers.uv_lock(project, local_index)
    result.assert_failed("litellm")
    assert "litellm" in result.stderr
    assert not (project / "uv.lock").exists()


@pytest.mark.slow
def test_uv_constraint_applies_to_transitive_dependencies(uv_project, local_index: Path) -> None:
    project = uv_project(["goodpkg"], constraints=["litellm!=1.82.8,!=1.82.9"])
    resolvers.uv_lock(project, local_index).assert_ok()
    assert resolvers.locked_versions(project) == {"goodpkg": "1.0.0", "litellm": "1.82.7"}


@pytest.mark.slow
def test_uv_whole_package_block(uv_project, local_index: Path) -> None:
    blocked = uv_project(["evilpkg"], constraints=["evilpkg<0"])
    resolvers.uv_lock(blocked, local_index).assert_failed("evilpkg")
    # a block on a package nobody asks for is harmless
    unrelated = uv_project(["tinylib"], constraints=["evilpkg<0"])
    resolvers.uv_lock(unrelated, local_index).assert_ok()
    assert resolvers.locked_versions(unrelated) == {"tinylib": "2.0"}


@pytest.mark.slow
def test_uv_is_isolated_from_hostile_environment(
    uv_project, local_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    evil = tmp_path / "evil-constraints.txt"
    evil.write_text("litellm<0\n")
    xdg = tmp_path / "xdg"
    (xdg / "uv").mkdir(parents=True)
    (xdg / "uv" / "uv.toml").write_text('constraint-dependencies = ["litellm<0"]\nno-index = false\n')
    monkeypatch.setenv("UV_CONSTRAINT", str(evil))
    monkeypatch.setenv("UV_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("UV_FIND_LINKS", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(xdg))
    project = uv_project(["litellm"])
    resolvers.uv_lock(project, local_index).assert_ok()
    assert resolvers.locked_versions(project) == {"litellm": "1.82.9"}


@pytest.mark.slow
def test_uv_project_index_settings_need_honor_project_config(
    uv_project, local_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    xdg = tmp_path / "xdg"
    (xdg / "uv").mkdir(parents=True)
    (xdg / "uv" / "uv.toml").write_text('constraint-dependencies = ["litellm<0"]\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    tool_uv = f"no-index = true\nfind-links = [{json.dumps(str(local_index))}]"
    project = uv_project(["goodpkg"], constraints=[LITELLM_BAD], tool_uv=tool_uv)
    # UV_NO_CONFIG hides [tool.uv] index settings (but not constraint-dependencies)
    resolvers.uv_lock(project).assert_failed("goodpkg")
    resolvers.uv_lock(project, honor_project_config=True).assert_ok()
    assert resolvers.locked_versions(project) == {"goodpkg": "1.0.0", "litellm": "1.82.6"}


@pytest.mark.slow
def test_uv_pip_compile_with_constraints_file(local_index: Path, tmp_path: Path) -> None:
    cfile = resolvers.write_constraints(tmp_path / "c.txt", [LITELLM_BAD, "ultralytics!=8.3.41,!=8.3.42"])
    ok = resolvers.uv_pip_compile(["goodpkg", "ultralytics<8.3.45"], local_index, cfile).assert_ok()
    assert ok.versions == {"goodpkg": "1.0.0", "litellm": "1.82.6", "ultralytics": "8.3.40"}
    resolvers.uv_pip_compile(["ultralytics==8.3.42"], local_index, cfile).assert_failed("ultralytics")
    pinned = resolvers.uv_pip_compile(["litellm==1.82.8"], local_index, [LITELLM_BAD])
    pinned.assert_failed("litellm")


# =========================================================================== resolvers: real pip


@pytest.mark.slow
def test_pip_dry_run_honours_constraints_file(pip_cmd, local_index: Path, tmp_path: Path) -> None:
    cfile = resolvers.write_constraints(tmp_path / "constraints.txt", [LITELLM_BAD])
    result = resolvers.pip_install(None, ["goodpkg"], local_index, cfile).assert_ok()
    assert result.versions == {"goodpkg": "1.0.0", "litellm": "1.82.6"}
    assert result.report["install"][0]["download_info"]["url"].startswith("file://")
    blocked = resolvers.pip_install(None, ["litellm==1.82.7"], local_index, cfile)
    blocked.assert_failed("litellm", "constraint")


@pytest.mark.slow
def test_pip_whole_package_block_and_env_constraint(pip_cmd, local_index: Path) -> None:
    resolvers.pip_install(None, ["evilpkg"], local_index, ["evilpkg<0"]).assert_failed("evilpkg")
    # PIP_CONSTRAINT set on purpose by a test is honoured (extra env after the purge)
    with_env = resolvers.pip_install(None, ["goodpkg"], local_index, env_extra={"PIP_CONSTRAINT": ""}).assert_ok()
    assert with_env.versions["litellm"] == "1.82.9"


@pytest.mark.slow
def test_pip_is_isolated_from_hostile_configuration(
    pip_cmd, local_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    evil = resolvers.write_constraints(tmp_path / "evil.txt", ["litellm<0", "goodpkg<0"])
    conf = tmp_path / "pip.conf"
    conf.write_text(f"[global]\nconstraint = {evil}\nindex-url = http://127.0.0.1:9/simple\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    monkeypatch.setenv("PIP_CONSTRAINT", str(evil))
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    result = resolvers.pip_install(None, ["goodpkg"], local_index).assert_ok()
    assert result.versions == {"goodpkg": "1.0.0", "litellm": "1.82.9"}


@pytest.mark.slow
def test_pip_installs_into_a_uv_venv(pip_cmd, local_index: Path, tmp_path: Path) -> None:
    venv = resolvers.make_venv(tmp_path / "venv")
    assert not list(venv.glob("lib/python*/site-packages/pip"))  # the real pip comes from outside
    result = resolvers.pip_install(venv, ["goodpkg"], local_index, [LITELLM_BAD]).assert_ok()
    assert result.versions == {"goodpkg": "1.0.0", "litellm": "1.82.6"}
    probe = resolvers.run([resolvers.venv_python(venv), "-c", "import litellm; print(litellm.__version__)"])
    assert probe.assert_ok().stdout.strip() == "1.82.6"
    resolvers.pip_install(venv, ["evilpkg"], local_index, ["evilpkg<0"]).assert_failed("evilpkg")


@pytest.mark.slow
def test_pip_installs_into_a_target_dir(pip_cmd, local_index: Path, tmp_path: Path) -> None:
    target = tmp_path / "target"
    result = resolvers.pip_install(target, ["tinylib<2"], local_index).assert_ok()
    assert result.versions == {"tinylib": "1.0"}
    assert (target / "tinylib" / "__init__.py").read_text() == '__version__ = "1.0"\n'


# =========================================================================== Python HTTP server


def test_static_file_etag_and_304(http_server: LocalHTTPServer) -> None:
    body = json.dumps({"vulns": list(range(200))}).encode()
    (http_server.root / "feed.json").write_bytes(body)
    with client() as c:
        first = c.get(http_server.url("/feed.json"))
        assert first.status_code == 200 and first.content == body
        assert first.headers["content-type"] == "application/json"
        etag, last_mod = first.headers["etag"], first.headers["last-modified"]
        warm = c.get(http_server.url("/feed.json"), headers={"If-None-Match": etag})
        assert warm.status_code == 304 and warm.content == b""
        by_date = c.get(http_server.url("/feed.json"), headers={"If-Modified-Since": last_mod})
        assert by_date.status_code == 304
        old = formatdate(time.time() - 86400 * 365, usegmt=True)
        assert c.get(http_server.url("/feed.json"), headers={"If-Modified-Since": old}).status_code == 200
        assert c.head(http_server.url("/feed.json")).headers["content-length"] == str(len(body))
    recs = http_server.requests("/feed.json")
    assert [r.status for r in recs] == [200, 304, 304, 200, 200]
    assert [r.body_bytes for r in recs] == [len(body), 0, 0, len(body), 0]
    assert http_server.body_bytes("/feed.json") == 2 * len(body)
    assert recs[1].headers["if-none-match"] == etag


def test_changed_file_gets_a_new_etag(http_server: LocalHTTPServer) -> None:
    path = http_server.root / "a.txt"
    path.write_text("one")
    with client() as c:
        etag = c.get(http_server.url("/a.txt")).headers["etag"]
        path.write_text("two")
        again = c.get(http_server.url("/a.txt"), headers={"If-None-Match": etag})
        assert again.status_code == 200 and again.text == "two" and again.headers["etag"] != etag


def test_gzip_is_negotiated(http_server: LocalHTTPServer) -> None:
    http_server.gzip = True
    body = b'{"x": "' + b"a" * 5000 + b'"}'
    (http_server.root / "big.json").write_bytes(body)
    (http_server.root / "pkg.whl").write_bytes(body)
    with client() as c:
        zipped = c.get(http_server.url("/big.json"), headers={"Accept-Encoding": "gzip"})
        assert zipped.headers["content-encoding"] == "gzip" and zipped.content == body
        assert zipped.headers["etag"].startswith("W/")
        plain = c.get(http_server.url("/big.json"), headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        refused = c.get(http_server.url("/big.json"), headers={"Accept-Encoding": "gzip;q=0"})
        assert "content-encoding" not in refused.headers
        warm = c.get(
            http_server.url("/big.json"),
            headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["etag"]},
        )
        assert warm.status_code == 304
        binary = c.get(http_server.url("/pkg.whl"), headers={"Accept-Encoding": "gzip"})
        assert "content-encoding" not in binary.headers
    sizes = [r.body_bytes for r in http_server.requests("/big.json")]
    assert sizes[0] == len(gzip.compress(body, compresslevel=6, mtime=0)) < len(body)
    assert sizes[1:] == [len(body), len(body), 0]


def test_directory_listing_404_redirect_and_traversal(http_server: LocalHTTPServer) -> None:
    (http_server.root / "wheels").mkdir()
    (http_server.root / "wheels" / "a-1.0-py3-none-any.whl").write_bytes(b"zip")
    with client() as c:
        assert c.get(http_server.url("/wheels")).status_code == 301
        listing = c.get(http_server.url("/wheels/"))
        assert 'href="a-1.0-py3-none-any.whl"' in listing.text
        assert c.get(http_server.url("/missing")).status_code == 404
        assert c.get(http_server.url("/../../etc/passwd")).status_code == 404


def test_route_overrides_and_sequences(http_server: LocalHTTPServer) -> None:
    http_server.route("/api", b'{"ok": true}', status=201, headers={"X-Test": "1"}, content_type="application/json")
    http_server.set_route("/flaky", Route(status=503, body=b"busy"), Route(status=500), Route(body=b"fine"))
    with client() as c:
        r = c.get(http_server.url("/api?x=1"))
        assert (r.status_code, r.content, r.headers["x-test"]) == (201, b'{"ok": true}', "1")
        assert [c.get(http_server.url("/flaky")).status_code for _ in range(4)] == [503, 500, 200, 200]
    assert http_server.requests("/api")[0].target == "/api?x=1"
    assert http_server.statuses("/flaky") == [503, 500, 200, 200]
    http_server.clear_routes("/api")
    with client() as c:
        assert c.get(http_server.url("/api")).status_code == 404


def test_serve_bytes_is_conditional(http_server: LocalHTTPServer) -> None:
    http_server.serve_bytes("/virtual.json", b'{"a": 1}')
    with client() as c:
        first = c.get(http_server.url("/virtual.json"))
        second = c.get(http_server.url("/virtual.json"), headers={"If-None-Match": first.headers["etag"]})
    assert (first.status_code, second.status_code) == (200, 304)
    assert http_server.body_bytes("/virtual.json") == len(b'{"a": 1}')


def test_redirect(http_server: LocalHTTPServer) -> None:
    (http_server.root / "new.txt").write_text("moved here")
    http_server.redirect("/old.txt", "/new.txt", status=301)
    with client(follow_redirects=True) as c:
        r = c.get(http_server.url("/old.txt"))
    assert r.text == "moved here" and r.history[0].status_code == 301
    assert http_server.statuses("/old.txt") == [301]


def test_slow_drip(http_server: LocalHTTPServer) -> None:
    http_server.drip("/slow", b"abcdef", chunk_size=2, delay=0.1)
    start = time.monotonic()
    with client() as c:
        r = c.get(http_server.url("/slow"))
    assert r.content == b"abcdef"
    assert time.monotonic() - start >= 0.25
    with client(timeout=httpx.Timeout(5, read=0.05)) as c, pytest.raises(httpx.ReadTimeout):
        c.get(http_server.url("/slow"))


def test_endless_stream_is_cut_by_the_client(http_server: LocalHTTPServer) -> None:
    http_server.endless("/forever", b"y" * 8192)
    received = 0
    with client() as c, c.stream("GET", http_server.url("/forever")) as r:
        assert "content-length" not in r.headers
        for chunk in r.iter_raw():
            received += len(chunk)
            if received >= 1_000_000:
                break
    recs = http_server.wait_for_requests(1, "/forever")
    assert recs[0].body_bytes >= received
    deadline = time.monotonic() + 5
    while not recs[0].aborted and time.monotonic() < deadline:
        time.sleep(0.02)
    assert recs[0].aborted and not recs[0].complete


def test_endless_chunked_stream(http_server: LocalHTTPServer) -> None:
    http_server.endless("/chunks", b"z" * 1000, chunked=True)
    with client() as c, c.stream("GET", http_server.url("/chunks")) as r:
        assert r.headers["transfer-encoding"] == "chunked"
        got = b""
        for chunk in r.iter_bytes():
            got += chunk
            if len(got) >= 10_000:
                break
    assert set(got) == {ord("z")}


def test_content_length_lies(http_server: LocalHTTPServer) -> None:
    http_server.lie_content_length("/short", b"only ten b", claimed=100)
    http_server.lie_content_length("/long", b"0123456789EXTRA", claimed=10)
    with client() as c:
        with pytest.raises(httpx.RemoteProtocolError):
            c.get(http_server.url("/short"))
        assert c.get(http_server.url("/long")).content == b"0123456789"
    assert http_server.body_bytes("/short") == 10


def test_chunked_route_and_custom_handler(http_server: LocalHTTPServer) -> None:
    http_server.route("/chunked", b"abc" * 100, chunked=True, chunk_size=7)

    def teapot(handler) -> None:
        handler.start_response(418, [("Content-Length", "5")])
        handler.write_body(b"short")

    http_server.set_handler("/teapot", teapot)
    with client() as c:
        assert c.get(http_server.url("/chunked")).content == b"abc" * 100
        tea = c.get(http_server.url("/teapot"))
    assert (tea.status_code, tea.content) == (418, b"short")
    assert http_server.body_bytes("/teapot") == 5 and http_server.body_bytes("/chunked") == 300


def test_server_stops_cleanly_with_a_stream_in_flight(tmp_path: Path) -> None:
    server = LocalHTTPServer(tmp_path).start()
    server.endless("/forever", delay=0.01)
    with client() as c, c.stream("GET", server.url("/forever")) as r:
        next(r.iter_raw())
        start = time.monotonic()
        server.stop()
        assert time.monotonic() - start < 3
    with pytest.raises(httpx.ConnectError), client() as c:
        c.get(server.url("/"))


# =========================================================================== both backends


def test_static_server_conditional_fetch_costs_no_body_bytes(static_server) -> None:
    feed = json.dumps({"entries": [{"id": i, "pkg": "litellm"} for i in range(300)]}).encode()
    (static_server.root / "feed.json").write_bytes(feed)
    with client() as c:
        cold = c.get(static_server.url("/feed.json"))
        assert cold.status_code == 200 and cold.content == feed
        etag = cold.headers["etag"]
        warm = c.get(static_server.url("/feed.json"), headers={"If-None-Match": etag})
        assert warm.status_code == 304
        by_date = c.get(static_server.url("/feed.json"), headers={"If-Modified-Since": cold.headers["last-modified"]})
        assert by_date.status_code == 304
    recs = static_server.wait_for_requests(3, "/feed.json")
    assert [r.status for r in recs] == [200, 304, 304]
    assert 0 < recs[0].body_bytes < len(feed)  # gzip on: httpx asks for it
    assert recs[1].body_bytes == recs[2].body_bytes == 0
    static_server.reset_stats()
    assert static_server.request_count() == 0


def test_static_server_serves_find_links_for_pip(static_server, pip_cmd, local_index: Path) -> None:
    for wheel in local_index.glob("litellm-*.whl"):
        (static_server.root / wheel.name).write_bytes(wheel.read_bytes())
    result = resolvers.pip_install(None, ["litellm"], static_server.url("/"), [LITELLM_BAD]).assert_ok()
    assert result.versions == {"litellm": "1.82.6"}
    recs = static_server.wait_for_requests(2)
    assert any(r.path == "/litellm-1.82.6-py3-none-any.whl" and r.status == 200 for r in recs)


@pytest.mark.slow
def test_uv_resolves_from_a_simple_index_over_http(serve_dir, uv_project, local_index: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    pkgindex.build_simple_index(local_index, site / "simple")
    server = serve_dir(site)
    project = uv_project(["goodpkg"], constraints=[LITELLM_BAD])
    resolvers.uv_lock(project, index_url=server.url("/simple/")).assert_ok()
    assert resolvers.locked_versions(project) == {"goodpkg": "1.0.0", "litellm": "1.82.6"}
    assert server.wait_for_requests(1, "/simple/litellm/")


# =========================================================================== nginx


def test_nginx_runs_from_its_own_directory(nginx, tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "hello.txt").write_text("hello from nginx " * 10)
    server = nginx(root)
    assert server.kind == "nginx"
    assert (server.workdir / "nginx.pid").is_file()
    conf = (server.workdir / "nginx.conf").read_text()
    assert "daemon off;" in conf and "gzip on;" in conf and "etag on;" in conf
    with client() as c:
        r = c.get(server.url("/hello.txt"), headers={"Accept-Encoding": "identity"})
    assert r.status_code == 200 and r.text == "hello from nginx " * 10
    assert server.wait_for_requests(1)[0].body_bytes == len(r.content)
    master = int((server.workdir / "nginx.pid").read_text())
    server.stop()
    with pytest.raises(ProcessLookupError):  # nginx is gone, and reaped
        os.kill(master, 0)
    with pytest.raises(httpx.ConnectError), client() as c:
        c.get(server.url("/hello.txt"))


def test_serve_dir_auto_prefers_nginx(serve_dir, tmp_path: Path) -> None:
    server = serve_dir(tmp_path)
    assert server.kind == ("nginx" if httpserver.find_nginx() else "python")
    python_server = serve_dir(tmp_path, backend="python")
    assert isinstance(python_server, LocalHTTPServer)
