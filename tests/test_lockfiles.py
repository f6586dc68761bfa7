"""Lockfile readers: names, versions, hashes and line numbers from each format.

uv.lock, pylock.toml, requirements.txt (uv export and pip-compile), package-lock.json (npm,
when installed) and installed environments (pip install) come from the real tools, offline;
poetry.lock, pdm.lock, Pipfile.lock and npm v1/v3 layouts are hand-written (see checkkit).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from depguard.errors import LockfileError
from depguard.lockfiles import Package, environment, format_for, read_lockfile
from depguard.tomlread import backend

import checkkit
from support import pkgindex, resolvers


def line_of(path: Path, needle: str) -> int:
    """1-based line of the first line of ``path`` equal to ``needle`` (stripped)."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.strip() == needle:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def by_name(packages: list[Package]) -> dict[str, Package]:
    return {p.name: p for p in packages}


@pytest.fixture(scope="session")
def real_index(tmp_path_factory: pytest.TempPathFactory) -> checkkit.RealIndex:
    return checkkit.build_index(tmp_path_factory.mktemp("check-index"))


@pytest.fixture(scope="session")
def locked(tmp_path_factory: pytest.TempPathFactory, real_index: checkkit.RealIndex) -> Path:
    """A project on litellm==1.82.7 (no constraints yet), locked and exported by the real uv."""
    return checkkit.uv_project(tmp_path_factory.mktemp("locked"), real_index, ["litellm==1.82.7", "tinylib"])


# --- names are matched by file name ---------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("uv.lock", "uv.lock"),
        ("pylock.toml", "pylock.toml"),
        ("pylock.dev.toml", "pylock.toml"),
        ("poetry.lock", "poetry.lock"),
        ("pdm.lock", "pdm.lock"),
        ("requirements.txt", "requirements.txt"),
        ("requirements-dev.txt", "requirements.txt"),
        ("Pipfile.lock", "Pipfile.lock"),
        ("package-lock.json", "package-lock.json"),
        ("npm-shrinkwrap.json", "package-lock.json"),
        ("uv.lock.bak", None),
        ("pyproject.toml", None),
        ("requirements.in", None),
        ("pylock.toml.orig", None),
    ],
)
def test_format_for(name: str, fmt: str | None) -> None:
    assert format_for(Path(name)) == fmt


# --- real tools -----------------------------------------------------------------------------


def test_uv_lock_from_real_uv(locked: Path, real_index: checkkit.RealIndex) -> None:
    lock = locked / "uv.lock"
    packages = by_name(read_lockfile(lock, locked))
    assert set(packages) == {"litellm", "tinylib"}  # the virtual project itself is left out
    litellm = packages["litellm"]
    assert litellm.version == "1.82.7"
    assert litellm.location == (lock, line_of(lock, 'name = "litellm"'))
    assert litellm.hashes == (real_index.sha256("litellm", "1.82.7"),)


def test_pylock_from_real_uv_export(locked: Path, real_index: checkkit.RealIndex) -> None:
    lock = locked / "pylock.toml"
    packages = by_name(read_lockfile(lock, locked))
    assert packages["litellm"].version == "1.82.7"
    assert packages["litellm"].location.line == line_of(lock, 'name = "litellm"')
    assert packages["tinylib"].hashes == (real_index.sha256("tinylib", "2.0"),)


def test_pylock_from_real_pip_lock(tmp_path: Path, real_index: checkkit.RealIndex) -> None:
    """pip writes PEP 751 differently from uv: [[packages.wheels]] sub-tables that have a name too."""
    lock = tmp_path / "pylock.toml"
    result = resolvers.run(
        [
            *resolvers.find_pip(),
            "lock",
            "--no-index",
            "--find-links",
            real_index.find_links,
            "litellm==1.82.7",
            "tinylib",
            "-o",
            lock,
        ],
        cwd=tmp_path,
    )
    if result.returncode != 0 and "unknown command" in result.output:
        pytest.skip("this pip has no `pip lock` (pip >= 25.1)")
    result.assert_ok()
    packages = by_name(read_lockfile(lock, tmp_path))
    assert {n: p.version for n, p in packages.items()} == {"litellm": "1.82.7", "tinylib": "2.0"}
    assert packages["tinylib"].location.line == line_of(lock, 'name = "tinylib"')
    assert packages["tinylib"].hashes == (real_index.sha256("tinylib", "2.0"),)


def test_requirements_from_real_uv_export_with_hashes(locked: Path, real_index: checkkit.RealIndex) -> None:
    path = locked / "requirements.txt"
    packages = by_name(read_lockfile(path, locked))
    assert packages["litellm"].version == "1.82.7"
    assert packages["litellm"].location.line == line_of(path, "litellm==1.82.7 \\")
    assert packages["litellm"].hashes == (real_index.sha256("litellm", "1.82.7"),)


def test_requirements_from_real_pip_compile(tmp_path: Path, real_index: checkkit.RealIndex) -> None:
    source = tmp_path / "requirements.in"
    source.write_text("litellm==1.82.8\ntinylib<2\n")
    output = tmp_path / "requirements.txt"
    if not checkkit.pip_compile(source, output, real_index):
        pytest.skip("pip-tools is not installed (pip install pip-tools)")
    packages = by_name(read_lockfile(output, tmp_path))
    assert (packages["litellm"].version, packages["tinylib"].version) == ("1.82.8", "1.0")
    assert packages["litellm"].location.line == line_of(output, "litellm==1.82.8 \\")
    assert packages["litellm"].hashes == (real_index.sha256("litellm", "1.82.8"),)


def test_package_lock_from_real_npm(tmp_path: Path) -> None:
    project = tmp_path / "web"
    if not checkkit.npm_lock(project, {"debug": ("debug", "4.4.2"), "ms": ("ms", "2.1.3")}):
        pytest.skip("npm is not installed")
    lock = project / "package-lock.json"
    packages = by_name(read_lockfile(lock, tmp_path))
    assert {n: p.version for n, p in packages.items()} == {"debug": "4.4.2", "ms": "2.1.3"}
    assert packages["debug"].ecosystem == "npm"
    assert packages["debug"].location.line == line_of(lock, '"node_modules/debug": {')


def test_environment_from_real_pip_install(tmp_path: Path, real_index: checkkit.RealIndex) -> None:
    venv = resolvers.make_venv(tmp_path / "venv")
    resolvers.pip_install(venv, ["litellm==1.82.7", "tinylib==1.0"], real_index.find_links).assert_ok()
    packages = by_name(environment.inspect(venv))
    assert packages["litellm"].version == "1.82.7"
    metadata = packages["litellm"].location.path
    assert metadata.name == "METADATA" and metadata.parent.name == "litellm-1.82.7.dist-info"
    assert packages["litellm"].location.line == line_of(metadata, "Name: litellm")
    assert environment.is_environment(venv) and not environment.is_environment(tmp_path)


def test_environment_inspection_runs_no_pth_file(tmp_path: Path) -> None:
    """litellm 1.82.8 ran its payload from a .pth file: inspecting must not start it."""
    marker = tmp_path / "payload-ran"
    wheels = tmp_path / "wheels"
    pkgindex.build_wheel(
        wheels,
        "pthbomb",
        "1.0",
        extra_files={"pthbomb_init.pth": f"import pathlib; pathlib.Path({str(marker)!r}).touch()\n"},
    )
    venv = resolvers.make_venv(tmp_path / "venv")
    resolvers.pip_install(venv, ["pthbomb==1.0"], wheels).assert_ok()
    assert "pthbomb" in by_name(environment.inspect(venv))
    assert not marker.exists(), "inspecting the environment executed a .pth file"
    subprocess.run([str(resolvers.venv_python(venv)), "-c", "pass"], check=True)
    assert marker.exists(), "the test's .pth payload does not work, so the check above proves nothing"


# --- hand-written fixtures (poetry, pdm and pipenv cannot run offline here) -----------------


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_poetry_lock(tmp_path: Path) -> None:
    lock = write(tmp_path / "poetry.lock", checkkit.POETRY_LOCK)
    packages = by_name(read_lockfile(lock, tmp_path))
    assert set(packages) == {"evilpkg", "litellm", "tinylib"}  # the directory dependency is left out
    assert packages["litellm"].location.line == line_of(lock, 'name = "litellm"')
    assert packages["litellm"].hashes == ("b" * 64, "c" * 64)


def test_poetry_lock_legacy_metadata_files(tmp_path: Path) -> None:
    lock = write(tmp_path / "poetry.lock", checkkit.POETRY_LOCK_LEGACY)
    (litellm,) = read_lockfile(lock, tmp_path)
    assert (litellm.version, litellm.hashes, litellm.location.line) == ("1.82.7", ("b" * 64,), 2)


def test_pdm_lock(tmp_path: Path) -> None:
    lock = write(tmp_path / "pdm.lock", checkkit.PDM_LOCK)
    packages = by_name(read_lockfile(lock, tmp_path))
    assert packages["ultralytics"].version == "8.3.41"
    assert packages["ultralytics"].location.line == line_of(lock, 'name = "ultralytics"')


def test_pipfile_lock(tmp_path: Path) -> None:
    lock = write(tmp_path / "Pipfile.lock", checkkit.PIPFILE_LOCK)
    packages = by_name(read_lockfile(lock, tmp_path))
    assert set(packages) == {"litellm", "tinylib"}  # the editable develop entry is left out
    assert packages["litellm"].version == "1.82.7"
    assert packages["litellm"].location.line == line_of(lock, '"litellm": {')


def test_package_lock_v3_aliases_links_and_workspaces(tmp_path: Path) -> None:
    lock = write(tmp_path / "package-lock.json", checkkit.PACKAGE_LOCK_V3)
    found = sorted((p.name, p.version, p.location.line) for p in read_lockfile(lock, tmp_path))
    assert found == [
        ("debug", "4.4.1", line_of(lock, '"node_modules/old-debug": {')),
        ("debug", "4.4.2", line_of(lock, '"node_modules/debug": {')),
        ("ms", "2.1.3", line_of(lock, '"node_modules/ms": {')),
    ]


def test_package_lock_v1_nested_dependencies(tmp_path: Path) -> None:
    lock = write(tmp_path / "package-lock.json", checkkit.PACKAGE_LOCK_V1)
    found = sorted((p.name, p.version, p.location.line) for p in read_lockfile(lock, tmp_path))
    assert found == [
        ("debug", "4.4.2", line_of(lock, '"debug": {')),
        ("express", "4.21.2", line_of(lock, '"express": {')),
    ]


def test_npm_sha256_integrity_becomes_a_hash(tmp_path: Path) -> None:
    import base64

    digest = bytes(range(32))
    lock = write(
        tmp_path / "package-lock.json",
        '{"lockfileVersion": 3, "packages": {"node_modules/x": {"version": "1.0.0", '
        f'"integrity": "sha512-AAAA sha256-{base64.b64encode(digest).decode()}"}}}}}}\n',
    )
    (package,) = read_lockfile(lock, tmp_path)
    assert package.hashes == (digest.hex(),)


# --- requirements: pins, options, includes --------------------------------------------------


def test_requirements_pins_options_and_continuations(tmp_path: Path) -> None:
    path = write(
        tmp_path / "requirements.txt",
        "# a comment\n"
        "--index-url https://example.org/simple\n"
        "--require-hashes\n"
        "-e ./src/mine\n"
        "LiteLLM==1.82.7.0 ; python_version >= '3.8' \\\n"
        f"    --hash=sha256:{'A' * 64} \\\n"
        "    --hash=md5:0123\n"
        "tinylib>=1  # not pinned\n"
        "ultralytics===8.3.41\n"
        "evilpkg @ https://files.example.org/evilpkg-0.2.0-py3-none-any.whl\n"
        "./dist/num2words-0.5.15-py3-none-any.whl\n"
        "./local/project\n",
    )
    found = [(p.name, p.version, p.hashes, p.location.line) for p in read_lockfile(path, tmp_path)]
    assert found == [
        ("LiteLLM", "1.82.7.0", ("a" * 64,), 5),
        ("tinylib", None, (), 8),
        ("ultralytics", "8.3.41", (), 9),
        ("evilpkg", "0.2.0", (), 10),
        ("num2words", "0.5.15", (), 11),
    ]


def test_requirements_follow_includes_inside_the_repo_once(tmp_path: Path) -> None:
    write(tmp_path / "requirements.txt", "-r reqs/base.txt\n--constraint=reqs/pins.txt\nlitellm==1.82.7\n")
    write(tmp_path / "reqs" / "base.txt", "-r ../requirements.txt\n-rcommon.txt\ntinylib==1.0\n")
    write(tmp_path / "reqs" / "common.txt", "-r base.txt\nultralytics==8.3.41\n")
    write(tmp_path / "reqs" / "pins.txt", "evilpkg==0.1.0\n")
    found = {
        (p.name, p.location.path.name, p.location.line) for p in read_lockfile(tmp_path / "requirements.txt", tmp_path)
    }
    assert found == {
        ("litellm", "requirements.txt", 3),
        ("tinylib", "base.txt", 3),
        ("ultralytics", "common.txt", 2),
        ("evilpkg", "pins.txt", 1),
    }


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("-r ../outside.txt", "leaves the repository"),
        ("-c /etc/passwd", "leaves the repository"),
        ("-r missing.txt", "not found"),
        ("-r https://example.org/requirements.txt", "remote include"),
        ("--frobnicate", "unknown option"),
        ("litellm==1.82.7 --frobnicate", "unknown option"),
        ("litellm=1.82.7", "not a valid requirement"),
    ],
)
def test_requirements_errors_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    repo = tmp_path / "repo"
    write(tmp_path / "outside.txt", "litellm==1.82.7\n")
    path = write(repo / "requirements.txt", f"tinylib==1.0\n{line}\n")
    with pytest.raises(LockfileError, match=message) as info:
        read_lockfile(path, repo)
    assert str(info.value).startswith(f"{path}:2: ")


def test_requirements_symlink_out_of_the_repo_is_refused(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write(tmp_path / "secret.txt", "litellm==1.82.7\n")
    write(repo / "requirements.txt", "-r link.txt\n")
    (repo / "link.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(LockfileError, match="leaves the repository"):
        read_lockfile(repo / "requirements.txt", repo)


# --- malformed files ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "line"),
    [
        ("uv.lock", 'version = 1\n\n[[package]]\nname = "litellm"\nversion = 1.82.7\n', 5),
        ("pylock.toml", 'lock-version = "1.0"\n[[packages]]\nname = "x"\nname = "y"\n', 4),
        # tomllib stops at the newline inside {...} (5); rtoml, which allows one there, at "]" (6)
        (
            "poetry.lock",
            '[[package]]\nname = "x"\nversion = "1"\nfiles = [\n  {file = "x"\n]\n',
            5 if backend() == "tomllib" else 6,
        ),
        ("pdm.lock", '[metadata]\n[[package]]\n  version = "1"\n', 2),
        ("Pipfile.lock", '{\n  "default": {\n    "litellm": {"version": "==1.82.7",}\n  }\n}\n', 3),
        ("package-lock.json", '{\n  "packages": {\n    "node_modules/a": {},\n    "node_modules/a": {}\n  }\n}\n', 4),
    ],
)
def test_malformed_lockfile_error_names_file_and_line(tmp_path: Path, name: str, text: str, line: int) -> None:
    path = write(tmp_path / name, text)
    with pytest.raises(LockfileError) as info:
        read_lockfile(path, tmp_path)
    assert str(info.value).startswith(f"{path}:{line}: "), str(info.value)


def test_non_utf8_lockfile_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "uv.lock"
    path.write_bytes(b"version = 1\n# caf\xe9\n")
    with pytest.raises(LockfileError, match=r"uv.lock:2: not UTF-8"):
        read_lockfile(path, tmp_path)
