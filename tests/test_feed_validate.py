"""The feed rules: every rule catches its breakage, and one run reports them all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from depguard.feed import canonical_bytes, lint, load_feed, next_id, validate

from feedkit import record, write_feed, write_record


def rules(root: Path) -> list[str]:
    return [issue.rule for issue in validate(root)]


def test_valid_feed_has_no_issues(tmp_path: Path) -> None:
    write_feed(tmp_path, [record(), record("x_DEPGUARD-2026-0002", name="aiocpa", versions=("0.1.13",))])
    assert validate(tmp_path) == []


def _broken_records() -> dict[str, tuple[dict, dict]]:
    """One broken record per rule: name -> (record, write options)."""
    cases: dict[str, tuple[dict, dict]] = {}

    def case(name: str, data: dict, **options: object) -> None:
        cases[name] = (data, options)

    r = record("x_DEPGUARD-2026-0101", name="p01")
    del r["summary"]
    case("schema-missing-summary", r)
    r = record("x_DEPGUARD-2026-0102", name="p02")
    r["id"] = "DEPGUARD-2026-0102"
    case("schema-bad-id", r, rel="PyPI/p02/DEPGUARD-2026-0102.json")
    r = record("x_DEPGUARD-2026-0103", name="p03")
    case("filename", r, rel="PyPI/p03/x_DEPGUARD-2026-9103.json")
    r = record("x_DEPGUARD-2026-0104", name="p04")
    case("layout", r, rel="PyPI/other/x_DEPGUARD-2026-0104.json")
    r = record("x_DEPGUARD-2026-0105", name="p05")
    case("unique-id-a", r)
    r2 = record("x_DEPGUARD-2026-0105", name="p05b")
    case("unique-id-b", r2)
    r = record("x_DEPGUARD-2026-0106", name="p06", modified="2026-03-01T00:00:00Z")
    case("modified-before-published", r)
    r = record("x_DEPGUARD-2026-0107", name="p07", withdrawn="2026-01-01T00:00:00Z")
    case("withdrawn-before-published", r)
    r = record("x_DEPGUARD-2026-0108", name="p08", versions=("1.0", "not a version"))
    case("pep440", r)
    r = record("x_DEPGUARD-2026-0109", name="p09", ecosystem="npm", versions=("1.0",))
    case("semver", r)
    r = record("x_DEPGUARD-2026-0110", name="p10", versions=("1.0.0", "1.0"))
    case("versions-equal", r)
    r = record("x_DEPGUARD-2026-0111", name="p11", versions=("2.0", "1.0"))
    case("versions-unsorted", r)
    r = record("x_DEPGUARD-2026-0112", name="p12")
    r["affected"][0]["package"]["purl"] = "pkg:pypi/other"
    case("purl", r)
    r = record("x_DEPGUARD-2026-0113", name="p13")
    r["references"][0]["url"] = "http://example.org/report"
    case("references-https", r)
    r = record("x_DEPGUARD-2026-0114", name="p14")
    r["aliases"] = ["FOO-1"]
    case("alias-prefix", r)
    r = record("x_DEPGUARD-2026-0115", name="p15")
    case("overlap-a", r)
    r = record("x_DEPGUARD-2026-0116", name="p15")
    case("overlap-b", r)
    r = record("x_DEPGUARD-2026-0117", name="p17")
    case("canonical", r, raw=json.dumps(r).encode())
    case("invalid-json", {"id": "x_DEPGUARD-2026-0118"}, rel="PyPI/p18/x_DEPGUARD-2026-0118.json", raw=b'{"id": ')
    r = record("x_DEPGUARD-2026-0119", name="Foo_Bar")
    case("pep503-name", r, rel="PyPI/Foo_Bar/x_DEPGUARD-2026-0119.json")
    r = record("x_DEPGUARD-2026-0120", name="p20")
    r["database_specific"]["depguard"]["kind"] = "compromised-release"
    r["affected"][0]["ranges"] = [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]
    case("range-without-malicious-kind", r)
    case(
        "duplicate-keys",
        {"id": "x_DEPGUARD-2026-0121"},
        rel="PyPI/p21/x_DEPGUARD-2026-0121.json",
        raw=b'{"id": "a", "id": "b"}',
    )
    return cases


@pytest.fixture(scope="module")
def broken_feed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("broken")
    for data, options in _broken_records().values():
        write_record(root, data, **options)
    return root


EXPECTED = {
    "PyPI/p01/x_DEPGUARD-2026-0101.json": "schema",
    "PyPI/p02/DEPGUARD-2026-0102.json": "schema",
    "PyPI/p03/x_DEPGUARD-2026-9103.json": "filename",
    "PyPI/other/x_DEPGUARD-2026-0104.json": "layout",
    "PyPI/p05b/x_DEPGUARD-2026-0105.json": "unique-id",
    "PyPI/p06/x_DEPGUARD-2026-0106.json": "timestamps",
    "PyPI/p07/x_DEPGUARD-2026-0107.json": "timestamps",
    "PyPI/p08/x_DEPGUARD-2026-0108.json": "versions",
    "npm/p09/x_DEPGUARD-2026-0109.json": "versions",
    "PyPI/p10/x_DEPGUARD-2026-0110.json": "versions",
    "PyPI/p11/x_DEPGUARD-2026-0111.json": "versions",
    "PyPI/p12/x_DEPGUARD-2026-0112.json": "purl",
    "PyPI/p13/x_DEPGUARD-2026-0113.json": "references",
    "PyPI/p14/x_DEPGUARD-2026-0114.json": "aliases",
    "PyPI/p15/x_DEPGUARD-2026-0116.json": "overlap",
    "PyPI/p17/x_DEPGUARD-2026-0117.json": "canonical",
    "PyPI/p18/x_DEPGUARD-2026-0118.json": "json",
    "PyPI/Foo_Bar/x_DEPGUARD-2026-0119.json": "name",
    "PyPI/p20/x_DEPGUARD-2026-0120.json": "schema",
    "PyPI/p21/x_DEPGUARD-2026-0121.json": "json",
}


def test_every_broken_record_is_reported_in_one_run(broken_feed: Path) -> None:
    issues = validate(broken_feed)
    by_path: dict[str, set[str]] = {}
    for issue in issues:
        by_path.setdefault(issue.path, set()).add(issue.rule)
    missing = {path: rule for path, rule in EXPECTED.items() if rule not in by_path.get(path, set())}
    assert not missing, f"rules not reported: {missing}\nall issues:\n" + "\n".join(map(str, issues))
    assert len(EXPECTED) == 20
    # The valid halves of the pairs are not blamed.
    assert "PyPI/p05/x_DEPGUARD-2026-0105.json" not in by_path
    assert "PyPI/p15/x_DEPGUARD-2026-0115.json" not in by_path


def test_issues_carry_json_pointers(broken_feed: Path) -> None:
    pointers = {(i.path, i.pointer) for i in validate(broken_feed)}
    assert ("PyPI/p13/x_DEPGUARD-2026-0113.json", "/references/0/url") in pointers
    assert ("PyPI/p08/x_DEPGUARD-2026-0108.json", "/affected/0/versions/1") in pointers
    assert ("PyPI/p01/x_DEPGUARD-2026-0101.json", "") in pointers  # a missing key is reported at the record


def test_withdrawn_records_do_not_overlap(tmp_path: Path) -> None:
    write_feed(tmp_path, [record(withdrawn="2026-04-01T00:00:00Z"), record("x_DEPGUARD-2026-0002")])
    assert "overlap" not in rules(tmp_path)


def test_overlap_compares_normalized_versions(tmp_path: Path) -> None:
    write_feed(tmp_path, [record(versions=("1.0",)), record("x_DEPGUARD-2026-0002", versions=("1.0.0",))])
    assert "overlap" in rules(tmp_path)


def test_canonical_form_is_stable_and_ordered() -> None:
    data = record()
    shuffled = dict(reversed(list(data.items())))
    assert canonical_bytes(shuffled) == canonical_bytes(data)
    text = canonical_bytes(data).decode()
    assert text.endswith("}\n") and text.index('"schema_version"') < text.index('"id"') < text.index('"affected"')
    assert json.loads(text) == data


def test_unknown_fields_survive_canonical_form() -> None:
    data = record()
    data["affected"][0]["ecosystem_specific"] = {"zeta": 1, "alpha": [2]}
    data["credits"] = [{"name": "Someone", "type": "FINDER"}]
    assert json.loads(canonical_bytes(data)) == data


def test_next_id_counts_per_year(tmp_path: Path) -> None:
    write_feed(tmp_path, [record("x_DEPGUARD-2026-0007"), record("x_DEPGUARD-2025-0042", name="other")])
    assert next_id(tmp_path, 2026) == "x_DEPGUARD-2026-0008"
    assert next_id(tmp_path, 2025) == "x_DEPGUARD-2025-0043"
    assert next_id(tmp_path, 2027) == "x_DEPGUARD-2027-0001"


def test_lint_only_limits_per_file_rules(broken_feed: Path) -> None:
    from pathlib import PurePosixPath

    feed = load_feed(broken_feed)
    only = [PurePosixPath("PyPI/p13/x_DEPGUARD-2026-0113.json")]
    assert {i.path for i in lint(feed, only=only)} == {"PyPI/p13/x_DEPGUARD-2026-0113.json"}


def test_validate_refuses_what_clients_refuse(tmp_path: Path) -> None:
    """A control or bidi character passes the JSON Schemas but no client would accept it."""
    bad = record()
    bad["summary"] = "innocent \u202etxt.exe"
    write_feed(tmp_path, [bad])
    assert "unsafe-text" in rules(tmp_path)
