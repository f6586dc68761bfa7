"""The repo root is asked of git directly, so commands that need only the root skip GitPython."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from depguard import gitops

from repokit import init_repo

UV_LOCK = """version = 1
revision = 3
requires-python = ">=3.10"

[[package]]
name = "litellm"
version = "1.82.7"
source = { registry = "https://pypi.org/simple" }
"""


def test_the_root_is_the_work_tree_top_from_any_folder_and_none_outside(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo", {"a/b/pyproject.toml": "[project]\nname = 'x'\n"})
    assert gitops.repo_root(repo / "a" / "b") == repo.resolve()
    gitpython = gitops.open_repo(repo / "a" / "b")
    assert gitpython is not None and Path(gitpython.working_tree_dir or "") == gitops.repo_root(repo)
    outside = tmp_path / "plain"
    outside.mkdir()
    assert gitops.repo_root(outside) is None
    assert gitops.repo_root(tmp_path / "missing") is None


def test_check_of_named_lockfiles_does_not_import_gitpython(tmp_path: Path, repo_root: Path) -> None:
    repo = init_repo(tmp_path / "repo", {"uv.lock": UV_LOCK})
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEPGUARD_FEED")}
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "depguard", "check", "--feed", str(repo_root / "feed"), "uv.lock"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr[-2000:]  # litellm 1.82.7 is in the bundled feed: a finding
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "depguard.check" in imported  # the probe sees depguard's own imports
    assert "git" not in imported
