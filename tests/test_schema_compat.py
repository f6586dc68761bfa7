"""depguard's OSV schema gives the same verdicts as the official OSV schema.

``schemas/osv.schema.json`` is written from the OSV specification text, not copied from the
official JSON Schema. These tests hold it to the official schema's verdicts:

* on every record of the upstream corpus (PyPA advisory database + OpenSSF malicious packages);
* on deterministic broken (and deliberately still-valid) variants of sampled corpus records, so
  the comparison also covers invalid input, which the real corpus has little of;
* on every ecosystem name the spec defines.

Everything that needs the corpus uses the ``upstream_corpus`` fixture (skipped unless
``DEPGUARD_UPSTREAM_CORPUS`` is set). The same mutations also run without the corpus against a
hand-written record, checked against the verdict each mutation is meant to produce.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from depguard.validation.schema import load_schema, osv_issues

OUR_SCHEMA = "osv.schema.json"
OUR_ID = "https://depguard.dev/schemas/osv.schema.json"

PYPA_DIR = "pypa-advisory-database/vulns"
MAL_DIR = "ossf-malicious-packages"
OFFICIAL_SCHEMA = "osv-schema/schema.json"
ECOSYSTEMS_JSON = "osv-schema/ecosystems.json"

EXPECTED_PYPA = 2661
EXPECTED_MAL = 15  # 12 malicious + 3 withdrawn
EXPECTED_TOTAL = EXPECTED_PYPA + EXPECTED_MAL

Record = dict[str, Any]

# --------------------------------------------------------------------------------------------
# corpus and validators, loaded once per session


@dataclass(frozen=True)
class CorpusRecord:
    path: str  # relative to the corpus root
    record: Any

    @property
    def label(self) -> str:
        rid = self.record.get("id") if isinstance(self.record, dict) else None
        return f"{rid or '?'} ({self.path})"


def _load_dir(root: Path, sub: str) -> list[CorpusRecord]:
    base = root / sub
    assert base.is_dir(), f"corpus directory {base} is missing"
    yaml_files = sorted(p for ext in ("*.yaml", "*.yml") for p in base.rglob(ext))
    assert not yaml_files, f"YAML records are not supported by this test (no YAML parser); found {yaml_files[:3]}"
    return [
        CorpusRecord(str(p.relative_to(root)), json.loads(p.read_text(encoding="utf-8")))
        for p in sorted(base.rglob("*.json"))
    ]


@pytest.fixture(scope="session")
def corpus(upstream_corpus: Path) -> dict[str, list[CorpusRecord]]:
    return {PYPA_DIR: _load_dir(upstream_corpus, PYPA_DIR), MAL_DIR: _load_dir(upstream_corpus, MAL_DIR)}


@pytest.fixture(scope="session")
def official(upstream_corpus: Path) -> Draft202012Validator:
    schema = json.loads((upstream_corpus / OFFICIAL_SCHEMA).read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _first_official_error(validator: Draft202012Validator, instance: Any) -> str:
    error = best_match(validator.iter_errors(instance))
    if error is None:
        return "-"
    where = "/" + "/".join(str(p) for p in error.absolute_path)
    return f"{where}: {' '.join(error.message.split())[:200]}"


def _verdict(valid: bool) -> str:
    return "valid" if valid else "invalid"


def _compare(official: Draft202012Validator, label: str, instance: Any) -> tuple[bool, str | None]:
    """(official verdict, description of the disagreement or None when both agree)."""
    issues = osv_issues(instance)
    official_valid = official.is_valid(instance)
    if (not issues) == official_valid:
        return official_valid, None
    ours = f"{issues[0].pointer or '/'}: {issues[0].message[:200]}" if issues else "-"
    return official_valid, (
        f"{label}: ours={_verdict(not issues)} official={_verdict(official_valid)}; "
        f"ours says {ours}; official says {_first_official_error(official, instance)}"
    )


# --------------------------------------------------------------------------------------------
# our schema on its own


def test_our_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = load_schema(OUR_SCHEMA)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == OUR_ID
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"id", "modified"}


# --------------------------------------------------------------------------------------------
# the real corpus


def test_corpus_size(corpus: dict[str, list[CorpusRecord]]) -> None:
    counts = {name: len(records) for name, records in corpus.items()}
    assert counts == {PYPA_DIR: EXPECTED_PYPA, MAL_DIR: EXPECTED_MAL}, counts
    withdrawn = [r.label for r in corpus[MAL_DIR] if "withdrawn" in r.record]
    assert len(withdrawn) == 3, withdrawn


def test_same_verdict_on_every_corpus_record(
    corpus: dict[str, list[CorpusRecord]], official: Draft202012Validator
) -> None:
    records = [r for group in corpus.values() for r in group]
    assert len(records) == EXPECTED_TOTAL
    disagreements = []
    invalid = 0
    for item in records:
        official_valid, problem = _compare(official, item.label, item.record)
        invalid += not official_valid
        if problem:
            disagreements.append(problem)
    assert not disagreements, (
        f"{len(disagreements)} of {len(records)} corpus records get a different verdict:\n" + "\n".join(disagreements)
    )
    # The snapshot holds a few PYSEC records with abbreviated or suffixed commit hashes in GIT
    # ranges; they keep the "invalid" side of the comparison exercised on real data.
    assert invalid > 0, "expected some officially invalid records in the corpus snapshot"


def test_every_defined_ecosystem_is_accepted_by_both(upstream_corpus: Path, official: Draft202012Validator) -> None:
    names = list(json.loads((upstream_corpus / ECOSYSTEMS_JSON).read_text(encoding="utf-8")))
    assert len(names) >= 40
    problems = []
    for name in names:
        for ecosystem in (name, f"{name}:1", f"{name}:Pro:1.0:LTS"):
            record = _minimal_record()
            record["affected"] = [{"package": {"ecosystem": ecosystem, "name": "pkg"}}]
            official_valid, problem = _compare(official, f"ecosystem {ecosystem!r}", record)
            if problem:
                problems.append(problem)
            elif not official_valid:
                problems.append(f"ecosystem {ecosystem!r}: rejected by both")
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------------------------
# mutations


def _minimal_record() -> Record:
    return {"id": "x_DEPGUARD-0001", "modified": "2025-01-02T03:04:05Z"}


# Written for these tests: every optional part of the format appears once.
BASE_RECORD: Record = {
    "schema_version": "1.7.5",
    "id": "MAL-2099-12345",
    "modified": "2025-02-03T04:05:06Z",
    "published": "2025-02-01T00:00:00.5Z",
    "aliases": ["GHSA-aaaa-bbbb-cccc"],
    "related": ["CVE-2099-0001"],
    "upstream": ["CVE-2099-0002"],
    "summary": "Malicious code in example-pkg (PyPI)",
    "details": "A *made-up* record used by depguard's tests.",
    "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H"}],
    "affected": [
        {
            "package": {"ecosystem": "PyPI", "name": "example-pkg", "purl": "pkg:pypi/example-pkg"},
            "ranges": [
                {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.2.3"}]},
                {
                    "type": "GIT",
                    "repo": "https://example.invalid/example-pkg.git",
                    "events": [{"introduced": "0"}, {"fixed": "0123456789abcdef0123456789abcdef01234567"}],
                },
            ],
            "versions": ["1.0.0", "1.2.2"],
            "ecosystem_specific": {"imports": ["example_pkg"]},
            "database_specific": {"source": "depguard-tests"},
        }
    ],
    "references": [{"type": "PACKAGE", "url": "https://pypi.org/project/example-pkg/"}],
    "credits": [{"name": "depguard", "type": "FINDER", "contact": ["mailto:nobody@example.invalid"]}],
    "database_specific": {"origin": "tests"},
}

SHA1 = "89abcdef0123456789abcdef0123456789abcdef"
SHA256 = "ab" * 32
V2 = "AV:N/AC:L/Au:N/C:P/I:P/A:P"
V3 = "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:C/C:H/I:N/A:N"
V4 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:N/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N"


def _affected0(r: Record) -> Record:
    """The first affected entry, creating one when the record has none."""
    if not isinstance(r.get("affected"), list) or not r["affected"]:
        r["affected"] = [{"package": {"ecosystem": "PyPI", "name": "example-pkg"}}]
    return r["affected"][0]


def _range(r: Record, kind: str) -> Record:
    """The first range of type ``kind`` in the first affected entry, creating one if needed."""
    entry = _affected0(r)
    ranges = entry.setdefault("ranges", [])
    for candidate in ranges:
        if isinstance(candidate, dict) and candidate.get("type") == kind:
            return candidate
    if kind == "GIT":
        new = {"type": "GIT", "repo": "https://example.invalid/r.git", "events": [{"introduced": "0"}, {"fixed": SHA1}]}
    else:
        new = {"type": kind, "events": [{"introduced": "0"}, {"fixed": "9.9.9"}]}
    ranges.append(new)
    return new


def _set(key: str, value: Any) -> Callable[[Record], None]:
    """Set a top-level key."""

    def mutate(r: Record) -> None:
        r[key] = copy.deepcopy(value)

    return mutate


def _drop(key: str) -> Callable[[Record], None]:
    def mutate(r: Record) -> None:
        r.pop(key, None)

    return mutate


def _package(key: str, value: Any = None, drop: bool = False) -> Callable[[Record], None]:
    def mutate(r: Record) -> None:
        package = _affected0(r).setdefault("package", {"ecosystem": "PyPI", "name": "example-pkg"})
        if drop:
            package.pop(key, None)
        else:
            package[key] = value

    return mutate


def _entry(key: str, value: Any) -> Callable[[Record], None]:
    def mutate(r: Record) -> None:
        _affected0(r)[key] = value

    return mutate


def _events(events: list[Any], kind: str = "ECOSYSTEM") -> Callable[[Record], None]:
    def mutate(r: Record) -> None:
        _range(r, kind)["events"] = copy.deepcopy(events)

    return mutate


def _range_key(key: str, value: Any = None, kind: str = "ECOSYSTEM", drop: bool = False) -> Callable[[Record], None]:
    def mutate(r: Record) -> None:
        target = _range(r, kind)
        if drop:
            target.pop(key, None)
        else:
            target[key] = value

    return mutate


def _add_range(value: Any) -> Callable[[Record], None]:
    def mutate(r: Record) -> None:
        _affected0(r).setdefault("ranges", []).append(value)

    return mutate


def _severity(entries: Any) -> Callable[[Record], None]:
    def mutate(r: Record) -> None:
        r["severity"] = copy.deepcopy(entries)

    return mutate


def _score(kind: str, score: Any) -> Callable[[Record], None]:
    return _severity([{"type": kind, "score": score}])


def _severity_in_both(r: Record) -> None:
    r["severity"] = [{"type": "CVSS_V3", "score": V3}]
    _affected0(r)["severity"] = [{"type": "CVSS_V3", "score": V3}]


def _severity_per_package(r: Record) -> None:
    r.pop("severity", None)
    _affected0(r)["severity"] = [{"type": "CVSS_V4", "score": V4}]


def _null_top_severity_with_package_severity(r: Record) -> None:
    r["severity"] = None
    _affected0(r)["severity"] = [{"type": "CVSS_V3", "score": V3}]


def _null_package_severity_with_top_severity(r: Record) -> None:
    r["severity"] = [{"type": "CVSS_V3", "score": V3}]
    _affected0(r)["severity"] = None


def _reference(value: Any) -> Callable[[Record], None]:
    def mutate(r: Record) -> None:
        r["references"] = [*(r.get("references") or []), value]

    return mutate


def _credit(value: Any) -> Callable[[Record], None]:
    def mutate(r: Record) -> None:
        r["credits"] = [*(r.get("credits") or []), value]

    return mutate


def _affected_as_object(r: Record) -> None:
    r["affected"] = _affected0(r)


@dataclass(frozen=True)
class Mutation:
    name: str
    valid: bool | None  # the verdict it is meant to produce on a valid record; None: depends on format checkers
    apply: Callable[[Record], Any]  # edits the record in place, or returns a replacement instance


MUTATIONS: list[Mutation] = [
    # identity and timestamps
    Mutation("drop id", False, _drop("id")),
    Mutation("drop modified", False, _drop("modified")),
    Mutation("id with unknown database prefix", False, _set("id", "NOTADB-2024-1")),
    Mutation("id with lowercased prefix", False, _set("id", "pysec-2024-1")),
    Mutation("id without separator", False, _set("id", "PYSEC2024")),
    Mutation("id with local x_ prefix", True, _set("id", "x_acme-7")),
    Mutation("id with SUSE prefix", True, _set("id", "SUSE-OU-2025:1")),
    Mutation("id not a string", False, _set("id", 20241)),
    Mutation("modified with space instead of T", False, _set("modified", "2024-01-01 00:00:00Z")),
    Mutation("modified with +00:00 offset", False, _set("modified", "2024-01-01T00:00:00+00:00")),
    Mutation("modified lowercase z", False, _set("modified", "2024-01-01T00:00:00z")),
    Mutation("published date only", False, _set("published", "2024-01-01")),
    Mutation("withdrawn with fractional seconds", True, _set("withdrawn", "2024-01-01T00:00:00.123456Z")),
    Mutation("withdrawn as epoch number", False, _set("withdrawn", 1704067200)),
    Mutation("modified with trailing text", None, _set("modified", "2024-01-01T00:00:00Z or so")),
    Mutation("modified impossible date", None, _set("modified", "2024-13-45T25:61:61Z")),
    # other top-level fields
    Mutation("extra top-level key", False, _set("x_extra", {})),
    Mutation("misspelled top-level key", False, _set("alias", ["CVE-2024-1"])),
    Mutation("schema_version as number", False, _set("schema_version", 1.7)),
    Mutation("schema_version with v prefix", True, _set("schema_version", "v1.7.5")),
    Mutation("summary not a string", False, _set("summary", ["one", "line"])),
    Mutation("details null", False, _set("details", None)),
    Mutation("aliases null", True, _set("aliases", None)),
    Mutation("aliases as string", False, _set("aliases", "CVE-2024-1")),
    Mutation("aliases with non-string", False, _set("aliases", [2024])),
    Mutation("related null", False, _set("related", None)),
    Mutation("upstream as list", True, _set("upstream", ["CVE-2024-1"])),
    Mutation("upstream as string", False, _set("upstream", "CVE-2024-1")),
    Mutation("database_specific as list", False, _set("database_specific", ["x"])),
    Mutation("database_specific empty object", True, _set("database_specific", {})),
    # affected and package
    Mutation("affected not a list", False, _affected_as_object),
    Mutation("affected null", True, _set("affected", None)),
    Mutation("affected empty", True, _set("affected", [])),
    Mutation("affected entry not an object", False, _set("affected", ["PyPI/example-pkg"])),
    Mutation("package missing name", False, _package("name", drop=True)),
    Mutation("package missing ecosystem", False, _package("ecosystem", drop=True)),
    Mutation("package not an object", False, _entry("package", "PyPI/example-pkg")),
    Mutation("unknown ecosystem", False, _package("ecosystem", "Cargo")),
    Mutation("ecosystem in wrong case", False, _package("ecosystem", "pypi")),
    Mutation("ecosystem with leading space", False, _package("ecosystem", " PyPI")),
    Mutation("ecosystem with release suffix", True, _package("ecosystem", "Debian:10")),
    Mutation("ecosystem Ubuntu Pro LTS suffix", True, _package("ecosystem", "Ubuntu:Pro:18.04:LTS")),
    Mutation("ecosystem with empty suffix", False, _package("ecosystem", "PyPI:")),
    Mutation("ecosystem GIT", True, _package("ecosystem", "GIT")),
    Mutation("purl not a string", False, _package("purl", {"type": "pypi"})),
    Mutation("versions with non-string", False, _entry("versions", ["1.0", 2])),
    Mutation("versions as string", False, _entry("versions", "1.0")),
    Mutation("ecosystem_specific as string", False, _entry("ecosystem_specific", "x")),
    Mutation("affected database_specific as list", False, _entry("database_specific", [])),
    Mutation("ranges as object", False, _entry("ranges", {"type": "ECOSYSTEM"})),
    # ranges and events
    Mutation("range not an object", False, _add_range("0 <= v < 1.0")),
    Mutation("range with unknown type", False, _range_key("type", "SEMVER2")),
    Mutation("range type lowercase", False, _range_key("type", "ecosystem")),
    Mutation("range missing type", False, _range_key("type", drop=True)),
    Mutation("range missing events", False, _range_key("events", drop=True)),
    Mutation("range events as object", False, _range_key("events", {"introduced": "0"})),
    Mutation("range database_specific as string", False, _range_key("database_specific", "x")),
    Mutation("SEMVER range", True, _events([{"introduced": "1.0.0"}, {"fixed": "1.0.2"}], "SEMVER")),
    Mutation("empty events", False, _events([])),
    Mutation("events without introduced", False, _events([{"fixed": "1.0"}])),
    Mutation("event with two keys", False, _events([{"introduced": "0", "fixed": "1.0"}])),
    Mutation("event with no known key", False, _events([{"introduced": "0"}, {"version": "1.0"}])),
    Mutation("event value not a string", False, _events([{"introduced": 0}])),
    Mutation("event not an object", False, _events([{"introduced": "0"}, "1.0"])),
    Mutation("event with second key null", True, _events([{"introduced": "0", "fixed": None}])),
    Mutation("introduced key with non-string beside fixed", True, _events([{"introduced": 0, "fixed": "1.0"}])),
    Mutation(
        "fixed and last_affected in one range",
        False,
        _events([{"introduced": "0"}, {"fixed": "2"}, {"last_affected": "1"}]),
    ),
    Mutation("last_affected only", True, _events([{"introduced": "0"}, {"last_affected": "1.0"}])),
    Mutation("limit star", True, _events([{"introduced": "0"}, {"limit": "*"}])),
    Mutation("two introduced events", True, _events([{"introduced": "0"}, {"fixed": "1"}, {"introduced": "2"}])),
    Mutation("GIT range without repo", False, _range_key("repo", kind="GIT", drop=True)),
    Mutation("GIT repo not a string", False, _range_key("repo", ["https://x"], kind="GIT")),
    Mutation("GIT abbreviated hash", False, _events([{"introduced": "0"}, {"fixed": SHA1[:10]}], "GIT")),
    Mutation("GIT uppercase hash", False, _events([{"introduced": "0"}, {"fixed": SHA1.upper()}], "GIT")),
    Mutation("GIT hash with suffix", False, _events([{"introduced": "0"}, {"fixed": SHA1 + ".patch"}], "GIT")),
    Mutation("GIT tag instead of hash", False, _events([{"introduced": "v1.0.0"}], "GIT")),
    Mutation("GIT sha256 hashes", True, _events([{"introduced": SHA256}, {"limit": SHA256[::-1]}], "GIT")),
    # severity
    Mutation("severity not a list", False, _severity({"type": "CVSS_V3", "score": V3})),
    Mutation("severity null", True, _severity(None)),
    Mutation("severity entry not an object", False, _severity([V3])),
    Mutation("severity unknown type", False, _score("CVSS_V5", "CVSS:5.0/AV:N")),
    Mutation("severity missing score", False, _severity([{"type": "CVSS_V3"}])),
    Mutation("severity missing type", False, _severity([{"score": V3}])),
    Mutation("severity numeric score", False, _score("CVSS_V3", 9.8)),
    Mutation("CVSS_V3 with version 3.2", False, _score("CVSS_V3", V3.replace("3.1", "3.2"))),
    Mutation("CVSS_V3 lowercase", False, _score("CVSS_V3", V3.lower())),
    Mutation("CVSS_V3 trailing slash", False, _score("CVSS_V3", V3 + "/")),
    Mutation("CVSS_V3 bad metric value", False, _score("CVSS_V3", V3.replace("AC:H", "AC:M"))),
    Mutation("CVSS_V3 metrics reordered", True, _score("CVSS_V3", "CVSS:3.0/S:C/AV:N/C:H/I:N/A:N/AC:H/PR:N/UI:N")),
    Mutation("CVSS_V3 score given as V4 vector", False, _score("CVSS_V3", V4)),
    Mutation("CVSS_V2 vector", True, _score("CVSS_V2", V2)),
    Mutation("CVSS_V2 with temporal metrics", True, _score("CVSS_V2", V2 + "/E:POC/RL:OF/RC:C")),
    Mutation("CVSS_V2 with prefix", False, _score("CVSS_V2", "CVSS:2.0/" + V2)),
    Mutation("CVSS_V4 vector", True, _score("CVSS_V4", V4)),
    Mutation("CVSS_V4 with optional metrics", True, _score("CVSS_V4", V4 + "/E:A/MAV:N/MSI:S/U:Amber")),
    Mutation("CVSS_V4 metrics out of order", False, _score("CVSS_V4", V4.replace("AV:N/AC:L", "AC:L/AV:N"))),
    Mutation("CVSS_V4 missing base metric", False, _score("CVSS_V4", V4.replace("/SA:N", ""))),
    Mutation("Ubuntu priority", True, _score("Ubuntu", "negligible")),
    Mutation("Ubuntu priority capitalised", False, _score("Ubuntu", "Medium")),
    Mutation("severity at record and package level", False, _severity_in_both),
    Mutation("severity at package level only", True, _severity_per_package),
    Mutation("null record severity beside package severity", False, _null_top_severity_with_package_severity),
    Mutation("null package severity beside record severity", True, _null_package_severity_with_top_severity),
    # references
    Mutation("reference with unknown type", False, _reference({"type": "LINK", "url": "https://example.invalid"})),
    Mutation("reference type lowercase", False, _reference({"type": "web", "url": "https://example.invalid"})),
    Mutation("reference missing url", False, _reference({"type": "WEB"})),
    Mutation("reference url not a string", False, _reference({"type": "WEB", "url": ["https://example.invalid"]})),
    Mutation("reference not an object", False, _reference("https://example.invalid")),
    Mutation("reference url not a URI", None, _reference({"type": "WEB", "url": "not a url at all"})),
    Mutation("references null", True, _set("references", None)),
    Mutation("references as object", False, _set("references", {"type": "WEB", "url": "https://example.invalid"})),
    # credits
    Mutation("credit with unknown type", False, _credit({"name": "someone", "type": "HERO"})),
    Mutation("credit missing name", False, _credit({"type": "FINDER"})),
    Mutation("credit contact as string", False, _credit({"name": "someone", "contact": "mailto:a@example.invalid"})),
    Mutation("credit not an object", False, _credit("someone")),
    Mutation("credits null", False, _set("credits", None)),
    # the whole record
    Mutation("record wrapped in a list", False, lambda r: [r]),
]


def _mutant(record: Record, mutation: Mutation) -> Any:
    mutant = copy.deepcopy(record)
    replacement = mutation.apply(mutant)
    return mutant if replacement is None else replacement


def test_mutations_cover_enough_kinds() -> None:
    names = [m.name for m in MUTATIONS]
    assert len(names) == len(set(names))
    assert sum(m.valid is False for m in MUTATIONS) >= 15


def test_base_record_is_valid() -> None:
    assert osv_issues(BASE_RECORD) == []


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m.name)
def test_mutation_verdict_on_base_record(mutation: Mutation) -> None:
    """Without the corpus: our schema alone gives each mutation its intended verdict."""
    if mutation.valid is None:
        pytest.skip("verdict depends on the installed format checkers")
    issues = osv_issues(_mutant(BASE_RECORD, mutation))
    assert (not issues) == mutation.valid, issues


SAMPLE_STRIDE = 250


def _sample(corpus: dict[str, list[CorpusRecord]], official: Draft202012Validator) -> list[CorpusRecord]:
    """Officially valid records: every malicious-packages record, every SAMPLE_STRIDE-th PYSEC record,
    and the first PYSEC records with a GIT range, a severity, a last_affected event, a SEMVER range."""
    valid = [r for r in corpus[PYPA_DIR] if official.is_valid(r.record)]
    picked = {r.path: r for r in valid[::SAMPLE_STRIDE]}
    features: list[Callable[[Record], bool]] = [
        lambda d: any(rg.get("type") == "GIT" for a in d.get("affected") or [] for rg in a.get("ranges") or []),
        lambda d: bool(d.get("severity")),
        lambda d: any(
            "last_affected" in e for a in d.get("affected") or [] for rg in a.get("ranges") or [] for e in rg["events"]
        ),
        lambda d: any(rg.get("type") == "SEMVER" for a in d.get("affected") or [] for rg in a.get("ranges") or []),
    ]
    for has in features:
        first = next((r for r in valid if has(r.record)), None)
        if first is not None:
            picked[first.path] = first
    picked.update({r.path: r for r in corpus[MAL_DIR] if official.is_valid(r.record)})
    return sorted(picked.values(), key=lambda r: r.path)


def test_same_verdict_on_mutated_corpus_records(
    corpus: dict[str, list[CorpusRecord]], official: Draft202012Validator
) -> None:
    sample = _sample(corpus, official)
    assert len(sample) >= 25, len(sample)
    disagreements: list[str] = []
    unexpected: list[str] = []
    checked = rejected = 0
    for item in sample:
        for mutation in MUTATIONS:
            label = f"[{mutation.name}] {item.label}"
            official_valid, problem = _compare(official, label, _mutant(item.record, mutation))
            checked += 1
            rejected += not official_valid
            if problem:
                disagreements.append(problem)
            if mutation.valid is not None and official_valid != mutation.valid:
                unexpected.append(
                    f"{label}: official says {_verdict(official_valid)}, mutation meant {_verdict(mutation.valid)}"
                )
    assert not disagreements, (
        f"{len(disagreements)} of {checked} mutated records get a different verdict:\n" + "\n".join(disagreements)
    )
    # Guard the test itself: each mutation must still do to the official schema what it is named for.
    assert not unexpected, "\n".join(unexpected)
    assert rejected > checked // 2, (rejected, checked)
