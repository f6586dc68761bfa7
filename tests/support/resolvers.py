"""Run the REAL uv and pip, offline, isolated from this machine's configuration.

Isolation (``clean_env``): every ``PIP_*`` and ``UV_*`` variable of the caller is
dropped (this machine sets e.g. ``PIP_FIND_LINKS``), plus ``VIRTUAL_ENV``/``CONDA_PREFIX``;
then ``PIP_CONFIG_FILE=os.devnull`` (pip then loads NO config file at all, not even
``/etc/pip.conf`` or ``/etc/xdg/pip/pip.conf`` with its ``constraint=``),
``PIP_DISABLE_PIP_VERSION_CHECK=1``, ``PIP_NO_INPUT=1``, ``UV_NO_CONFIG=1``,
``UV_OFFLINE=1`` (unless an HTTP index is used), ``UV_CACHE_DIR=<tmp>``,
``UV_PYTHON_DOWNLOADS=never``, ``UV_PYTHON=sys.executable``, ``UV_LINK_MODE=copy``,
``UV_NO_PROGRESS=1``, ``NO_COLOR=1``. Index arguments are always explicit:
``--no-index --find-links DIR`` (or ``--index-url URL``).

Measured with uv 0.13.9: ``UV_NO_CONFIG=1`` ignores ``uv.toml`` files *and the
resolver settings* of the project's ``[tool.uv]`` table (``no-index``, ``find-links``,
``index``...), but the project's ``[tool.uv] constraint-dependencies`` /
``override-dependencies`` ARE still applied, and they are what depguard writes. To test
the project's own ``[tool.uv]`` index settings pass ``honor_project_config=True``: then
``UV_NO_CONFIG`` is not set and user/system ``uv.toml`` are hidden by pointing
``XDG_CONFIG_HOME``/``XDG_CONFIG_DIRS`` at an empty directory.

pip: run as ``sys.executable -m pip`` (the test interpreter's pip), never a venv's own.
Three modes, by *target* of ``pip_install``:

* ``None``: ``--dry-run --ignore-installed --report FILE``. The real pip resolver, no
  environment touched, no venv needed (fastest; ~0.4 s). ``result.versions`` comes from
  the report.
* a venv directory or a python executable: ``pip --python EXE install`` (pip >= 22.3
  runs itself against that interpreter, so a venv made by ``make_venv`` — ``uv venv``,
  ~15 ms, no pip inside — is enough).
* any other directory: ``--target DIR``.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Union

__all__ = [
    "MIN_UV_VERSION",
    "ResolverUnavailable",
    "RunResult",
    "clean_env",
    "find_pip",
    "find_uv",
    "installed_versions",
    "locked_packages",
    "locked_versions",
    "make_venv",
    "pip_install",
    "run",
    "uv",
    "uv_lock",
    "uv_pip_compile",
    "uv_version",
    "venv_python",
    "write_constraints",
    "write_project",
]

MIN_UV_VERSION = (0, 13, 8)
DEFAULT_TIMEOUT = 120.0

PathLike = Union[str, "os.PathLike[str]"]
FindLinks = Union[PathLike, Sequence[PathLike], None]
Constraints = Union[PathLike, Sequence[str], None]

_DROPPED_VARS = ("VIRTUAL_ENV", "CONDA_PREFIX", "CONDA_DEFAULT_ENV", "PYTHONHOME")


class ResolverUnavailable(RuntimeError):
    """uv or pip is missing, or uv is older than ``MIN_UV_VERSION``."""


class RunResult(subprocess.CompletedProcess):
    """``CompletedProcess`` (text output) plus ``duration`` (s), ``cwd``, and ``versions``.

    ``versions`` is ``{normalized name: version}`` when the helper could tell what was
    resolved/installed (``pip_install``), else ``None``. ``report`` is pip's JSON report
    for dry runs.
    """

    def __init__(self, args, returncode, stdout="", stderr="", *, duration=0.0, cwd=None):
        super().__init__(args, returncode, stdout, stderr)
        self.duration = duration
        self.cwd = cwd
        self.versions: dict[str, str] | None = None
        self.report: dict | None = None

    @property
    def output(self) -> str:
        """stdout and stderr together (pip prints conflict details on stdout)."""
        return (self.stdout or "") + (self.stderr or "")

    def describe(self) -> str:
        cmd = " ".join(str(a) for a in self.args)
        return (
            f"$ {cmd}\n(cwd={self.cwd}, exit {self.returncode}, {self.duration:.2f}s)\n"
            f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"
        )

    def assert_ok(self) -> RunResult:
        assert self.returncode == 0, f"command failed:\n{self.describe()}"
        return self

    def assert_failed(self, *needles: str) -> RunResult:
        """Assert a non-zero exit whose output names each of *needles* (case-insensitive)."""
        assert self.returncode != 0, f"command unexpectedly succeeded:\n{self.describe()}"
        low = self.output.lower()
        for needle in needles:
            assert needle.lower() in low, f"{needle!r} not in output:\n{self.describe()}"
        return self


# --------------------------------------------------------------------------- tools


@cache
def find_uv() -> str:
    """Path of the uv binary (the ``uv`` PyPI package's, else PATH); checks the version."""
    candidates: list[str] = []
    try:
        from uv import find_uv_bin  # type: ignore[import-not-found]

        candidates.append(find_uv_bin())
    except Exception:  # pragma: no cover - depends on the environment
        pass
    which = shutil.which("uv")
    if which:
        candidates.append(which)
    if not candidates:
        raise ResolverUnavailable("uv is not installed (pip install 'uv>=0.13.8')")
    binary = candidates[0]
    version = uv_version(binary)
    if version < MIN_UV_VERSION:
        raise ResolverUnavailable(
            f"uv {'.'.join(map(str, version))} at {binary} is older than {'.'.join(map(str, MIN_UV_VERSION))}"
        )
    return binary


@cache
def uv_version(uv_bin: str | None = None) -> tuple[int, ...]:
    """``(major, minor, patch)`` of ``uv --version``."""
    binary = uv_bin or find_uv()
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30, env=clean_env()).stdout
    match = re.search(r"uv (\d+)\.(\d+)\.(\d+)", out)
    if not match:
        raise ResolverUnavailable(f"cannot parse `{binary} --version`: {out!r}")
    return tuple(int(x) for x in match.groups())


@cache
def find_pip() -> list[str]:
    """Command prefix that runs the real pip: ``[sys.executable, "-m", "pip"]``."""
    cmd = [sys.executable, "-m", "pip"]
    proc = subprocess.run([*cmd, "--version"], capture_output=True, text=True, timeout=60, env=clean_env())
    if proc.returncode != 0:
        raise ResolverUnavailable(f"pip is not importable by {sys.executable}: {proc.stderr.strip()}")
    return cmd


# --------------------------------------------------------------------------- environment

_default_cache: str | None = None


def default_cache_dir() -> str:
    """A uv cache dir private to this process (created lazily, removed at exit)."""
    global _default_cache
    if _default_cache is None:
        _default_cache = tempfile.mkdtemp(prefix="depguard-test-uv-cache-")
        atexit.register(shutil.rmtree, _default_cache, True)
    return _default_cache


_empty_config_dir: str | None = None


def _empty_dir() -> str:
    global _empty_config_dir
    if _empty_config_dir is None:
        _empty_config_dir = tempfile.mkdtemp(prefix="depguard-test-empty-config-")
        atexit.register(shutil.rmtree, _empty_config_dir, True)
    return _empty_config_dir


def clean_env(
    *,
    cache_dir: PathLike | None = None,
    offline: bool = True,
    honor_project_config: bool = False,
    extra: Mapping[str, str] | None = None,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Environment for a uv/pip subprocess isolated from this machine's configuration.

    *extra* is applied last, so a test can set e.g. ``PIP_CONSTRAINT`` on purpose.
    """
    src = os.environ if base is None else base
    env = {k: v for k, v in src.items() if not k.startswith(("PIP_", "UV_")) and k not in _DROPPED_VARS}
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        PIP_NO_COLOR="1",
        UV_CACHE_DIR=str(cache_dir) if cache_dir is not None else default_cache_dir(),
        UV_PYTHON_DOWNLOADS="never",
        UV_PYTHON=sys.executable,
        UV_LINK_MODE="copy",
        UV_NO_PROGRESS="1",
        NO_COLOR="1",
    )
    # Test servers live on 127.0.0.1: never send their traffic through a proxy.
    no_proxy = ",".join(filter(None, [env.get("NO_PROXY", ""), "127.0.0.1,localhost,::1"]))
    env["NO_PROXY"] = env["no_proxy"] = no_proxy
    if offline:
        env["UV_OFFLINE"] = "1"
    if honor_project_config:
        empty = _empty_dir()
        env["XDG_CONFIG_HOME"] = empty
        env["XDG_CONFIG_DIRS"] = empty
    else:
        env["UV_NO_CONFIG"] = "1"
    if extra:
        env.update(extra)
    return env


def run(
    cmd: Sequence[PathLike],
    *,
    cwd: PathLike | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    input: str | None = None,
) -> RunResult:
    """Run *cmd* (text, captured, with timeout) in *env* (default ``clean_env()``)."""
    args = [str(a) for a in cmd]
    start = time.perf_counter()
    proc = subprocess.run(
        args,
        cwd=str(cwd) if cwd is not None else None,
        env=dict(env) if env is not None else clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
    )
    return RunResult(
        args,
        proc.returncode,
        proc.stdout,
        proc.stderr,
        duration=time.perf_counter() - start,
        cwd=str(cwd) if cwd is not None else os.getcwd(),
    )


def _is_url(value: PathLike) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://", "file://"))


def _as_list(find_links: FindLinks) -> list[str]:
    """find-links entries: local paths made absolute, URLs kept as they are."""
    if find_links is None:
        return []
    items = [find_links] if isinstance(find_links, (str, os.PathLike)) else list(find_links)
    return [p if _is_url(p) else os.fspath(Path(p).resolve()) for p in items]


def _needs_network(find_links: FindLinks, index_url: str | None) -> bool:
    """An index URL or an http(s) find-links entry (a 127.0.0.1 test server)."""
    return index_url is not None or any(link.startswith(("http://", "https://")) for link in _as_list(find_links))


def _index_args(find_links: FindLinks, index_url: str | None) -> list[str]:
    args = ["--index-url", index_url] if index_url else ["--no-index"]
    for link in _as_list(find_links):
        args += ["--find-links", link]
    return args


# --------------------------------------------------------------------------- uv


def uv(
    args: Sequence[PathLike],
    cwd: PathLike | None = None,
    find_links: FindLinks = None,
    *,
    index_url: str | None = None,
    env_extra: Mapping[str, str] | None = None,
    cache_dir: PathLike | None = None,
    honor_project_config: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
) -> RunResult:
    """Run ``uv *args`` isolated; when *find_links* or *index_url* is given, append
    ``--no-index --find-links DIR...`` (or ``--index-url URL``). With an index URL or an
    ``http://`` find-links entry, ``UV_OFFLINE`` is left unset so uv can reach the
    127.0.0.1 test server; point these only at local servers."""
    cmd: list[PathLike] = [find_uv(), *args]
    if find_links is not None or index_url is not None:
        cmd += _index_args(find_links, index_url)
    env = clean_env(
        cache_dir=cache_dir,
        offline=not _needs_network(find_links, index_url),
        honor_project_config=honor_project_config,
        extra=env_extra,
    )
    return run(cmd, cwd=cwd, env=env, timeout=timeout)


def uv_lock(
    project_dir: PathLike,
    find_links: FindLinks = None,
    *,
    extra_args: Sequence[str] = (),
    **kwargs,
) -> RunResult:
    """``uv lock`` in *project_dir*. With *find_links* ``None`` and no *index_url*
    the index comes from the project's own ``[tool.uv]`` (then pass
    ``honor_project_config=True``)."""
    return uv(["lock", *extra_args], cwd=project_dir, find_links=find_links, **kwargs)


def uv_pip_compile(
    requirements: Sequence[str] | PathLike,
    find_links: FindLinks,
    constraints: Constraints = None,
    *,
    cwd: PathLike | None = None,
    extra_args: Sequence[str] = (),
    **kwargs,
) -> RunResult:
    """``uv pip compile`` of *requirements* (lines, or a requirements file) with
    ``-c`` *constraints*; ``result.versions`` holds the pinned versions on success."""
    with tempfile.TemporaryDirectory(prefix="depguard-compile-") as tmp:
        if isinstance(requirements, (str, os.PathLike)):
            req_file = Path(requirements).resolve()
        else:
            req_file = Path(tmp) / "requirements.in"
            req_file.write_text("".join(f"{r}\n" for r in requirements))
        args: list[PathLike] = ["pip", "compile", req_file, "--no-header", "--no-annotate", "--quiet"]
        cfile = _constraints_file(constraints, Path(tmp))
        if cfile is not None:
            args += ["-c", cfile]
        args += list(extra_args)
        result = uv(args, cwd=cwd or tmp, find_links=find_links, **kwargs)
    if result.returncode == 0:
        result.versions = _parse_pins(result.stdout)
    return result


def _parse_pins(text: str) -> dict[str, str]:
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        m = re.match(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)", line)
        if m:
            pins[_norm(m.group(1))] = m.group(2)
    return pins


# --------------------------------------------------------------------------- venvs


def make_venv(dest: PathLike, python: PathLike | None = None, *, timeout: float = 60) -> Path:
    """Create a venv at *dest* with ``uv venv`` (~15 ms; no pip inside — use
    ``pip_install(venv, ...)``, which runs the test interpreter's pip with ``--python``)."""
    dest = Path(dest)
    result = uv(["venv", "--python", python or sys.executable, dest], timeout=timeout)
    result.assert_ok()
    return dest


def venv_python(venv: PathLike) -> Path:
    venv = Path(venv)
    if os.name == "nt":  # pragma: no cover
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


# --------------------------------------------------------------------------- pip


def _constraints_file(constraints: Constraints, tmp: Path) -> Path | None:
    if constraints is None:
        return None
    if isinstance(constraints, (str, os.PathLike)):
        return Path(constraints).resolve()
    path = tmp / "constraints.txt"
    path.write_text("".join(f"{c}\n" for c in constraints))
    return path


def pip_install(
    target: PathLike | None,
    args: Sequence[str],
    find_links: FindLinks,
    constraints: Constraints = None,
    *,
    index_url: str | None = None,
    env_extra: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> RunResult:
    """Run the real ``pip install *args`` against *find_links* only (``--no-index``).

    *target*: ``None`` = dry run (resolve only, ``result.report`` = pip's JSON report);
    a venv dir or python executable = install there (``pip --python``); any other
    path = ``--target`` dir. *constraints*: a constraints file path or a list of lines
    (``-c``). ``result.versions`` = resolved (dry run) or installed versions on success.
    """
    pip = find_pip()
    with tempfile.TemporaryDirectory(prefix="depguard-pip-") as tmpdir:
        tmp = Path(tmpdir)
        head: list[PathLike] = list(pip)
        opts: list[PathLike] = ["install", "--no-cache-dir", "--only-binary", ":all:"]
        report = None
        mode = "dry-run"
        if target is None:
            report = tmp / "report.json"
            opts += ["--dry-run", "--ignore-installed", "--report", report]
        else:
            t = Path(target)
            if (t / "pyvenv.cfg").is_file():
                head += ["--python", venv_python(t)]
                mode = "venv"
            elif t.is_file():
                head += ["--python", t]
                mode = "python"
            else:
                opts += ["--target", t]
                mode = "target"
        opts += _index_args(find_links, index_url)
        cfile = _constraints_file(constraints, tmp)
        if cfile is not None:
            opts += ["-c", cfile]
        env = clean_env(offline=not _needs_network(find_links, index_url), extra=env_extra)
        result = run([*head, *opts, *args], env=env, timeout=timeout)
        if result.returncode == 0:
            if report is not None:
                result.report = json.loads(report.read_text())
                result.versions = {
                    _norm(item["metadata"]["name"]): item["metadata"]["version"]
                    for item in result.report.get("install", [])
                }
            elif mode == "target" or mode == "venv":
                result.versions = installed_versions(target)
    return result


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_versions(path: PathLike) -> dict[str, str]:
    """``{name: version}`` of the distributions under *path* (a ``--target`` dir, a
    site-packages dir or a venv), read from ``*.dist-info/METADATA``."""
    root = Path(path)
    if (root / "pyvenv.cfg").is_file():
        metas = list(root.glob("lib/python*/site-packages/*.dist-info/METADATA"))
        metas += list(root.glob("Lib/site-packages/*.dist-info/METADATA"))
    else:
        metas = list(root.glob("*.dist-info/METADATA"))
    versions = {}
    for meta in metas:
        name = version = None
        for line in meta.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("Name:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("Version:"):
                version = line.split(":", 1)[1].strip()
            elif not line.strip():
                break
        if name and version:
            versions[_norm(name)] = version
    return versions


# --------------------------------------------------------------------------- files


def _load_toml(path: Path) -> dict:
    data = path.read_bytes()
    try:
        import tomllib  # Python >= 3.11
    except ImportError:  # pragma: no cover - Python 3.10
        import tomlkit

        return tomlkit.parse(data.decode("utf-8")).unwrap()
    return tomllib.loads(data.decode("utf-8"))


def locked_packages(project_dir_or_lock: PathLike) -> list[dict]:
    """The ``[[package]]`` tables of ``uv.lock`` (give the project dir or the file)."""
    path = Path(project_dir_or_lock)
    if path.is_dir():
        path = path / "uv.lock"
    return list(_load_toml(path).get("package", []))


def locked_versions(project_dir_or_lock: PathLike, *, include_project: bool = False) -> dict[str, str]:
    """``{name: version}`` locked in ``uv.lock``. The project itself (source ``virtual``
    or ``editable``) is left out unless *include_project*. Raises ``ValueError`` when a
    package is locked at several versions (a forked resolution: use ``locked_packages``)."""
    versions: dict[str, str] = {}
    for pkg in locked_packages(project_dir_or_lock):
        source = pkg.get("source", {})
        if not include_project and ("virtual" in source or "editable" in source):
            continue
        name, version = _norm(pkg["name"]), pkg.get("version", "")
        if name in versions and versions[name] != version:
            raise ValueError(f"{name} is locked at several versions: {versions[name]}, {version}")
        versions[name] = version
    return versions


def _toml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def _toml_list(values: Iterable[str]) -> str:
    items = [_toml_str(v) for v in values]
    if not items:
        return "[]"
    return "[\n" + "".join(f"    {i},\n" for i in items) + "]"


def write_project(
    project_dir: PathLike,
    dependencies: Iterable[str] = (),
    *,
    name: str = "demo",
    version: str = "0.1.0",
    constraints: Iterable[str] | None = None,
    requires_python: str | None = None,
    tool_uv: str = "",
    extra: str = "",
) -> Path:
    """Write ``project_dir/pyproject.toml`` for a (virtual, build-system-less) uv project
    and return its path. *constraints* become ``[tool.uv] constraint-dependencies``;
    *tool_uv* is raw TOML appended inside ``[tool.uv]``; *extra* raw TOML at the end.
    ``requires-python`` defaults to ``>=X.Y`` of the running interpreter."""
    project = Path(project_dir)
    project.mkdir(parents=True, exist_ok=True)
    rp = requires_python or f">={sys.version_info.major}.{sys.version_info.minor}"
    text = (
        "[project]\n"
        f"name = {_toml_str(name)}\n"
        f"version = {_toml_str(version)}\n"
        f"requires-python = {_toml_str(rp)}\n"
        f"dependencies = {_toml_list(dependencies)}\n"
    )
    if constraints is not None or tool_uv:
        text += "\n[tool.uv]\n"
        if constraints is not None:
            text += f"constraint-dependencies = {_toml_list(constraints)}\n"
        if tool_uv:
            text += tool_uv.rstrip("\n") + "\n"
    if extra:
        text += "\n" + extra.rstrip("\n") + "\n"
    path = project / "pyproject.toml"
    path.write_text(text)
    return path


def write_constraints(path: PathLike, lines: Iterable[str]) -> Path:
    """Write a pip constraints file (one requirement per line) and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines))
    return path
