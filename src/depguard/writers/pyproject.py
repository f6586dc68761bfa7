"""The uv target: depguard's block inside ``[tool.uv] constraint-dependencies`` of a pyproject.toml.

The file belongs to the user, so the edit is a splice: tomlkit parses the document (to know what
it means, and to check the result), a span scanner says where the array is, and only the bytes of
depguard's region change. Every result is re-parsed and must equal the original document with
nothing but ``tool.uv.constraint-dependencies`` changed, or the writer refuses
(:class:`~depguard.errors.UnsafeEditError`) and returns nothing.

Shapes, and what ``apply`` does with them:

* a multi-line array: the block goes on whole lines after the last user item, at the last line
  start where the previous token is ``[`` or ``,``. When the last user item has no trailing
  comma the block goes *before* that item's line instead of adding a comma: an added comma could
  not be told apart from one the user wrote, so ``remove`` could not restore the bytes.
* a one-line array whose last item has no trailing comma (``["numpy<2", "urllib3>=2"]``, common
  in public repos): the *tail* form. The user's items stay on their line, in their order; depguard adds ``,  # >>> ...``
  after the last one, its entries and end marker on lines of their own, and the ``]`` (with
  whatever followed it) moves to the line after the end marker. The comma, the marker and the
  lines up to the end marker are depguard's bytes: ``remove`` takes exactly them away, so the
  line gets its ``]`` back. A begin marker right after ``<item>,`` on the line of the array's
  ``[`` appears in no other form, so reading the block back is never ambiguous.
* an empty one-line array (``[]``), one that ends in a comma (``["a<2",]``), or any other array
  without a free line start: the *head* form. The begin marker becomes a trailing comment of the ``[`` line, followed by the entries
  and the end marker; any user items continue on the next line (indented like the entries),
  and ``remove`` joins the line back exactly. (The tail form cannot serve a trailing comma:
  ``"a<2",  # >>> ...`` would read as if depguard had added that comma.)
* the key missing from an existing ``[tool.uv]`` table (or from a table whose ``uv.`` dotted keys
  define tool.uv): a ``constraint-dependencies`` key is added after the table's last statement;
  no ``[tool.uv]`` anywhere: a table is appended at the end of the file. Such added scaffolding
  carries the comment ``# added by depguard`` so ``remove`` can take it away without mistaking a
  user's own empty array or table for it.
* refused: ``tool``/``tool.uv`` as inline tables, ``[[tool.uv]]``, the key holding a non-array
  value or a table, markers in the wrong place or order, and any edit whose re-parse differs.

``apply(text, [])`` is ``remove(text)``: once every advisory is withdrawn, nothing depguard added
stays behind.

Large blocks (a feed the size of ossf/malicious-packages compiles to thousands of exclusions) are
analyzed without making tomlkit parse them: see :func:`_fast_analysis`. It reaches the same
verdict as the full analysis or steps aside, so every edit and every refusal is the same.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import tomlkit
from tomlkit.exceptions import ParseError, TOMLKitError

from depguard.errors import ProjectError, UnsafeEditError
from depguard.exclusions import Exclusion
from depguard.writers._tomlspan import ArraySpan, KeyValue, Scan, ScanError, Token, scan
from depguard.writers.block import (
    BEGIN_MARKER,
    END_MARKER,
    BlockEdit,
    entry_parts,
    is_begin_marker,
    is_end_marker,
    line_number,
    looks_rendered,
    newline_before,
    newline_of_line,
    pair_markers,
    refuse_lone_cr,
    refuse_oversized,
    split_bom,
)

__all__ = ["CREATED_MARK", "TARGET", "BlockEdit", "apply", "read_block", "remove"]

TABLE = ("tool", "uv")
KEY = "constraint-dependencies"
TARGET = TABLE + (KEY,)
#: Trailing comment on a key or table header that depguard had to create around its block.
CREATED_MARK = "# added by depguard"
_WHERE = "pyproject.toml"
_DEFAULT_INDENT = "    "
_NEWLINES = ("\n", "\r\n")
#: A basic or literal string of printable ASCII without quotes or backslashes: its value is the
#: text between the quotes in TOML (and in tomlkit), so reading it needs no parser.
_PLAIN_STRING = re.compile(r"\"[ !#-\[\]-~]*\"|'[ -&(-\[\]-~]*'")
#: Where the block sits in the array: on whole lines, after ``[`` on its line, or after the
#: user's last item on its line (see the module docstring).
Form = Literal["line", "head", "tail"]
#: The bytes before the begin marker that are depguard's in the head form (after the user's
#: ``[``) and in the tail form (the separator after the user's last item).
_FORM_LEAD = {"head": "  ", "tail": ",  "}


@dataclass(frozen=True)
class _Block:
    """depguard's region inside the target array.

    ``start``/``end`` delimit the bytes depguard owns: whole lines in the line form, everything
    after ``[`` up to the end marker's newline in the head form, the added comma up to the end
    marker's newline in the tail form. ``before``/``values`` count array values before and
    inside the region, to predict the parsed array after an edit.
    """

    form: Form
    start: int
    end: int
    indent: str
    newline: str
    before: int
    values: int
    requirements: tuple[str, ...]
    hand_edited: bool
    uncomma_line: int | None  # line of a user item right before the block that lacks its comma


@dataclass(frozen=True)
class _Analysis:
    """What a document means and where its parts are.

    ``scan`` and ``target`` (offsets in ``body``) only serve to place a block that does not exist
    yet; the fast analysis, which only accepts documents that have a block, leaves them None.
    """

    body: str
    data: dict[str, Any]
    scan: Scan | None
    target: KeyValue | None
    block: _Block | None
    problem: str | None  # why apply must refuse; remove and read_block do not need to


# -- public API ----------------------------------------------------------------------------


def apply(text: str, exclusions: Sequence[Exclusion]) -> BlockEdit:
    """Make the block hold exactly ``exclusions`` (in the given order); ``[]`` means :func:`remove`."""
    entries = [entry_parts(exclusion) for exclusion in exclusions]
    refuse_oversized(text, _WHERE)
    bom, body = split_bom(text)
    analysis = _analyze(body)
    block = analysis.block
    previous = block.requirements if block else ()
    hand_edited = block.hand_edited if block else False
    if not entries:
        new_body, expected, pruned = _removal(analysis)
        if new_body != body:
            _verify(new_body, expected, (), prune=pruned, known=analysis)
        return BlockEdit(bom + new_body, previous, hand_edited)
    if analysis.problem:
        raise UnsafeEditError(analysis.problem)
    new_body, before, replaced, created_key, created_table = _splice(analysis, entries)
    requirements = tuple(requirement for requirement, _ in entries)
    expected = _with_items(analysis.data, before, replaced, requirements)
    _verify(new_body, expected, requirements, prune=False, known=analysis)
    return BlockEdit(bom + new_body, previous, hand_edited, created_key, created_table)


def remove(text: str) -> str:
    """The text without depguard's block and without the key/table depguard added for it."""
    bom, body = split_bom(text)
    if "depguard" not in body:
        return text
    analysis = _analyze(body)
    new_body, expected, pruned = _removal(analysis)
    if new_body == body:
        return text
    _verify(new_body, expected, (), prune=pruned, known=analysis)
    return bom + new_body


def read_block(text: str) -> tuple[str, ...] | None:
    """The requirement strings inside depguard's block, or None when there is no block."""
    _, body = split_bom(text)
    if "depguard" not in body:
        return None
    block = _analyze(body).block
    return block.requirements if block else None


# -- analysis ------------------------------------------------------------------------------


def _parse(body: str) -> dict[str, Any]:
    """The document's plain value; malformed TOML is a ProjectError naming line and column."""
    try:
        return tomlkit.parse(body).unwrap()
    except ParseError as error:
        raise ProjectError(f"{_WHERE} is not valid TOML (line {error.line}, column {error.col}): {error}") from None
    except TOMLKitError as error:
        raise ProjectError(f"{_WHERE} is not valid TOML: {error}") from None


def _analyze(body: str) -> _Analysis:
    """The document's meaning and layout: the fast analysis when it applies, else the full one."""
    return _fast_analysis(body) or _full_analysis(body)


def _full_analysis(body: str, data: dict[str, Any] | None = None) -> _Analysis:
    """tomlkit's reading of the whole document plus the scanner's offsets; the reference."""
    if data is None:
        data = _parse(body)
    refuse_lone_cr(body, _WHERE)
    try:
        spans = scan(body)
    except ScanError as error:
        raise UnsafeEditError(f"{_WHERE}: cannot locate statements precisely ({error}); not editing") from None
    target, problem = _locate(body, data, spans)
    return _Analysis(body, data, spans, target, _find_block(body, spans, target), problem)


def _locate(body: str, data: dict[str, Any], spans: Scan) -> tuple[KeyValue | None, str | None]:
    """The target statement, if any, and the first reason the shape cannot be edited."""
    problems: list[str] = []
    for kv in spans.keyvalues:
        if kv.path in (("tool",), TABLE):
            problems.append(
                f"{_WHERE}: {'.'.join(kv.path)} is an inline table or a plain value (line {line_number(body, kv.start)}); "
                "depguard only edits a [tool.uv] table (or dotted tool.uv keys)"
            )
        elif kv.path[: len(TARGET)] == TARGET and len(kv.path) > len(TARGET):
            problems.append(f"{_WHERE}: tool.uv.{KEY} is a table (line {line_number(body, kv.start)}), not an array")
    for header in spans.headers:
        if header.path in (("tool",), TABLE) and header.is_array:
            problems.append(
                f"{_WHERE}: [[{'.'.join(header.path)}]] is an array of tables (line {line_number(body, header.start)})"
            )
        elif header.path[: len(TARGET)] == TARGET:
            problems.append(
                f"{_WHERE}: tool.uv.{KEY} is a table (line {line_number(body, header.start)}), not an array"
            )
    if len([h for h in spans.headers if h.path == TABLE]) > 1:
        problems.append(f"{_WHERE}: [tool.uv] is defined more than once")
    targets = [kv for kv in spans.keyvalues if kv.path == TARGET]
    target = targets[0] if len(targets) == 1 else None
    if len(targets) > 1:
        problems.append(f"{_WHERE}: tool.uv.{KEY} is defined more than once")
    if target is not None and target.array is None:
        problems.append(
            f"{_WHERE}: tool.uv.{KEY} (line {line_number(body, target.start)}) is not an array; fix it by hand"
        )
    present, value = _lookup(data)
    if present != (target is not None) and not problems:
        problems.append(f"{_WHERE}: cannot locate tool.uv.{KEY} unambiguously; not editing")
    if present and not isinstance(value, list) and not problems:
        problems.append(f"{_WHERE}: tool.uv.{KEY} is not an array; fix it by hand")
    return target, (problems[0] if problems else None)


def _lookup(data: dict[str, Any]) -> tuple[bool, Any]:
    tool = data.get("tool")
    uv = tool.get("uv") if isinstance(tool, dict) else None
    if isinstance(uv, dict) and KEY in uv:
        return True, uv[KEY]
    return False, None


def _find_block(body: str, spans: Scan, target: KeyValue | None) -> _Block | None:
    """Locate and check depguard's markers; refuse any placement that is not exactly one block."""
    markers = [
        (comment, is_begin_marker(body[comment.start : comment.end]))
        for comment in spans.comments
        if is_begin_marker(body[comment.start : comment.end]) or is_end_marker(body[comment.start : comment.end])
    ]
    if not markers:
        return None
    array = target.array if target is not None else None
    tokens = array.tokens if array is not None else ()
    index_of = {token.start: i for i, token in enumerate(tokens) if token.kind == "comment"}
    for comment, _ in markers:
        if comment.start not in index_of:
            raise UnsafeEditError(
                f"{_WHERE}: depguard marker at line {line_number(body, comment.start)} is not directly inside "
                f"tool.uv.{KEY}; move the block there or delete it by hand"
            )
    pair = pair_markers([(is_begin, line_number(body, c.start)) for c, is_begin in markers], _WHERE)
    assert pair is not None and array is not None
    begin = index_of[markers[pair.begin][0].start]
    end = index_of[markers[pair.end][0].start]
    return _block_at(body, array, begin, end)


def _block_at(body: str, array: ArraySpan, begin: int, end: int) -> _Block:
    tokens = array.tokens
    before_begin = _previous_non_ws(tokens, begin)
    form = _form_before(tokens, before_begin)
    if form is None:
        raise UnsafeEditError(
            f"{_WHERE}: depguard begin marker at line {line_number(body, tokens[begin].start)} shares its line "
            "with an array item; put it on its own line"
        )
    before_end = _previous_non_ws(tokens, end)
    if before_end == -1 or tokens[before_end].kind != "nl":
        raise UnsafeEditError(
            f"{_WHERE}: depguard end marker at line {line_number(body, tokens[end].start)} must be on its own line"
        )
    newline = body[tokens[begin + 1].start : tokens[begin + 1].end]
    if form == "line":
        start = tokens[before_begin].end
        indent = body[start : tokens[begin].start]
    else:
        start = array.open + 1 if form == "head" else tokens[before_begin].start
        indent = body[tokens[before_end].end : tokens[end].start]
    stop = tokens[end + 1].end
    inside = [i for i in range(begin + 1, end) if tokens[i].kind == "value"]
    entries = [(_string_value(body, tokens[i]), _trailing_comment(body, tokens, i)) for i in inside]
    requirements = tuple(value for value, _ in entries if value is not None)
    canonical = _render([(value or "", comment or "") for value, comment in entries], indent, newline, form=form)
    hand_edited = body[start:stop] != canonical or not all(looks_rendered(v, c) for v, c in entries)
    before = sum(1 for token in tokens[:begin] if token.kind == "value")
    significant = [token for token in tokens[:begin] if token.kind in ("value", "comma")]
    uncomma = line_number(body, significant[-1].start) if significant and significant[-1].kind == "value" else None
    return _Block(form, start, stop, indent, newline, before, len(inside), requirements, hand_edited, uncomma)


def _form_before(tokens: Sequence[Token], before_begin: int) -> Form | None:
    """The block's form, from what precedes the begin marker on its line (None: refused)."""
    if before_begin == -1:
        return "head"
    kind = tokens[before_begin].kind
    if kind == "nl":
        return "line"
    if kind == "comma" and not any(token.kind == "nl" for token in tokens[:before_begin]):
        item = _previous_non_ws(tokens, before_begin)
        if item >= 0 and tokens[item].kind == "value":
            return "tail"  # only ever written into an array that was one line: never a hand-placed marker
    return None


def _previous_non_ws(tokens: Sequence[Token], index: int) -> int:
    index -= 1
    while index >= 0 and tokens[index].kind == "ws":
        index -= 1
    return index


def _string_value(body: str, token: Token) -> str | None:
    raw = body[token.start : token.end]
    if raw[:1] not in ("'", '"'):
        return None
    if _PLAIN_STRING.fullmatch(raw):  # what depguard writes: no escapes, so the text is the value
        return raw[1:-1]
    try:
        value = tomlkit.value(raw)
    except TOMLKitError:
        return None
    return str(value) if isinstance(value, str) else None


def _trailing_comment(body: str, tokens: Sequence[Token], index: int) -> str | None:
    """The text of the ``# ...`` comment on the same line after an entry, without ``# ``."""
    for position in range(index + 1, len(tokens)):  # not a slice: that copies the rest per entry
        token = tokens[position]
        if token.kind in ("ws", "comma"):
            continue
        if token.kind == "comment":
            text = body[token.start : token.end]
            return text[2:] if text.startswith("# ") else None
        return None
    return None


# -- fast analysis -------------------------------------------------------------------------


def _fast_analysis(body: str) -> _Analysis | None:
    """The full analysis of a document that holds a canonical block, without parsing the block.

    tomlkit needs about 40 us per array item, so a block of thousands of exclusions made every
    sync spend most of its time re-reading depguard's own lines. Here the block's lines (exactly
    as :func:`_render` writes them, every entry passing the writer's own checks) are replaced by
    one line holding a sentinel string, and the full analysis runs on that small document.

    Both readers (tomlkit and the scanner) go through a text left to right, and nothing before a
    line start (or an array's ``[``) depends on what follows it. If the small document reads as
    valid with the sentinel as element ``before`` of tool.uv.constraint-dependencies, both were
    inside that array, between items, where the sentinel line began; the block's lines there read
    as comments and the entries' strings and leave them in the same state, so the whole document
    reads the same with the entries in place of the sentinel. The sentinel is a hash of the rest
    of the document, so no string elsewhere in it (escape sequences included) can spell it: the
    element tomlkit read can only come from the sentinel line. Anything else (no block or a
    hand-edited one, other markers, a refusal, an error, a scanner that disagrees with tomlkit)
    returns None: the full analysis then decides and words it.
    """
    found = _canonical_region(body)
    if found is None:
        return None
    start, stop, indent, newline, form, requirements = found
    rest = body[:start] + body[stop:]
    sentinel = "depguard-sentinel-" + hashlib.sha256(rest.encode("utf-8", "surrogatepass")).hexdigest()
    lead = {"line": indent, "head": "", "tail": ","}[form]
    small = body[:start] + f'{lead}"{sentinel}",{newline}' + body[stop:]
    try:
        analysis = _full_analysis(small)
    except ProjectError:
        return None
    if analysis.problem or analysis.block is not None or analysis.target is None or analysis.target.array is None:
        return None
    tokens = analysis.target.array.tokens
    at = start + len(lead)
    index = next((i for i, t in enumerate(tokens) if t.kind == "value" and t.start == at), None)
    if index is None or tokens[index].end != at + len(sentinel) + 2:
        return None
    if _form_before(tokens, _previous_non_ws(tokens, index)) != form:
        return None
    before = sum(1 for token in tokens[:index] if token.kind == "value")
    items = _lookup(analysis.data)[1]
    if before >= len(items) or items[before] != sentinel:
        return None
    items[before : before + 1] = requirements
    significant = [token for token in tokens[:index] if token.kind in ("value", "comma")]
    uncomma = line_number(small, significant[-1].start) if significant and significant[-1].kind == "value" else None
    block = _Block(form, start, stop, indent, newline, before, len(requirements), requirements, False, uncomma)
    return _Analysis(body, analysis.data, None, None, block, None)


#: One entry line of a rendered block, after its indentation.
_ENTRY_LINE = re.compile(r'"([^"\\]*)",  # (.*)')


def _canonical_region(body: str) -> tuple[int, int, str, str, Form, tuple[str, ...]] | None:
    """``(start, stop, indent, newline, form, requirements)`` of the first begin marker's block,
    if its bytes are exactly what :func:`_render` makes of entries that pass the writer's checks."""
    begin = body.find(BEGIN_MARKER)
    if begin == -1:
        return None
    line_start = body.rfind("\n", 0, begin) + 1
    form: Form = "line"
    if body[line_start:begin].strip(" \t"):
        if body[begin - 3 : begin] == "[  ":
            form = "head"
        elif body[begin - 3 : begin] == ",  ":
            form = "tail"
        else:
            return None
        start = begin - len(_FORM_LEAD[form])
    elif line_start == 0:
        return None
    else:
        start = line_start
    after = begin + len(BEGIN_MARKER)
    newline = "\r\n" if body.startswith("\r\n", after) else "\n" if body.startswith("\n", after) else ""
    end = body.find(END_MARKER, after)
    if not newline or end == -1 or not body.startswith(newline, end + len(END_MARKER)):
        return None
    end_line = body.rfind("\n", 0, end) + 1
    indent = body[end_line:end] if form != "line" else body[line_start:begin]
    if indent.strip(" \t"):
        return None
    lines = body[after + len(newline) : end_line].split(newline)[:-1]
    entries = []
    for text in lines:
        match = _ENTRY_LINE.fullmatch(text, len(indent)) if text.startswith(indent) else None
        if match is None or not looks_rendered(match[1], match[2]):
            return None
        entries.append((match[1], match[2]))
    stop = end + len(END_MARKER) + len(newline)
    if body[start:stop] != _render(entries, indent, newline, form=form):
        return None
    return start, stop, indent, newline, form, tuple(requirement for requirement, _ in entries)


# -- rendering -----------------------------------------------------------------------------


def _render(entries: Sequence[tuple[str, str]], indent: str, newline: str, *, form: Form) -> str:
    """The bytes depguard owns: whole lines; (head) everything after ``[`` to the end marker
    line; (tail) the comma after the user's last item to the end marker line."""
    lines = "".join(f'{indent}"{requirement}",  # {comment}{newline}' for requirement, comment in entries)
    lead = indent if form == "line" else _FORM_LEAD[form]
    return f"{lead}{BEGIN_MARKER}{newline}{lines}{indent}{END_MARKER}{newline}"


def _created_statement(key: str, entries: Sequence[tuple[str, str]], newline: str) -> str:
    block = _render(entries, _DEFAULT_INDENT, newline, form="line")
    return f"{key} = [  {CREATED_MARK}{newline}{block}]"


def _created_header(newline: str) -> str:
    return f"[{'.'.join(TABLE)}]  {CREATED_MARK}{newline}"


# -- apply ---------------------------------------------------------------------------------


def _splice(analysis: _Analysis, entries: Sequence[tuple[str, str]]) -> tuple[str, int, int, bool, bool]:
    """``(new_body, values_before_block, values_replaced, created_key, created_table)``."""
    body, block, target = analysis.body, analysis.block, analysis.target
    if block is not None:
        if block.uncomma_line is not None:
            raise UnsafeEditError(
                f"{_WHERE}: the item at line {block.uncomma_line}, just before the depguard block, has no trailing comma; add one"
            )
        rendered = _render(entries, block.indent, block.newline, form=block.form)
        return body[: block.start] + rendered + body[block.end :], block.before, block.values, False, False
    if target is not None and target.array is not None:
        return _insert_into_array(body, target.array, entries) + (False, False)
    return _create(analysis, entries)


def _insert_into_array(body: str, array: ArraySpan, entries: Sequence[tuple[str, str]]) -> tuple[str, int, int]:
    line_start = _last_free_line_start(array.tokens)
    if line_start is not None:
        pos = line_start.end
        newline = body[line_start.start : line_start.end]
        chunk = _render(entries, _item_indent(body, array.tokens, pos), newline, form="line")
    else:
        newline = newline_of_line(body, array.open) or newline_before(body, array.open)
        significant = [token for token in array.tokens if token.kind in ("value", "comma")]
        one_line = not any(token.kind == "nl" for token in array.tokens)
        if one_line and significant and significant[-1].kind == "value":  # the user's items stay on their line
            pos = significant[-1].end
            chunk = _render(entries, _DEFAULT_INDENT, newline, form="tail")
        else:
            pos = array.open + 1
            chunk = _render(entries, _DEFAULT_INDENT, newline, form="head")
            if body[pos:].lstrip(" \t")[:1] != "]":
                chunk += _DEFAULT_INDENT  # the user's items continue on the next line, indented
    before = sum(1 for token in array.tokens if token.kind == "value" and token.start < pos)
    return body[:pos] + chunk + body[pos:], before, 0


def _last_free_line_start(tokens: Sequence[Token]) -> Token | None:
    """The last newline inside the array after which whole lines of entries can go.

    That is a newline whose previous significant token is ``[`` or ``,``: entries all end with a
    comma, so whatever follows them (an item or ``]``) stays valid, and no comma has to be added
    to a user's item.
    """
    best, previous = None, None
    for token in tokens:
        if token.kind == "nl" and previous != "value":
            best = token
        elif token.kind in ("comma", "value"):
            previous = token.kind
    return best


def _item_indent(body: str, tokens: Sequence[Token], pos: int) -> str:
    """Indentation of the user's items: the last line-starting item before ``pos``, else the first."""
    found: list[tuple[int, str]] = []
    for index, token in enumerate(tokens):
        if token.kind != "value":
            continue
        previous, indent = index - 1, ""
        if previous >= 0 and tokens[previous].kind == "ws":
            indent = body[tokens[previous].start : tokens[previous].end]
            previous -= 1
        if previous >= 0 and tokens[previous].kind == "nl":
            found.append((token.start, indent))
    earlier = [indent for start, indent in found if start < pos]
    if earlier:
        return earlier[-1]
    return found[0][1] if found else _DEFAULT_INDENT


def _create(analysis: _Analysis, entries: Sequence[tuple[str, str]]) -> tuple[str, int, int, bool, bool]:
    body = analysis.body
    site = _creation_site(analysis)
    if site is None:
        newline = newline_before(body, len(body))
        table = _created_header(newline) + _created_statement(KEY, entries, newline) + newline
        return body + (newline if body else "") + table, 0, 0, True, True
    pos, key = site
    newline = newline_before(body, pos)
    statement = _created_statement(key, entries, newline)
    if pos == len(body) and body and not body.endswith("\n"):
        return body + newline + statement, 0, 0, True, False
    return body[:pos] + statement + newline + body[pos:], 0, 0, True, False


def _creation_site(analysis: _Analysis) -> tuple[int, str] | None:
    """Where a new key goes (after the last statement of the table defining tool.uv) and its
    dotted spelling there; None when no table defines tool.uv and a new one must be appended."""
    spans = analysis.scan
    if spans is None:  # only the fast analysis leaves it out, and it only accepts documents with a block
        raise UnsafeEditError(f"{_WHERE}: cannot locate statements precisely; not editing")
    headers = [i for i, header in enumerate(spans.headers) if header.path == TABLE and not header.is_array]
    if headers:
        region, key = headers[0], KEY
    else:
        dotted = [kv for kv in spans.keyvalues if kv.path[:2] == TABLE and len(_header_path(spans, kv)) < 2]
        if not dotted:
            return None
        if len({kv.header for kv in dotted}) != 1:
            raise UnsafeEditError(f"{_WHERE}: tool.uv is defined by dotted keys in more than one table")
        region = dotted[0].header
        key = ".".join(TABLE[len(_header_path(spans, dotted[0])) :] + (KEY,))
    statements = [kv for kv in spans.keyvalues if kv.header == region]
    if statements:
        return statements[-1].line_end, key
    return spans.headers[region].line_end, key


def _header_path(spans: Scan, kv: KeyValue) -> tuple[str, ...]:
    return spans.headers[kv.header].path if kv.header >= 0 else ()


def _with_items(data: dict[str, Any], before: int, replaced: int, requirements: tuple[str, ...]) -> dict[str, Any]:
    """The document the edit must produce: only the target array differs."""
    expected = _copy_to_target(data)
    uv = expected.setdefault("tool", {}).setdefault("uv", {})
    old = list(uv.get(KEY, []))
    uv[KEY] = old[:before] + list(requirements) + old[before + replaced :]
    return expected


def _copy_to_target(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with new objects for the tables on the way to the target array and for the array.

    The expected document of an edit differs from ``data`` only there, and nothing else of it
    is ever changed, so the rest is shared instead of deep-copied for every file.
    """
    expected = dict(data)
    tool = expected.get("tool")
    if isinstance(tool, dict):
        tool = expected["tool"] = dict(tool)
        uv = tool.get("uv")
        if isinstance(uv, dict):
            uv = tool["uv"] = dict(uv)
            if isinstance(uv.get(KEY), list):
                uv[KEY] = list(uv[KEY])
    return expected


# -- remove --------------------------------------------------------------------------------


def _removal(analysis: _Analysis) -> tuple[str, dict[str, Any], bool]:
    """``(new_body, expected_document, scaffolding_removed)`` with depguard's bytes taken out."""
    body, expected = analysis.body, _copy_to_target(analysis.data)
    block = analysis.block
    if block is not None:
        if not _lookup(expected)[0]:
            raise UnsafeEditError(
                analysis.problem or f"{_WHERE}: cannot locate tool.uv.{KEY} unambiguously; not editing"
            )
        stop = block.end
        rest = body[stop:]
        if block.form == "head" and rest.lstrip(" \t")[:1] != "]" and rest.startswith(block.indent):
            stop += len(block.indent)
        body = body[: block.start] + body[stop:]
        del expected["tool"]["uv"][KEY][block.before : block.before + block.values]
    if CREATED_MARK not in body:
        return body, expected, False
    body, removed = _remove_created(body)
    if removed:
        expected["tool"]["uv"].pop(KEY, None)
    return body, expected, removed


def _remove_created(body: str) -> tuple[str, bool]:
    """Drop a marked key whose array is empty, then a marked ``[tool.uv]`` left empty at the end."""
    try:
        spans = scan(body)
    except ScanError as error:
        raise UnsafeEditError(f"{_WHERE}: cannot locate statements precisely ({error}); not editing") from None
    targets = [kv for kv in spans.keyvalues if kv.path == TARGET]
    if len(targets) != 1:
        return body, False
    cut = _created_key_span(body, targets[0])
    if cut is None:
        return body, False
    body = body[: cut[0]] + body[cut[1] :]
    headers = [header for header in scan(body).headers if header.path == TABLE]
    if len(headers) == 1:
        start = headers[0].start
        if body[start:] in {_created_header(nl) for nl in _NEWLINES} and (start == 0 or body[start - 1] == "\n"):
            body = body[: start - len(_newline_ending(body, start))]
    return body, True


def _created_key_span(body: str, kv: KeyValue) -> tuple[int, int] | None:
    """The bytes apply added for a key, if ``kv`` is that key and its array is now empty."""
    value = body[kv.value_start : kv.value_end]
    if value not in {f"[  {CREATED_MARK}{nl}]" for nl in _NEWLINES} or body[kv.key_end : kv.value_start] != " = ":
        return None
    if kv.start > 0 and body[kv.start - 1] != "\n":
        return None
    after = kv.value_end
    for newline in ("\r\n", "\n"):
        if body.startswith(newline, after):
            return kv.start, after + len(newline)
    if after == len(body):
        return kv.start - len(_newline_ending(body, kv.start)), after
    return None


def _newline_ending(body: str, offset: int) -> str:
    """The line ending that ends just before ``offset`` ("" at the start of the text)."""
    if body[:offset].endswith("\r\n"):
        return "\r\n"
    return "\n" if body[:offset].endswith("\n") else ""


# -- verification --------------------------------------------------------------------------


def _verify(
    new_body: str, expected: dict[str, Any], requirements: tuple[str, ...], *, prune: bool, known: _Analysis
) -> None:
    """Refuse unless the new text parses to ``expected`` and holds a canonical block of ``requirements``.

    ``known`` is the analysis of the text before the edit: an unchanged text is not read again
    (the same text reads the same), and an edited one goes through :func:`_fast_analysis` first.
    """
    reread = known if new_body == known.body else _fast_analysis(new_body)
    if reread is not None:
        actual, block = reread.data, reread.block
    else:
        try:
            actual = tomlkit.parse(new_body).unwrap()
        except TOMLKitError as error:
            raise UnsafeEditError(f"{_WHERE}: the edit would not parse ({error}); not editing") from None
        block = None
    if prune:
        _prune_empty(expected, actual)
    if not _same(actual, expected):
        raise UnsafeEditError(f"{_WHERE}: the edit would change more than tool.uv.{KEY}; not editing")
    if reread is None:
        block = _full_analysis(new_body, actual).block
    if requirements:
        if block is None or block.requirements != requirements or block.hand_edited:
            raise UnsafeEditError(f"{_WHERE}: the edited block does not read back as written; not editing")
    elif block is not None:
        raise UnsafeEditError(f"{_WHERE}: the block is still present after removal; not editing")


def _prune_empty(expected: dict[str, Any], actual: dict[str, Any]) -> None:
    """Drop tool.uv / tool from ``expected`` when removing depguard's key left them empty and gone."""
    tool = expected.get("tool")
    if not isinstance(tool, dict):
        return
    actual_tool = actual.get("tool")
    if tool.get("uv") == {} and not (isinstance(actual_tool, dict) and "uv" in actual_tool):
        del tool["uv"]
    if tool == {} and "tool" not in actual:
        del expected["tool"]


def _same(left: Any, right: Any) -> bool:
    """Structural equality where NaN equals NaN (a document with ``nan`` is still unchanged)."""
    if isinstance(left, dict):
        return isinstance(right, dict) and left.keys() == right.keys() and all(_same(left[k], right[k]) for k in left)
    if isinstance(left, list):
        return isinstance(right, list) and len(left) == len(right) and all(map(_same, left, right))
    if isinstance(left, float) and isinstance(right, float) and math.isnan(left) and math.isnan(right):
        return True
    return type(left) is type(right) and left == right
