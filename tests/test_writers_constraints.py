"""The constraints.txt writer and the requirements*.in ``-c`` line."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from depguard.errors import UnsafeEditError
from depguard.exclusions import Exclusion, make_exclusion
from depguard.writers import constraints, requirements_in
from depguard.writers.block import BEGIN_MARKER, END_MARKER, BlockEdit

LITELLM = make_exclusion("litellm", ["!=1.82.7", "!=1.82.8"], ["x_DEPGUARD-2026-0001"])
ULTRA = make_exclusion("ultralytics", ["!=8.3.41"], ["x_DEPGUARD-2024-0001", "GHSA-abcd-efgh-ijkl"])
TWO = [LITELLM, ULTRA]
BLOCK = (
    f"{BEGIN_MARKER}\n"
    "litellm!=1.82.7,!=1.82.8  # x_DEPGUARD-2026-0001\n"
    "ultralytics!=8.3.41  # GHSA-abcd-efgh-ijkl, x_DEPGUARD-2024-0001\n"
    f"{END_MARKER}\n"
)
REQS = ("litellm!=1.82.7,!=1.82.8", "ultralytics!=8.3.41")


def _single_insertion(before: str, after: str) -> str:
    prefix = 0
    limit = min(len(before), len(after))
    while prefix < limit and before[prefix] == after[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and before[len(before) - 1 - suffix] == after[len(after) - 1 - suffix]:
        suffix += 1
    assert prefix + suffix == len(before), "more than one region changed"
    return after[prefix : len(after) - suffix]


def check_apply(text: str, exclusions: list[Exclusion]) -> BlockEdit:
    edit = constraints.apply(text, exclusions)
    requirements = tuple(e.requirement for e in exclusions)
    assert constraints.read_block(edit.text) == requirements
    assert constraints.apply(edit.text, exclusions).text == edit.text
    assert constraints.remove(edit.text) == text == constraints.remove(text)
    assert constraints.apply(text, []).text == text
    assert _single_insertion(text, edit.text).isascii()
    old_lines = text.lstrip("\ufeff").splitlines()
    assert edit.text.lstrip("\ufeff").splitlines()[: len(old_lines)] == old_lines
    assert edit.previous == () and not edit.hand_edited
    return edit


# -- constraints.txt -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", BLOCK),
        ("numpy<2\n", "numpy<2\n\n" + BLOCK),
        ("numpy<2", "numpy<2\n" + BLOCK),
        ("numpy<2\n\n", "numpy<2\n\n\n" + BLOCK),
        ("# only a comment\n", "# only a comment\n\n" + BLOCK),
        ("a\r\nb\r\n", "a\r\nb\r\n\r\n" + BLOCK.replace("\n", "\r\n")),
        ("a\nb\r\n", "a\nb\r\n\r\n" + BLOCK.replace("\n", "\r\n")),
        ("a\r\nb", "a\r\nb\r\n" + BLOCK.replace("\n", "\r\n")),
        ("\ufeffa\n", "\ufeffa\n\n" + BLOCK),
    ],
)
def test_block_is_appended(text: str, expected: str) -> None:
    assert check_apply(text, TWO).text == expected


def test_rewrite_in_place_keeps_lines_after_the_block() -> None:
    text = "a\n\n" + BLOCK + "b  # added later by the user\n"
    edit = constraints.apply(text, [LITELLM])
    assert edit.previous == REQS and not edit.hand_edited
    assert (
        edit.text
        == f"a\n\n{BEGIN_MARKER}\nlitellm!=1.82.7,!=1.82.8  # x_DEPGUARD-2026-0001\n{END_MARKER}\nb  # added later by the user\n"
    )
    assert constraints.remove(text) == "a\n\nb  # added later by the user\n"


@pytest.mark.parametrize(
    "edit",
    [
        lambda b: b.replace("litellm", "  litellm"),
        lambda b: b.replace("  # x_DEPGUARD-2026-0001", " # x_DEPGUARD-2026-0001"),
        lambda b: b.replace(f"{END_MARKER}\n", f"mine==1\n{END_MARKER}\n"),
        lambda b: b.replace(f"{END_MARKER}\n", f"# a note\n{END_MARKER}\n"),
        lambda b: b.replace("x_DEPGUARD-2026-0001", "see the wiki"),
        lambda b: b.replace(END_MARKER + "\n", END_MARKER),
    ],
)
def test_hand_edited_block(edit) -> None:  # type: ignore[no-untyped-def]
    text = "a\n\n" + edit(BLOCK)
    result = constraints.apply(text, TWO)
    assert result.hand_edited
    assert result.text == "a\n\n" + BLOCK


def test_previous_strips_comments_like_pip() -> None:
    text = f"{BEGIN_MARKER}\nfoo>1 # x\npkg @ https://h/p#egg=pkg\n\n{END_MARKER}\n"
    assert constraints.read_block(text) == ("foo>1", "pkg @ https://h/p#egg=pkg")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"{BEGIN_MARKER}\n{BEGIN_MARKER}\n{END_MARKER}\n", "more than one depguard begin"),
        (f"{BEGIN_MARKER}\n{END_MARKER}\n{END_MARKER}\n", "more than one depguard end"),
        (f"{END_MARKER}\n{BEGIN_MARKER}\n", "comes before the begin marker"),
        (f"a\n{BEGIN_MARKER}\n", "line 2 has no end marker"),
        (f"{END_MARKER}\n", "has no begin marker"),
        (f"a\rb\n{BEGIN_MARKER}\n{END_MARKER}\n", "carriage return"),
    ],
)
def test_marker_errors(text: str, message: str) -> None:
    with pytest.raises(UnsafeEditError, match=message):
        constraints.apply(text, TWO)
    with pytest.raises(UnsafeEditError, match=message):
        constraints.remove(text)


def test_open_line_continuation_is_refused() -> None:
    with pytest.raises(UnsafeEditError, match="continuation"):
        constraints.apply("foo>=1 \\\n", TWO)
    assert constraints.apply("# comment ending in \\\n", TWO).text.endswith(BLOCK)


def test_empty_list_removes_the_block() -> None:
    applied = constraints.apply("numpy<2", TWO).text
    edit = constraints.apply(applied, [])
    assert edit.text == "numpy<2" and edit.previous == REQS


NAMES = ["litellm", "ultralytics", "numpy", "Req_A"]


@st.composite
def exclusion_lists(draw: st.DrawFn, min_size: int = 0) -> list[Exclusion]:
    names = draw(st.lists(st.sampled_from(NAMES), unique=True, min_size=min_size, max_size=3))
    return [
        make_exclusion(
            name, [f"!={draw(st.integers(0, 9))}.{draw(st.integers(0, 9))}.{draw(st.integers(0, 9))}"], ["PYSEC-2024-1"]
        )
        for name in names
    ]


@st.composite
def line_files(draw: st.DrawFn, lines: st.SearchStrategy[str]) -> str:
    body = draw(st.lists(lines, max_size=6))
    endings = draw(st.lists(st.sampled_from(["\n", "\r\n"]), min_size=len(body), max_size=len(body)))
    text = "".join(line + end for line, end in zip(body, endings))
    if draw(st.booleans()):
        text = text.rstrip("\r\n")
    return ("\ufeff" if draw(st.booleans()) else "") + text


CONSTRAINT_LINES = st.sampled_from(
    ["numpy<2", "# comment", "", "  ", "-r other.txt", "attrs>=22  # pinned", "pkg @ https://x/y#egg=pkg", "\tidna>=3"]
)
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(text=line_files(CONSTRAINT_LINES), first=exclusion_lists(min_size=1), second=exclusion_lists())
def test_constraints_properties(text: str, first: list[Exclusion], second: list[Exclusion]) -> None:
    edit = check_apply(text, first)
    again = constraints.apply(edit.text, second)
    assert again.text == constraints.apply(text, second).text
    assert again.previous == tuple(e.requirement for e in first) and not again.hand_edited


# -- requirements*.in ----------------------------------------------------------------------

LINE = "-c constraints.txt  # depguard"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", LINE + "\n"),
        ("numpy\n", LINE + "\nnumpy\n"),
        ("# header\n# more\n\nnumpy\n", "# header\n# more\n" + LINE + "\n\nnumpy\n"),
        ("# only comments", "# only comments\n" + LINE),
        ("# only comments\n", "# only comments\n" + LINE + "\n"),
        ("numpy\r\nattrs\r\n", LINE + "\r\nnumpy\r\nattrs\r\n"),
        ("\ufeff# h\r\nnumpy", "\ufeff# h\r\n" + LINE + "\r\nnumpy"),
        ("-c=constraints.txt\n", LINE + "\n-c=constraints.txt\n"),
        ("-c other.txt\n", LINE + "\n-c other.txt\n"),
    ],
)
def test_constraint_line_is_added(text: str, expected: str) -> None:
    result = requirements_in.ensure_constraint_line(text, "constraints.txt")
    assert result == expected
    assert requirements_in.ensure_constraint_line(result, "constraints.txt") == result
    assert requirements_in.remove_constraint_line(result, "constraints.txt") == text
    assert requirements_in.remove_constraint_line(result) == text


@pytest.mark.parametrize(
    "text",
    [
        "-c constraints.txt\n",
        "numpy\n-c ./constraints.txt  # mine\n",
        "--constraint constraints.txt\n",
        "--constraint=constraints.txt\n",
        "-cconstraints.txt",
        "  -c sub/../constraints.txt\n",
        '-c "constraints.txt"\n',
    ],
)
def test_existing_reference_is_recognized(text: str) -> None:
    assert requirements_in.references(text, "constraints.txt")
    assert requirements_in.ensure_constraint_line(text, "constraints.txt") == text
    assert requirements_in.remove_constraint_line(text, "constraints.txt") == text


@pytest.mark.parametrize("path", ["", "-c", "con straints.txt", "c.txt # x", "c\n.txt", "ü.txt", '"c.txt"'])
def test_unsafe_constraints_path_is_refused(path: str) -> None:
    with pytest.raises(UnsafeEditError):
        requirements_in.ensure_constraint_line("numpy\n", path)


IN_LINES = st.sampled_from(
    ["# header", "numpy", "-r base.in", "", "-c other.txt", "  # indented comment", "attrs  # why"]
)


@PROPERTY_SETTINGS
@given(text=line_files(IN_LINES), path=st.sampled_from(["constraints.txt", "../constraints.txt", "deps/c.txt"]))
def test_requirements_in_properties(text: str, path: str) -> None:
    result = requirements_in.ensure_constraint_line(text, path)
    assert requirements_in.references(result, path)
    assert requirements_in.ensure_constraint_line(result, path) == result
    assert requirements_in.remove_constraint_line(result, path) == text
    assert requirements_in.remove_constraint_line(text, path) == text
    added = LINE.replace("constraints.txt", path)
    new_lines = result.lstrip("\ufeff").splitlines()
    assert new_lines.count(added) == 1
    new_lines.remove(added)
    assert new_lines == text.lstrip("\ufeff").splitlines()
