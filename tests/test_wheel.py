"""The built wheel carries the schemas and the feed snapshot, and works with no checkout around."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory, repo_root: Path) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(repo_root)],
        check=True,
        capture_output=True,
        text=True,
    )
    (built,) = out.glob("depguard-*.whl")
    return built


def test_wheel_contains_schemas_and_feed(wheel: Path, repo_root: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for schema in ("osv.schema.json", "depguard.schema.json"):
        assert f"depguard/_data/schemas/{schema}" in names
    feed_files = sorted(p.relative_to(repo_root / "feed").as_posix() for p in (repo_root / "feed").rglob("*.json"))
    assert feed_files, "the checkout's feed is empty"
    assert {f"depguard/_data/feed/{f}" for f in feed_files} <= names


def test_installed_wheel_validates_and_syncs_its_bundled_feed(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    with zipfile.ZipFile(wheel) as archive:  # install the wheel's files; dependencies come from our venv
        archive.extractall(site)
    (site / "_deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEPGUARD_")}
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    where = subprocess.run(
        [python, "-c", "import depguard; print(depguard.__file__)"],
        cwd=workdir,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert where.startswith(str(site))
    proc = subprocess.run(
        [python, "-m", "depguard", "feed", "validate"], cwd=workdir, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "_data/feed" in proc.stdout and "no errors" in proc.stdout
