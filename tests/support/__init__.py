"""Test infrastructure: a local package index, real uv/pip runners and real HTTP servers.

Everything here is offline: wheels are built locally (``pkgindex``), the real ``uv``
and ``pip`` are run against those wheels only, isolated from this machine's pip/uv
configuration (``resolvers``), and HTTP tests talk to servers on 127.0.0.1
(``httpserver``). The pytest fixtures live in ``support.fixtures`` and are loaded by
``tests/conftest.py`` through ``pytest_plugins``.
"""
