"""``depguard check`` against a served feed: a warm run prints exactly what a cold one does.

The cold run downloads and verifies the feed and types every record; the warm run gets a
``304``, hash-checks the cache and types only the records its lockfiles can match (the
package map); a run whose map was deleted verifies the cache in full again. All three must
print the same bytes and exit the same way, in every output format, on the golden repo
(every lockfile format depguard reads), and that output must be the golden output with only
the feed's source and kind changed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from depguard.publish import build_site

import checkkit

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def golden_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    index = checkkit.build_index(tmp_path_factory.mktemp("warm-index"))
    return checkkit.golden_repo(tmp_path_factory.mktemp("warm-golden") / "repo", index)


def check(repo: Path, cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEPGUARD_")}
    env["DEPGUARD_CACHE_DIR"] = str(cache)
    return subprocess.run(
        [sys.executable, "-m", "depguard", "check", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def as_served(golden: str, fmt: str, url: str) -> Any:
    """The golden output (``--feed feed``, a directory) as a check of the served feed prints it
    (JSON: as data, since only the feed's fields change)."""
    if fmt == "text":
        first, rest = golden.split("\n", 1)
        assert first.startswith("feed: feed (directory, ")
        return first.replace("feed: feed (directory, ", f"feed: {url} (url, ") + "\n" + rest
    if fmt == "json":
        data = json.loads(golden)
        data["feed"].update(source=url, kind="url")
        return data
    return golden


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_warm_and_rebuilt_runs_print_exactly_what_the_cold_run_prints(
    golden_repo: Path, http_server: Any, tmp_path: Path, fmt: str
) -> None:
    build_site(golden_repo / "feed", http_server.root)
    url, cache = http_server.url("/"), tmp_path / "cache"
    cold = check(golden_repo, cache, "--feed", url, "--format", fmt)
    warm = check(golden_repo, cache, "--feed", url, "--format", fmt)
    (packages_map,) = cache.rglob("packages-*.json")
    packages_map.unlink()
    rebuilt = check(golden_repo, cache, "--feed", url, "--format", fmt)
    again = check(golden_repo, cache, "--feed", url, "--format", fmt)
    assert [r.returncode for r in (cold, warm, rebuilt, again)] == [1, 1, 1, 1], cold.stderr
    assert cold.stderr == warm.stderr == rebuilt.stderr == again.stderr == ""
    assert cold.stdout == warm.stdout == rebuilt.stdout == again.stdout
    golden = (GOLDEN / f"check.{'txt' if fmt == 'text' else fmt}").read_text()
    assert (json.loads(warm.stdout) if fmt == "json" else warm.stdout) == as_served(golden, fmt, url)
