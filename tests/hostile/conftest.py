"""Fixtures of the hostile-input suite (see README.md in this directory)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hostilekit import Site, good_records, sync_url, tree_digest, victim


@pytest.fixture
def site(http_server, tmp_path: Path) -> Site:
    """An empty site on the hookable local HTTP server (faults come from its hooks)."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    return Site(http_server, scratch)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The victim: a git repo with pyproject.toml, constraints.txt and requirements.in."""
    return victim(tmp_path / "repo")


@pytest.fixture
def primed(site: Site, repo: Path) -> dict[str, str]:
    """The good feed was published and synced once: the cache holds a verified copy.

    Returns the tree digest after that good sync: a hostile download that falls back to the
    cache must leave exactly these bytes.
    """
    site.publish(good_records())
    proc = sync_url(repo, site.url, inproc=True)
    assert proc.returncode == 0, proc.stderr
    assert "litellm!=1.82.7,!=1.82.8" in (repo / "pyproject.toml").read_text()
    site.server.reset_stats()
    return tree_digest(repo)
