"""How a source fetches and caches: safety overrides, limits and the cache root.

Read from ``DEPGUARD_*`` variables with the command-line flags on top, once per command, and
handed to whichever source :func:`depguard.sources.resolve` picks.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from depguard.cachedir import ENV_CACHE_DIR, cache_root
from depguard.errors import ConfigError
from depguard.feedformat import DEFAULT_MAX_BYTES

__all__ = ["ENV_MAX_BYTES", "ENV_OFFLINE", "ENV_TIMEOUT", "FetchOptions"]

ENV_MAX_BYTES = "DEPGUARD_MAX_DOWNLOAD_BYTES"
ENV_OFFLINE = "DEPGUARD_OFFLINE"
ENV_TIMEOUT = "DEPGUARD_HTTP_TIMEOUT"
_TRUE = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True)
class FetchOptions:
    """How to fetch: safety overrides, limits and where the cache lives."""

    offline: bool = False
    allow_rollback: bool = False
    allow_shrink: bool = False
    max_bytes: int = DEFAULT_MAX_BYTES
    cache_dir: Path | None = None
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    deadline: float = 120.0
    attempts: int = 3
    backoff: float = 0.2

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        offline: bool = False,
        allow_rollback: bool = False,
        allow_shrink: bool = False,
        max_bytes: int | None = None,
    ) -> FetchOptions:
        """Options from ``DEPGUARD_*`` variables, with command-line flags on top.

        ``DEPGUARD_CACHE_DIR`` (cache root), ``DEPGUARD_MAX_DOWNLOAD_BYTES`` (per response),
        ``DEPGUARD_OFFLINE`` (1/true), ``DEPGUARD_HTTP_TIMEOUT`` (seconds for a whole response).
        """
        env = os.environ if env is None else env
        cache = env.get(ENV_CACHE_DIR) or None
        limit = max_bytes if max_bytes is not None else _positive(env, ENV_MAX_BYTES, int, DEFAULT_MAX_BYTES)
        if limit <= 0:
            raise ConfigError(f"the download size limit must be positive, not {limit}")
        deadline = _positive(env, ENV_TIMEOUT, float, cls.deadline)
        return cls(
            offline=offline or env.get(ENV_OFFLINE, "").strip().lower() in _TRUE,
            allow_rollback=allow_rollback,
            allow_shrink=allow_shrink,
            max_bytes=limit,
            cache_dir=Path(cache) if cache else None,
            read_timeout=min(cls.read_timeout, deadline),
            connect_timeout=min(cls.connect_timeout, deadline),
            deadline=deadline,
        )

    @property
    def cache_root(self) -> Path:
        """The cache root these options name (``cache_dir``, else the platform default)."""
        return cache_root(self.cache_dir)


def _positive(env: Mapping[str, str], name: str, kind: type, default: Any) -> Any:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        raise ConfigError(f"{name} must be a positive number, not {text!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be a positive number, not {text!r}")
    return value
