"""Building feeds in tests: a valid record to start from, and writing a feed directory.

Also what tests of work shared with a forked worker (:func:`depguard.feed.share_jobs`) need:
whether this machine lets it fork, this process pinned to one core, and its live children.
"""

from __future__ import annotations

import contextlib
import copy
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from depguard.feed import canonical_bytes, record_relpath


def record(
    advisory_id: str = "x_DEPGUARD-2026-0001",
    *,
    name: str = "litellm",
    versions: tuple[str, ...] = ("1.82.7", "1.82.8"),
    ecosystem: str = "PyPI",
    whole_package: bool = False,
    withdrawn: str | None = None,
    published: str = "2026-03-24T12:00:00Z",
    modified: str = "2026-03-25T12:00:00Z",
) -> dict[str, Any]:
    """A record that passes every rule; tests break one thing at a time."""
    purl_name = name.replace("@", "%40") if ecosystem == "npm" else name
    affected: dict[str, Any] = {
        "package": {"ecosystem": ecosystem, "name": name, "purl": f"pkg:{ecosystem.lower()}/{purl_name}"},
        "versions": list(versions),
    }
    if whole_package:
        affected["ranges"] = [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]
    data: dict[str, Any] = {
        "schema_version": "1.7.5",
        "id": advisory_id,
        "modified": modified,
        "published": published,
        "aliases": ["MAL-2026-2144"],
        "summary": f"Compromised {name} releases",
        "details": f"Releases of {name} were compromised. Do not install them.",
        "affected": [affected],
        "references": [{"type": "REPORT", "url": "https://example.org/report"}],
        "database_specific": {"depguard": {"kind": "malicious-package" if whole_package else "compromised-release"}},
    }
    if withdrawn:
        data["withdrawn"] = withdrawn
    return data


def write_record(root: Path, data: dict[str, Any], *, rel: str | None = None, raw: bytes | None = None) -> Path:
    """Write ``data`` canonically at its proper place (or at ``rel``, or ``raw`` bytes)."""
    pkg = data["affected"][0]["package"] if data.get("affected") else {"ecosystem": "PyPI", "name": "x"}
    path = root / (rel or str(record_relpath(pkg["ecosystem"], pkg["name"], data["id"])))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw if raw is not None else canonical_bytes(data))
    return path


def write_feed(root: Path, records: list[dict[str, Any]]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for data in records:
        write_record(root, copy.deepcopy(data))
    return root


def forking_allowed() -> bool:
    """Whether ``share_jobs`` may fork here, by its documented rule: Linux and at least two
    cores for this process (the third condition, no other thread, holds between tests)."""
    return sys.platform.startswith("linux") and len(os.sched_getaffinity(0)) >= 2


@contextlib.contextmanager
def one_core() -> Iterator[None]:
    """This thread pinned to one core meanwhile: ``share_jobs`` then runs every job itself, as
    on a one-core machine; the same work in one process, for a reference."""
    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cores)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, cores)


def child_processes() -> list[int]:
    """Live child processes of this one (zombies reaped by a pool do not count)."""
    found = []
    for task in os.listdir(f"/proc/{os.getpid()}/task"):
        try:
            with open(f"/proc/{os.getpid()}/task/{task}/children") as children:
                found += [int(pid) for pid in children.read().split()]
        except FileNotFoundError:
            pass
    return found
