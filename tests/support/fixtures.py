"""pytest fixtures over ``support.*`` (loaded by ``tests/conftest.py``: ``pytest_plugins``).

Package index:  ``local_index`` (session, the default index), ``make_index`` (factory).
Resolvers:      ``uv_bin``, ``pip_cmd`` (session; fail/skip when unavailable),
                ``uv_project`` (factory writing a uv project in tmp_path).
HTTP:           ``http_server`` (hookable Python server over ``tmp_path/www``),
                ``nginx_bin``, ``nginx`` (factory ``nginx(root, gzip=True)``; skips
                without nginx), ``serve_dir`` (factory ``serve_dir(root, backend="auto")``:
                nginx when installed, else Python), ``static_server`` (parametrized
                ``python``/``nginx`` over an empty ``tmp_path/static``).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from support import httpserver, pkgindex, resolvers

# --------------------------------------------------------------------------- index


@pytest.fixture(scope="session")
def local_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """find-links dir with ``pkgindex.DEFAULT_PACKAGES`` (litellm 1.82.6-9, ultralytics
    8.3.40-47, evilpkg 0.1.0/0.2.0, goodpkg 1.0.0 -> litellm>=1.82, tinylib 1.0/2.0).
    Shared by the session: do not write into it (use ``make_index``)."""
    return pkgindex.build_index(tmp_path_factory.mktemp("local-index"), pkgindex.DEFAULT_PACKAGES)


@pytest.fixture
def make_index(tmp_path: Path):
    """Factory: ``make_index({"pkg": ["1.0", ("2.0", ["dep>=1"])]}, base=False) -> Path``.
    ``base=True`` starts from the default packages."""
    counter = itertools.count()

    def factory(packages=(), *, base: bool = False) -> Path:
        dest = tmp_path / f"index-{next(counter)}"
        if base:
            pkgindex.build_index(dest, pkgindex.DEFAULT_PACKAGES)
        return pkgindex.build_index(dest, packages)

    return factory


# --------------------------------------------------------------------------- resolvers


@pytest.fixture(scope="session")
def uv_bin() -> str:
    """The real uv (>= 0.13.8); fails the test when missing or too old."""
    try:
        return resolvers.find_uv()
    except resolvers.ResolverUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def pip_cmd() -> list[str]:
    """``[sys.executable, "-m", "pip"]``; skips when the test interpreter has no pip."""
    try:
        return resolvers.find_pip()
    except resolvers.ResolverUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def uv_project(tmp_path: Path, uv_bin: str):
    """Factory: ``uv_project(["litellm>=1.82"], constraints=[...], **write_project_kw) -> dir``."""
    counter = itertools.count()

    def factory(dependencies=(), **kwargs) -> Path:
        project = tmp_path / f"project-{next(counter)}"
        resolvers.write_project(project, dependencies, **kwargs)
        return project

    return factory


# --------------------------------------------------------------------------- http


@pytest.fixture
def http_server(tmp_path: Path):
    """A started ``LocalHTTPServer`` over ``tmp_path/"www"`` (gzip off; set
    ``http_server.gzip = True`` to turn it on)."""
    root = tmp_path / "www"
    root.mkdir()
    with httpserver.LocalHTTPServer(root) as server:
        yield server


@pytest.fixture(scope="session")
def nginx_bin() -> str:
    found = httpserver.find_nginx()
    if not found:
        pytest.skip("nginx is not installed (apt-get install -y --no-install-recommends nginx)")
    return found


@pytest.fixture
def nginx(nginx_bin: str, tmp_path: Path):
    """Factory: ``nginx(root, gzip=True) -> NginxServer`` (started; stopped at teardown)."""
    servers: list[httpserver.NginxServer] = []

    def factory(root, *, gzip: bool = True) -> httpserver.NginxServer:
        workdir = tmp_path / f"nginx-{len(servers)}"
        server = httpserver.NginxServer(root, gzip=gzip, workdir=workdir, binary=nginx_bin)
        server.start()
        servers.append(server)
        return server

    yield factory
    for server in servers:
        server.stop()


@pytest.fixture
def serve_dir(tmp_path: Path):
    """Factory: ``serve_dir(root, backend="auto"|"python"|"nginx", gzip=True)``; "auto"
    is nginx when installed, else the Python server. Stopped at teardown."""
    servers: list = []

    def factory(root, *, backend: str = "auto", gzip: bool = True):
        if backend not in ("auto", "python", "nginx"):
            raise ValueError(f"unknown backend {backend!r}")
        binary = httpserver.find_nginx() if backend in ("auto", "nginx") else None
        if backend == "nginx" and not binary:
            pytest.skip("nginx is not installed (apt-get install -y --no-install-recommends nginx)")
        if binary:
            server = httpserver.NginxServer(root, gzip=gzip, workdir=tmp_path / f"nginx-{len(servers)}", binary=binary)
        else:
            server = httpserver.LocalHTTPServer(root, gzip=gzip)
        servers.append(server)
        return server.start()

    yield factory
    for server in servers:
        server.stop()


@pytest.fixture(params=["python", "nginx"])
def static_server(request: pytest.FixtureRequest, tmp_path: Path, serve_dir):
    """Each test runs against both backends (nginx skipped when missing), serving the
    empty ``static_server.root`` (``tmp_path/"static"``) with gzip on: write files there."""
    root = tmp_path / "static"
    root.mkdir()
    return serve_dir(root, backend=request.param, gzip=True)
