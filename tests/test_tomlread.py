"""``depguard.tomlread`` (rtoml, tomllib where rtoml is missing) is held to tomllib.

Its contract, on any text: where tomllib (tomli on 3.10) accepts a document, ``loads``
returns exactly tomllib's value, types included, unless the document nests deeper than
:data:`DEPTH` levels or holds a float too large for a double (tomllib reads ``1e400`` as
inf), which are refused; where tomllib refuses, ``loads`` refuses too, or the
document uses TOML 1.1 (``\\e``, ``\\xHH``, newlines in an inline table...) and the answer is
that of tomli 2.3+, a TOML 1.1 reader; rtoml also takes a newline anywhere inside an inline
table (``{ key\\n= 1 }``), as the Rust crate uv itself reads with does. Every refusal is a ``TOMLReadError`` of one line,
never a RecursionError or a crash. Checked on every TOML file of the upstream corpus, on
the repo's lockfile fixtures, on lockfiles the real uv writes, on the benchmark's uv.lock,
on hostile documents and on random edits of real lockfiles.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from depguard import tomlread
from depguard.errors import LockfileError
from depguard.lockfiles import read_lockfile
from depguard.tomlread import TOMLReadError, loads

import checkkit

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

import tomli  # a TOML 1.1 reader (tomli >= 2.3): the reference where TOML 1.0 and 1.1 differ

REFUSED = "refused"
#: rtoml refuses nesting deeper than this (arrays, inline tables, dotted keys alike).
DEPTH = 80

#: What uv writes, with every kind of table and value it uses (uv 0.5+, lock revision 2+).
UV_LOCK = """\
version = 1
revision = 2
requires-python = ">=3.10"
resolution-markers = [
    "python_full_version >= '3.12'",
    "python_full_version < '3.12'",
]

[options]
exclude-newer = "2025-06-01T00:00:00Z"

[manifest]
members = [
    "app",
    "lib",
]

[[package]]
name = "anyio"
version = "4.9.0"
source = { registry = "https://pypi.org/simple" }
dependencies = [
    { name = "exceptiongroup", marker = "python_full_version < '3.11'" },
    { name = "idna" },
    { name = "typing-extensions", marker = "python_full_version < '3.13'" },
]
sdist = { url = "https://files.pythonhosted.org/packages/95/7d/anyio-4.9.0.tar.gz", hash = "sha256:673c0c244e15788651a4ff38710fea9675823028a6f08a5eda409e0c9840a028", size = 190949, upload-time = "2025-03-17T00:02:54.77Z" }
wheels = [
    { url = "https://files.pythonhosted.org/packages/a1/ee/anyio-4.9.0-py3-none-any.whl", hash = "sha256:9f76d541cad6e36af7beb62e978876f3b41e3e04f2c1fbf0884604c0a9c4d93c", size = 100916, upload-time = "2025-03-17T00:02:52.713Z" },
]

[package.optional-dependencies]
trio = [
    { name = "trio" },
]

[[package]]
name = "app"
version = "0.1.0"
source = { editable = "app" }
dependencies = [
    { name = "anyio" },
    { name = "lib" },
]

[package.dev-dependencies]
dev = [
    { name = "pytest" },
]

[package.metadata]
requires-dist = [
    { name = "anyio", specifier = ">=4" },
    { name = "lib", editable = "lib" },
    { name = "trio", marker = "extra == 'trio'", specifier = "~=0.29" },
]
provides-extras = ["trio"]

[package.metadata.requires-dev]
dev = [{ name = "pytest", specifier = ">=8" }]

[[package]]
name = "lib"
version = "0.2.0"
source = { directory = "lib" }

[[package]]
name = "vendored"
version = "1.0.0"
source = { url = "https://example.org/vendored-1.0.0.tar.gz" }
sdist = { hash = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" }

[[package]]
name = "from-git"
version = "2.0.0"
source = { git = "https://github.com/example/from-git?rev=v2#0123456789abcdef0123456789abcdef01234567" }
"""

#: Lockfiles the readers are tested on elsewhere.
FIXTURES = {
    "uv.lock": UV_LOCK,
    "poetry.lock": checkkit.POETRY_LOCK,
    "poetry-legacy.lock": checkkit.POETRY_LOCK_LEGACY,
    "pdm.lock": checkkit.PDM_LOCK,
}


def nested(depth: int, open_: str = "[", close: str = "]") -> str:
    return "x = " + open_ * depth + close * depth + "\n"


#: Documents a hostile contributor or a broken tool could commit; the last column says what
#: must happen: "same" (tomllib's answer), "refused", or "1.1" (TOML 1.1: tomli's answer).
HOSTILE: dict[str, tuple[str, str]] = {
    "array-3000-deep": (nested(3000), REFUSED),  # issue 14 item 6: a RecursionError before
    "array-100000-deep": (nested(100_000), REFUSED),
    "inline-table-3000-deep": ("x = " + "{a=" * 3000 + "1" + "}" * 3000 + "\n", REFUSED),
    "mixed-3000-deep": ("x = " + "[{a=" * 1500 + "1" + "}]" * 1500 + "\n", REFUSED),
    "dotted-header-3000-parts": ("[" + ".".join(["a"] * 3000) + "]\nb = 1\n", REFUSED),
    "dotted-key-3000-parts": (".".join(["a"] * 3000) + " = 1\n", REFUSED),
    "array-at-the-bound": (nested(DEPTH - 1), "same"),
    "unclosed-3000": ("x = " + "[" * 3000 + "\n", REFUSED),
    "name-line-3000-deep": ("[[package]]\nname = " + "[" * 3000 + "]" * 3000 + "\n", REFUSED),
    "key-twice": ('[[package]]\nname = "litellm"\nname = "again"\n', REFUSED),
    "table-twice": ("[t]\n[t]\n", REFUSED),
    "inline-table-extended": ("a = {}\n[a.b]\n", REFUSED),
    "array-extended": ("a = []\n[[a]]\n", REFUSED),
    "lone-cr": ('name = "a"\rversion = "1"\n', REFUSED),
    "nul-in-string": ('name = "a\x00b"\n', REFUSED),
    "nul-outside": ('name = "a"\x00\n', REFUSED),
    "surrogate-escape": ('name = "\\ud800"\n', REFUSED),
    "escape-out-of-range": ('name = "\\U00110000"\n', REFUSED),
    "integer-over-64-bits": ("size = 99999999999999999999\n", "same"),
    "leading-zero": ("size = 007\n", REFUSED),
    "unterminated-string": ('name = "litellm\n', REFUSED),
    "unterminated-multiline": ('name = """litellm\n', REFUSED),
    "header-without-close": ("[[package]\nname = 1\n", REFUSED),
    "bidi-in-key-quoted": ('"\u202ename" = 1\n', "same"),
    "crlf": ('version = 1\r\n[[package]]\r\nname = "a"\r\n', "same"),
    "bom-free-unicode": ('name = "lіtellm"\n', "same"),
    "dates": ("a = 1979-05-27T07:32:00Z\nb = 1979-05-27T00:32:00.999999-07:00\nc = 1979-05-27\nd = 07:32:00\n", "same"),
    "floats": ("a = nan\nb = -inf\nc = 1.7e308\nd = 6.02e23\n", "same"),
    "float-overflow": ("c = 1e400\n", REFUSED),  # tomllib reads inf
    "escape-e": ('a = "\\e"\n', "1.1"),
    "escape-x": ('a = "\\x41"\n', "1.1"),
    "inline-table-newlines": ("a = {b = 1,\n c = 2,\n}\n", "1.1"),
    "huge-array": ("a = [" + "1," * 200_000 + "]\n", "same"),
    "many-tables": ("".join(f'[[package]]\nname = "p{i}"\n' for i in range(20_000)), "same"),
}


def typed(value: Any) -> Any:
    """``value`` with every scalar tagged by its type (``True == 1`` must not pass for equal);
    datetimes by their fields and UTC offset, since rtoml has its own tzinfo class."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    if isinstance(value, (dt.datetime, dt.time)):
        return (type(value).__name__, value.replace(tzinfo=None), value.utcoffset())
    if isinstance(value, float) and value != value:
        return ("float", "nan")
    return (type(value).__name__, value)


def answer(parse: Any, text: str) -> Any:
    try:
        return typed(parse(text))
    except (tomllib.TOMLDecodeError, tomli.TOMLDecodeError, RecursionError, TOMLReadError):
        return REFUSED


def ours(text: str) -> Any:
    """``loads``' answer; a refusal must be a one-line TOMLReadError (anything else propagates)."""
    try:
        return typed(loads(text))
    except TOMLReadError as exc:
        assert "\n" not in str(exc) and str(exc)
        return REFUSED


def deeper_than_the_bound(text: str) -> bool:
    """Whether brackets, braces or dotted-key parts nest past DEPTH (an over-estimate that is
    exact for the documents it is asked about: none holds brackets inside strings that deep)."""
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    dotted = max((line.split("=")[0].count(".") for line in text.splitlines()), default=0)
    return deepest > DEPTH or dotted >= DEPTH


_MULTILINE_INLINE_TABLE = re.compile(r"\{[^}]*\n")
_FLOAT_OVERFLOW = re.compile(r"\b[0-9][0-9_]*(?:\.[0-9_]+)?[eE]\+?[0-9]{3,}")


def assert_held_to_tomllib(text: str) -> Any:
    """The contract in the module docstring; returns our answer."""
    got = ours(text)
    reference = answer(tomllib.loads, text)
    if reference != REFUSED:
        if got == REFUSED:
            assert deeper_than_the_bound(text) or _FLOAT_OVERFLOW.search(text), (
                f"refused what tomllib reads: {text[:200]!r}"
            )
        else:
            assert got == reference, text[:200]
    elif got != REFUSED:
        newer = answer(tomli.loads, text)
        if newer == REFUSED:  # rtoml, like the Rust crate uv reads with, allows a newline anywhere in {...}
            assert _MULTILINE_INLINE_TABLE.search(text), f"accepted what tomllib and tomli refuse: {text[:200]!r}"
        else:
            assert got == newer, text[:200]
    return got


# --- real files ----------------------------------------------------------------------------


#: ``*.lock`` files that are TOML; yarn.lock and bun.lock are other formats.
TOML_LOCKFILES = {"uv.lock", "poetry.lock", "pdm.lock", "Cargo.lock"}


def corpus_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if (p.suffix == ".toml" or p.name in TOML_LOCKFILES) and p.is_file())


def test_every_toml_file_of_the_upstream_corpus_reads_as_tomllib_reads_it(upstream_corpus: Path) -> None:
    files = corpus_files(upstream_corpus)
    assert len(files) >= 40  # the pyprojects corpus: a glob that found nothing must not pass
    for path in files:
        text = path.read_bytes().decode("utf-8-sig")
        assert assert_held_to_tomllib(text) != REFUSED, path


def test_the_repos_own_toml_files_read_as_tomllib_reads_them(repo_root: Path) -> None:
    files = [p for p in corpus_files(repo_root) if ".venv" not in p.parts and ".git" not in p.parts]
    assert any(p.name == "pyproject.toml" for p in files)
    for path in files:
        assert assert_held_to_tomllib(path.read_text(encoding="utf-8-sig")) != REFUSED, path


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_lockfile_fixtures_read_as_tomllib_reads_them(name: str) -> None:
    assert assert_held_to_tomllib(FIXTURES[name]) != REFUSED
    assert assert_held_to_tomllib(FIXTURES[name].replace("\n", "\r\n")) != REFUSED


@pytest.mark.slow
def test_lockfiles_the_real_uv_writes_read_as_tomllib_reads_them(tmp_path_factory: pytest.TempPathFactory) -> None:
    index = checkkit.build_index(tmp_path_factory.mktemp("toml-index"))
    project = checkkit.uv_project(tmp_path_factory.mktemp("toml-locked"), index, ["litellm==1.82.7", "tinylib"])
    for path in (project / "uv.lock", project / "pylock.toml"):
        assert assert_held_to_tomllib(path.read_text(encoding="utf-8")) != REFUSED, path


def test_the_benchmark_uv_lock_reads_as_tomllib_reads_it(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    try:
        import datagen
    finally:
        sys.path.pop(0)
    path = tmp_path / "uv.lock"
    datagen.write_uv_lock(path, datagen.make_records(4000), 2000)
    assert assert_held_to_tomllib(path.read_text(encoding="utf-8")) != REFUSED


# --- hostile input -------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_documents(name: str) -> None:
    text, expected = HOSTILE[name]
    got = assert_held_to_tomllib(text)
    if expected == REFUSED:
        assert got == REFUSED
    elif expected == "same":
        assert got == answer(tomllib.loads, text) != REFUSED
    else:
        assert got == answer(tomli.loads, text) != REFUSED


_EDIT_CHARS = st.sampled_from(
    list("\"'[]{},=.#\n \\a1\t\r\x00é-_") + ["true", "[[", "]]", '"""', "\\u", "\\e", "\\x4", "1979-05-27"]
)


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(FIXTURES)), data=st.data())
def test_random_edits_of_real_lockfiles_read_as_tomllib_reads_them(name: str, data: st.DataObject) -> None:
    text = FIXTURES[name]
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        where = data.draw(st.integers(min_value=0, max_value=len(text)))
        cut = data.draw(st.integers(min_value=0, max_value=3))
        text = text[:where] + data.draw(_EDIT_CHARS) + text[where + cut :]
    assert_held_to_tomllib(text)


def without_rtoml(tmp_path: Path, code: str, **values: Any) -> Any:
    """What ``code`` puts in ``result``, run by a fresh interpreter that cannot import rtoml (as
    where its wheel is missing); ``values`` are given to it as variables (JSON)."""
    inputs = tmp_path / "inputs.json"
    inputs.write_text(json.dumps(values), encoding="utf-8")
    script = (
        "import json, sys\n"
        "sys.modules['rtoml'] = None  # import rtoml raises ImportError\n"
        f"globals().update(json.loads(open({str(inputs)!r}, encoding='utf-8').read()))\n"
        f"{textwrap.dedent(code)}\n"
        "print(json.dumps(result))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_the_tomllib_fallback_bounds_depth_too(tmp_path: Path) -> None:
    """Where rtoml's wheel is missing, tomllib reads: its RecursionError is a one-line refusal."""
    code = """
        import tomllib
        from depguard import tomlread
        result = {"backend": tomlread.backend(), "same": tomlread.loads(uv_lock) == tomllib.loads(uv_lock)}
        for name, text in (("deep", deep), ("twice", twice)):
            try:
                tomlread.loads(text)
            except tomlread.TOMLReadError as error:
                result[name] = str(error)
    """
    twice = 'version = 1\n\n[[package]]\nname = "litellm"\nname = "again"\n'
    result = without_rtoml(tmp_path, code, uv_lock=UV_LOCK, deep=nested(100_000), twice=twice)
    assert result["backend"] == "tomllib" and result["same"]
    assert "nested too deeply" in result["deep"] and "\n" not in result["deep"]
    assert re.search(r"at line 5", result["twice"]) and "\n" not in result["twice"]


def test_rtoml_is_what_runs_where_its_wheel_exists() -> None:
    """The dependency marker installs rtoml on this platform; a silent fallback would cost 5x."""
    assert tomlread.backend() == "rtoml"


# --- through the readers and the CLI -------------------------------------------------------


def test_a_broken_lockfile_is_one_line_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "uv.lock"
    path.write_text('version = 1\n\n[[package]]\nname = "litellm"\nname = "again"\n', encoding="utf-8")
    with pytest.raises(LockfileError, match=r"uv\.lock:5: invalid TOML: ") as caught:
        read_lockfile(path, tmp_path)
    assert "\n" not in str(caught.value)


def test_uv_lock_packages_and_lines_are_the_same_through_either_parser(tmp_path: Path) -> None:
    path = tmp_path / "uv.lock"
    path.write_text(UV_LOCK, encoding="utf-8")
    compiled = read_lockfile(path, tmp_path)
    code = """
        from pathlib import Path
        from depguard.lockfiles import read_lockfile
        from depguard.tomlread import backend
        packages = read_lockfile(Path(path), Path(root))
        result = [backend(), [[p.ecosystem, p.name, p.version, list(p.hashes), str(p.location.path), p.location.line] for p in packages]]
    """
    backend, packages = without_rtoml(tmp_path, code, path=str(path), root=str(tmp_path))
    assert backend == "tomllib"
    assert packages == [
        [p.ecosystem, p.name, p.version, list(p.hashes), str(p.location.path), p.location.line] for p in compiled
    ]
    lines = UV_LOCK.splitlines()
    expected = [
        (name, version, lines.index(f'name = "{name}"') + 1)
        for name, version in (("anyio", "4.9.0"), ("vendored", "1.0.0"), ("from-git", "2.0.0"))
    ]
    assert [(p.name, p.version, p.location.line) for p in compiled] == expected
