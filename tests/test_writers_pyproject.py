"""The pyproject.toml writer: golden shapes, refusals, and properties over generated documents."""

from __future__ import annotations

import copy
from typing import Any

try:  # a second, strict TOML 1.0 parser (what uv's parser also implements); stdlib on 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    tomllib = None  # type: ignore[assignment]

import pytest
import tomlkit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from depguard.errors import ProjectError, UnsafeEditError
from depguard.exclusions import Exclusion, make_exclusion
from depguard.writers import pyproject
from depguard.writers.block import BEGIN_MARKER, END_MARKER, BlockEdit

BEGIN = BEGIN_MARKER
END = END_MARKER
LITELLM = make_exclusion("litellm", ["!=1.82.7", "!=1.82.8"], ["x_DEPGUARD-2026-0001"])
ULTRA = make_exclusion("ultralytics", ["!=8.3.41", "!=8.3.42", "!=8.3.45", "!=8.3.46"], ["x_DEPGUARD-2024-0001"])
TWO = [LITELLM, ULTRA]
ENTRIES = (
    '    "litellm!=1.82.7,!=1.82.8",  # x_DEPGUARD-2026-0001\n'
    '    "ultralytics!=8.3.41,!=8.3.42,!=8.3.45,!=8.3.46",  # x_DEPGUARD-2024-0001\n'
)
BLOCK = f"    {BEGIN}\n{ENTRIES}    {END}\n"
REQS = ("litellm!=1.82.7,!=1.82.8", "ultralytics!=8.3.41,!=8.3.42,!=8.3.45,!=8.3.46")


# -- invariant helpers (also used by the property tests) -----------------------------------


def _strip_bom(text: str) -> str:
    return text[1:] if text.startswith("\ufeff") else text


def _without_target(data: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(data)
    tool = data.get("tool")
    if isinstance(tool, dict):
        uv = tool.get("uv")
        if isinstance(uv, dict):
            uv.pop("constraint-dependencies", None)
            if not uv:
                del tool["uv"]
        if not tool:
            del data["tool"]
    return data


def _same(left: Any, right: Any) -> bool:
    """Equality where NaN equals NaN."""
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_same(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(_same, left, right))
    if isinstance(left, float) and isinstance(right, float) and left != left and right != right:
        return True
    return type(left) is type(right) and left == right


def _target_items(data: dict[str, Any]) -> list[Any]:
    return list(data.get("tool", {}).get("uv", {}).get("constraint-dependencies", []))


def assert_only_target_changed(before: str, after: str, requirements: tuple[str, ...]) -> None:
    """(c): the parsed document differs only in the array, which is the user's items with ours spliced in."""
    old = tomlkit.parse(_strip_bom(before)).unwrap()
    new = tomlkit.parse(_strip_bom(after)).unwrap()
    assert _same(_without_target(old), _without_target(new))
    old_items, new_items = _target_items(old), _target_items(new)
    size = len(requirements)
    positions = [
        i
        for i in range(len(new_items) - size + 1)
        if tuple(new_items[i : i + size]) == requirements and new_items[:i] + new_items[i + size :] == old_items
    ]
    assert positions, (old_items, new_items)


def assert_single_insertion(before: str, after: str) -> str:
    """Bytes outside depguard's region are identical: ``before`` is ``after`` minus one slice."""
    prefix = 0
    limit = min(len(before), len(after))
    while prefix < limit and before[prefix] == after[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and before[len(before) - 1 - suffix] == after[len(after) - 1 - suffix]:
        suffix += 1
    assert prefix + suffix == len(before), "more than one region changed"
    inserted = after[prefix : len(after) - suffix]
    assert inserted.isascii()
    return inserted


def assert_lines_kept(before: str, after: str) -> None:
    """(d): every original line is still a line, in order. The documented exceptions: a one-line
    array ending in an item keeps its items on their line and only its ``]...`` moves below the
    block (tail form); any other one-line array is split once, right after its ``[`` (head form)."""
    old_lines = _strip_bom(before).splitlines()
    new_lines = _strip_bom(after).splitlines()
    j = 0
    for line in old_lines:
        k = j
        while k < len(new_lines) and new_lines[k] != line:
            k += 1
        if k < len(new_lines):
            j = k + 1
            continue
        tail_form = next(
            (
                i
                for i in range(j, len(new_lines))
                if new_lines[i].endswith(",  " + BEGIN) and line.startswith(new_lines[i][: -len(",  " + BEGIN)])
            ),
            None,
        )
        if tail_form is not None:  # "<items>]<rest>" became "<items>,  # >>> ..." ... "]<rest>"
            rest = line[len(new_lines[tail_form]) - len(",  " + BEGIN) :]
            assert rest.lstrip(" \t").startswith("]"), rest
            j = next(i for i in range(tail_form, len(new_lines)) if new_lines[i] == rest) + 1
            continue
        # head form: "<prefix>[<rest>" became "<prefix>[  # >>> ..." ... "<indent><rest>"
        split = next(
            i
            for i in range(j, len(new_lines))
            if new_lines[i].endswith("[  " + BEGIN) and line.startswith(new_lines[i][: -len("  " + BEGIN)])
        )
        rest = line[len(new_lines[split]) - len("  " + BEGIN) :]
        tail = next(i for i in range(split, len(new_lines)) if new_lines[i] in (rest, "    " + rest))
        j = tail + 1


def check_apply(text: str, exclusions: list[Exclusion]) -> BlockEdit:
    """Apply and assert every invariant of a first application (no block in ``text``)."""
    edit = pyproject.apply(text, exclusions)
    requirements = tuple(e.requirement for e in exclusions)
    assert pyproject.read_block(edit.text) == requirements  # (e)
    assert pyproject.apply(edit.text, exclusions).text == edit.text  # (a)
    assert pyproject.remove(edit.text) == text  # (b)
    assert pyproject.remove(text) == text
    assert pyproject.apply(text, []).text == text
    assert_only_target_changed(text, edit.text, requirements)  # (c)
    if tomllib is not None:
        assert _same(tomllib.loads(_strip_bom(edit.text)), tomlkit.parse(_strip_bom(edit.text)).unwrap())
    assert_single_insertion(text, edit.text)
    assert_lines_kept(text, edit.text)  # (d)
    assert edit.previous == () and not edit.hand_edited
    return edit


# -- golden shapes -------------------------------------------------------------------------


def test_readme_example_after_last_user_item() -> None:
    text = '[tool.uv]\nconstraint-dependencies = [\n    "numpy<2",  # the user\'s own line stays where it was\n]\n'
    edit = check_apply(text, TWO)
    assert edit.text == (
        '[tool.uv]\nconstraint-dependencies = [\n    "numpy<2",  # the user\'s own line stays where it was\n'
        + BLOCK
        + "]\n"
    )
    assert not edit.created_key and not edit.created_table


def test_last_item_without_trailing_comma_gets_the_block_before_its_line() -> None:
    text = '[tool.uv]\nconstraint-dependencies = [\n  "a<2",\n  "b<3"\n]\n'
    edit = check_apply(text, [LITELLM])
    assert edit.text == (
        '[tool.uv]\nconstraint-dependencies = [\n  "a<2",\n'
        f"  {BEGIN}\n"
        '  "litellm!=1.82.7,!=1.82.8",  # x_DEPGUARD-2026-0001\n'
        f"  {END}\n"
        '  "b<3"\n]\n'
    )


def test_single_line_array_keeps_the_users_items_on_their_line() -> None:
    """Issue 13: the user's line only loses its ``]`` (and gains the separator and marker)."""
    text = "[tool.uv]\nconstraint-dependencies = [\"a<2\", 'b>=1']  # mine\n"
    edit = check_apply(text, TWO)
    assert edit.text == (
        f"[tool.uv]\nconstraint-dependencies = [\"a<2\", 'b>=1',  {BEGIN}\n{ENTRIES}    {END}\n]  # mine\n"
    )


def test_single_line_array_with_a_trailing_comma_takes_the_head_form() -> None:
    """``"b>=1",  # >>>`` would read as if depguard had added that comma: split after ``[`` instead."""
    text = "[tool.uv]\nconstraint-dependencies = [\"a<2\", 'b>=1',]\n"
    edit = check_apply(text, TWO)
    assert edit.text == (
        f"[tool.uv]\nconstraint-dependencies = [  {BEGIN}\n{ENTRIES}    {END}\n    \"a<2\", 'b>=1',]\n"
    )


def test_tail_block_is_updated_in_place_and_removed_exactly() -> None:
    text = '[tool.uv]\nconstraint-dependencies = ["numpy<2", "urllib3>=2"]\nother = 1\n'
    edit = check_apply(text, [LITELLM])
    again = pyproject.apply(edit.text, TWO)
    assert again.text.startswith('[tool.uv]\nconstraint-dependencies = ["numpy<2", "urllib3>=2",  ' + BEGIN)
    assert pyproject.read_block(again.text) == tuple(e.requirement for e in TWO)
    assert pyproject.apply(again.text, []).text == text


def test_empty_single_line_array() -> None:
    text = "[tool.uv]\nconstraint-dependencies = []\n"
    edit = check_apply(text, TWO)
    assert edit.text == f"[tool.uv]\nconstraint-dependencies = [  {BEGIN}\n{ENTRIES}    {END}\n]\n"


def test_users_empty_multiline_array_is_kept_by_remove() -> None:
    text = "[tool.uv]\nconstraint-dependencies = [\n]\n"
    edit = check_apply(text, TWO)
    assert edit.text == f"[tool.uv]\nconstraint-dependencies = [\n{BLOCK}]\n"
    assert not edit.created_key


def test_missing_key_goes_after_the_tables_last_statement() -> None:
    text = "[tool.uv]\npackage = false  # why\n\n# about ruff\n[tool.ruff]\nline-length = 88\n"
    edit = check_apply(text, TWO)
    assert edit.text == (
        "[tool.uv]\npackage = false  # why\n"
        f"constraint-dependencies = [  # added by depguard\n{BLOCK}]\n"
        "\n# about ruff\n[tool.ruff]\nline-length = 88\n"
    )
    assert edit.created_key and not edit.created_table


def test_missing_key_in_empty_table_at_end_without_final_newline() -> None:
    edit = check_apply("[project]\nname = 'x'\n[tool.uv]", TWO)
    assert edit.text == f"[project]\nname = 'x'\n[tool.uv]\nconstraint-dependencies = [  # added by depguard\n{BLOCK}]"


@pytest.mark.parametrize(
    ("text", "separator"),
    [("[project]\nname = 'x'\n", "\n"), ("[project]\nname = 'x'", "\n"), ("", ""), ("# only a comment\n\n", "\n")],
)
def test_missing_table_is_appended(text: str, separator: str) -> None:
    edit = check_apply(text, TWO)
    created = f"[tool.uv]  # added by depguard\nconstraint-dependencies = [  # added by depguard\n{BLOCK}]\n"
    assert edit.text == text + separator + created
    assert edit.created_key and edit.created_table


def test_subtables_only_get_a_new_tool_uv_table() -> None:
    text = "[tool.uv.sources]\nx = { workspace = true }\n\n[tool.uv.workspace]\nmembers = ['x']\n"
    edit = check_apply(text, TWO)
    assert edit.created_table and edit.text.startswith(text)


def test_super_table_order_oddities() -> None:
    text = '[tool.uv.sources]\nx = { workspace = true }\n[project]\nname = "a"\n[tool.uv]\npackage = false\n[tool.uv.pip]\nx = 1\n'
    edit = check_apply(text, TWO)
    assert "package = false\nconstraint-dependencies = [  # added by depguard\n" in edit.text


def test_crlf_file_gets_crlf_lines() -> None:
    text = '[tool.uv]\r\nconstraint-dependencies = [\r\n    "a",\r\n]\r\n'
    edit = check_apply(text, TWO)
    assert edit.text == text.replace('"a",\r\n', '"a",\r\n' + BLOCK.replace("\n", "\r\n"))
    created = check_apply("[project]\r\nname = 'x'\r\n", TWO).text
    assert "\n" not in created.replace("\r\n", "")


def test_mixed_line_endings_follow_the_line_spliced_next_to() -> None:
    text = '[tool.uv]\nconstraint-dependencies = [\n\t"a",\r\n]\n'
    edit = check_apply(text, [LITELLM])
    inserted = assert_single_insertion(text, edit.text)
    assert inserted.count("\r\n") == inserted.count("\n") == 3


def test_bom_and_tabs_are_kept() -> None:
    text = '\ufeff[tool.uv]\nconstraint-dependencies = [\n\t"a",\n]\n'
    edit = check_apply(text, [LITELLM])
    assert edit.text.startswith("\ufeff[tool.uv]")
    assert f'\t{BEGIN}\n\t"litellm!=1.82.7,!=1.82.8",  # x_DEPGUARD-2026-0001\n\t{END}\n]' in edit.text


def test_comments_everywhere() -> None:
    text = (
        "# top\n[tool.uv] # header\n# before\nconstraint-dependencies = [ # open\n  # lead\n"
        '  "a", # one\n  # trail\n] # close\n# end'
    )
    edit = check_apply(text, [LITELLM])
    assert edit.text == (
        "# top\n[tool.uv] # header\n# before\nconstraint-dependencies = [ # open\n  # lead\n"
        f'  "a", # one\n  # trail\n  {BEGIN}\n  "litellm!=1.82.7,!=1.82.8",  # x_DEPGUARD-2026-0001\n  {END}\n'
        "] # close\n# end"
    )


def test_nested_and_multiline_values_in_the_array() -> None:
    text = '[tool.uv]\nconstraint-dependencies = [["a"], {x = 1}, """m\nl""",\n]\nother = 1\n'
    check_apply(text, TWO)


@pytest.mark.parametrize(
    "text",
    [
        'tool.uv.constraint-dependencies = ["a<2"]\n[project]\nname = "x"\n',
        '[tool]\nuv.constraint-dependencies = [\n    "a<2",\n]\n',
        "[tool]\nuv.package = false\n",
        "tool.uv.package = false\n",
    ],
)
def test_dotted_keys(text: str) -> None:
    edit = check_apply(text, TWO)
    if "constraint-dependencies" not in text:
        assert edit.created_key and not edit.created_table


def test_nan_in_the_document_does_not_block_verification() -> None:
    check_apply("a = nan\n[tool.uv]\nb = inf\n", TWO)


# -- existing blocks -----------------------------------------------------------------------


def test_rewrite_reports_previous_and_not_hand_edited() -> None:
    first = pyproject.apply("[tool.uv]\nconstraint-dependencies = [\n]\n", TWO).text
    edit = pyproject.apply(first, [LITELLM])
    assert edit.previous == REQS and not edit.hand_edited
    assert pyproject.read_block(edit.text) == (LITELLM.requirement,)


def test_hand_edited_block_is_rewritten_and_only_the_block_changes() -> None:
    text = (
        '[tool.uv]\nconstraint-dependencies = [\n    "numpy<2",\n'
        f'    {BEGIN}\n    "litellm!=1.0",  # x_DEPGUARD-2026-0001\n    "mine",\n    {END}\n'
        '    "after",\n]\n'
    )
    edit = pyproject.apply(text, TWO)
    assert edit.hand_edited and edit.previous == ("litellm!=1.0", "mine")
    assert edit.text == '[tool.uv]\nconstraint-dependencies = [\n    "numpy<2",\n' + BLOCK + '    "after",\n]\n'


def test_mangled_marker_is_still_recognized() -> None:
    text = '[tool.uv]\nconstraint-dependencies = [\n    #>>>depguard\n    "x>1",\n    # <<< depguard\n]\n'
    edit = pyproject.apply(text, [LITELLM])
    assert edit.hand_edited and edit.previous == ("x>1",)
    assert edit.text.count("depguard:") == 1


def test_empty_list_removes_everything_depguard_added() -> None:
    for text in [
        "",
        "[project]\nname = 'x'",
        "[tool.uv]\npackage = true\n",
        "[tool.uv]\nconstraint-dependencies = []\n",
    ]:
        applied = pyproject.apply(text, TWO)
        emptied = pyproject.apply(applied.text, [])
        assert emptied.text == text == pyproject.remove(applied.text)
        assert emptied.previous == REQS and not emptied.created_key


def test_remove_keeps_a_created_key_the_user_added_items_to() -> None:
    applied = pyproject.apply("[tool.uv]\n", [LITELLM]).text
    edited = applied.replace("# added by depguard\n", '# added by depguard\n    "mine<2",\n', 1)
    removed = pyproject.remove(edited)
    assert removed == '[tool.uv]\nconstraint-dependencies = [  # added by depguard\n    "mine<2",\n]\n'


def test_remove_and_read_block_without_block() -> None:
    text = "[tool.depguard]\nfeed = 'x'\n"
    assert pyproject.remove(text) == text
    assert pyproject.read_block(text) is None


# -- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tool = {uv = {constraint-dependencies = []}}\n", "inline table"),
        ("[tool]\nuv = {package = false}\n", "inline table"),
        ('[tool.uv]\nconstraint-dependencies = "a<2"\n', "not an array"),
        ("[tool.uv.constraint-dependencies]\na = 1\n", "is a table"),
        ("[tool.uv]\nconstraint-dependencies.a = 1\n", "is a table"),
        ("[[tool.uv]]\na = 1\n", "array of tables"),
        (f"[tool.uv]\nconstraint-dependencies = [\n  {BEGIN}\n  {BEGIN}\n  {END}\n]\n", "more than one depguard begin"),
        (f"[tool.uv]\nconstraint-dependencies = [\n  {BEGIN}\n  {END}\n  {END}\n]\n", "more than one depguard end"),
        (f"[tool.uv]\nconstraint-dependencies = [\n  {END}\n  {BEGIN}\n]\n", "comes before the begin marker"),
        (f"[tool.uv]\nconstraint-dependencies = [\n  {BEGIN}\n]\n", "has no end marker"),
        (f"[tool.uv]\nconstraint-dependencies = [\n  {END}\n]\n", "has no begin marker"),
        (f"[tool.uv]\n{BEGIN}\nconstraint-dependencies = [\n]\n{END}\n", "not directly inside"),
        (f'[tool.uv]\nconstraint-dependencies = [\n  "a",  {BEGIN}\n  {END}\n]\n', "shares its line"),
        (f'[tool.uv]\nconstraint-dependencies = [\n  {BEGIN}\n  "a",  {END}\n]\n', "on its own line"),
        (f"[tool.uv]\nx = [\n  {BEGIN}\n  {END}\n]\n", "not directly inside"),
        (f'[tool.uv]\nconstraint-dependencies = [\n  "a"\n  {BEGIN}\n  {END}\n]\n', "has no trailing comma"),
        ("a = 1\rb = 2\n", "not valid TOML"),
    ],
)
def test_refused_shapes(text: str, message: str) -> None:
    with pytest.raises(ProjectError, match=message):
        pyproject.apply(text, TWO)


def test_marker_errors_also_stop_remove_and_read_block() -> None:
    text = f"[tool.uv]\nconstraint-dependencies = [\n  {BEGIN}\n]\n"
    with pytest.raises(UnsafeEditError):
        pyproject.remove(text)
    with pytest.raises(UnsafeEditError):
        pyproject.read_block(text)


def test_table_defined_twice_is_a_project_error() -> None:
    with pytest.raises(ProjectError, match=r"line 4, column 0"):
        pyproject.apply("[tool.uv]\na = 1\n[tool.uv]\nb = 2\n", TWO)


def test_malformed_toml_names_line_and_column() -> None:
    with pytest.raises(ProjectError) as raised:
        pyproject.apply('[tool.uv]\nconstraint-dependencies = [\n "a",, \n]\n', TWO)
    assert not isinstance(raised.value, UnsafeEditError)
    assert "line 3, column 5" in str(raised.value)


def test_unsafe_exclusion_is_refused_even_if_built_by_hand() -> None:
    sneaky = Exclusion('a"]\nevil', ("!=1",), ("X-1",))
    with pytest.raises(UnsafeEditError, match="refusing to write"):
        pyproject.apply("", [sneaky])


def test_failed_verification_returns_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    # private on purpose: the re-check only refuses an edit the splice got wrong, and no input
    # makes the real splice wrong; a corrupting splice is the only way to see it refuse
    original = pyproject._splice

    def corrupting(*args: Any, **kwargs: Any) -> Any:
        text, *rest = original(*args, **kwargs)
        return (text.replace('name = "x"', 'name = "y"'), *rest)

    monkeypatch.setattr(pyproject, "_splice", corrupting)
    with pytest.raises(UnsafeEditError, match="change more than"):
        pyproject.apply('[project]\nname = "x"\n', TWO)


# -- properties ----------------------------------------------------------------------------

NAMES = ["litellm", "ultralytics", "numpy", "Req_A", "b.c"]
ADVISORIES = ["x_DEPGUARD-2026-0001", "GHSA-abcd-efgh-ijkl", "PYSEC-2024-12"]


@st.composite
def exclusion_lists(draw: st.DrawFn, min_size: int = 0) -> list[Exclusion]:
    names = draw(st.lists(st.sampled_from(NAMES), unique=True, min_size=min_size, max_size=3))
    result = []
    for name in names:
        versions = draw(
            st.lists(
                st.tuples(*[st.integers(0, 12)] * 3).map(lambda v: ".".join(map(str, v))),
                min_size=1,
                max_size=3,
                unique=True,
            )
        )
        ops = draw(st.lists(st.sampled_from(["!=", ">=", ">"]), min_size=len(versions), max_size=len(versions)))
        advisories = draw(st.lists(st.sampled_from(ADVISORIES), min_size=1, max_size=2, unique=True))
        result.append(make_exclusion(name, [op + v for op, v in zip(ops, versions)], advisories))
    return result


USER_ITEMS = st.lists(
    st.sampled_from(['"numpy<2"', "'attrs>=22'", '"idna>=3.7"', "\"urllib3>=2; python_version >= '3.9'\""]), max_size=3
)
COMMENTS = st.sampled_from(["# note", "#", "# [tool.uv] in a comment", "# x = 1 # y", "# <<< not a marker"])


@st.composite
def arrays(draw: st.DrawFn) -> str:
    items = draw(USER_ITEMS)
    style = draw(st.sampled_from(["one-line", "multi", "hanging"]))
    if style == "one-line" or (not items and style == "hanging"):
        pad = draw(st.sampled_from(["", " "]))
        trailing = "," if items and draw(st.booleans()) else ""
        return f"[{pad}{', '.join(items)}{trailing}{pad}]"
    indent = draw(st.sampled_from(["    ", "  ", "\t", ""]))
    if style == "hanging":
        joined = (",\n" + indent).join(items)
        closing = draw(st.sampled_from(["]", ",\n]", "\n]"]))
        return f"[{joined}{closing}"
    lines = ["[" + draw(st.sampled_from(["", " # open"]))]
    for index, item in enumerate(items):
        comma = "," if index < len(items) - 1 or draw(st.booleans()) else ""
        lines.append(indent + item + comma + draw(st.sampled_from(["", "  # c"])))
        if draw(st.booleans()):
            lines.append(indent + draw(COMMENTS))
    return "\n".join(lines) + "\n" + draw(st.sampled_from(["]", "  ]"]))


@st.composite
def pyprojects(draw: st.DrawFn) -> str:
    variant = draw(
        st.sampled_from(
            [
                "absent",
                "table-no-key",
                "table-empty",
                "table-key",
                "tool-dotted",
                "tool-dotted-no-key",
                "root-dotted",
                "sources-only",
            ]
        )
    )
    parts: list[str] = []
    if draw(st.booleans()):
        parts.append(draw(COMMENTS))
    if variant == "root-dotted":
        parts.append("tool.uv.constraint-dependencies = " + draw(arrays()))
    if draw(st.booleans()):
        parts.append('[project]\nname = "demo"\ndependencies = ["a", "b"]')
    if variant == "table-no-key":
        parts.append(
            "[tool.uv] # settings\npackage = false" + draw(st.sampled_from(["", "\n# trailing comment", "\n\n"]))
        )
    elif variant == "table-empty":
        parts.append("[tool.uv]")
    elif variant == "table-key":
        before = draw(st.sampled_from(["", "package = false\n", "# lead\n"]))
        after = draw(st.sampled_from(["", "\nno-build = true", "  # after"]))
        parts.append(f"[tool.uv]\n{before}constraint-dependencies = {draw(arrays())}{after}")
    elif variant == "tool-dotted":
        parts.append("[tool]\nuv.constraint-dependencies = " + draw(arrays()))
    elif variant == "tool-dotted-no-key":
        parts.append("[tool]\nuv.package = false\nblack.line-length = 88")
    elif variant == "sources-only":
        parts.append("[tool.uv.sources]\nx = { workspace = true }")
    if variant.startswith("table") and draw(st.booleans()):
        parts.append("[tool.uv.sources]\ny = { path = 'y' }")
    if draw(st.booleans()):
        parts.append("[tool.ruff]\nline-length = 88")
    if draw(st.booleans()):
        parts.append(draw(COMMENTS))
    separators = draw(st.lists(st.sampled_from(["\n", "\n\n"]), min_size=len(parts), max_size=len(parts)))
    text = "".join(part + sep for part, sep in zip(parts, separators))
    if draw(st.booleans()):
        text = text.rstrip("\n")
    endings = draw(st.sampled_from(["lf", "crlf", "mixed"]))
    if endings == "crlf":
        text = text.replace("\n", "\r\n")
    elif endings == "mixed":
        flips = draw(st.lists(st.booleans(), min_size=text.count("\n"), max_size=text.count("\n")))
        pieces = text.split("\n")
        text = pieces[0] + "".join(("\r\n" if flip else "\n") + piece for flip, piece in zip(flips, pieces[1:]))
    return ("\ufeff" if draw(st.booleans()) else "") + text


PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(text=pyprojects(), first=exclusion_lists(min_size=1), second=exclusion_lists())
def test_properties_of_apply_and_remove(text: str, first: list[Exclusion], second: list[Exclusion]) -> None:
    edit = check_apply(text, first)
    # history independence: re-applying another list equals applying it to the original
    again = pyproject.apply(edit.text, second)
    assert again.text == pyproject.apply(text, second).text
    assert again.previous == tuple(e.requirement for e in first) and not again.hand_edited


@PROPERTY_SETTINGS
@given(text=pyprojects(), first=exclusion_lists(min_size=2), second=exclusion_lists(min_size=1), how=st.integers(0, 2))
def test_hand_edits_inside_the_block_are_overwritten(
    text: str, first: list[Exclusion], second: list[Exclusion], how: int
) -> None:
    applied = pyproject.apply(text, first).text
    lines = applied.splitlines(keepends=True)
    entry = next(i for i, line in enumerate(lines) if BEGIN in line) + 1
    if how == 0:
        lines[entry] = " " + lines[entry]
    elif how == 1:
        lines[entry] = lines[entry].replace("  # ", "  #  ", 1)
    else:
        lines.insert(entry, lines[entry].replace(lines[entry].strip(), "# a note of mine"))
    edit = pyproject.apply("".join(lines), second)
    assert edit.hand_edited
    assert edit.text == pyproject.apply(text, second).text
