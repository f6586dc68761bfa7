"""The pyproject writer's fast analysis is held to the full one (tomlkit over the whole document).

``apply``/``remove``/``read_block`` give the same text or the same refusal with the fast path as
without it, and a document the writer produced is read without handing its block to tomlkit
(the fast path's whole point, seen through a spy on ``tomlkit.parse``). Documents come from the writer's property strategies, from the upstream
corpus, from edits of every kind around and inside a block, and from hand-written traps (a block
inside a multi-line string, a string shaped like the sentinel, a second block, a scanner that
misreads the array).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from hypothesis import example, given
from hypothesis import strategies as st
from test_writers_pyproject import PROPERTY_SETTINGS, TWO, _same, exclusion_lists, pyprojects
from tomlkit.exceptions import TOMLKitError

from depguard.errors import ProjectError
from depguard.exclusions import Exclusion, make_exclusion
from depguard.writers import pyproject
from depguard.writers._tomlspan import Scan, Token  # private on purpose: to inject scanner mistakes
from depguard.writers.block import BEGIN_MARKER, END_MARKER


@contextlib.contextmanager
def _full_only() -> Iterator[None]:
    """Run the writer with the fast analysis switched off: the reference behaviour."""
    with pytest.MonkeyPatch.context() as patch:
        # private on purpose: the two analyses differ only in speed, so no public call picks one
        patch.setattr(pyproject, "_fast_analysis", lambda body: None)
        yield


@contextlib.contextmanager
def _tomlkit_parses() -> Iterator[list[str]]:
    """Every text handed to ``tomlkit.parse`` meanwhile (a spy on tomlkit's public function)."""
    seen: list[str] = []
    real = tomlkit.parse

    def parse(text: str) -> Any:
        seen.append(text)
        return real(text)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tomlkit, "parse", parse)
        yield seen


def analyzed_fast(text: str) -> bool:
    """Whether ``apply`` analyzed ``text`` without tomlkit parsing the whole of it: the fast path.

    The fast analysis hands tomlkit the document with its block cut down to one line; the full
    one hands it the document itself (and so does a fast analysis that steps aside).
    """
    body = text.removeprefix("\ufeff")
    with _tomlkit_parses() as seen, contextlib.suppress(ProjectError):
        pyproject.apply(text, TWO)
    assert seen, "the spy saw no tomlkit.parse: it no longer sees the writer's parses"
    return body not in seen


def _outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", call()
    except ProjectError as error:  # UnsafeEditError too: the type and the words must match
        return type(error).__name__, str(error)


def assert_same_as_full(text: str, exclusions: list[Exclusion]) -> None:
    """Every public call, and the analysis itself, agrees with the full analysis on ``text``."""
    body = text[1:] if text.startswith("\ufeff") else text
    # private on purpose: the analysis' document value and block counts only feed the writer's
    # re-check of its own edit, which no public call shows apart from the edit itself
    fast = pyproject._fast_analysis(body)
    if fast is not None:
        full = pyproject._full_analysis(body)
        assert full.problem is None and fast.problem is None
        assert fast.block == full.block
        assert _same(fast.data, full.data)
    calls: list[Callable[[], Any]] = [
        lambda: pyproject.apply(text, exclusions),
        lambda: pyproject.apply(text, []),
        lambda: pyproject.remove(text),
        lambda: pyproject.read_block(text),
    ]
    for call in calls:
        quick = _outcome(call)
        with _full_only():
            reference = _outcome(call)
        assert quick == reference


# -- the fast path is taken where it should be ---------------------------------------------


def _many(count: int) -> list[Exclusion]:
    return [make_exclusion(f"pkg-{i}", [f"!={i}.0"], [f"x_DEPGUARD-2026-{i:04d}"]) for i in range(count)]


@pytest.mark.parametrize(
    "text",
    [
        "",
        '[project]\nname = "x"\n',
        '[tool.uv]\nconstraint-dependencies = ["numpy<2"]\n',
        '[tool.uv]\nconstraint-dependencies = [\n    "numpy<2",\n    "attrs>=22",\n]\nno-build = true\n',
        "[tool]\nuv.constraint-dependencies = []\n",
        "\ufeff[tool.uv]\r\npackage = false\r\n",
    ],
)
def test_a_canonical_block_is_analyzed_fast_and_equals_the_full_analysis(text: str) -> None:
    edited = pyproject.apply(text, _many(50)).text
    assert analyzed_fast(edited)
    assert_same_as_full(edited, _many(49))
    assert_same_as_full(edited, _many(50))


def test_the_large_block_case_never_parses_the_block_with_tomlkit() -> None:
    text = pyproject.apply('[project]\nname = "x"\n', _many(2000)).text
    with _tomlkit_parses() as parsed:
        assert pyproject.apply(text, _many(2000)).text == text
        changed = pyproject.apply(text, _many(1999)).text
        assert pyproject.read_block(changed) == tuple(e.requirement for e in _many(1999))
    assert parsed and max(map(len, parsed)) < 500  # only the document with one sentinel line in the block
    with _full_only():
        assert pyproject.apply(text, _many(1999)).text == changed


def test_without_a_block_or_with_a_hand_edited_one_the_full_analysis_decides() -> None:
    assert not analyzed_fast('[project]\nname = "x"\n')
    text = pyproject.apply("", TWO).text
    assert analyzed_fast(text)
    assert not analyzed_fast(text.replace('",  # x_', '", # x_', 1))
    assert not analyzed_fast(text.replace("    " + END_MARKER, "   " + END_MARKER))


# -- traps ---------------------------------------------------------------------------------

BLOCK = f'    {BEGIN_MARKER}\n    "litellm!=1.82.7",  # x_DEPGUARD-2026-0001\n    {END_MARKER}\n'
TRAPS = [
    # the block's bytes inside a multi-line string: not the array's items
    f'[tool.uv]\nconstraint-dependencies = []\nnote = """\n{BLOCK}"""\n',
    f"[tool.uv]\nnote = '''\n{BLOCK}'''\nconstraint-dependencies = [\n{BLOCK}]\n",
    # two blocks, a marker elsewhere, a marker in a string before the block
    f"[tool.uv]\nconstraint-dependencies = [\n{BLOCK}{BLOCK}]\n",
    f"# {BEGIN_MARKER[2:]}\n[tool.uv]\nconstraint-dependencies = [\n{BLOCK}]\n",
    f'[project]\nname = "{BEGIN_MARKER}"\n[tool.uv]\nconstraint-dependencies = [\n{BLOCK}]\n',
    f"[tool.uv]\nconstraint-dependencies = [\n{BLOCK}]\nx = [\n    {END_MARKER}\n]\n",
    # a block in the wrong array, in a nested array, after an item without a comma
    f"[tool.uv]\nother = [\n{BLOCK}]\nconstraint-dependencies = []\n",
    f"[tool.uv]\nconstraint-dependencies = [\n  [\n{BLOCK}  ],\n]\n",
    f'[tool.uv]\nconstraint-dependencies = [\n    "numpy<2"\n{BLOCK}]\n',
    f'[tool.uv]\nconstraint-dependencies = [\n    "numpy<2"\n    {BEGIN_MARKER}\n    {END_MARKER}\n]\n',
    # strings that read as a sentinel, broken documents, shapes that are refused
    '[tool.uv]\nx = "depguard-sentinel-\\u0030"\nconstraint-dependencies = [\n' + BLOCK + "]\n",
    f"[tool.uv]\nconstraint-dependencies = [\n{BLOCK}]\n[tool.uv]\nb = 1\n",
    f"[tool.uv]\nconstraint-dependencies = [\n{BLOCK}]\nbroken = \n",
    f"[tool.uv]\nconstraint-dependencies = [\n{BLOCK}]\nconstraint-dependencies = []\n",
    f"tool = {{uv = {{}}}}\n[tool.uv]\nconstraint-dependencies = [\n{BLOCK}]\n",
    f"[tool.uv]\nconstraint-dependencies = [\n{BLOCK}]\na = 1\rb = 2\n",
    f"[tool.uv]\nconstraint-dependencies = [\n{BLOCK.replace(chr(10), chr(13) + chr(10), 1)}]\n",
    f"[tool.uv]\nconstraint-dependencies = [\n{BLOCK}",
    f'[tool.uv]\nconstraint-dependencies = [  {BEGIN_MARKER}\n    {END_MARKER}\n    "numpy<2"]\n',
    f'[tool.uv]\nconstraint-dependencies = [  {BEGIN_MARKER}\n    "a<0",  # X-1\n  x {END_MARKER}\n]\n',
    f'[tool.uv]\nconstraint-dependencies = [  {BEGIN_MARKER}\n"a<0",  # X-1\n{END_MARKER}\n]\n',
    f"[tool.uv]\nconstraint-dependencies = [ {BEGIN_MARKER}\n {END_MARKER}\n]\n",
    f'[tool.uv]\nconstraint-dependencies = [  {BEGIN_MARKER}\n"u", "a<0",  # X-1\n"u", {END_MARKER}\n]\n',
    f'[tool.uv]\nconstraint-dependencies = [  {BEGIN_MARKER}\n  x "a<0",  # X-1\n  x {END_MARKER}\n]\n',
    f"[tool.uv]\nconstraint-dependencies = [\n\t{BEGIN_MARKER}\n\t{END_MARKER}\n]\n",
]


@pytest.mark.parametrize("text", TRAPS)
def test_traps(text: str) -> None:
    assert_same_as_full(text, TWO)


def test_a_block_in_a_string_is_not_taken_for_the_array() -> None:
    text = f'[tool.uv]\nconstraint-dependencies = []\nnote = """\n{BLOCK}"""\n'
    assert not analyzed_fast(text)


# -- a scanner that disagrees with tomlkit ---------------------------------------------------


def _drop_first_value(spans: Scan) -> Scan:
    """Lose the first item of every array: indexes into tomlkit's list are then off by one."""

    def drop(tokens: tuple[Token, ...]) -> tuple[Token, ...]:
        first = next((i for i, token in enumerate(tokens) if token.kind == "value"), None)
        return tokens if first is None else tokens[:first] + tokens[first + 1 :]

    return _retokenized(spans, drop)


def _newlines_as_commas(spans: Scan) -> Scan:
    """Read every line break in an array as a comma: no item then starts a line."""
    return _retokenized(
        spans, lambda tokens: tuple(Token("comma", t.start, t.end) if t.kind == "nl" else t for t in tokens)
    )


def _retokenized(spans: Scan, change: Callable[[tuple[Token, ...]], tuple[Token, ...]]) -> Scan:
    keyvalues = tuple(
        dataclasses.replace(kv, array=dataclasses.replace(kv.array, tokens=change(kv.array.tokens))) if kv.array else kv
        for kv in spans.keyvalues
    )
    return dataclasses.replace(spans, keyvalues=keyvalues)


LINE_FORM = '[tool.uv]\nconstraint-dependencies = [\n    "numpy<2",\n]\n'
INLINE_FORM = '[tool.uv]\nconstraint-dependencies = [ "a<2", "b<3" ]\n'


@pytest.mark.parametrize(
    ("text", "mistake"),
    [(LINE_FORM, _drop_first_value), (INLINE_FORM, _drop_first_value), (LINE_FORM, _newlines_as_commas)],
)
def test_a_scanner_mistake_is_a_refusal_on_both_paths(
    monkeypatch: pytest.MonkeyPatch, text: str, mistake: Callable[[Scan], Scan]
) -> None:
    written = pyproject.apply(text, TWO).text
    original = pyproject.scan
    monkeypatch.setattr(pyproject, "scan", lambda body: mistake(original(body)))
    assert not analyzed_fast(written)
    assert_same_as_full(written, TWO[:1])


# -- properties ----------------------------------------------------------------------------

SNIPPETS = st.sampled_from(
    [
        '"',
        "'",
        '"""',
        "'''",
        "#",
        "[",
        "]",
        ",",
        "\n",
        "\r\n",
        "\r",
        " ",
        "\t",
        "\\",
        "{",
        "}",
        "=",
        '"x",',
        "'y',\n",
        "x = 1\n",
        "[tool.uv]\n",
        "# >>> depguard\n",
        f"{END_MARKER}\n",
        f"{BEGIN_MARKER}\n",
        '"depguard-sentinel-0",\n',
        '"""\n',
        "[[tool.uv]]\n",
        "\ufeff",
    ]
)


@st.composite
def documents_with_a_block(draw: st.DrawFn) -> str:
    """A document the writer produced, then edited: snippets inserted, characters deleted."""
    text = pyproject.apply(draw(pyprojects()), draw(exclusion_lists(min_size=1))).text
    for _ in range(draw(st.integers(0, 3))):
        if not text:
            break
        position = draw(st.integers(0, len(text)))
        if draw(st.booleans()):
            text = text[:position] + draw(SNIPPETS) + text[position:]
        else:
            text = text[:position] + text[position + draw(st.integers(1, 3)) :]
    return text


@PROPERTY_SETTINGS
@given(text=documents_with_a_block(), exclusions=exclusion_lists())
def test_edited_documents_give_the_same_result_as_the_full_analysis(text: str, exclusions: list[Exclusion]) -> None:
    assert_same_as_full(text, exclusions)


@PROPERTY_SETTINGS
@given(text=pyprojects(), first=exclusion_lists(min_size=1), second=exclusion_lists())
def test_written_documents_are_analyzed_fast(text: str, first: list[Exclusion], second: list[Exclusion]) -> None:
    edited = pyproject.apply(text, first).text
    assert analyzed_fast(edited)
    assert_same_as_full(edited, second)


@pytest.mark.parametrize("shard", range(4))
def test_corpus_documents_with_a_block(upstream_corpus: Path, shard: int) -> None:
    files = sorted((upstream_corpus / "pyprojects").glob("*/pyproject.toml"))
    assert len(files) >= 40
    for path in files[shard::4]:
        text = path.read_bytes().decode("utf-8")
        assert_same_as_full(text, TWO)
        try:
            edited = pyproject.apply(text, TWO).text
        except ProjectError:
            continue
        assert analyzed_fast(edited), path
        assert_same_as_full(edited, _many(30))
        lines = edited.splitlines(keepends=True)
        begin = next(i for i, line in enumerate(lines) if BEGIN_MARKER in line)
        for cut in (begin - 1, begin + 1):  # drop the line before the block, and its first entry
            assert_same_as_full("".join(lines[:cut] + lines[cut + 1 :]), TWO)


STRING_PIECES = st.lists(
    st.sampled_from(
        ["a", " ", "#", "'", '"', "\\", "\\t", '\\"', "\\\\", "\\u0041", "\\U0001F600", "\\x41", "é", "\t", "]"]
    ),
    max_size=4,
).map("".join)


@PROPERTY_SETTINGS
@given(
    raw=st.text(st.characters(min_codepoint=0, max_codepoint=0x7F), max_size=20) | st.text(max_size=5) | STRING_PIECES
)
@example(raw="a\\tb")
def test_entries_are_read_as_tomlkit_reads_them(raw: str) -> None:
    """A block's strings, escapes and all, read back as tomlkit's values (the writer reads the
    plain ones without tomlkit)."""
    for quoted in (f'"{raw}"', f"'{raw}'"):
        try:
            value = tomlkit.value(quoted).unwrap()
        except TOMLKitError:
            continue
        if type(value) is not str or "\n" in raw or "\r" in raw:
            continue
        for comment in ("x_DEPGUARD-2026-0001", "hand-written"):
            text = f"[tool.uv]\nconstraint-dependencies = [\n    {BEGIN_MARKER}\n    {quoted},  # {comment}\n    {END_MARKER}\n]\n"
            assert pyproject.read_block(text) == (value,), text
