"""A fast yes/no check of a bundled JSON Schema, compiled once to plain Python functions.

Why: jsonschema walks the schema anew for every instance (evolving validators, resolving
``$ref`` through the referencing library), which costs about a millisecond per OSV record:
20 seconds for a 20,000-record feed, and every ``sync`` of a published feed pays it again for
``index.json``. Almost every instance depguard checks is valid, and a valid instance has no
error messages to produce, so it only needs a verdict. This module turns a schema into one
Python function per schema node (generated source, ``exec``'d once per process) that answers
"valid?" in a few microseconds; :mod:`depguard.validation.schema` asks it first and runs jsonschema, the
reference implementation, only for instances it does not vouch for, to produce the messages.

Soundness is the point, speed the bonus:

* Only the keywords depguard's schemas use are compiled, each with jsonschema's own semantics
  for Draft 2020-12 (``re.search`` patterns, ``bool`` is not a number, ``1 == 1.0`` but
  ``True != 1`` in ``const``/``enum``/``uniqueItems``, ``format`` only where jsonschema's
  format checker has a checker). Any other keyword, a remote ``$ref`` or a nested ``$id``
  raises :class:`Unsupported` and the caller keeps using jsonschema for that schema.
* ``format: date-time`` is the very function jsonschema's checker calls
  (``rfc3339_validator``), behind a regex that only accepts what it accepts. ``format: uri`` depends on optional packages jsonschema may or may
  not find, so it is checked one-sidedly: a URI in a conservative subset of RFC 3986 passes,
  anything else is "not vouched for" and goes to jsonschema. One-sided checks are only allowed
  where a ``False`` cannot turn into a ``True`` (not under ``not``, ``oneOf`` or ``if``).

So the function returns True only for instances jsonschema also finds valid; the equivalence
is tested against jsonschema on the upstream corpus and on mutated records.
"""

from __future__ import annotations

import itertools
import numbers
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import unquote

__all__ = ["Unsupported", "compile_schema", "date_time", "json_equal", "json_unique"]

Check = Callable[[Any], bool]

#: Keywords that only annotate (never change a verdict) in Draft 2020-12.
_ANNOTATIONS = frozenset(
    {
        "$schema",
        "$comment",
        "title",
        "description",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
        "$defs",
    }
)
#: Keywords this compiler implements; anything else makes the schema :class:`Unsupported`.
_KEYWORDS = frozenset(
    {
        "type",
        "enum",
        "const",
        "pattern",
        "minLength",
        "maxLength",
        "minItems",
        "minimum",
        "uniqueItems",
        "required",
        "properties",
        "additionalProperties",
        "items",
        "contains",
        "allOf",
        "oneOf",
        "not",
        "if",
        "then",
        "else",
        "dependentSchemas",
        "$ref",
        "format",
    }
)
_TYPE_TESTS = {
    "object": "isinstance({x}, dict)",
    "array": "isinstance({x}, list)",
    "string": "isinstance({x}, str)",
    "null": "{x} is None",
    "boolean": "isinstance({x}, bool)",
    "number": "_is_number({x})",
    "integer": "_is_integer({x})",
}
_PCHAR = r"(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})"
#: ``scheme://host[:port]/path?query#fragment`` with only characters RFC 3986 allows there
#: unescaped: every string it matches (in full) is a URI under any checker jsonschema may use.
_SURE_URI = (
    rf"[A-Za-z][A-Za-z0-9+.-]*://(?:[A-Za-z0-9._~-]|%[0-9A-Fa-f]{{2}})+(?::[0-9]+)?"
    rf"(?:/{_PCHAR}*)*(?:\?(?:{_PCHAR}|[/?])*)?(?:#(?:{_PCHAR}|[/?])*)?"
)


#: A body that is exactly another compiled function's verdict: ``if not _s7(x): return False``
#: (every generated function returns a bool, so the two are the same function).
_ALIAS = re.compile(r"if not (_s[0-9]+|_true|_false)\(x\): return False")


#: What may be inlined (:meth:`_Compiler.call`): bodies of at most this many lines, each a
#: ``if <test of x>: return False`` whose test names no other local and opens no scope.
_INLINE_TESTS = 4
_LEAF_TEST = re.compile(r"if (.+): return False")
_NOT_INLINED = re.compile(r"\b(?:v|k|for|lambda)\b|:")
_VARIABLE = re.compile(r"\bx\b")


class Unsupported(ValueError):
    """The schema uses something this compiler does not implement exactly."""


# --- jsonschema's value semantics ----------------------------------------------------------


def _unbool(value: Any, true: object = object(), false: object = object()) -> Any:
    if value is True:
        return true
    if value is False:
        return false
    return value


def json_equal(one: Any, two: Any) -> bool:
    """Equality as jsonschema's ``const``/``enum`` see it: like ``==``, but ``True != 1``."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return bool(one == two)
    if isinstance(one, Sequence) and isinstance(two, Sequence):
        return len(one) == len(two) and all(json_equal(i, j) for i, j in zip(one, two))
    if isinstance(one, Mapping) and isinstance(two, Mapping):
        return len(one) == len(two) and all(key in two and json_equal(value, two[key]) for key, value in one.items())
    return bool(_unbool(one) == _unbool(two))


def _numberless(value: Any) -> bool:
    """No number or boolean anywhere in ``value``: then ``==`` is jsonschema's equality."""
    if isinstance(value, (str, type(None))):
        return True
    if isinstance(value, list):
        return all(_numberless(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _numberless(item) for key, item in value.items())
    return False


def json_unique(items: list[Any]) -> bool:
    """``uniqueItems`` as jsonschema decides it (sorted neighbours, else pairwise)."""
    if all(type(item) is str for item in items):  # the common case: equality is ==
        return len(set(items)) == len(items)
    try:
        ordered = sorted(_unbool(i) for i in items)
        return not any(json_equal(i, j) for i, j in zip(ordered, itertools.islice(ordered, 1, None)))
    except (NotImplementedError, TypeError):
        seen: list[Any] = []
        for item in items:
            item = _unbool(item)
            if any(json_equal(i, item) for i in seen):
                return False
            seen.append(item)
        return True


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


#: A timestamp ``validate_rfc3339`` accepts whatever the month: year 0001-9999, a day no
#: month lacks (01-28), UTC. Nearly every OSV timestamp is one; anything else is asked of
#: ``validate_rfc3339`` itself.
_SURE_TIMESTAMP = re.compile(
    r"(?!0000)[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?Z"
)


def date_time(text: str) -> bool:
    """``format: date-time`` as jsonschema's checker decides it: ``validate_rfc3339(text.upper())``.

    One regex answers for the common case (a fifth of the time: 3 timestamps in each of
    20,000 records); the rest goes to the function itself (test_fastpaths holds the two to
    each other).
    """
    if _SURE_TIMESTAMP.fullmatch(text):
        return True
    from rfc3339_validator import validate_rfc3339  # what jsonschema's format checker calls

    return bool(validate_rfc3339(text.upper()))


def _date_time() -> Check:
    return date_time


# --- the compiler --------------------------------------------------------------------------


class _Compiler:
    """Emits one ``def _sN(x)`` per (schema node, exactness); ``$ref`` cycles just work."""

    def __init__(self, root: Mapping[str, Any], label: str) -> None:
        if not isinstance(root, Mapping):
            raise Unsupported("the root schema must be an object")
        self.root = root
        self.label = label
        self.names: dict[tuple[int, bool], str] = {}
        self.chunks: list[str] = []
        #: The finished body of each function, for inlining short leaves at their call sites.
        self.bodies: dict[str, list[str]] = {}
        #: Functions whose whole body is another function's verdict (``allOf`` of one schema,
        #: a ``$ref`` and nothing else): bound to that function after ``exec``.
        self.aliases: dict[str, str] = {}
        self.namespace: dict[str, Any] = {
            "_is_number": _is_number,
            "_is_integer": _is_integer,
            "_equal": json_equal,
            "_unique": json_unique,
            "_true": lambda x: True,
            "_false": lambda x: False,
            "_missing": object(),
        }

    def constant(self, value: Any) -> str:
        name = f"_c{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def regex(self, pattern: str, method: str = "search") -> str:
        """A name for ``re.compile(pattern).<method>``, compiled on its first call.

        The OSV schema has two dozen patterns (CVSS vectors are long) and most runs meet a
        handful of them: compiling them all up front was a third of the start-up cost of a
        ``sync`` that only checks ``index.json``.
        """
        name = f"_c{len(self.namespace)}"
        namespace = self.namespace

        def first_call(text: str) -> Any:
            bound = getattr(re.compile(pattern), method)
            namespace[name] = bound  # later calls from the generated code go straight to it
            return bound(text)

        namespace[name] = first_call
        return name

    def function(self, node: Any, exact: bool) -> str:
        """The name of the function checking ``node``; ``exact`` forbids one-sided checks."""
        if node is True or (node == {} and isinstance(node, Mapping)):
            return "_true"
        if node is False:
            return "_false"
        if not isinstance(node, Mapping):
            raise Unsupported(f"not a schema: {node!r}")
        key = (id(node), exact)
        if key not in self.names:
            self.names[key] = name = f"_s{len(self.names)}"
            body = self.bodies[name] = self.body(node, exact)
            alias = _ALIAS.fullmatch(body[0]) if len(body) == 1 else None
            if alias is not None:
                self.aliases[name] = alias.group(1)
            self.chunks.append(f"def {name}(x):\n" + "".join(f"    {line}\n" for line in body) + "    return True\n")
        return self.names[key]

    def call(self, fn: str, var: str) -> str:
        """An expression with the value of ``fn(var)``: the callee's own tests when it is a short
        leaf (a type, a pattern, a length, a constant), else the call.

        Why: a Python call costs about as much as the test inside it, and a record meets a few
        hundred of these leaves; inlining them made the compiled checks a third faster. A
        function whose body is still being built (a ``$ref`` cycle) is always called.
        """
        body = self.bodies.get(fn)
        if fn in ("_true", "_false"):
            return "True" if fn == "_true" else "False"
        if body is None or len(body) > _INLINE_TESTS:
            return f"{fn}({var})"
        tests = [_LEAF_TEST.fullmatch(line) for line in body]
        if not all(test is not None and not _NOT_INLINED.search(test.group(1)) for test in tests):
            return f"{fn}({var})"
        return (
            "(" + " and ".join(f"not ({_VARIABLE.sub(var, t.group(1))})" for t in tests if t) + ")" if tests else "True"
        )

    def _target(self, name: str) -> str:
        """The function an alias stands for, through chains of aliases (a cycle stays itself)."""
        seen = {name}
        while name in self.aliases and self.aliases[name] not in seen:
            name = self.aliases[name]
            seen.add(name)
        return name

    def resolve(self, ref: str) -> Any:
        if not ref.startswith("#"):
            raise Unsupported(f"only local $ref is compiled, not {ref!r}")
        node: Any = self.root
        for part in filter(None, unquote(ref[1:]).split("/")):
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise Unsupported(f"unresolvable $ref {ref!r}")
        return node

    def body(self, node: Mapping[str, Any], exact: bool) -> list[str]:
        unknown = set(node) - _KEYWORDS - _ANNOTATIONS - ({"$id"} if node is self.root else set())
        if unknown:
            raise Unsupported(f"keywords not compiled: {', '.join(sorted(unknown))}")
        lines: list[str] = []
        known = self._type(node, lines)
        guard = lambda kind: "" if known == kind else f"{_TYPE_TESTS[kind].format(x='x')} and "  # noqa: E731
        applies = lambda kind: known is None or known == kind  # noqa: E731
        for keyword in node:
            emit = getattr(self, "_kw_" + keyword.lstrip("$"), None)
            if emit is not None:
                lines += emit(node, node[keyword], exact, guard, applies)
        return lines

    def _type(self, node: Mapping[str, Any], lines: list[str]) -> str | None:
        """Emit the ``type`` test; returns the one type known afterwards, if any."""
        kinds = node.get("type")
        if kinds is None:
            return None
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not isinstance(kinds, list) or not kinds or any(k not in _TYPE_TESTS for k in kinds):
            raise Unsupported(f"type {kinds!r}")
        lines.append("if not (" + " or ".join(_TYPE_TESTS[k].format(x="x") for k in kinds) + "): return False")
        return kinds[0] if len(kinds) == 1 and kinds[0] not in ("number", "integer") else None

    # Each _kw_<keyword> returns lines that ``return False`` when the keyword fails.

    def _kw_type(self, *_: Any) -> list[str]:
        return []  # emitted first by _type

    def _kw_id(self, *_: Any) -> list[str]:
        return []  # the root's $id: references here are all local

    def _kw_then(self, *_: Any) -> list[str]:
        return []  # handled with "if"

    _kw_else = _kw_then

    def _kw_enum(self, node: Any, values: Any, exact: bool, guard: Any, applies: Any) -> list[str]:
        if not isinstance(values, list):
            raise Unsupported("enum must be a list")
        if all(isinstance(v, str) for v in values):
            return [f"if not (isinstance(x, str) and x in {self.constant(frozenset(values))}): return False"]
        if _numberless(values):  # == is jsonschema's equality here, and `in` needs no hashing
            return [f"if x not in {self.constant(tuple(values))}: return False"]
        return [f"if not any(_equal(v, x) for v in {self.constant(tuple(values))}): return False"]

    def _kw_const(self, node: Any, value: Any, exact: bool, guard: Any, applies: Any) -> list[str]:
        if _numberless(value):  # == is jsonschema's equality here (True == 1 cannot arise)
            return [f"if x != {self.constant(value)}: return False"]
        return [f"if not _equal(x, {self.constant(value)}): return False"]

    def _kw_pattern(self, node: Any, pattern: Any, exact: bool, guard: Any, applies: Any) -> list[str]:
        if not applies("string"):
            return []
        if not isinstance(pattern, str):
            raise Unsupported(f"pattern {pattern!r}")
        return [f"if {guard('string')}not {self.regex(pattern)}(x): return False"]

    def _limit(self, kind: str, op: str, limit: Any, guard: Any, applies: Any) -> list[str]:
        if not isinstance(limit, int) or isinstance(limit, bool):
            raise Unsupported(f"limit {limit!r}")
        return [f"if {guard(kind)}len(x) {op} {limit}: return False"] if applies(kind) else []

    def _kw_minLength(self, node: Any, limit: Any, exact: bool, guard: Any, applies: Any) -> list[str]:
        return self._limit("string", "<", limit, guard, applies)

    def _kw_maxLength(self, node: Any, limit: Any, exact: bool, guard: Any, applies: Any) -> list[str]:
        return self._limit("string", ">", limit, guard, applies)

    def _kw_minItems(self, node: Any, limit: Any, exact: bool, guard: Any, applies: Any) -> list[str]:
        return self._limit("array", "<", limit, guard, applies)

    def _kw_minimum(self, node: Any, limit: Any, exact: bool, guard: Any, applies: Any) -> list[str]:
        if not _is_number(limit):
            raise Unsupported(f"minimum {limit!r}")
        return [f"if _is_number(x) and x < {self.constant(limit)}: return False"]

    def _kw_uniqueItems(self, node: Any, flag: Any, exact: bool, guard: Any, applies: Any) -> list[str]:
        return [f"if {guard('array')}not _unique(x): return False"] if flag and applies("array") else []

    def _kw_required(self, node: Any, names: Any, exact: bool, guard: Any, applies: Any) -> list[str]:
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise Unsupported("required must list strings")
        if not names or not applies("object"):
            return []
        return [f"if {guard('object')}not {self.constant(frozenset(names))}.issubset(x): return False"]

    def _kw_properties(self, node: Any, props: Any, exact: bool, guard: Any, applies: Any) -> list[str]:
        if not isinstance(props, Mapping):
            raise Unsupported("properties must be an object")
        checks = [(name, self.function(sub, exact)) for name, sub in props.items()]
        checks = [(name, fn) for name, fn in checks if fn != "_true"]
        if not checks or not applies("object"):
            return []
        lines = [f"if {guard('object')}True:"] if guard("object") else ["if True:"]
        for name, fn in checks:
            lines.append(f"    v = x.get({name!r}, _missing)")
            lines.append(f"    if v is not _missing and not {self.call(fn, 'v')}: return False")
        return lines

    def _kw_additionalProperties(self, node: Any, extra: Any, exact: bool, guard: Any, applies: Any) -> list[str]:
        if "patternProperties" in node:
            raise Unsupported("patternProperties")
        if not applies("object"):
            return []
        known = self.constant(frozenset(node.get("properties", {})))
        fn = self.function(extra, exact)
        if fn == "_true":
            return []
        if fn == "_false":
            return [f"if {guard('object')}not {known}.issuperset(x): return False"]
        return [f"if {guard('object')}not all({fn}(v) for k, v in x.items() if k not in {known}): return False"]

    def _kw_items(self, node: Any, items: Any, exact: bool, guard: Any, applies: Any) -> list[str]:
        if "prefixItems" in node:
            raise Unsupported("prefixItems")
        fn = self.function(items, exact)
        if fn == "_true" or not applies("array"):
            return []
        return [f"if {guard('array')}not all(map({fn}, x)): return False"]

    def _kw_contains(self, node: Any, sub: Any, exact: bool, guard: Any, applies: Any) -> list[str]:
        if "minContains" in node or "maxContains" in node:
            raise Unsupported("minContains/maxContains")
        if not applies("array"):
            return []
        return [f"if {guard('array')}not any(map({self.function(sub, exact)}, x)): return False"]

    def _kw_allOf(self, node: Any, subs: Any, exact: bool, guard: Any, applies: Any) -> list[str]:
        return [f"if not {self.call(fn, 'x')}: return False" for fn in self._list(subs, exact) if fn != "_true"]

    def _kw_oneOf(self, node: Any, subs: Any, exact: bool, guard: Any, applies: Any) -> list[str]:
        return ["if (" + " + ".join(f"{fn}(x)" for fn in self._list(subs, True)) + ") != 1: return False"]

    def _kw_not(self, node: Any, sub: Any, exact: bool, guard: Any, applies: Any) -> list[str]:
        return [f"if {self.call(self.function(sub, True), 'x')}: return False"]

    def _kw_if(self, node: Any, sub: Any, exact: bool, guard: Any, applies: Any) -> list[str]:
        then = self.function(node.get("then", True), exact)
        otherwise = self.function(node.get("else", True), exact)
        test = self.call(self.function(sub, True), "x")
        return [f"if not ({self.call(then, 'x')} if {test} else {self.call(otherwise, 'x')}): return False"]

    def _kw_dependentSchemas(self, node: Any, deps: Any, exact: bool, guard: Any, applies: Any) -> list[str]:
        if not isinstance(deps, Mapping):
            raise Unsupported("dependentSchemas must be an object")
        if not applies("object"):
            return []
        return [
            f"if {guard('object')}{name!r} in x and not {self.call(self.function(sub, exact), 'x')}: return False"
            for name, sub in deps.items()
        ]

    def _kw_ref(self, node: Any, ref: Any, exact: bool, guard: Any, applies: Any) -> list[str]:
        if not isinstance(ref, str):
            raise Unsupported("$ref must be a string")
        fn = self.function(self.resolve(ref), exact)
        return [] if fn == "_true" else [f"if not {self.call(fn, 'x')}: return False"]

    def _kw_format(self, node: Any, name: Any, exact: bool, guard: Any, applies: Any) -> list[str]:
        if not applies("string"):
            return []
        if name == "date-time":
            return [f"if {guard('string')}not {self.constant(_date_time())}(x): return False"]
        if name == "uri" and not exact:
            return [f"if {guard('string')}not {self.regex(_SURE_URI, 'fullmatch')}(x): return False"]
        raise Unsupported(f"format {name!r}" + (" where a verdict must be exact" if name == "uri" else ""))

    def _list(self, subs: Any, exact: bool) -> list[str]:
        if not isinstance(subs, list) or not subs:
            raise Unsupported("a non-empty list of schemas is required")
        return [self.function(sub, exact) for sub in subs]

    def build(self) -> Check:
        entry = self.function(self.root, False)
        source = "\n".join(self.chunks)
        exec(compile(source, f"<depguard compiled schema {self.label}>", "exec"), self.namespace)
        for name in self.aliases:
            # the generated code looks each callee up by name at call time, so rebinding a
            # name spares every caller one Python call (a third of the calls for the OSV schema)
            self.namespace[name] = self.namespace[self._target(name)]
        check: Check = self.namespace[entry]
        return check


def compile_schema(schema: Mapping[str, Any], label: str = "schema") -> Check:
    """A function ``instance -> bool`` that is True only where jsonschema finds no error.

    Raises :class:`Unsupported` when the schema uses anything not compiled exactly.
    """
    return _Compiler(schema, label).build()
