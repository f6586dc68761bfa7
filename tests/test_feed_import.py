"""`depguard feed import` on real upstream records copied from the corpus into a temporary feed.

Every case runs the command as a contributor does (typer's runner over the real CLI) and then
asks `depguard feed validate` what it thinks of the result: a draft's TODO lines must be
refused, a finished import must pass, and bad input must leave the feed byte-identical.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from depguard import importer
from depguard.cli import app
from depguard.errors import InvalidRecordError
from depguard.feed import TODO_MARKER, canonical_bytes, load_feed

from feedkit import record, write_feed

runner = CliRunner()
MAL = "incidents/ossf-malicious-packages/osv"
PYSEC = "incidents/pypa-advisory-database/vulns"
GHSA = "incidents/github-advisory-database/advisories/github-reviewed"
IOC = "incidents/datadog-indicators-of-compromise"


def run(*args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` (dot-files too) by path, as a hash of its bytes."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def records(root: Path) -> dict[str, dict]:
    return {str(e.path): e.data for e in load_feed(root).entries}


@pytest.fixture
def upstream(upstream_corpus: Path, tmp_path: Path):
    """Copy named corpus files into the test's folder (the tests never read the corpus in place)."""
    inbox = tmp_path / "upstream"

    def copy(*rels: str) -> list[str]:
        out = []
        for rel in rels:
            source = upstream_corpus / rel
            target = inbox / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            out.append(str(target))
        return out

    return copy


@pytest.fixture
def empty_feed(tmp_path: Path) -> Path:
    root = tmp_path / "feed"
    root.mkdir()
    return root


@pytest.fixture
def repo_feed(tmp_path: Path, repo_root: Path) -> Path:
    root = tmp_path / "repo-feed"
    shutil.copytree(repo_root / "feed", root)
    return root


def validate(root: Path) -> tuple[int, list[dict]]:
    code, out, _ = run("feed", "validate", str(root), "--format", "json")
    return code, json.loads(out)["errors"]


def finish_drafts(root: Path) -> None:
    """What the contributor does after an import: rewrite the draft text, drop the TODO lines."""
    for path in root.rglob("x_DEPGUARD-*.json"):
        data = json.loads(path.read_text())
        if TODO_MARKER not in data["summary"] + data["details"]:
            continue
        data["summary"] = f"Compromised releases of {data['affected'][0]['package']['name']}"
        data["details"] = "\n\n".join(p for p in data["details"].split("\n\n") if TODO_MARKER not in p)
        from depguard.feed import canonical_bytes

        path.write_bytes(canonical_bytes(data))


# --- OSV records ---------------------------------------------------------------------------


def test_mal_and_pysec_of_one_incident_become_one_draft(upstream, empty_feed: Path) -> None:
    paths = upstream(f"{MAL}/malicious/pypi/num2words/MAL-2025-6794.json", f"{PYSEC}/num2words/PYSEC-2025-72.yaml")
    code, out, err = run("feed", "import", "--feed", str(empty_feed), *paths)
    assert code == 0, out + err
    written = records(empty_feed)
    assert list(written) == ["PyPI/num2words/x_DEPGUARD-2025-0001.json"]
    data = written["PyPI/num2words/x_DEPGUARD-2025-0001.json"]
    assert data["aliases"] == ["GHSA-jxr6-qrxx-2ph2", "MAL-2025-6794", "PYSEC-2025-72"]
    assert data["affected"][0]["versions"] == ["0.5.15", "0.5.16"]
    assert data["published"] == "2025-07-31T14:34:47Z"  # the earlier of the two records
    assert data["database_specific"] == {"depguard": {"kind": "compromised-release"}}
    urls = [r["url"] for r in data["references"]]
    assert len(urls) == len(set(urls)) and any("stepsecurity" in u for u in urls)
    assert "wrote " in out and "needs a human:" in out and "[draft-text]" in out
    # The draft text is marked, and the validator refuses it until a human rewrites it.
    code, errors = validate(empty_feed)
    assert code == 1 and {e["rule"] for e in errors} == {"todo"}
    assert {e["pointer"] for e in errors} == {"/summary", "/details"}
    assert "delete the line" in errors[0]["message"]
    finish_drafts(empty_feed)
    assert validate(empty_feed) == (0, [])


def test_litellm_mal_and_pysec_merge_and_take_the_file_order_free_id(upstream, empty_feed: Path) -> None:
    year = json.dumps(record("x_DEPGUARD-2026-0007", name="other", versions=("1.0",)))
    write_feed(empty_feed, [json.loads(year)])
    paths = upstream(f"{PYSEC}/litellm/PYSEC-2026-2.yaml", f"{MAL}/malicious/pypi/litellm/MAL-2026-2144.json")
    code, out, err = run("feed", "import", "--feed", str(empty_feed), "--format", "json", *paths)
    assert code == 0, err
    report = json.loads(out)
    assert [(w["id"], w["action"], w["upstream"]) for w in report["written"]] == [
        ("x_DEPGUARD-2026-0008", "new", ["MAL-2026-2144", "PYSEC-2026-2"])
    ]
    data = records(empty_feed)["PyPI/litellm/x_DEPGUARD-2026-0008.json"]
    # PYSEC's range introduced 1.82.7 / last_affected 1.82.8 is explained by its own versions.
    assert data["affected"][0] == {
        "package": {"ecosystem": "PyPI", "name": "litellm", "purl": "pkg:pypi/litellm"},
        "versions": ["1.82.7", "1.82.8"],
    }
    assert not [n for n in report["needs_human"] if n["kind"] == "todo-range"]


def test_import_into_the_repo_feed_extends_litellm_instead_of_duplicating(upstream, repo_feed: Path) -> None:
    path = repo_feed / "PyPI/litellm/x_DEPGUARD-2026-0001.json"
    before = json.loads(path.read_text())
    # As the record stood before 1.82.7 was known: the import must add it, keep the text.
    shrunk = json.loads(path.read_text())
    shrunk["affected"][0]["versions"] = ["1.82.8"]
    shrunk["aliases"] = ["MAL-2026-2144"]
    from depguard.feed import canonical_bytes

    path.write_bytes(canonical_bytes(shrunk))
    paths = upstream(f"{MAL}/malicious/pypi/litellm/MAL-2026-2144.json")
    code, out, err = run("feed", "import", "--feed", str(repo_feed), *paths)
    assert code == 0, out + err
    assert sorted(p.name for p in path.parent.iterdir()) == ["x_DEPGUARD-2026-0001.json"]
    after = json.loads(path.read_text())
    assert after["affected"][0]["versions"] == ["1.82.7", "1.82.8"]
    assert after["aliases"] == ["MAL-2026-2144", "PYSEC-2026-2"]  # MAL's own alias carried over
    assert after["summary"] == before["summary"] and after["details"] == before["details"]
    assert after["references"] == before["references"]  # every MAL link was already there
    assert after["published"] == before["published"] and after["modified"] > before["modified"]
    assert f"extended {path}" in out and "+1 new" in out
    assert validate(repo_feed) == (0, [])


def test_import_of_what_the_repo_feed_already_has_writes_nothing(upstream, repo_feed: Path) -> None:
    before = tree(repo_feed)
    paths = upstream(f"{MAL}/malicious/pypi/litellm/MAL-2026-2144.json", f"{PYSEC}/litellm/PYSEC-2026-2.yaml")
    code, out, _ = run("feed", "import", "--feed", str(repo_feed), paths[0])
    assert code == 0
    assert "nothing to write" in out and "[unchanged]" in out
    assert tree(repo_feed) == before


def test_extension_appends_new_references_and_aliases(upstream, repo_feed: Path) -> None:
    path = repo_feed / "PyPI/num2words/x_DEPGUARD-2025-0003.json"
    before = json.loads(path.read_text())
    paths = upstream(f"{MAL}/malicious/pypi/num2words/MAL-2025-6794.json", f"{PYSEC}/num2words/PYSEC-2025-72.yaml")
    code, _out, err = run("feed", "import", "--feed", str(repo_feed), *paths)
    assert code == 0, err
    after = json.loads(path.read_text())
    assert after["references"][: len(before["references"])] == before["references"]
    assert set(before["aliases"]) <= set(after["aliases"]) and "GHSA-jxr6-qrxx-2ph2" in after["aliases"]
    assert after["affected"] == before["affected"]
    assert len(list(path.parent.iterdir())) == 1
    assert validate(repo_feed) == (0, [])


def test_range_without_listed_versions_is_a_todo_the_validator_refuses(upstream, empty_feed: Path) -> None:
    paths = upstream(f"{MAL}/malicious/npm/@ctrl/deluge/MAL-2025-47131.json")
    code, out, err = run("feed", "import", "--feed", str(empty_feed), *paths)
    assert code == 0, err
    assert (
        "[todo-range] npm @ctrl/deluge: MAL-2025-47131: range SEMVER introduced '7.2.1', last_affected '7.2.2'" in out
    )
    data = records(empty_feed)["npm/@ctrl/deluge/x_DEPGUARD-2025-0001.json"]
    assert data["affected"][0]["versions"] == []  # nothing guessed
    todo = [line for line in data["details"].split("\n\n") if "last_affected" in line]
    assert todo and todo[0].startswith(TODO_MARKER) and "list every affected version explicitly" in todo[0]
    finish_drafts(empty_feed)  # rewriting the text alone does not answer the range question...
    data = records(empty_feed)["npm/@ctrl/deluge/x_DEPGUARD-2025-0001.json"]
    assert TODO_MARKER not in data["details"]
    code, errors = validate(empty_feed)
    assert code == 1 and [e["pointer"] for e in errors] == ["/affected/0/versions"]  # ...the versions must be listed


def test_todo_range_line_is_refused_with_what_to_do(upstream, empty_feed: Path) -> None:
    paths = upstream(f"{MAL}/malicious/npm/@ctrl/deluge/MAL-2025-47131.json")
    assert run("feed", "import", "--feed", str(empty_feed), *paths)[0] == 0
    path = empty_feed / "npm/@ctrl/deluge/x_DEPGUARD-2025-0001.json"
    data = json.loads(path.read_text())
    data["summary"] = "Compromised @ctrl/deluge releases"
    data["affected"][0]["versions"] = ["7.2.1", "7.2.2"]
    data["details"] = "\n\n".join(p for p in data["details"].split("\n\n") if "draft generated" not in p)
    from depguard.feed import canonical_bytes

    path.write_bytes(canonical_bytes(data))
    code, errors = validate(empty_feed)
    assert code == 1 and [(e["pointer"], e["rule"]) for e in errors] == [("/details", "todo")]
    assert "list every affected version explicitly in affected[].versions" in errors[0]["message"]


def test_introduced_zero_artefact_is_flagged_not_copied(upstream, empty_feed: Path) -> None:
    paths = upstream(
        f"{MAL}/malicious/npm/ngx-toastr/MAL-2025-47199.json",
        f"{MAL}/malicious/npm/duckdb/MAL-2025-46994.json",
        f"{MAL}/malicious/npm/@ctrl/qbittorrent/MAL-2025-47138.json",
    )
    code, out, err = run("feed", "import", "--feed", str(empty_feed), "--format", "json", *paths)
    assert code == 0, err
    flagged = {n["subject"] for n in json.loads(out)["needs_human"] if n["kind"] == "introduced-0"}
    assert flagged == {"npm ngx-toastr", "npm duckdb", "npm @ctrl/qbittorrent"}
    for data in records(empty_feed).values():
        assert data["database_specific"]["depguard"]["kind"] == "compromised-release"
        assert "ranges" not in data["affected"][0]
    duckdb = records(empty_feed)["npm/duckdb/x_DEPGUARD-2025-0002.json"]
    assert duckdb["affected"][0]["versions"] == ["1.3.3"]


def test_only_introduced_zero_makes_a_malicious_package_draft(upstream, empty_feed: Path) -> None:
    paths = upstream(f"{MAL}/malicious/npm/flatmap-stream/MAL-2025-20690.json")
    code, out, err = run("feed", "import", "--feed", str(empty_feed), *paths)
    assert code == 0, err
    data = records(empty_feed)["npm/flatmap-stream/x_DEPGUARD-2025-0001.json"]
    assert data["database_specific"]["depguard"]["kind"] == "malicious-package"
    assert data["affected"][0]["ranges"] == [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]
    assert "add at least one known malicious version" in data["details"]
    assert "[todo-range] npm flatmap-stream" in out


def test_ghsa_range_explained_by_its_versions_is_copied_as_versions(upstream, empty_feed: Path) -> None:
    paths = upstream(f"{GHSA}/2025/09/GHSA-w62p-hx95-gf2c/GHSA-w62p-hx95-gf2c.json")
    code, out, err = run("feed", "import", "--feed", str(empty_feed), *paths)
    assert code == 0, err
    data = records(empty_feed)["npm/duckdb/x_DEPGUARD-2025-0001.json"]
    assert [(a["package"]["name"], a["versions"]) for a in data["affected"]] == [
        ("duckdb", ["1.3.3"]),
        ("@duckdb/node-api", ["1.3.3"]),
        ("@duckdb/node-bindings", ["1.3.3"]),
        ("@duckdb/duckdb-wasm", ["1.29.2"]),
    ]
    assert "[todo-range]" not in out


def test_withdrawn_record_is_reported_not_imported(upstream, empty_feed: Path) -> None:
    paths = upstream(f"{MAL}/withdrawn/npm/@nx/key/MAL-2025-41440.json")
    code, out, _ = run("feed", "import", "--feed", str(empty_feed), *paths)
    assert code == 0
    assert "[withdrawn] MAL-2025-41440: withdrawn upstream on 2026-05-26T16:40:12Z: not imported" in out
    assert "nothing to write" in out
    assert tree(empty_feed) == {}


def test_folder_and_stdin_inputs(upstream_corpus: Path, empty_feed: Path) -> None:
    folder = upstream_corpus / MAL / "malicious/npm/@ctrl"
    raw = (upstream_corpus / MAL / "malicious/pypi/aiocpa/MAL-2024-11518.json").read_bytes()
    code, out, err = run("feed", "import", "--feed", str(empty_feed), "--dry-run", "--format", "json", str(folder))
    assert code == 0, err
    assert len(json.loads(out)["written"]) == 4 and tree(empty_feed) == {}
    code, out, err = run("feed", "import", "--feed", str(empty_feed), "-", stdin=raw)
    assert code == 0, err
    assert list(records(empty_feed)) == ["PyPI/aiocpa/x_DEPGUARD-2024-0001.json"]


def test_dry_run_writes_nothing(upstream, repo_feed: Path) -> None:
    before = tree(repo_feed)
    paths = upstream(f"{PYSEC}/ultralytics/PYSEC-2024-154.yaml")
    code, out, _ = run("feed", "import", "--feed", str(repo_feed), "--dry-run", *paths)
    assert code == 0 and out.startswith("would extend ")
    assert tree(repo_feed) == before


# --- bad input: exit 2, nothing written ----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("notes.json", b"this is not json", "not JSON"),
        ("list.yaml", b"- a\n- b\n", "not an OSV record"),
        ("dup.json", b'{"id": "MAL-1", "id": "MAL-2"}', "duplicate key"),
        ("deep.json", b"[" * 100000 + b"]" * 100000, "nested"),
        ("anchors.yaml", b"id: &a MAL-2026-1\nmodified: *a\n", "anchors and aliases"),
    ],
)
def test_unreadable_input_exits_2_and_writes_nothing(
    tmp_path: Path, repo_feed: Path, name: str, content: bytes, message: str
) -> None:
    bad = tmp_path / name
    bad.write_bytes(content)
    before = tree(repo_feed)
    code, out, err = run("feed", "import", "--feed", str(repo_feed), str(bad))
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in out + err
    assert tree(repo_feed) == before


def _broken_copy(upstream_corpus: Path, tmp_path: Path, rel: str, change) -> Path:
    data = json.loads((upstream_corpus / rel).read_text())
    change(data)
    path = tmp_path / Path(rel).name
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["affected"][0]["package"].update(ecosystem="crates.io"),
            "ecosystem 'crates.io' is not carried by depguard",
        ),
        (lambda d: d["affected"][0]["versions"].append("1.82.9; rm -rf /"), "is not a valid PEP 440 version"),
        (lambda d: d["affected"][0]["package"].update(name="lite llm"), "not a valid PyPI package name"),
        (lambda d: d.pop("id"), "not an OSV record"),
    ],
)
def test_bad_record_among_good_ones_exits_2_and_writes_nothing(
    upstream_corpus: Path, upstream, tmp_path: Path, repo_feed: Path, change, message: str
) -> None:
    good = upstream(f"{MAL}/malicious/npm/axios/MAL-2026-2307.json", f"{PYSEC}/num2words/PYSEC-2025-72.yaml")
    bad = _broken_copy(upstream_corpus, tmp_path, f"{MAL}/malicious/pypi/litellm/MAL-2026-2144.json", change)
    before = tree(repo_feed)
    code, out, err = run("feed", "import", "--feed", str(repo_feed), *good, str(bad))
    assert code == 2, out
    assert message in err and "Traceback" not in out + err
    assert tree(repo_feed) == before


def test_real_pysec_record_with_a_non_pep440_version_is_refused(upstream, repo_feed: Path) -> None:
    paths = upstream(f"{PYSEC}/aptdaemon/PYSEC-2026-783.yaml")
    before = tree(repo_feed)
    code, _, err = run("feed", "import", "--feed", str(repo_feed), *paths)
    assert code == 2 and "'0.3X' is not a valid PEP 440 version" in err
    assert tree(repo_feed) == before


def test_missing_feed_or_input_exits_2(tmp_path: Path, upstream) -> None:
    paths = upstream(f"{MAL}/malicious/npm/axios/MAL-2026-2307.json")
    assert run("feed", "import", "--feed", str(tmp_path / "nope"), *paths)[0] == 2
    (tmp_path / "feed").mkdir()
    code, _, err = run("feed", "import", "--feed", str(tmp_path / "feed"), str(tmp_path / "missing.json"))
    assert code == 2 and "no such file" in err
    code, _, err = run("feed", "import", "--feed", str(tmp_path / "feed"))
    assert code == 2 and "nothing to import" in err


def test_yaml_scalars_stay_strings() -> None:
    """Unquoted versions and timestamps keep their exact text (a stock safe_load makes 1.10 a float)."""
    raw = (
        b"id: PYSEC-2026-9\nmodified: 2026-01-02T03:04:05Z\naffected:\n- package: {ecosystem: PyPI, name: demo}\n"
        b"  versions: [1.10, 2.0]\n"
    )
    upstream = importer.parse_upstream(raw, "demo.yaml", yaml=True)
    assert upstream.data["modified"] == "2026-01-02T03:04:05Z"
    assert upstream.data["affected"][0]["versions"] == ["1.10", "2.0"]
    with pytest.raises(InvalidRecordError, match="nested deeper"):
        importer.parse_upstream(b"id: X\nmodified: x\na: " + b"[" * 40 + b"]" * 40, "deep.yaml", yaml=True)


def test_alias_graph_joins_records_that_do_not_name_each_other() -> None:
    def rec(advisory_id: str, *aliases: str) -> importer.Upstream:
        return importer.Upstream(advisory_id, "test", {"id": advisory_id, "aliases": list(aliases)})

    groups = importer.group_incidents(
        [rec("MAL-1", "GHSA-x"), rec("PYSEC-1", "GHSA-x"), rec("MAL-2"), rec("PYSEC-2", "MAL-2"), rec("MAL-1")]
    )
    assert [[r.id for r in g] for g in groups] == [["MAL-1", "PYSEC-1"], ["MAL-2", "PYSEC-2"]]


# --- CSV IOC lists -------------------------------------------------------------------------


def csv_import(root: Path, path: str, *extra: str) -> tuple[int, str, str]:
    return run(
        "feed",
        "import",
        "--feed",
        str(root),
        "--csv",
        path,
        "--reference",
        "https://example.org/iocs",
        "--published",
        "2025-11-24",
        "--campaign",
        "Shai-Hulud 2.0",
        *extra,
    )


def test_csv_versions_joined_in_one_cell(upstream, empty_feed: Path) -> None:
    [path] = upstream(f"{IOC}/shai-hulud-2.0/consolidated_iocs.csv")
    assert b"\r\n" in Path(path).read_bytes()
    code, out, err = csv_import(empty_feed, path, "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    assert len(report["written"]) == 795 and all(w["action"] == "new" for w in report["written"])
    data = records(empty_feed)
    parser = next(d for p, d in data.items() if p.startswith("npm/@asyncapi/avro-schema-parser/"))
    assert parser["affected"][0]["versions"] == ["3.0.25", "3.0.26"]
    assert parser["published"] == "2025-11-24T00:00:00Z" and parser["references"] == [
        {"type": "REPORT", "url": "https://example.org/iocs"}
    ]
    assert "Shai-Hulud 2.0" in parser["summary"] and "**What to do:**" in parser["details"]
    assert [n["kind"] for n in report["needs_human"]] == ["review-text"]
    assert validate(empty_feed) == (0, [])  # generated text is good enough to publish


def test_csv_import_into_a_feed_that_covers_the_list_extends_and_never_duplicates(upstream, repo_feed: Path) -> None:
    """The repo's feed already carries the Shai-Hulud 2.0 list: importing it again adds no record."""
    [path] = upstream(f"{IOC}/shai-hulud-2.0/consolidated_iocs.csv")
    before = len(records(repo_feed))
    code, out, err = csv_import(repo_feed, path, "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    assert len(report["written"]) == 795 and {w["action"] for w in report["written"]} <= {"extend", "unchanged"}
    assert len(records(repo_feed)) == before
    assert validate(repo_feed) == (0, [])


def test_csv_references_after_the_first_are_carried_as_articles(upstream, empty_feed: Path) -> None:
    [path] = upstream(f"{IOC}/teampcp/iocs.csv")
    code, _, err = run(
        "feed",
        "import",
        "--feed",
        str(empty_feed),
        "--csv",
        path,
        "--reference",
        "https://example.org/list",
        "--reference",
        "https://example.org/analysis",
        "--published",
        "2026-03-20",
        "--campaign",
        "TeamPCP",
    )
    assert code == 0, err
    some = next(iter(records(empty_feed).values()))
    assert some["references"] == [
        {"type": "REPORT", "url": "https://example.org/list"},
        {"type": "ARTICLE", "url": "https://example.org/analysis"},
    ]
    assert " belongs to the TeamPCP campaign" in some["details"] or " belong to the TeamPCP campaign" in some["details"]


def test_csv_one_row_per_version_merges_rows_of_a_package(upstream, empty_feed: Path) -> None:
    [path] = upstream(f"{IOC}/shai-hulud-2.0/shai-hulud-2.0.csv")
    code, _out, err = csv_import(empty_feed, path)
    assert code == 0, err
    data = records(empty_feed)
    modelina = [d for p, d in data.items() if p.startswith("npm/@asyncapi/modelina/")]
    assert len(modelina) == 1 and len(modelina[0]["affected"][0]["versions"]) >= 2
    assert validate(empty_feed) == (0, [])


def test_csv_artifact_types_keep_npm_and_pypi_and_report_the_rest(upstream, repo_feed: Path) -> None:
    [path] = upstream(f"{IOC}/teampcp/iocs.csv")
    code, out, err = csv_import(repo_feed, path, "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    skipped = sorted(n["message"] for n in report["needs_human"] if n["kind"] == "skipped")
    assert (
        len(skipped) == 3
        and any("'docker image'" in s for s in skipped)
        and any("'github action'" in s for s in skipped)
    )
    by_path = {w["path"]: w for w in report["written"]}
    # litellm 1.82.7, 1.82.8 is already in the repo feed: extended (with the list as a reference), not duplicated.
    assert by_path["PyPI/litellm/x_DEPGUARD-2026-0001.json"]["action"] == "extend"
    assert any(p.startswith("PyPI/telnyx/") for p in by_path)
    assert sum(1 for w in report["written"] if w["packages"][0].startswith("npm ")) == 66
    assert validate(repo_feed) == (0, [])


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        (b"package_name,package_version\r\nleft-pad,1.0\r\n", (), "'1.0' is not a valid semver version"),
        (b"type,indicator,context\r\ndomain,x,y\r\n", (), "no package name and version columns"),
        (b"package_name,package_version\r\nBad Name,1.0.0\r\n", (), "not a valid npm package name"),
        (b"package_name,package_version\r\nleft-pad,1.0.0\r\n", ("--ecosystem", "crates.io"), "unsupported ecosystem"),
    ],
)
def test_bad_csv_exits_2_and_writes_nothing(
    tmp_path: Path, repo_feed: Path, content: bytes, extra: tuple[str, ...], message: str
) -> None:
    path = tmp_path / "iocs.csv"
    path.write_bytes(content)
    before = tree(repo_feed)
    code, out, err = csv_import(repo_feed, str(path), *extra)
    assert code == 2, out
    assert message in err and "Traceback" not in out + err
    assert tree(repo_feed) == before


def test_csv_needs_reference_published_and_campaign(tmp_path: Path, empty_feed: Path) -> None:
    path = tmp_path / "iocs.csv"
    path.write_bytes(b"package_name,package_version\nleft-pad,1.3.1\n")
    code, _, err = run("feed", "import", "--feed", str(empty_feed), "--csv", str(path))
    assert code == 2 and "--reference, --published, --campaign" in err
    code, _, err = run(
        "feed",
        "import",
        "--feed",
        str(empty_feed),
        "--csv",
        str(path),
        "--reference",
        "http://x.example/",
        "--published",
        "2025-11-24",
        "--campaign",
        "x",
    )
    assert code == 2 and "https" in err
    code, _, err = run(
        "feed",
        "import",
        "--feed",
        str(empty_feed),
        "--csv",
        str(path),
        "--reference",
        "https://x.example/",
        "--published",
        "last week",
        "--campaign",
        "x",
    )
    assert code == 2 and "ISO date" in err
    assert tree(empty_feed) == {}


def test_help_teaches_with_an_example() -> None:
    code, out, _ = run("feed", "import", "--help")
    assert code == 0 and "Example: depguard feed import" in out and "--csv" in out


def test_validator_refuses_a_todo_marker_anywhere_in_the_text(tmp_path: Path) -> None:
    from depguard.feed import validate as validate_feed

    data = record()
    data["details"] += f"\n\n{TODO_MARKER}: PyPI litellm: list the versions, then delete this line."
    write_feed(tmp_path, [data])
    [issue] = validate_feed(tmp_path)
    assert (issue.rule, issue.pointer) == ("todo", "/details")
    assert issue.message.endswith(f"{TODO_MARKER}: PyPI litellm: list the versions, then delete this line.")
    data["details"] = data["details"].split("\n\n")[0]
    write_feed(tmp_path, [data])
    assert validate_feed(tmp_path) == []


def test_range_already_answered_by_a_live_record_adds_no_todo(upstream, repo_feed: Path) -> None:
    """GitHub's eslint-config-prettier range 10.1.6..10.1.8 has no versions list, but the repo's
    record lists 10.1.6 and 10.1.7: the range is reported, the reviewed record stays valid."""
    path = repo_feed / "npm/eslint-config-prettier/x_DEPGUARD-2025-0001.json"
    single = json.loads(path.read_text())  # as first curated: eslint-config-prettier alone
    single["affected"] = [a for a in single["affected"] if a["package"]["name"] == "eslint-config-prettier"]
    path.write_bytes(canonical_bytes(single))
    before = json.loads(path.read_text())
    paths = upstream(f"{GHSA}/2025/07/GHSA-f29h-pxvx-f335/GHSA-f29h-pxvx-f335.json")
    code, out, err = run("feed", "import", "--feed", str(repo_feed), "--format", "json", *paths)
    assert code == 0, err
    report = json.loads(out)
    covered = [n for n in report["needs_human"] if n["kind"] == "range-covered"]
    assert [n["subject"] for n in covered] == ["npm eslint-config-prettier"]
    assert TODO_MARKER not in path.read_text()
    assert json.loads(path.read_text())["affected"] == before["affected"]
    # The other packages of the advisory are a new draft, whose unlisted ranges are TODOs.
    [new] = [w for w in report["written"] if w["action"] == "new"]
    assert "npm eslint-plugin-prettier" in new["packages"] and "npm got-fetch" in new["packages"]
    code, errors = validate(repo_feed)
    assert code == 1 and {e["path"] for e in errors} == {new["path"]}
