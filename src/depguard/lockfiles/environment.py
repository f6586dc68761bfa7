"""An installed environment: the distributions a Python interpreter would import.

A lockfile says what should be installed; a virtualenv, a CI image or a developer laptop
holds what was. litellm 1.82.8 ran its payload from a ``.pth`` file at every interpreter
start, so merely starting that interpreter the normal way runs the malware. The target is
therefore run with ``-I -S``: isolated mode (no ``PYTHON*`` variables, no script directory)
and no ``site`` module, so no ``.pth`` file, ``sitecustomize`` or ``usercustomize`` runs and
no third-party code is imported. The interpreter only reports where its site-packages
directories are; depguard then reads the ``.dist-info`` / ``.egg-info`` metadata there
itself, as plain files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from depguard.ecosystems import pep503
from depguard.errors import LockfileError
from depguard.lockfiles import Location, Package, format_for

__all__ = ["parse", "inspect", "site_directories", "distributions", "interpreter", "is_environment"]

#: Run by the target interpreter under ``-I -S``: prints its site directories as JSON.
#: ``site`` is imported only for its path functions: with -S its ``main()`` never runs.
_PROBE = r"""
import json, os, site, sys
exe = os.path.abspath(sys.executable)
here = os.path.dirname(exe)
venv = next((d for d in (here, os.path.dirname(here)) if os.path.isfile(os.path.join(d, "pyvenv.cfg"))), None)
system = venv is None
if venv is not None:
    with open(os.path.join(venv, "pyvenv.cfg"), encoding="utf-8", errors="replace") as cfg:
        for line in cfg:
            key, _, value = line.partition("=")
            if key.strip().lower() == "include-system-site-packages":
                system = value.strip().lower() == "true"
prefixes = ([venv] if venv else []) + ([sys.base_prefix, sys.base_exec_prefix] if system else [])
paths = site.getsitepackages(prefixes)
if venv is None and site.ENABLE_USER_SITE is not False:
    paths.append(site.getusersitepackages())
print(json.dumps({"paths": paths, "executable": exe, "venv": venv}))
"""


def interpreter(target: str | os.PathLike[str] | None) -> Path:
    """The python executable for ``target``: itself, a virtualenv's python, or the current one."""
    if target is None or str(target) == "":
        return Path(sys.executable)
    path = Path(target)
    if path.is_dir():
        for candidate in (path / "bin" / "python", path / "Scripts" / "python.exe"):
            if candidate.exists():
                return candidate
        raise LockfileError(f"{path}: a directory without bin/python; not a virtual environment")
    if not path.exists():
        raise LockfileError(f"{path}: no such interpreter")
    return path


def is_environment(path: Path) -> bool:
    """Whether ``path`` names an environment: a virtualenv directory or an executable non-lockfile."""
    if path.is_dir():
        return (path / "pyvenv.cfg").is_file()
    return path.is_file() and format_for(path) is None and os.access(path, os.X_OK)


def site_directories(python: Path, *, timeout: float = 60.0) -> list[Path]:
    """Where ``python`` looks for installed distributions, asked without running site or .pth files."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    try:
        proc = subprocess.run(
            [str(python), "-I", "-S", "-c", _PROBE],
            capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LockfileError(f"{python}: cannot run the interpreter: {exc}") from None
    if proc.returncode != 0:
        raise LockfileError(f"{python}: the interpreter failed to report its site directories: {proc.stderr.strip()[-500:]}")
    try:
        paths = json.loads(proc.stdout)["paths"]
    except (ValueError, KeyError, TypeError):
        raise LockfileError(f"{python}: unexpected answer from the interpreter: {proc.stdout[:200]!r}") from None
    seen: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir() and path not in seen:
            seen.append(path)
    return seen


def distributions(directory: Path) -> Iterator[Package]:
    """Distributions whose metadata sits in ``directory``, in name order."""
    for entry in sorted(directory.iterdir()):
        if entry.suffix == ".dist-info" and entry.is_dir():
            metadata = entry / "METADATA"
        elif entry.suffix == ".egg-info":
            metadata = entry / "PKG-INFO" if entry.is_dir() else entry
        else:
            continue
        if metadata.is_file():
            package = _read_metadata(metadata)
            if package is not None:
                yield package


def _read_metadata(path: Path) -> Package | None:
    """Name and Version from the header of a core-metadata file (RFC 822 style, header only)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise LockfileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    name: str | None = None
    version: str | None = None
    name_line: int | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            break
        key, sep, value = line.partition(":")
        if not sep:
            continue
        if key.strip().lower() == "name" and name is None:
            name, name_line = value.strip(), number
        elif key.strip().lower() == "version" and version is None:
            version = value.strip()
    if not name:
        return None  # a broken leftover; the interpreter would not see it as a distribution either
    return Package("PyPI", name, version or None, (), Location(path, name_line))


def inspect(target: str | os.PathLike[str] | None = None) -> list[Package]:
    """Every distribution the interpreter ``target`` (default: the current one) would see.

    Like Python itself, the first directory that holds a name wins; later copies are shadowed.
    """
    python = interpreter(target)
    seen: set[str] = set()
    packages = []
    for directory in site_directories(python):
        for package in distributions(directory):
            key = pep503(package.name)
            if key not in seen:
                seen.add(key)
                packages.append(package)
    return packages


def parse(path: Path, root: Path) -> list[Package]:
    """The :class:`~depguard.lockfiles.Parser` form: ``path`` is a python or a virtualenv."""
    return inspect(path)
