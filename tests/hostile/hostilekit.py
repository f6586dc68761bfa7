"""Helpers for the hostile-input suite: hostile feed hosts, a standard victim repo, verdicts.

A *hostile host* serves whatever bytes it likes but signs them properly: ``index.json``
carries the right sha256 and size of ``all.json``, so the client's hash check passes and the
next gate has to catch the attack. :class:`Site` builds those trees next to the good ones
that ``depguard feed build`` code publishes.

Every case ends in one of two verdicts, both of which require the project tree to be
byte-identical afterwards (:func:`tree_digest` before and after):

* :func:`refused` - exit 2, exactly the expected number of one-line errors naming the
  problem, no traceback, no control characters printed;
* :func:`fell_back` - exit 0 on the last verified copy (the cache), with one warning that
  names the refusal: for a bad *download* when a good copy is cached, per depguard.sources.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from depguard.publish import build_site

from feedkit import record, write_feed
from repokit import depguard, init_repo, tree_digest

__all__ = [
    "GOOD_IDS",
    "LITELLM",
    "Site",
    "cache_states",
    "error_lines",
    "fell_back",
    "good_records",
    "refused",
    "run_cli",
    "sync_url",
    "temp_leftovers",
    "tree_digest",
    "victim",
    "warning_lines",
]

LITELLM = "x_DEPGUARD-2026-0001"
GOOD_IDS = (LITELLM, "x_DEPGUARD-2026-0002", "x_DEPGUARD-2026-0003", "x_DEPGUARD-2026-0004")

PYPROJECT = '[project]\nname = "victim"\nversion = "0.1.0"\ndependencies = ["litellm>=1.82"]\n'


def good_records() -> list[dict[str, Any]]:
    """The honest feed: two compromised releases, a whole-package block, an npm record."""
    return [
        record(LITELLM, name="litellm", versions=("1.82.7", "1.82.8")),
        record("x_DEPGUARD-2026-0002", name="tinylib", versions=("2.0",)),
        record("x_DEPGUARD-2026-0003", name="evilpkg", versions=("0.1.0",), whole_package=True),
        record("x_DEPGUARD-2026-0004", name="is", versions=("3.3.1",), ecosystem="npm"),
    ]


def victim(path: Path, extra: dict[str, str | bytes] | None = None) -> Path:
    """A git repo whose one project uses every target: pyproject.toml (uv), constraints.txt
    (pip) and requirements.in (pip-tools)."""
    files: dict[str, str | bytes] = {
        "pyproject.toml": PYPROJECT,
        "constraints.txt": "tinylib<3  # ours\n",
        "requirements.in": "litellm>=1.82\n",
    }
    files.update(extra or {})
    return init_repo(path, files)


class Site:
    """A directory served over real HTTP on 127.0.0.1, published honestly or by a hostile host."""

    def __init__(self, server: Any, scratch: Path) -> None:
        self.server = server
        self.www = Path(server.root)
        self.scratch = scratch
        self._count = 0

    @property
    def url(self) -> str:
        return self.server.url("/")

    def publish(self, records: list[dict[str, Any]]) -> Site:
        """What `depguard feed build` publishes for ``records`` (lint-clean only)."""
        self._count += 1
        source = write_feed(self.scratch / f"feed-{self._count}", copy.deepcopy(records))
        build_site(source, self.www, base_url="https://feed.example/")
        return self

    def hostile(
        self, records: list[Any], *, all_bytes: bytes | None = None, index_patch: Callable[[dict], None] | None = None
    ) -> Site:
        """``index.json`` + ``all.json`` for arbitrary (invalid) records, correctly hashed.

        ``all_bytes`` replaces the serialized records verbatim (still hashed into the index);
        ``index_patch`` edits the index data before it is written.
        """
        body = all_bytes if all_bytes is not None else json.dumps(records, ensure_ascii=False).encode("utf-8")
        entries = []
        for item in records:
            if not isinstance(item, dict):
                continue
            affected = item.get("affected") or [{}]
            package = (affected[0] or {}).get("package") or {}
            entries.append(
                {
                    "id": item.get("id"),
                    "ecosystem": package.get("ecosystem", "PyPI"),
                    "name": package.get("name", "x"),
                    "modified": item.get("modified"),
                    "withdrawn": item.get("withdrawn"),
                    "path": f"{package.get('ecosystem', 'PyPI')}/{item.get('id')}.json",
                    "sha256": hashlib.sha256(json.dumps(item).encode()).hexdigest(),
                }
            )
        modified = [e["modified"] for e in entries if isinstance(e["modified"], str)]
        index: dict[str, Any] = {
            "format": "depguard-feed",
            "format_version": 1,
            "modified": max(modified) if modified else None,
            "count": len(entries),
            "all": {"path": "all.json", "sha256": hashlib.sha256(body).hexdigest(), "size": len(body)},
            "records": entries,
        }
        if index_patch is not None:
            index_patch(index)
        self.www.mkdir(parents=True, exist_ok=True)
        (self.www / "all.json").write_bytes(body)
        (self.www / "index.json").write_bytes(json.dumps(index, ensure_ascii=False, indent=1).encode("utf-8"))
        return self

    def rehash(self) -> Site:
        """Re-sign ``index.json`` for whatever ``all.json`` now holds (a compromised host)."""
        body = (self.www / "all.json").read_bytes()
        index = json.loads((self.www / "index.json").read_bytes())
        index["all"].update(sha256=hashlib.sha256(body).hexdigest(), size=len(body))
        (self.www / "index.json").write_bytes(json.dumps(index, indent=1).encode("utf-8"))
        return self

    def records(self) -> list[dict[str, Any]]:
        return json.loads((self.www / "all.json").read_bytes())


def sync_url(
    repo: Path, url: str, *args: str, env: dict[str, str] | None = None, inproc: bool = False
) -> subprocess.CompletedProcess[str]:
    """``depguard sync --feed URL`` online (the suite's default is offline), with this test's cache.

    The real CLI in a subprocess; ``inproc=True`` runs the same command in this process
    (CliRunner), which saves the interpreter start for parametrized variants of a case.
    """
    full_env = {"DEPGUARD_OFFLINE": "0", **(env or {})}
    if inproc:
        return run_cli("sync", "--feed", url, *args, cwd=repo, env=full_env)
    return depguard(repo, "sync", "--feed", url, *args, env=full_env)


def error_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith("depguard: error: ")]


def warning_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith("depguard: warning: ")]


def _clean(proc: subprocess.CompletedProcess[str]) -> None:
    """No traceback, no control character on the terminal, and every diagnostic is one line:
    each stderr line starts a message of its own (no continuation lines, no caret diagrams)."""
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line]
    assert all(line.isprintable() for line in lines), "a control character reached the terminal"
    strays = [line for line in lines if not line.startswith("depguard: ")]
    assert strays == [], f"a diagnostic spans more than one line: {strays}"


def refused(proc: subprocess.CompletedProcess[str], *needles: str, code: int = 2, errors: int = 1) -> str:
    """Exit ``code`` with ``errors`` error lines (one line each), the first naming every needle."""
    _clean(proc)
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    lines = error_lines(proc)
    assert len(lines) == errors, proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def fell_back(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Exit 0 on the cached copy with one warning that names the refusal."""
    _clean(proc)
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert error_lines(proc) == [], proc.stderr
    lines = warning_lines(proc)
    assert len(lines) == 1, proc.stderr
    assert "using the cached copy" in lines[0], lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert "(cache, " in proc.stdout, proc.stdout
    return lines[0]


def cache_states() -> list[Path]:
    """``state.json`` files of this test's feed cache (a refused download writes none)."""
    return sorted(Path(os.environ["DEPGUARD_CACHE_DIR"]).rglob("state.json"))


def temp_leftovers(root: Path) -> list[Path]:
    """depguard's temporary files anywhere under ``root`` (outside .git)."""
    return sorted(p for p in root.rglob("*.depguard-tmp") if ".git" not in p.parts)


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in this process (for cases that simulate the OS with monkeypatch), as a
    CompletedProcess so the same verdicts apply. An exception that escapes the CLI is raised:
    in a real run it would have been a traceback."""
    from typer.testing import CliRunner

    from depguard.cli import app

    previous = Path.cwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        result = CliRunner().invoke(app, list(args), env=env)
    finally:
        os.chdir(previous)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(["depguard", *args], result.exit_code, result.stdout, result.stderr)
