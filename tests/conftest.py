"""Shared fixtures: the upstream compatibility corpus and the repository root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["support.fixtures"]
REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def upstream_corpus() -> Path:
    """``DEPGUARD_UPSTREAM_CORPUS``: skip when unset, fail when set to a missing path."""
    value = os.environ.get("DEPGUARD_UPSTREAM_CORPUS")
    if not value:
        pytest.skip("DEPGUARD_UPSTREAM_CORPUS is not set; the upstream compatibility corpus is not available")
    path = Path(value)
    if not path.is_absolute():
        path = (Path.cwd() / path).resolve()
    if not path.is_dir():
        pytest.fail(f"DEPGUARD_UPSTREAM_CORPUS={value!r} does not name a directory ({path})")
    return path


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(autouse=True)
def _isolated_feed_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the user's feed cache, and none reaches the published feed.

    Subprocesses inherit these variables; tests of the client set their own per call.
    """
    monkeypatch.setenv("DEPGUARD_CACHE_DIR", str(tmp_path_factory.mktemp("depguard-cache")))
    monkeypatch.setenv("DEPGUARD_OFFLINE", "1")
    monkeypatch.delenv("DEPGUARD_FEED", raising=False)
