"""The fast lockfile TOML reader (``depguard.lockfiles._fasttoml``) is held to tomllib.

Its contract: for any text, it returns None or exactly what ``tomllib.loads`` returns, and
never a value for a text tomllib refuses. Checked on lockfiles the real uv writes, on
hand-written poetry/pdm/uv fixtures, on the benchmark's synthetic uv.lock, on documents
generated from a grammar that mixes the supported part of TOML with what lies just outside
it, and on random edits of real lockfiles. The real lockfiles must also take the fast path:
a reader that always said None would be correct and useless.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import checkkit
from depguard.errors import LockfileError
from depguard.lockfiles import read_lockfile
from depguard.lockfiles._common import load_toml
from depguard.lockfiles._fasttoml import loads

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

REFUSED = "refused by tomllib"

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

#: Everything the tests read with both parsers; each must also take the fast path.
FIXTURES = {
    "uv.lock": UV_LOCK,
    "poetry.lock": checkkit.POETRY_LOCK,
    "poetry-legacy.lock": checkkit.POETRY_LOCK_LEGACY,
    "pdm.lock": checkkit.PDM_LOCK,
}


def typed(value: Any) -> Any:
    """``value`` with every scalar tagged by its type: ``True == 1`` must not pass for equal."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    return (type(value).__name__, value)


def reference(text: str) -> Any:
    try:
        return typed(tomllib.loads(text))
    except tomllib.TOMLDecodeError:
        return REFUSED


def assert_same(text: str) -> Any:
    """The fast answer is None or tomllib's; returns the fast answer."""
    fast = loads(text)
    if fast is not None:
        assert reference(text) == typed(fast), text
    return fast


@pytest.fixture(scope="module")
def real_locks(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """uv.lock and pylock.toml written by the real uv, offline."""
    index = checkkit.build_index(tmp_path_factory.mktemp("fasttoml-index"))
    project = checkkit.uv_project(tmp_path_factory.mktemp("fasttoml-locked"), index, ["litellm==1.82.7", "tinylib"])
    return [project / "uv.lock", project / "pylock.toml"]


@pytest.fixture(scope="module")
def bench_lock(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The benchmark's 2,000-package uv.lock (bench/datagen.py), made from 4,000 records."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    try:
        import datagen
    finally:
        sys.path.pop(0)
    path = tmp_path_factory.mktemp("bench-lock") / "uv.lock"
    datagen.write_uv_lock(path, datagen.make_records(4000), 2000)
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_fixtures_take_the_fast_path_with_tomllibs_answer(name: str) -> None:
    assert assert_same(FIXTURES[name]) is not None


def test_real_uv_lock_takes_the_fast_path_with_tomllibs_answer(real_locks: list[Path]) -> None:
    uv_lock, pylock = real_locks
    assert assert_same(uv_lock.read_text(encoding="utf-8")) is not None
    assert_same(pylock.read_text(encoding="utf-8"))  # pylock writes dates: tomllib reads those


def test_benchmark_lock_takes_the_fast_path_with_tomllibs_answer(bench_lock: str) -> None:
    assert assert_same(bench_lock) is not None
    assert assert_same(bench_lock.replace("\n", "\r\n")) is not None


@pytest.mark.parametrize(
    "text",
    [
        'a = 1\na = 2\n',  # a key twice
        '[t]\n[t]\n',  # a table declared twice
        '[t.u]\n[t]\n[t]\n',
        '[[t]]\n[t]\n',  # an array of tables declared as a table
        '[t]\n[[t]]\n',
        'a = []\n[[a]]\n',  # an inline array extended by a header
        'a = {}\n[a]\n',  # an inline table extended by a header
        'a = {}\n[a.b]\n',
        'a = 1\n[a.b]\n',
        '[a]\nb = 1\n[a.b]\n',
        '[a.b]\nc = 1\n[a]\nb = 2\n',
        '[[a]]\n[a.b]\n[a.b]\n',
        '[[a.b]]\n[a.b]\n',
        'a = { b = 1, b = 2 }\n',
        'a = { b = 1, }\n',  # TOML 1.0 refuses, 1.1 allows: tomllib decides
        'a = { b = 1,\n c = 2 }\n',
        'a = { b = 1\n, c = 2 }\n',
        'a = { b = 1\n c = 2 }\n',
        'a = { b = 1 c = 2 }\n',
        'a = [1 2]\n',
        'a = [1,,2]\n',
        'a = 1 b = 2\n',
        '[a] b = 1\n',
        'a = 1 # comment\n',
        'a = [\n  1, # comment\n]\n',
        'a = "x\\qy"\n',
        'a = "\\uD800"\n',
        'a = "\\U00110000"\n',
        'a = "\\e"\n',
        'a = "\\x41"\n',
        'a = "tab\there"\n',
        'a = "bell\x07"\n',
        "a = 'del\x7f'\n",
        '# nul \x00\n',
        '# tab\tis fine\n',
        'a = 1\rb = 2\n',
        'a = 1\r\nb = 2\r\n',
        'a = 01\n',
        'a = { b = 01 }\n',
        'a = [{ b = -01, c = 1 }]\n',
        'a = { b = 1_0 }\n',
        'a = { b = 1.0, c = "x" }\n',
        'a = { b = truex }\n',
        'a = { b = "x""y" }\n',
        'a = +1\nb = -0\nc = 0\n',
        'a = 1_000\n',
        'a = 1.5\n',
        'a = 1e3\n',
        'a = inf\n',
        'a = nan\n',
        'a = 1979-05-27\n',
        'a = 07:32:00\n',
        'a = trueish\n',
        'a = truefalse\n',
        'a = """x"""\n',
        "a = '''x'''\n",
        'a = ""\nb = \'\'\n',
        '"a" = 1\n',
        'a.b = 1\n',
        '[ a ]\n',
        '[a . b]\n',
        '[[ a ]]\n',
        '[[a]\n',
        '[a]]\n',
        '  [a]\n  b = 1\n\t\n',
        'a = \n',
        'a = {}\nb = []\nc = [[], [1, [2]], {x = {y = "z"}}]\n',
        'a = ["x", 1, true, { b = "c" }]\n',
        'a = "caf\u00e9 \u2028 \u0085"\n',
        'a = "\\u00e9\\U0001F600\\"\\\\\\b\\t\\n\\f\\r"\n',
        '1 = 2\ntrue = false\n-_- = 3\n',
        '',
        '\n\n',
        'a = 1',
        '[a]',
        '[[a]]\n[a.b]\n[[a]]\n[a.b]\n[[a.c]]\n[[a.c]]\n',
        '[x.y.z]\n[x]\n[x.y]\n',
        '[[a.b]]\n[a]\n',
    ],
)
def test_edge_cases_answer_none_or_tomllibs_answer(text: str) -> None:
    assert_same(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('a = 1\na = 2\n', None),
        ('a = { b = 1, }\n', None),
        ('a = 1 # comment\n', None),
        ('a = "\\uD800"\n', None),
        ('# c\n[[p]]\nname = "x"\nsize = 5\nok = true\n', {"p": [{"name": "x", "size": 5, "ok": True}]}),
        ('a = "\\u00e9"\n', {"a": "\u00e9"}),
    ],
)
def test_known_answers(text: str, expected: Any) -> None:
    assert loads(text) == expected


# --- generated documents ---------------------------------------------------------------------
#
# Mostly what lockfiles hold, with a few pieces from just outside the supported part (weighted
# by repetition), so that whole documents are often valid, often take the fast path, and are
# also often refused.


def _weighted(good: list[str], bad: list[str], weight: int = 6) -> st.SearchStrategy[str]:
    return st.sampled_from(good * weight + bad)


_KEYS = _weighted(["a", "b", "name", "x-y", "1", "true", "a_b", "size"], ["a.b", '"q"', "a b", ""])
_SPACE = _weighted(["", " ", " ", "\t"], ["  \t "], 2)
_STRING_PARTS = _weighted(
    ["x", "é", " ", "'", '\\"', "\\\\", "\\n", "\\u00e9", "\\U0001F600", "\t", "#", "=", "[", "{", "sha256:ab"],
    ["\\uD800", "\\x41", "\\e", "\x01", "\x7f", "\\q"],
    3,
)
_STRINGS = st.one_of(
    st.lists(_STRING_PARTS, max_size=4).map(lambda parts: '"' + "".join(parts) + '"'),
    st.lists(_weighted(["x", "é", '"', "\\", " ", "\t"], ["\x01", "'"]), max_size=4).map(lambda parts: "'" + "".join(parts) + "'"),
    st.sampled_from(['""', "''", '"' * 3 + "x" + '"' * 3, "'" * 3 + "x" + "'" * 3]),
)
_SCALARS = st.one_of(
    _STRINGS,
    _weighted(
        ["0", "1", "-1", "+7", "-0", "true", "false", "1234"],
        ["01", "1_000", "1.5", "1e3", "inf", "nan", "True", "1979-05-27", "07:32:00", "0x1f", "truex"],
        2,
    ),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
)
_PAIR_SEPARATORS = _weighted([", ", ",", " , "], ["\n", ",\n", " "])
_TABLE_ENDS = _weighted([""], [",", ",\n", "\n"])
_ELEMENT_SEPARATORS = _weighted([", ", ",", ",\n    ", "\n, "], [", # c\n", " ", ",,"])
_ARRAY_ENDS = _weighted(["", ",", ",\n"], ["\n", " # c\n"])


def _values() -> st.SearchStrategy[str]:
    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        pair = st.tuples(_KEYS, _SPACE, _SPACE, inner).map(lambda t: f"{t[0]}{t[1]}={t[2]}{t[3]}")
        table = st.tuples(st.lists(pair, max_size=4), _SPACE, _PAIR_SEPARATORS, _TABLE_ENDS).map(
            lambda t: "{" + t[1] + t[2].join(t[0]) + (t[3] if t[0] else "") + t[1] + "}"
        )
        array = st.tuples(st.lists(inner, max_size=3), _ELEMENT_SEPARATORS, _ARRAY_ENDS).map(
            lambda t: "[" + t[1].join(t[0]) + (t[2] if t[0] else "") + "]"
        )
        return st.one_of(table, array)

    return st.recursive(_SCALARS, extend, max_leaves=8)


_PATHS = st.lists(_weighted(["package", "metadata", "a", "b"], ['"a"', "a b", ""]), min_size=1, max_size=3).map(".".join)
_LINES = st.one_of(
    st.tuples(_SPACE, _KEYS, _SPACE, _SPACE, _values(), _weighted([""], [" ", " # c"], 4)).map(
        lambda t: f"{t[0]}{t[1]}{t[2]}={t[3]}{t[4]}{t[5]}"
    ),
    st.tuples(_SPACE, _PATHS).map(lambda t: f"{t[0]}[{t[1]}]"),
    st.tuples(_SPACE, _PATHS).map(lambda t: f"{t[0]}[[{t[1]}]]"),
    _weighted(["", "# comment", "  # indented", "\t"], ["#\x01", "[ a ]", "[[a]"]),
)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(_LINES, max_size=12), newline=_weighted(["\n", "\r\n"], ["\r"]))
@example(lines=["[[a]]", "b = 1", "[a.c]", "[[a]]", "[a.c]"], newline="\n")
@example(lines=["a = []", "[[a]]"], newline="\n")
@example(lines=["a = { b = true, c = false, d = -0 }"], newline="\n")
def test_generated_documents_answer_none_or_tomllibs_answer(lines: list[str], newline: str) -> None:
    assert_same(newline.join(lines))


_PLAIN_VALUES = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters='"\\', max_codepoint=0x2FFF), max_size=8),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.booleans(),
)


def _render(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return '"' + value + '"'


@settings(max_examples=500, deadline=None)
@given(
    tables=st.lists(st.dictionaries(st.from_regex(r"[A-Za-z0-9_-]{1,6}", fullmatch=True), _PLAIN_VALUES, min_size=1, max_size=4), min_size=1, max_size=3),
    space=st.sampled_from(["", " ", "\t"]),
)
def test_lockfile_shaped_inline_tables_answer_tomllibs_answer(tables: list[dict[str, Any]], space: str) -> None:
    """What uv writes most (``{ url = "...", size = 1 }`` rows in an array): a value whenever
    tomllib accepts it (control characters in a string are refused by both)."""
    rows = [f"{{{space}" + ", ".join(f"{k}{space}={space}{_render(v)}" for k, v in table.items()) + f"{space}}}" for table in tables]
    text = "[[package]]\nname = \"x\"\nsource = " + rows[0] + "\nwheels = [\n" + "".join(f"    {row},\n" for row in rows) + "]\n"
    fast = assert_same(text)
    assert (fast is None) == (reference(text) == REFUSED)


_EDIT_CHARS = st.sampled_from(list("\"'[]{},=.#\n \\a1\t\r\x00é-_") + ["true", "[[", "]]", '"""', "\\u"])


@settings(max_examples=400, deadline=None)
@given(name=st.sampled_from(sorted(FIXTURES)), data=st.data())
def test_random_edits_of_real_lockfiles_answer_none_or_tomllibs_answer(name: str, data: st.DataObject) -> None:
    text = FIXTURES[name]
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        where = data.draw(st.integers(min_value=0, max_value=len(text)))
        cut = data.draw(st.integers(min_value=0, max_value=3))
        text = text[:where] + data.draw(_EDIT_CHARS) + text[where + cut :]
    assert_same(text)


# --- through the lockfile readers ------------------------------------------------------------


def test_load_toml_falls_back_to_tomllib_for_what_the_fast_reader_leaves(tmp_path: Path) -> None:
    text = 'version = 1  # a comment\nwhen = 1979-05-27\n'
    assert loads(text) is None
    assert load_toml(tmp_path / "uv.lock", text) == tomllib.loads(text)


def test_a_broken_lockfile_keeps_tomllibs_error_and_line(tmp_path: Path) -> None:
    path = tmp_path / "uv.lock"
    path.write_text('version = 1\n\n[[package]]\nname = "litellm"\nname = "again"\n', encoding="utf-8")
    with pytest.raises(LockfileError, match=r"uv.lock:5: invalid TOML: "):
        read_lockfile(path, tmp_path)


def test_uv_lock_read_through_both_parsers_gives_the_same_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "uv.lock"
    path.write_text(UV_LOCK, encoding="utf-8")
    fast = read_lockfile(path, tmp_path)
    monkeypatch.setattr("depguard.lockfiles._fasttoml.loads", lambda text: None)
    assert read_lockfile(path, tmp_path) == fast
    lines = UV_LOCK.splitlines()
    expected = [(name, version, lines.index(f'name = "{name}"') + 1) for name, version in (("anyio", "4.9.0"), ("vendored", "1.0.0"), ("from-git", "2.0.0"))]
    assert [(p.name, p.version, p.location.line) for p in fast] == expected
