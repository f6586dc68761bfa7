"""Where depguard keeps its cache: one root for every command and every kind of cached data.

``$DEPGUARD_CACHE_DIR`` when set, else the platform's per-user cache directory. Downloaded
feeds live under ``<root>/feeds/`` (:mod:`depguard.sources.cache`). Nothing of depguard is
imported here; platformdirs only when the platform default is needed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["ENV_CACHE_DIR", "cache_root", "configured_cache_dir"]

ENV_CACHE_DIR = "DEPGUARD_CACHE_DIR"


def configured_cache_dir(env: Mapping[str, str] | None = None) -> Path | None:
    """``$DEPGUARD_CACHE_DIR`` as a path, or None when it is unset or empty."""
    value = (os.environ if env is None else env).get(ENV_CACHE_DIR) or None
    return Path(value) if value else None


def cache_root(configured: Path | None = None) -> Path:
    """``configured`` (from options or ``$DEPGUARD_CACHE_DIR``) or the user cache dir of the platform."""
    if configured is not None:
        return Path(configured)
    from platformdirs import user_cache_dir  # not a depguard module: only needed without a configured root

    return Path(user_cache_dir("depguard", appauthor=False))
