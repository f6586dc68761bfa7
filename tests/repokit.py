"""Temporary git repos for end-to-end tests, and running the real CLI inside them."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.org",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.org",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": os.environ.get("HOME", "/tmp"),
}


PY = f">={sys.version_info.major}.{sys.version_info.minor}"


def project(deps: list[str], extra: str = "", name: str = "demo") -> str:
    """A pyproject.toml that depends on ``deps`` (plus ``extra`` TOML after it)."""
    listed = "".join(f'    "{d}",\n' for d in deps)
    return (
        f'[project]\nname = "{name}"\nversion = "0.1.0"\nrequires-python = "{PY}"\ndependencies = [\n{listed}]\n{extra}'
    )


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout


def init_repo(repo: Path, files: dict[str, str | bytes]) -> Path:
    """A git repo with ``files`` written, added and committed."""
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "-q", "-b", "main")
    for rel, content in files.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "init")
    return repo


def depguard(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real CLI in a subprocess, as a user or CI runs it."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DEPGUARD_FEED")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "depguard", *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=120
    )


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file outside .git: compare before and after to prove nothing moved."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }
