"""The pyproject writer against real pyproject.toml files (the upstream compatibility corpus).

Each file either takes the block with every invariant intact, or is refused with nothing
returned; refusals must stay rare (at most one in ten) and are listed with their reasons.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT, Array, String

from depguard.errors import ProjectError
from depguard.exclusions import make_exclusion
from depguard.writers import pyproject
from depguard.writers.block import BEGIN_MARKER

EXCLUSIONS = [
    make_exclusion("litellm", ["!=1.82.7", "!=1.82.8"], ["x_DEPGUARD-2026-0001"]),
    make_exclusion("ultralytics", ["!=8.3.41", "!=8.3.42", "!=8.3.45", "!=8.3.46"], ["x_DEPGUARD-2024-0001"]),
]
REQUIREMENTS = tuple(e.requirement for e in EXCLUSIONS)
KEY = "constraint-dependencies"


def _listed_folders(corpus: Path) -> set[str]:
    lines = (corpus / "pyprojects" / "SOURCE.txt").read_text(encoding="utf-8").splitlines()
    return {line.split("\t")[0] for line in lines if line.strip() and not line.startswith("#")}


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_same(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(_same, left, right))
    if isinstance(left, float) and isinstance(right, float) and left != left and right != right:
        return True
    return type(left) is type(right) and left == right


def _split_target(text: str) -> tuple[dict[str, Any], list[Any]]:
    """The parsed document without tool.uv.constraint-dependencies (and tables it alone made), and that array."""
    data = copy.deepcopy(tomlkit.parse(text.lstrip("\ufeff")).unwrap())
    items: list[Any] = []
    tool = data.get("tool")
    if isinstance(tool, dict) and isinstance(tool.get("uv"), dict):
        items = list(tool["uv"].pop(KEY, []))
        if not tool["uv"]:
            del tool["uv"]
        if not tool:
            del data["tool"]
    return data, items


def _check_invariants(name: str, text: str, result: str) -> None:
    # (a) fixed point, (b) exact removal, (e) read back
    assert pyproject.apply(result, EXCLUSIONS).text == result, name
    assert pyproject.remove(result) == text, name
    assert pyproject.read_block(result) == REQUIREMENTS, name
    # (c) only the array changed: the user's items in order, ours contiguous
    old_data, old_items = _split_target(text)
    new_data, new_items = _split_target(result)
    assert _same(old_data, new_data), name
    size = len(REQUIREMENTS)
    assert any(
        tuple(new_items[i : i + size]) == REQUIREMENTS and new_items[:i] + new_items[i + size :] == old_items
        for i in range(len(new_items) - size + 1)
    ), name
    # bytes outside the region: the original is the result minus one contiguous slice
    prefix = 0
    while prefix < min(len(text), len(result)) and text[prefix] == result[prefix]:
        prefix += 1
    suffix = 0
    while suffix < len(text) - prefix and text[len(text) - 1 - suffix] == result[len(result) - 1 - suffix]:
        suffix += 1
    assert prefix + suffix == len(text), name
    assert result[prefix : len(result) - suffix].isascii(), name
    # (d) every original line is still a line: take the block's lines away (and give a one-line
    # array's line back the "]..." that moved below the end marker) and the original remains
    if pyproject.CREATED_MARK in result:  # a key or table of depguard's own: the original lines stay, in order
        new_lines = iter(result.splitlines())
        assert all(any(line == candidate for candidate in new_lines) for line in text.splitlines()), name
    else:
        assert _without_block_lines(result) == text.splitlines(), name
    assert BEGIN_MARKER in result, name


def _without_block_lines(result: str) -> list[str]:
    lines = result.splitlines()
    begin = next(i for i, line in enumerate(lines) if line.endswith(BEGIN_MARKER))
    end = next(i for i in range(begin, len(lines)) if lines[i].strip() == "# <<< depguard")
    lead = lines[begin][: -len(BEGIN_MARKER)]
    if not lead.strip():  # line form: whole lines of depguard's
        return lines[:begin] + lines[end + 1 :]
    if lead.endswith(",  "):  # tail form: the user's items stayed on their line
        return lines[:begin] + [lead[:-3] + lines[end + 1]] + lines[end + 2 :]
    assert lead.endswith("[  "), lead  # head form: the line was split after its "["
    return lines[:begin] + [lead[:-2] + lines[end + 1].lstrip(" ")] + lines[end + 2 :]


def test_corpus_pyprojects(upstream_corpus: Path) -> None:
    files = sorted((upstream_corpus / "pyprojects").glob("*/pyproject.toml"))
    assert {path.parent.name for path in files} == _listed_folders(upstream_corpus)
    edited: list[str] = []
    refused: list[tuple[str, str]] = []
    for path in files:
        name = path.parent.name
        text = path.read_bytes().decode("utf-8")
        try:
            edit = pyproject.apply(text, EXCLUSIONS)
        except ProjectError as error:  # UnsafeEditError is a ProjectError
            refused.append((name, f"{type(error).__name__}: {error}"))
            continue
        _check_invariants(name, text, edit.text)
        edited.append(name)
    print(f"\ncorpus: {len(edited)} edited, {len(refused)} refused of {len(files)}")
    for name, reason in refused:
        print(f"  refused {name}: {reason}")
    assert len(refused) * 10 <= len(files), refused


def _array_shapes(corpus: Path) -> dict[str, str]:
    """Every array of strings written in the corpus (any key), by its exact text: the shapes
    real people write (one line, hanging, trailing commas, comments), to try as the target.
    tomlkit keeps each array's text as written."""
    shapes: dict[str, str] = {}
    for path in sorted((corpus / "pyprojects").glob("*/pyproject.toml")):
        text = path.read_bytes().decode("utf-8").lstrip("\ufeff")
        try:
            document = tomlkit.parse(text)
        except TOMLKitError:
            continue
        for where, array in _arrays(document, ()):
            if len(array) and all(isinstance(value, String) for value in array):
                shapes.setdefault(array.as_string(), f"{path.parent.name}:{'.'.join(where)}")
    return shapes


def _arrays(table: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Array]]:
    """Every array in ``table`` and in the tables (inline, arrays of tables) inside it."""
    for key, item in table.items():
        where = (*path, key)
        if isinstance(item, Array):
            yield where, item
        elif isinstance(item, dict):
            yield from _arrays(item, where)
        elif isinstance(item, AoT):
            for inner in item:
                yield from _arrays(inner, where)


def test_every_array_shape_of_the_corpus_as_the_target(upstream_corpus: Path) -> None:
    """Issue 13: every array shape found in real files, as constraint-dependencies, takes the block
    with the user's items on their own lines in their order, bytes outside one region unchanged,
    and withdrawing everything restores the original bytes."""
    shapes = _array_shapes(upstream_corpus)
    one_line = [raw for raw in shapes if "\n" not in raw and not raw.rstrip("] ").endswith(",")]
    assert len(shapes) > 100 and len(one_line) > 20, (len(shapes), len(one_line))
    for raw, where in shapes.items():
        text = f'[project]\nname = "x"\n\n[tool.uv]\n{KEY} = {raw}  # keep me\npackage = false\n'
        try:
            edit = pyproject.apply(text, EXCLUSIONS)
        except ProjectError as error:
            raise AssertionError(f"{where}: refused {raw!r}: {error}") from None
        _check_invariants(where, text, edit.text)
        if raw in one_line:  # the user's line keeps its items and only loses its "]"
            first = next(line for line in edit.text.splitlines() if line.startswith(f"{KEY} = "))
            assert first == f"{KEY} = {raw[: raw.rindex(']')].rstrip(' ')},  {BEGIN_MARKER}", where
