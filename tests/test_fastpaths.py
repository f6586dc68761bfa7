"""The fast paths give exactly the answers of the slow code they stand in front of.

Each optimization of the performance work keeps a reference implementation and is held to it
here: the compiled schema check (:mod:`depguard.validation.fastschema`) against jsonschema, the canonical
encoder against ``json.dumps(..., indent=2)``, the ``!=``-only simplification against the
range algebra, the lazily typed feed entries against eager ones. The corpus variants run when
``DEPGUARD_UPSTREAM_CORPUS`` is set, the rest always.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import _utils as jsonschema_utils
from packaging.version import Version

from depguard import affected
from depguard import feed as feed_mod
from depguard.records import Record
from depguard.validation.fastschema import Unsupported, compile_schema, json_equal, json_unique
from depguard.validation.schema import validator

from feedkit import record, write_feed
from test_schema_compat import BASE_RECORD, MUTATIONS, _mutant

SCHEMAS = ("osv.schema.json", "depguard.schema.json", "index.schema.json")
SURE_URL = "https://example.org/a"

# --------------------------------------------------------------------------------------------
# helpers


def _verdicts(name: str, instance: Any) -> tuple[bool, bool]:
    """(fast check's verdict, jsonschema's verdict) for a bundled schema."""
    checker = validator(name)
    return checker.vouches_for(instance), checker.reference.is_valid(instance)


def _with_sure_urls(instance: Any) -> Any:
    """The instance with every reference URL replaced by one the fast check can vouch for."""
    instance = copy.deepcopy(instance)
    if isinstance(instance, dict) and isinstance(instance.get("references"), list):
        for ref in instance["references"]:
            if isinstance(ref, dict) and isinstance(ref.get("url"), str):
                ref["url"] = SURE_URL
    return instance


def _assert_same(name: str, instance: Any, label: str = "") -> None:
    """Sound always (fast True => valid); exact once URLs are in the vouched-for subset."""
    fast, reference = _verdicts(name, instance)
    assert not fast or reference, f"{label}: the fast check vouched for an invalid instance"
    fast, reference = _verdicts(name, _with_sure_urls(instance))
    assert fast == reference, f"{label}: fast={fast} reference={reference}"


def _index(records: int = 2) -> dict[str, Any]:
    entries = [
        {
            "id": f"x_DEPGUARD-2026-{n:04d}",
            "ecosystem": "PyPI",
            "name": f"pkg{n}",
            "modified": "2026-01-02T03:04:05Z",
            "withdrawn": None,
            "path": f"PyPI/x_DEPGUARD-2026-{n:04d}.json",
            "sha256": "ab" * 32,
        }
        for n in range(1, records + 1)
    ]
    return {
        "format": "depguard-feed",
        "format_version": 1,
        "modified": "2026-01-02T03:04:05Z",
        "count": records,
        "all": {"path": "all.json", "sha256": "cd" * 32, "size": 10},
        "records": entries,
    }


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(allow_nan=False, allow_infinity=False, width=16)
    | st.text(alphabet="ab1.-_ :/\n\u2028xZ", max_size=6),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(alphabet="abcdeimnoprstuvy_", max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    value = copy.deepcopy(value)
    target = value
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = new
    return value


# --------------------------------------------------------------------------------------------
# the compiled schema check


@pytest.mark.parametrize("name", SCHEMAS)
def test_every_bundled_schema_compiles(name: str) -> None:
    assert validator(name)._fast is not None


def test_valid_instances_are_vouched_for() -> None:
    assert validator("osv.schema.json").vouches_for(BASE_RECORD)
    assert validator("depguard.schema.json").vouches_for(record())
    assert validator("depguard.schema.json").vouches_for(record(whole_package=True, ecosystem="npm", name="@scope/pkg"))
    assert validator("index.schema.json").vouches_for(_index())


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m.name)
def test_osv_mutations_same_verdict(mutation: Any) -> None:
    _assert_same("osv.schema.json", _mutant(BASE_RECORD, mutation), mutation.name)


PROFILE_MUTATIONS: dict[str, Any] = {
    "kind unknown": lambda r: r["database_specific"]["depguard"].__setitem__("kind", "other"),
    "compromised release with ranges": lambda r: r["affected"][0].__setitem__(
        "ranges", [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]
    ),
    "whole package without ranges": lambda r: r["database_specific"]["depguard"].__setitem__(
        "kind", "malicious-package"
    ),
    "ranges not the block": lambda r: r["affected"][0].__setitem__(
        "ranges", [{"type": "ECOSYSTEM", "events": [{"introduced": "1"}]}]
    ),
    "name not PEP 503": lambda r: r["affected"][0]["package"].__setitem__("name", "Lite_LLM"),
    "name with double dash": lambda r: r["affected"][0]["package"].__setitem__("name", "lite--llm"),
    "purl with version": lambda r: r["affected"][0]["package"].__setitem__("purl", "pkg:pypi/litellm@1.0"),
    "purl with trailing newline": lambda r: r["affected"][0]["package"].__setitem__("purl", "pkg:pypi/litellm\n"),
    "versions repeated": lambda r: r["affected"][0].__setitem__("versions", ["1.0", "1.0"]),
    "versions empty": lambda r: r["affected"][0].__setitem__("versions", []),
    "versions one and true": lambda r: r["affected"][0].__setitem__("versions", [1, True]),
    "version with space": lambda r: r["affected"][0].__setitem__("versions", ["1.0 "]),
    "summary with newline": lambda r: r.__setitem__("summary", "one\ntwo"),
    "summary too long": lambda r: r.__setitem__("summary", "x" * 201),
    "summary 200 chars": lambda r: r.__setitem__("summary", "x" * 200),
    "details blank": lambda r: r.__setitem__("details", " \n "),
    "schema_version other": lambda r: r.__setitem__("schema_version", "1.7.4"),
    "extra top-level key": lambda r: r.__setitem__("severity", []),
    "reference http": lambda r: r["references"].__setitem__(0, {"type": "WEB", "url": "http://example.org"}),
    "reference with extra key": lambda r: r["references"][0].__setitem__("note", "x"),
    "artifact ok": lambda r: r["database_specific"]["depguard"].__setitem__(
        "artifacts", [{"filename": "a.whl", "sha256": "ab" * 32}]
    ),
    "artifact uppercase sha": lambda r: r["database_specific"]["depguard"].__setitem__(
        "artifacts", [{"filename": "a.whl", "sha256": "AB" * 32}]
    ),
    "artifact path": lambda r: r["database_specific"]["depguard"].__setitem__(
        "artifacts", [{"filename": "../a.whl", "sha256": "ab" * 32}]
    ),
    "artifact dot": lambda r: r["database_specific"]["depguard"].__setitem__(
        "artifacts", [{"filename": "..", "sha256": "ab" * 32}]
    ),
    "artifacts repeated": lambda r: r["database_specific"]["depguard"].__setitem__(
        "artifacts", [{"filename": "a", "sha256": "ab" * 32}] * 2
    ),
    "index_status": lambda r: r["database_specific"]["depguard"].__setitem__("index_status", "yanked"),
    "index_status unknown": lambda r: r["database_specific"]["depguard"].__setitem__("index_status", "gone"),
    "id not depguard": lambda r: r.__setitem__("id", "MAL-2026-1"),
    "id with trailing newline": lambda r: r.__setitem__("id", "x_DEPGUARD-2026-0001\n"),
    "aliases repeated": lambda r: r.__setitem__("aliases", ["MAL-1", "MAL-1"]),
    "npm ecosystem with pypi purl": lambda r: r["affected"][0]["package"].__setitem__("ecosystem", "npm"),
    "affected entry extra key": lambda r: r["affected"][0].__setitem__("severity", None),
    "database_specific without depguard": lambda r: r.__setitem__("database_specific", {}),
}


@pytest.mark.parametrize("name", sorted(PROFILE_MUTATIONS))
def test_profile_mutations_same_verdict(name: str) -> None:
    for base in (record(), record(whole_package=True), record(ecosystem="npm", name="@scope/pkg")):
        instance = copy.deepcopy(base)
        PROFILE_MUTATIONS[name](instance)
        _assert_same("depguard.schema.json", instance, name)
        _assert_same("osv.schema.json", instance, name)


INDEX_MUTATIONS: dict[str, Any] = {
    "count true": lambda i: i.__setitem__("count", True),
    "count float": lambda i: i.__setitem__("count", 2.0),
    "count 2.5": lambda i: i.__setitem__("count", 2.5),
    "count negative": lambda i: i.__setitem__("count", -1),
    "format_version zero": lambda i: i.__setitem__("format_version", 0),
    "modified null": lambda i: i.__setitem__("modified", None),
    "modified offset": lambda i: i.__setitem__("modified", "2026-01-02T03:04:05+01:00"),
    "modified bad day": lambda i: i.__setitem__("modified", "2026-02-30T03:04:05Z"),
    "modified trailing newline": lambda i: i.__setitem__("modified", "2026-01-02T03:04:05Z\n"),
    "withdrawn set": lambda i: i["records"][0].__setitem__("withdrawn", "2026-01-03T00:00:00Z"),
    "withdrawn number": lambda i: i["records"][0].__setitem__("withdrawn", 0),
    "sha uppercase": lambda i: i["all"].__setitem__("sha256", "AB" * 32),
    "path outside": lambda i: i["records"][0].__setitem__("path", "../x.json"),
    "id with slash": lambda i: i["records"][0].__setitem__("id", "a/b"),
    "extra key": lambda i: i.__setitem__("extra", 1),
    "record missing withdrawn": lambda i: i["records"][0].pop("withdrawn"),
    "records not a list": lambda i: i.__setitem__("records", {}),
    "format other": lambda i: i.__setitem__("format", "other"),
}


@pytest.mark.parametrize("name", sorted(INDEX_MUTATIONS))
def test_index_mutations_same_verdict(name: str) -> None:
    instance = _index()
    INDEX_MUTATIONS[name](instance)
    _assert_same("index.schema.json", instance, name)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), new=json_values)
def test_random_edits_same_verdict(data: st.DataObject, new: Any) -> None:
    """Any value anywhere in a valid record or index: the same verdict under all three schemas."""
    base = data.draw(
        st.sampled_from([BASE_RECORD, record(), record(whole_package=True, ecosystem="npm", name="x"), _index(1)])
    )
    path = data.draw(st.sampled_from(_paths(base)))
    instance = _replace(base, path, new)
    for name in SCHEMAS:
        _assert_same(name, instance, f"{name} {path} = {new!r}")


def test_uri_format_is_vouched_for_only_when_surely_a_uri() -> None:
    check = compile_schema({"type": "string", "format": "uri"})
    for url in ("https://example.org", "https://a.b:8443/p/a%20th?q=1&r=/x?#frag/?", "git+ssh://h/x"):
        assert check(url), url
    for url in (
        "not a url",
        "https://exa mple.org",
        "https://x/%zz",
        "https://x/\n",
        "mailto:a@b",
        "https://ü.org",
        "",
    ):
        assert not check(url), url


@pytest.mark.parametrize(
    "schema",
    [
        {"patternProperties": {"a": {}}},
        {"prefixItems": [{}], "items": {}},
        {"$ref": "https://example.org/other.json"},
        {"properties": {"a": {"$id": "other"}}},
        {"not": {"format": "uri"}},
        {"oneOf": [{"format": "uri"}, {"type": "null"}]},
        {"if": {"format": "uri"}, "then": {}},
        {"format": "email"},
        {"maximum": 3},
        {"contains": {}, "minContains": 2},
    ],
)
def test_what_is_not_compiled_exactly_is_refused(schema: dict[str, Any]) -> None:
    with pytest.raises(Unsupported):
        compile_schema(schema)


@settings(max_examples=300, deadline=None)
@given(a=json_values, b=json_values)
def test_json_equal_is_jsonschemas_equal(a: Any, b: Any) -> None:
    assert json_equal(a, b) == jsonschema_utils.equal(a, b)
    assert json_equal(a, a) == jsonschema_utils.equal(a, a)


@settings(max_examples=300, deadline=None)
@given(items=st.lists(json_values, max_size=5))
def test_json_unique_is_jsonschemas_uniq(items: list[Any]) -> None:
    assert json_unique(items) == jsonschema_utils.uniq(items)
    assert json_unique(items + items[:1]) == jsonschema_utils.uniq(items + items[:1])


def test_a_crashing_fast_check_falls_back_to_jsonschema() -> None:
    deep: Any = "x"
    for _ in range(5000):
        deep = [deep]
    instance = copy.deepcopy(BASE_RECORD)
    instance["aliases"] = deep
    assert validator("osv.schema.json").vouches_for(instance) is False


def test_corpus_same_verdict(upstream_corpus: Path) -> None:
    paths = sorted(upstream_corpus.glob("pypa-advisory-database/vulns/**/*.json")) + sorted(
        upstream_corpus.glob("ossf-malicious-packages/**/*.json")
    )
    assert len(paths) > 2000
    for path in paths:
        _assert_same("osv.schema.json", json.loads(path.read_text(encoding="utf-8")), str(path))


# --------------------------------------------------------------------------------------------
# the canonical encoder


def _reference_canonical(data: dict[str, Any]) -> bytes:
    # private on purpose: _ordered is the field order itself, the spec the emitter is held to;
    # nothing public states it apart from the emitter under test
    return (json.dumps(feed_mod._ordered(data), indent=2, ensure_ascii=False) + "\n").encode("utf-8")


@settings(max_examples=300, deadline=None)
@given(data=st.data(), new=json_values)
def test_canonical_bytes_is_json_dumps_indent_2(data: st.DataObject, new: Any) -> None:
    base = data.draw(st.sampled_from([BASE_RECORD, record(), record(whole_package=True)]))
    path = data.draw(st.sampled_from(_paths(base)[1:]))
    instance = _replace(base, path, new)
    assert feed_mod.canonical_bytes(instance) == _reference_canonical(instance)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 1e300, -0.0, 10**30, "\u2028\x00é\U0001f600", {1: "x"}])
def test_canonical_bytes_unusual_values(value: Any) -> None:
    data = {"id": "x", "database_specific": {"v": value, "list": [value, {}], "empty": []}}
    assert feed_mod.canonical_bytes(data) == _reference_canonical(data)


def test_canonical_bytes_of_the_bundled_feed(repo_root: Path) -> None:
    for path in (repo_root / "feed").rglob("*.json"):
        raw = path.read_bytes()
        assert feed_mod.canonical_bytes(json.loads(raw)) == raw == _reference_canonical(json.loads(raw))


def test_canonical_bytes_of_the_corpus(upstream_corpus: Path) -> None:
    for path in upstream_corpus.rglob("*.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            assert feed_mod.canonical_bytes(data) == _reference_canonical(data), path


# --------------------------------------------------------------------------------------------
# the feed loader


def test_entries_build_their_typed_view_on_first_use(tmp_path: Path) -> None:
    write_feed(tmp_path, [record()])
    entry = load_feed_entry(tmp_path)
    assert "_record" not in entry.__dict__
    assert isinstance(entry.record, Record) and entry.record is entry.record
    given_view = Record.model_validate(record())
    assert feed_mod.FeedEntry(entry.path, entry.raw, entry.data, given_view).record is given_view
    assert feed_mod.FeedEntry(entry.path, entry.raw, {"id": 1}).record is None


def load_feed_entry(root: Path) -> feed_mod.FeedEntry:
    (entry,) = feed_mod.load_feed(root).entries
    return entry


def test_loader_order_and_skips(tmp_path: Path) -> None:
    """PurePath order ("a/b" before "a-b"), dot-files and dot-folders skipped, symlinked folders not followed."""
    for rel in ("a/b/x.json", "a-b/x.json", "a/.hidden/x.json", "a/.x.json", "z/README.md", "z/notes.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}")
    (tmp_path / "link").symlink_to(tmp_path / "a", target_is_directory=True)
    (tmp_path / "a" / "f.json").symlink_to(tmp_path / "a-b" / "x.json")
    loaded = feed_mod.load_feed(tmp_path)
    assert [str(e.path) for e in loaded.entries] == ["a/b/x.json", "a/f.json", "a-b/x.json"]
    assert [i.path for i in loaded.load_issues] == ["z/notes.txt"]


def test_cross_record_issues_follow_the_entries(tmp_path: Path) -> None:
    write_feed(tmp_path, [record("x_DEPGUARD-2026-0001", name="a"), record("x_DEPGUARD-2026-0002", name="b")])
    loaded = feed_mod.load_feed(tmp_path)
    assert feed_mod.lint(loaded) == []
    clash = record("x_DEPGUARD-2026-0003", name="a")
    raw = feed_mod.canonical_bytes(clash)
    loaded.entries.append(feed_mod.FeedEntry(PurePosixPath("PyPI/a/x_DEPGUARD-2026-0003.json"), raw, clash))
    assert {i.rule for i in feed_mod.lint(loaded)} == {"overlap"}


# --------------------------------------------------------------------------------------------
# the exclusion compiler


def _spec_key(spec: str) -> tuple[Version, int, str]:
    return Version(spec[2:]), len(spec), spec


def _range_algebra_not_equal(not_equal: set[str]) -> list[str]:
    """The ``!=`` list as the old compiler simplified it: one range check per specifier."""
    from packaging.ranges import VersionRange
    from packaging.specifiers import SpecifierSet

    kept: list[str] = []
    covered = VersionRange.empty(prereleases=True)
    for spec in sorted((f"!={v}" for v in not_equal), key=_spec_key):
        excluded = ~SpecifierSet(spec, prereleases=True).to_range()
        if not excluded.is_subset(covered):
            kept.append(spec)
            covered = covered | excluded
    return sorted(kept, key=_spec_key)


versions = st.builds(
    lambda epoch, release, pre, post, dev: f"{epoch}{'.'.join(map(str, release))}{pre}{post}{dev}",
    st.sampled_from(["", "1!"]),
    st.lists(st.integers(0, 2), min_size=1, max_size=4),
    st.sampled_from(["", "a1", "rc0"]),
    st.sampled_from(["", ".post1"]),
    st.sampled_from(["", ".dev0"]),
)


@settings(max_examples=300, deadline=None)
@given(st.sets(versions, min_size=1, max_size=8))
def test_not_equal_simplification_matches_the_range_algebra(raw: set[str]) -> None:
    from depguard.exclusions import safe_version

    normalized = {safe_version(v) for v in raw}
    compiled = affected.compile_exclusions([Record.model_validate(record(versions=tuple(sorted(raw))))])
    (exclusion,) = compiled.exclusions
    assert list(exclusion.specifiers) == _range_algebra_not_equal(normalized)


numberless_values = st.recursive(
    st.none() | st.text(alphabet="ab", max_size=2),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(alphabet="ab", max_size=2), children, max_size=2)
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(const=numberless_values, value=json_values)
def test_plain_equality_is_jsonschemas_for_numberless_constants(const: Any, value: Any) -> None:
    """The compiled const/enum use ``==`` when the constant holds no number or boolean."""
    assert (value == const) == jsonschema_utils.equal(value, const)
    assert compile_schema({"const": const})(value) == jsonschema_utils.equal(value, const)
    assert compile_schema({"enum": [const, "z"]})(value) == (jsonschema_utils.equal(value, const) or value == "z")


# --------------------------------------------------------------------------------------------
# the lint's and the loader's shortcuts


@settings(max_examples=2000, deadline=None)
@given(
    path=st.lists(st.sampled_from(["PyPI", "npm", "a", "@s", "x.json", "..", ".", "", "/"]), max_size=5).map("/".join),
    ecosystem=st.sampled_from(["PyPI", "npm"]),
    name=st.sampled_from(["a", "A_b", "@s/a", "a/b", "x", ".", ""]),
    advisory_id=st.sampled_from(["x", "a/x", "", ".", "/x", "x/"]),
)
def test_record_path_text_shortcut_agrees_with_paths(path: str, ecosystem: str, name: str, advisory_id: str) -> None:
    """The lint's layout rule (a text comparison first) reports exactly the records whose entry
    path is not :func:`record_relpath`'s, for normalized entry paths."""
    entry_path = PurePosixPath(path)
    if entry_path.is_absolute():
        return  # entry paths are relative to the feed root
    try:
        expected = feed_mod.record_relpath(ecosystem, name, advisory_id)
    except ValueError:
        return  # no place for such a record at all
    data = record(name=name, ecosystem=ecosystem)
    data["id"] = advisory_id
    issues = feed_mod.check_record(entry_path, data)
    if any(i.rule == "name" and i.message.startswith("not a valid") for i in issues):
        return  # an invalid name stops the package's rules before the layout rule
    assert any(i.rule == "layout" for i in issues) == (entry_path != expected), issues


@pytest.mark.parametrize("size", [0, 1, 65535, 65536, 65537, 200_000])
def test_reading_a_file_in_few_system_calls_reads_all_of_it(tmp_path: Path, size: int) -> None:
    data = record()
    target = write_feed(tmp_path, [data]) / feed_mod.record_relpath("PyPI", "litellm", data["id"])
    text = feed_mod.canonical_bytes(data)
    target.write_bytes(text + b" " * (size - len(text)) if size > len(text) else text[:size])
    (entry,) = feed_mod.load_feed(tmp_path).entries or [None]
    if size >= len(text):
        assert entry is not None and entry.raw == target.read_bytes()
    else:  # cut short: no record, and the load says why
        assert entry is None and feed_mod.load_feed(tmp_path).load_issues


@settings(max_examples=3000, deadline=None)
@given(
    text=st.lists(
        st.sampled_from(
            [
                "MAL-",
                "PYSEC-",
                "GHSA",
                "-2c3f",
                "CVE-",
                "OSV-",
                "SNYK-",
                "PIP",
                "2026",
                "-",
                "12",
                "x",
                "\n",
                ".",
                "json",
                "@",
                "/",
                "%",
                "é",
                "~",
                "_",
                " ",
            ]
        ),
        max_size=6,
    ).map("".join)
)
def test_one_pass_name_checks_agree_with_the_long_forms(text: str) -> None:
    from urllib.parse import quote

    data = record(name="litellm")
    data["aliases"] = [text]
    flagged = any(i.rule == "aliases" for i in feed_mod.check_record(PurePosixPath("PyPI/litellm/x.json"), data))
    assert flagged != any(p.fullmatch(text) for p in feed_mod.ALIAS_PATTERNS)
    scope, _, rest = f"@{text}/{text}".partition("/")
    assert (
        feed_mod.ecosystems.get("npm").purl(f"@{text}/{text}")
        == f"pkg:npm/{quote(scope, safe='')}/{quote(rest, safe='')}"
    )
    if text and "/" not in text and text not in {".", ".."}:  # the file name must be the id: its stem
        named = record()
        for advisory_id, misnamed in ((PurePosixPath(text).stem, False), (PurePosixPath(text).stem + "x", True)):
            named["id"] = advisory_id
            issues = feed_mod.check_record(PurePosixPath("PyPI/litellm") / text, named)
            assert any(i.rule == "filename" for i in issues) == misnamed, (advisory_id, issues)


# --------------------------------------------------------------------------------------------
# the unsafe-text floor read from a file's own bytes

#: Characters the floor cares about (controls, C1, separators, bidi), their neighbours, and the
#: JSON escape characters, so that escaped backslashes next to letters come up often.
_TRICKY = "\t\n\r\x00\x0b\x1b\x1f\x7f\x80\x9f\xa0\u061b\u061c\u200d\u200e\u2027\u2028\u202e\u2066\u2069\u206a\\nbu0"
#: No lone surrogates: the test encodes the record to UTF-8, which cannot hold one (and a
#: feed file is UTF-8).
_text = st.text(alphabet=st.sampled_from(_TRICKY) | st.characters(exclude_categories=["Cs"]), max_size=12)


@settings(max_examples=500, deadline=None)
@given(
    details=_text | st.none(),
    summary=_text,
    key=_text,
    nested=_text,
    ascii_only=st.booleans(),
    indent=st.sampled_from([None, 2]),
)
def test_unsafe_text_from_raw_bytes_is_the_walk(
    details: str | None, summary: str, key: str, nested: str, ascii_only: bool, indent: int | None
) -> None:
    """The byte-level shortcut never hides an unsafe character the walk over the values finds."""
    from depguard.jsonio import strict_loads
    from depguard.validation.safety import unsafe_text_issues

    data: dict[str, Any] = {"id": "x", "summary": summary, "database_specific": {key: [nested, {"details": nested}]}}
    if details is not None:
        data["details"] = details
    raw = json.dumps(data, ensure_ascii=ascii_only, indent=indent).encode("utf-8")
    parsed = strict_loads(raw)
    assert unsafe_text_issues(parsed, raw=raw) == unsafe_text_issues(parsed)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"id": "x", "details": "a\\nb", "summary": "c\\u001bd"}',  # one break in details, one ESC elsewhere
        b'{"id": "x", "details": "a\\n\\u000bb"}',  # a vertical tab is not a break
        b'{"id": "x", "summary": "\\u202E"}',  # upper-case hex
        '{"id": "x", "summary": "\u2066"}'.encode(),  # raw bidi isolate
        b'{"id": "x", "details": "\\\\n", "summary": "a\\tb"}',  # an escaped backslash is not a break
    ],
)
def test_unsafe_text_from_raw_bytes_refuses(raw: bytes) -> None:
    from depguard.jsonio import strict_loads
    from depguard.validation.safety import unsafe_text_issues

    parsed = strict_loads(raw)
    assert unsafe_text_issues(parsed, raw=raw) == unsafe_text_issues(parsed) != []


# --------------------------------------------------------------------------------------------
# a feed directory: listed in groups, filed without typing


def _tree(root: Path) -> Path:
    """Every shape a feed folder can take: packages, npm scopes, GitHub owners, stray files and
    folders at every depth, names that sort differently as paths and as text, hidden entries
    and links."""
    for rel in (
        "PyPI/a/x.json",
        "PyPI/a/sub/deeper/y.json",
        "PyPI/a-b/x.json",
        "PyPI/a.b/x.json",
        "PyPI/stray.json",
        "PyPI/.hidden/x.json",
        "PyPI/b/.x.json",
        "npm/@scope/left-pad/x.json",
        "npm/@scope/right-pad/x.json",
        "npm/@scope/stray.json",
        "npm/@scope-two/p/x.json",
        "npm/plain/x.json",
        "npm/plain/notes.txt",
        "GitHub Actions/owner/repo/x.json",
        "GitHub Actions/owner/repo/path/y.json",
        "GitHub Actions/owner-2/repo/x.json",
        "README.md",
        "top.json",
    ):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("{}")
    (root / "PyPI" / "linked").symlink_to(root / "npm", target_is_directory=True)
    (root / "PyPI" / "a" / "inside.json").symlink_to(root / "npm" / "plain" / "x.json")
    (root / "PyPI" / "a" / "outside.json").symlink_to(root.parent / "elsewhere.json")
    (root / "npm" / "@scope" / "left-pad" / "dangling.json").symlink_to(root / "gone.json")
    return root


def _walked(root: Path) -> list[str]:
    """The reference listing: every visible file or file link under ``root``, in path order."""
    found: list[tuple[str, ...]] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        rel = Path(folder).relative_to(root).parts
        found += [(*rel, name) for name in files if not name.startswith(".")]
    return ["/".join(parts) for parts in sorted(found)]


@pytest.fixture(scope="module")
def feed_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("tree")
    (base / "elsewhere.json").write_text("{}")
    return _tree(base / "feed")


def test_the_listing_is_every_visible_file_in_path_order(feed_tree: Path) -> None:
    paths, issues = feed_mod.list_record_files(feed_tree)
    listed = [rel for rel, _ in paths] + [i.path for i in issues] + ["README.md"]  # a README is no issue
    assert sorted(listed, key=lambda rel: tuple(rel.split("/"))) == _walked(feed_tree)
    assert [rel for rel, _ in paths] == [
        r for r in _walked(feed_tree) if r.endswith(".json") and r != "PyPI/a/outside.json"
    ]
    assert {(i.path, i.rule) for i in issues} == {
        ("PyPI/a/outside.json", "readable"),
        ("npm/plain/notes.txt", "layout"),
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.integers(0, 40), max_size=6))
def test_groups_listed_slice_by_slice_are_the_whole_listing(feed_tree: Path, cuts: list[int]) -> None:
    """Consecutive slices of the groups, listed apart (as a directory's jobs do), concatenate
    to the listing of the whole folder: same files, same order, same issues."""
    groups = feed_mod.list_record_groups(feed_tree)
    assert ("npm", "@scope", "left-pad") in [g[0] for g in groups], "npm scopes are entered"
    bounds = sorted({0, len(groups), *(min(c, len(groups)) for c in cuts)})
    paths: list[tuple[str, str]] = []
    issues: list[str] = []
    for start, end in itertools.pairwise(bounds):
        some, found = feed_mod.list_record_files_in(feed_tree, groups[start:end])
        paths += some
        issues += [str(i) for i in found]
    whole, whole_issues = feed_mod.list_record_files(feed_tree)
    assert (paths, issues) == (whole, [str(i) for i in whole_issues])


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 50_000))
def test_group_jobs_cut_the_groups_in_order_and_in_bounds(count: int) -> None:
    groups: list[Any] = list(range(count))  # group_jobs only slices; what a group is does not matter
    jobs = feed_mod.group_jobs(groups)
    assert [group for job in jobs for group in job] == groups
    assert all(0 < len(job) <= 300 for job in jobs)
    if count > 240:  # a feed too small to share may get fewer (slices are whole)
        assert len(jobs) >= 16, "enough jobs for two processes to end together"
    assert len(jobs) <= max(16, -(-count // 300) + 1)


def _records_to_edit(repo_root: Path) -> list[dict[str, Any]]:
    """Real records of every shape the feed holds: artifacts, bad commits, whole packages, scopes."""
    picked = [
        "PyPI/ensmallen/x_DEPGUARD-2026-0016.json",
        "GitHub Actions/tj-actions/changed-files/x_DEPGUARD-2026-0200.json",
    ]
    found = [json.loads((repo_root / "feed" / rel).read_text()) for rel in picked]
    return [*found, record(), record(whole_package=True, ecosystem="npm", name="@scope/x")]


def test_data_keys_are_record_keys_on_the_bundled_feed(repo_root: Path) -> None:
    from depguard.packagemap import data_keys, record_keys

    loaded = feed_mod.load_feed(repo_root / "feed")
    assert len(loaded.entries) > 900
    with_artifacts = 0
    for entry in loaded.entries:
        assert entry.record is not None, entry.path
        assert data_keys(entry.data) == record_keys(entry.record), entry.path
        with_artifacts += bool(data_keys(entry.data)[1])
    assert with_artifacts >= 3, "records that list artifacts are part of the comparison"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), new=json_values | st.sampled_from(["drop"]))
def test_what_the_consumer_checks_admit_is_typed(repo_root: Path, data: st.DataObject, new: Any) -> None:
    """A record that passes ``record_issues`` (both schemas and the safety floor) always fits the
    model, and files under the same keys typed or not: a feed directory relies on both to
    skip typing its records at load (:mod:`depguard.sources.directory`)."""
    from depguard.packagemap import data_keys, record_keys
    from depguard.validation.safety import record_issues

    base = data.draw(st.sampled_from(_records_to_edit(repo_root)))
    path = data.draw(st.sampled_from(_paths(base)[1:]))
    if new == "drop":
        instance = copy.deepcopy(base)
        target = instance
        for part in path[:-1]:
            target = target[part]
        del target[path[-1]]
    else:
        instance = _replace(base, path, new)
    if record_issues(instance):
        return
    typed = feed_mod.typed_record(instance)
    assert typed is not None, f"{path} = {new!r} passes the checks but does not fit the model"
    assert data_keys(instance) == record_keys(typed)


_TIMESTAMP_TEXT = st.text(alphabet="0123456789-:.TtZz+ \n", min_size=10, max_size=30)
_TIMESTAMPS = st.datetimes(min_value=__import__("datetime").datetime(1, 1, 1)).map(
    lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%S") + ("" if moment.microsecond % 3 else f".{moment.microsecond}")
)


@settings(max_examples=2000, deadline=None)
@given(
    text=_TIMESTAMP_TEXT
    | _TIMESTAMPS.map(lambda text: text + "Z")
    | st.tuples(_TIMESTAMPS, st.sampled_from(["Z", "z", "+00:00", "-23:59", "Z\n", "", " Z", "+24:00"])).map("".join)
)
def test_date_time_is_what_jsonschemas_checker_says(text: str) -> None:
    """The regex in front of ``validate_rfc3339`` never says yes where the function says no:
    29 February, 31 April, year 0, lower-case letters, offsets, a final newline."""
    from rfc3339_validator import validate_rfc3339

    from depguard.validation.fastschema import date_time

    assert date_time(text) == bool(validate_rfc3339(text.upper())), text


@pytest.mark.parametrize(
    "text",
    [
        "2024-02-29T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "2024-04-31T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "2024-01-01T00:00:00Z\n",
        "2024-01-01t00:00:00z",
        "2024-01-01T24:00:00Z",
        "2024-01-01T00:00:60Z",
    ],
)
def test_date_time_edge_cases(text: str) -> None:
    from rfc3339_validator import validate_rfc3339

    from depguard.validation.fastschema import date_time

    assert date_time(text) == bool(validate_rfc3339(text.upper()))
