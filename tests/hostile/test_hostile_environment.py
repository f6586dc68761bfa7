"""Hostile *inspected environments*: `depguard check --env` looks at a virtualenv or an
interpreter that may already be compromised, so nothing in it may run.

A ``pyvenv.cfg`` ``home =`` key moves the standard library an interpreter loads: starting the
real interpreter of such a venv, even as ``python -I -S``, imports the attacker's
``encodings`` package. Each test first proves its trap fires when the interpreter *is*
started, so a pass means depguard never started it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from depguard.lockfiles import environment

from feedkit import record, write_feed
from repokit import depguard

VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"


def _dist_info(site: Path, name: str, version: str) -> None:
    folder = site / f"{name}-{version}.dist-info"
    folder.mkdir(parents=True)
    (folder / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n")


def _hostile_venv(tmp_path: Path, *, system_site: bool) -> tuple[Path, Path]:
    """A venv whose python is the real interpreter, with ``home`` pointing at a planted stdlib."""
    marker = tmp_path / "payload-ran"
    base = tmp_path / "base"
    stdlib = base / "lib" / f"python{VERSION}"
    (stdlib / "encodings").mkdir(parents=True)
    (stdlib / "os.py").write_text("")
    (stdlib / "encodings" / "__init__.py").write_text(
        f"import posix\nposix.close(posix.open({str(marker)!r}, posix.O_WRONLY | posix.O_CREAT, 0o644))\n"
    )
    (base / "bin").mkdir()
    _dist_info(stdlib / "site-packages", "basepkg", "1.0")
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    os.symlink(os.path.realpath(sys.executable), venv / "bin" / "python")
    (venv / "pyvenv.cfg").write_text(
        f"home = {base / 'bin'}\ninclude-system-site-packages = {'true' if system_site else 'false'}\n"
        f"version = {sys.version.split()[0]}\n"
    )
    _dist_info(venv / "lib" / f"python{VERSION}" / "site-packages", "litellm", "1.82.8")
    return venv, marker


def _assert_trap_fires(venv: Path, marker: Path) -> None:
    subprocess.run([str(venv / "bin" / "python"), "-I", "-S", "-c", "pass"], capture_output=True, check=False)
    assert marker.exists(), "the planted stdlib did not run when the interpreter started: the test proves nothing"


def test_inspecting_a_venv_never_starts_its_interpreter(tmp_path: Path) -> None:
    venv, marker = _hostile_venv(tmp_path, system_site=True)
    packages = {p.name: p.version for p in environment.inspect(venv)}
    assert packages == {"litellm": "1.82.8", "basepkg": "1.0"}  # its own site-packages, then the base's
    assert not marker.exists(), "inspecting the environment started its interpreter"
    _assert_trap_fires(venv, marker)


def test_check_env_of_a_hostile_venv_finds_and_runs_nothing(tmp_path: Path) -> None:
    venv, marker = _hostile_venv(tmp_path, system_site=False)
    feed = write_feed(tmp_path / "feed", [record()])
    for target in (venv, venv / "bin" / "python"):
        proc = depguard(tmp_path, "check", "--feed", str(feed), "--env", str(target), "--format", "json")
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert [(f["package"], f["version"]) for f in json.loads(proc.stdout)["findings"]] == [("litellm", "1.82.8")]
        assert not marker.exists(), f"check --env {target} started the inspected interpreter"
    _assert_trap_fires(venv, marker)


def test_oversized_pyvenv_cfg_is_refused_in_one_line(tmp_path: Path) -> None:
    venv, _ = _hostile_venv(tmp_path, system_site=False)
    (venv / "pyvenv.cfg").write_bytes(b"home = x\n" + b"#" * (1 << 20))
    feed = write_feed(tmp_path / "feed", [record()])
    proc = depguard(tmp_path, "check", "--feed", str(feed), "--env", str(venv))
    assert proc.returncode == 2 and "pyvenv.cfg" in proc.stderr and "Traceback" not in proc.stderr
