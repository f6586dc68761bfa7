"""An installed environment: the distributions a Python interpreter would import.

A lockfile says what should be installed; a virtualenv, a CI image or a developer laptop
holds what was. litellm 1.82.8 ran its payload from a ``.pth`` file at every interpreter
start, and a hostile ``pyvenv.cfg`` (its ``home`` key) can move the standard library an
interpreter loads, so even ``python -I -S`` of the inspected environment may run its code.
depguard therefore never starts the inspected interpreter: it works out the site-packages
directories from the filesystem (``pyvenv.cfg`` read as text, the ``lib/pythonX.Y`` layout)
and reads the ``.dist-info`` / ``.egg-info`` metadata there as plain files. Only the Python
running depguard itself (``--env`` without a path) is asked, in-process, where its own
directories are.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from depguard.ecosystems import pep503
from depguard.errors import LockfileError
from depguard.lockfiles import Location, Package, format_for

__all__ = ["distributions", "inspect", "interpreter", "is_environment", "parse", "site_directories"]

#: ``python3.11``, ``python3.13t``: the version an executable's own name gives.
_VERSIONED_NAME = re.compile(r"python(\d+\.\d+)t?(?:\.exe)?")
#: The largest pyvenv.cfg read: real ones are a few hundred bytes.
_MAX_CFG_BYTES = 64 * 1024


def interpreter(target: str | os.PathLike[str] | None) -> Path:
    """The python executable for ``target``: itself, a virtualenv's python, or the current one."""
    if target is None or str(target) == "":
        return Path(sys.executable)
    path = Path(target)
    if path.is_dir():
        for candidate in (path / "bin" / "python", path / "Scripts" / "python.exe"):
            if candidate.exists() or candidate.is_symlink():
                return candidate
        raise LockfileError(f"{path}: a directory without bin/python; not a virtual environment")
    if not path.exists() and not path.is_symlink():
        raise LockfileError(f"{path}: no such interpreter")
    return path


def is_environment(path: Path) -> bool:
    """Whether ``path`` names an environment: a virtualenv directory or an executable non-lockfile."""
    if path.is_dir():
        return (path / "pyvenv.cfg").is_file()
    return path.is_file() and format_for(path) is None and os.access(path, os.X_OK)


def site_directories(python: Path) -> list[Path]:
    """Where ``python`` looks for installed distributions, worked out without starting it.

    A virtualenv (a ``pyvenv.cfg`` beside or above the executable) has its own site-packages,
    plus the base installation's when ``include-system-site-packages = true``; any other
    executable is taken as a base installation whose prefix is the folder above ``bin/``,
    plus the user site of that version.
    """
    venv = _venv_of(python)
    if venv is None:
        return _existing(_base_site_directories(python.parent.parent, _version_of(python), user=True))
    config = _read_pyvenv_cfg(venv / "pyvenv.cfg")
    version = _cfg_version(config) or _version_of(python)
    paths = _prefix_site_directories(venv, version)
    if config.get("include-system-site-packages", "").lower() == "true" and config.get("home"):
        home = Path(config["home"])  # the base interpreter's bin folder; only read, never run
        paths += _base_site_directories(home.parent, version, user=False)
    return _existing(paths)


def _own_site_directories() -> list[Path]:
    """The running interpreter's site directories, as ``site`` computes them."""
    import site

    paths = [Path(p) for p in site.getsitepackages()]
    if site.ENABLE_USER_SITE and sys.prefix == sys.base_prefix:
        paths.append(Path(site.getusersitepackages()))
    return paths


def _venv_of(python: Path) -> Path | None:
    """The virtualenv folder of an executable at ``<venv>/bin/python`` (or ``Scripts``), if any."""
    here = Path(os.path.abspath(python)).parent
    for candidate in (here, here.parent):
        if (candidate / "pyvenv.cfg").is_file():
            return candidate
    return None


def _read_pyvenv_cfg(path: Path) -> dict[str, str]:
    """``key = value`` lines of a pyvenv.cfg, keys lower-cased; read as text, bounded."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(_MAX_CFG_BYTES + 1)
    except OSError as exc:
        raise LockfileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > _MAX_CFG_BYTES:
        raise LockfileError(f"{path}: larger than {_MAX_CFG_BYTES} bytes; not a pyvenv.cfg")
    config: dict[str, str] = {}
    for line in raw.decode("utf-8", errors="replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            config.setdefault(key.strip().lower(), value.strip())
    return config


def _cfg_version(config: dict[str, str]) -> str | None:
    """``X.Y`` from ``version_info``/``version`` (venv and virtualenv write one of them)."""
    for key in ("version_info", "version"):
        match = re.match(r"(\d+)\.(\d+)", config.get(key, ""))
        if match:
            return f"{match[1]}.{match[2]}"
    return None


def _version_of(python: Path) -> str | None:
    """``X.Y`` from the executable's name or, through its symlinks, the file it names."""
    candidates = [python]
    try:
        candidates.append(python.resolve())
    except (OSError, RuntimeError):
        pass
    for candidate in candidates:
        match = _VERSIONED_NAME.fullmatch(candidate.name)
        if match:
            return match[1]
    return None


def _prefix_site_directories(prefix: Path, version: str | None) -> list[Path]:
    """``lib/pythonX.Y/site-packages`` (and lib64, and Windows' ``Lib``) under ``prefix``;
    every ``python3.*`` folder when the version is unknown."""
    pattern = f"python{version}" if version else "python3.*"
    paths: list[Path] = []
    for lib in ("lib", "lib64"):
        paths += sorted((prefix / lib).glob(f"{pattern}/site-packages"))
        paths += sorted((prefix / lib).glob(f"{pattern}t/site-packages"))
    paths.append(prefix / "Lib" / "site-packages")
    return paths


def _base_site_directories(prefix: Path, version: str | None, *, user: bool) -> list[Path]:
    """A base installation's site directories: its own, Debian's dist-packages, the user site."""
    paths = _prefix_site_directories(prefix, version)
    paths += sorted((prefix / "lib").glob("python3/dist-packages"))
    paths += sorted((prefix / "local" / "lib").glob(f"python{version or '3.*'}/dist-packages"))
    if user and version:
        paths.append(Path.home() / ".local" / "lib" / f"python{version}" / "site-packages")
    return paths


def _existing(paths: list[Path]) -> list[Path]:
    seen: list[Path] = []
    for path in paths:
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
    The inspected interpreter is never started (see the module docstring).
    """
    if target is None or str(target) == "":
        directories = _existing(_own_site_directories())  # depguard's own Python: nothing foreign runs
    else:
        directories = site_directories(interpreter(target))
    seen: set[str] = set()
    packages = []
    for directory in directories:
        for package in distributions(directory):
            key = pep503(package.name)
            if key not in seen:
                seen.add(key)
                packages.append(package)
    return packages


def parse(path: Path, root: Path) -> list[Package]:
    """The :class:`~depguard.lockfiles.Parser` form: ``path`` is a python or a virtualenv."""
    return inspect(path)
