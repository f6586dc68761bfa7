"""``depguard check`` on GitHub Actions workflows and action.yml files, against the real feed.

The feed is the repository's own ``feed/`` (the tj-actions, reviewdog and trivy records), the
workflows are real YAML files written into a scratch folder, and depguard runs as the real CLI:
text, JSON and SARIF output, exit codes, and a broken file reported at its line while the
others are still read.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from depguard import affected, ecosystems
from depguard.lockfiles import format_for, read_lockfile
from depguard.records import Affected

REPO = Path(__file__).resolve().parents[1]
FEED = REPO / "feed"
BAD_SHA = "0e58ed8671d6b60d0890c21b07f8835ace038e67"
CLEAN_SHA = "2f7c5bfce28377bc069a65ba478de0a74aa0ca32"  # tj-actions/changed-files v46.0.1

WORKFLOW = f"""\
name: ci
on: [push]
jobs:
  changes:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683
      - uses: tj-actions/changed-files@v44
      - uses: tj-actions/changed-files@{BAD_SHA.upper()}
      - uses: tj-actions/changed-files@{CLEAN_SHA}
      - uses: reviewdog/action-setup@v1
      - uses: reviewdog/action-setup@V1
      - uses: ./local/action
      - uses: docker://alpine:3.20
      - run: echo done
  reuse:
    uses: tj-actions/changed-files/.github/workflows/test.yml@v45.0.7
"""

COMPOSITE = """\
name: scan
description: a composite action
runs:
  using: composite
  steps:
    - uses: aquasecurity/setup-trivy@v0.2.6
    - uses: aquasecurity/trivy-action@0.35.0
    - shell: bash
      run: trivy --version
"""


def depguard(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "depguard", "check", "--feed", str(FEED), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    write(tmp_path / ".github/workflows/ci.yml", WORKFLOW)
    write(tmp_path / "tools/scan/action.yml", COMPOSITE)
    return tmp_path


# --- the matching rule --------------------------------------------------------------------


def entry() -> affected.Entry:
    data = {
        "package": {"ecosystem": "GitHub Actions", "name": "tj-actions/changed-files"},
        "versions": ["v44", "v45.0.7"],
        "database_specific": {"depguard": {"bad_commits": [{"sha": BAD_SHA, "tags": ["v44"]}]}},
    }
    found = affected.read_entry(Affected.model_validate(data))
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("ref", "how"),
    [
        ("v44", affected.LISTED_TAG),
        ("V44", None),  # refs are case-sensitive: another tag
        ("v44.0", None),  # a tag is its exact string, no version arithmetic
        (BAD_SHA, affected.BAD_COMMIT),
        (BAD_SHA.upper(), affected.BAD_COMMIT),  # hex is case-insensitive
        (CLEAN_SHA, None),  # any other full commit is what the workflow reviewed
        (BAD_SHA[:7], None),  # a short id is a ref like any other, not the listed tag
    ],
)
def test_tags_match_exactly_and_commits_only_when_listed(ref: str, how: str | None) -> None:
    assert entry().how(ref) == how


def test_names_are_lowercase_and_sub_folder_actions_belong_to_their_repository() -> None:
    eco = ecosystems.GITHUB_ACTIONS
    assert eco.normalize_name("Checkmarx/KICS-github-action") == "checkmarx/kics-github-action"
    assert eco.purl("github/codeql-action/init") == "pkg:github/github/codeql-action#init"
    assert eco.feed_dir_parts("tj-actions/changed-files") == ("tj-actions", "changed-files")
    assert not eco.name_is_valid("no-slash") and not eco.name_is_valid("a/../b")


def test_sync_writes_nothing_for_actions() -> None:
    from depguard.feed import load_feed

    compiled = affected.compile_exclusions(e.record for e in load_feed(FEED).entries if e.record is not None)
    assert not [x for x in compiled.exclusions if "changed-files" in str(x)]


# --- reading the files --------------------------------------------------------------------


def test_workflow_and_action_files_are_recognised_by_path() -> None:
    assert format_for(Path("x/.github/workflows/ci.yml")) == "GitHub Actions"
    assert format_for(Path(".github/workflows/release.yaml")) == "GitHub Actions"
    assert format_for(Path("deep/action.yaml")) == "GitHub Actions"
    assert format_for(Path("docs/workflows/ci.yml")) is None
    assert format_for(Path(".github/workflows/sub/ci.yml")) is None  # GitHub reads only the folder itself


def test_every_remote_uses_reference_with_its_line(repo: Path) -> None:
    refs = [(p.name, p.version, p.location.line) for p in read_lockfile(repo / ".github/workflows/ci.yml", repo)]
    assert refs == [
        ("actions/checkout", "11bd71901bbe5b1630ceea73d27597364c9af683", 7),
        ("tj-actions/changed-files", "v44", 8),
        ("tj-actions/changed-files", BAD_SHA.upper(), 9),
        ("tj-actions/changed-files", CLEAN_SHA, 10),
        ("reviewdog/action-setup", "v1", 11),
        ("reviewdog/action-setup", "V1", 12),
        ("tj-actions/changed-files/.github/workflows/test.yml", "v45.0.7", 17),
    ]


def test_the_projects_own_workflows_and_action_are_clean(tmp_path: Path) -> None:
    shutil.copytree(REPO / ".github", tmp_path / ".github")
    shutil.copy(REPO / "action.yml", tmp_path / "action.yml")
    result = depguard("--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["findings"] == []
    assert [c["path"] for c in report["checked"]] == [
        ".github/workflows/publish.yml",
        ".github/workflows/validate.yml",
        "action.yml",
    ]
    assert report["packages"] == 7


# --- the CLI ------------------------------------------------------------------------------


def test_json_names_each_bad_reference_with_file_line_and_advice(repo: Path) -> None:
    result = depguard("--format", "json", cwd=repo)
    assert result.returncode == 1, result.stderr
    findings = json.loads(result.stdout)["findings"]
    got = sorted((f["path"], f["line"], f["package"], f["version"], f["advisory"]) for f in findings)
    assert got == [
        (".github/workflows/ci.yml", 8, "tj-actions/changed-files", "v44", "x_DEPGUARD-2026-0200"),
        (".github/workflows/ci.yml", 9, "tj-actions/changed-files", BAD_SHA.upper(), "x_DEPGUARD-2026-0200"),
        (".github/workflows/ci.yml", 11, "reviewdog/action-setup", "v1", "x_DEPGUARD-2026-0201"),
        (
            ".github/workflows/ci.yml",
            17,
            "tj-actions/changed-files/.github/workflows/test.yml",
            "v45.0.7",
            "x_DEPGUARD-2026-0200",
        ),
        ("tools/scan/action.yml", 6, "aquasecurity/setup-trivy", "v0.2.6", "x_DEPGUARD-2026-0202"),
    ]
    by_line = {(f["path"], f["line"]): f for f in findings}
    tj = by_line[(".github/workflows/ci.yml", 8)]
    assert tj["action"].startswith("move to v46.0.1 or later") and "rotate every secret" in tj["action"]
    assert by_line[(".github/workflows/ci.yml", 9)]["matched"] == affected.BAD_COMMIT
    assert "pin a reviewed full commit SHA" in by_line[(".github/workflows/ci.yml", 11)]["action"]


def test_text_and_sarif_output(repo: Path) -> None:
    text = depguard(cwd=repo)
    assert text.returncode == 1
    assert ".github/workflows/ci.yml:8" in text.stdout and "move to v46.0.1" in text.stdout
    sarif = depguard("--format", "sarif", cwd=repo)
    assert sarif.returncode == 1
    results = json.loads(sarif.stdout)["runs"][0]["results"]
    places = sorted(
        (
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
        )
        for r in results
    )
    assert places == [
        (".github/workflows/ci.yml", 8),
        (".github/workflows/ci.yml", 9),
        (".github/workflows/ci.yml", 11),
        (".github/workflows/ci.yml", 17),
        ("tools/scan/action.yml", 6),
    ]


def test_a_garbled_workflow_is_an_error_at_its_line_and_the_others_are_read(repo: Path) -> None:
    write(repo / ".github/workflows/broken.yml", "jobs:\n  a:\n    steps:\n      - uses: [unclosed\n")
    result = depguard("--format", "json", cwd=repo)
    assert result.returncode == 1  # the findings of ci.yml are not hidden by the error
    report = json.loads(result.stdout)
    assert any(e.startswith(".github/workflows/broken.yml:") for e in report["errors"]), report["errors"]
    assert len(report["findings"]) == 5
    (repo / ".github/workflows/ci.yml").unlink()
    write(
        repo / "tools/scan/action.yml",
        f"runs:\n  using: composite\n  steps:\n    - uses: tj-actions/changed-files@{CLEAN_SHA}\n",
    )
    clean = depguard("--format", "json", cwd=repo)
    assert clean.returncode == 2  # nothing found, but a file could not be read
    report = json.loads(clean.stdout)
    assert report["errors"] == [
        ".github/workflows/broken.yml:5: invalid YAML: while parsing a flow sequence from line 4: did not find expected ',' or ']'"
    ]
    assert report["findings"] == []
    assert [c["path"] for c in report["checked"]] == ["tools/scan/action.yml"]  # the readable file was read


def test_a_workflow_with_a_wrong_shape_names_the_line(tmp_path: Path) -> None:
    write(tmp_path / ".github/workflows/ci.yml", "on: push\njobs:\n  a:\n    steps: run-everything\n")
    result = depguard(cwd=tmp_path)
    assert result.returncode == 2
    assert ".github/workflows/ci.yml:4: steps must be a list" in result.stdout + result.stderr


# --- the feed profile ---------------------------------------------------------------------


def action_record(**entry: object) -> dict:
    from feedkit import record

    data = record(
        "x_DEPGUARD-2026-0299", name="tj-actions/changed-files", versions=("v44", "v45.0.7"), ecosystem="GitHub Actions"
    )
    data["affected"][0]["package"]["purl"] = "pkg:github/tj-actions/changed-files"
    data["affected"][0].update(entry)
    return data


def issues(tmp_path: Path, data: dict) -> list[tuple[str, str]]:
    from depguard.feed import validate

    from feedkit import write_feed

    write_feed(tmp_path, [data])
    return [(issue.rule, issue.pointer) for issue in validate(tmp_path)]


def bad(sha: str = BAD_SHA, tags: list[str] | None = None, **extra: object) -> dict:
    return {"depguard": {"bad_commits": [{"sha": sha, "tags": ["v44"] if tags is None else tags, **extra}]}}


def test_a_github_actions_record_with_a_bad_commit_is_valid(tmp_path: Path) -> None:
    assert issues(tmp_path, action_record(database_specific=bad())) == []
    assert (tmp_path / "GitHub Actions/tj-actions/changed-files/x_DEPGUARD-2026-0299.json").is_file()


@pytest.mark.parametrize(
    "database_specific",
    [
        bad(sha=BAD_SHA[:7]),  # a short id can collide: only full commits
        bad(sha=BAD_SHA.upper()),  # written lowercase, one spelling
        bad(note="x"),  # no field the profile does not know
        bad(tags=["v44", "v44"]),
        {"depguard": {"bad_commits": []}},
        {"depguard": {"other": 1}},
    ],
)
def test_bad_commits_are_strictly_shaped(tmp_path: Path, database_specific: dict) -> None:
    assert issues(tmp_path, action_record(database_specific=database_specific)), database_specific


def test_a_bad_commit_tag_must_be_listed_and_only_actions_have_bad_commits(tmp_path: Path) -> None:
    assert ("versions", "/affected/0/database_specific/depguard/bad_commits/0/tags/0") in issues(
        tmp_path / "a", action_record(database_specific=bad(tags=["v43"]))
    )
    from feedkit import record

    npm = record("x_DEPGUARD-2026-0298", name="debug", versions=("4.4.2",), ecosystem="npm")
    npm["affected"][0]["database_specific"] = bad(tags=[])
    assert issues(tmp_path / "b", npm)


@pytest.mark.parametrize(
    ("name", "purl"),
    [
        ("Tj-Actions/changed-files", "pkg:github/Tj-Actions/changed-files"),  # lowercase only
        ("tj-actions/changed-files", "pkg:github/tj-actions/other"),
        ("changed-files", "pkg:github/changed-files"),
    ],
)
def test_action_names_and_purls(tmp_path: Path, name: str, purl: str) -> None:
    data = action_record()
    data["affected"][0]["package"].update(name=name, purl=purl)
    assert issues(tmp_path, data)


def test_sarif_rule_help_gives_the_workflow_advice(repo: Path) -> None:
    from depguard.check import ACTION_WORKFLOW

    sarif = json.loads(depguard("--format", "sarif", cwd=repo).stdout)
    rules = {r["id"]: r for r in sarif["runs"][0]["tool"]["driver"]["rules"]}
    assert ACTION_WORKFLOW in rules["x_DEPGUARD-2026-0200"]["help"]["text"]


def test_reviewdog_pinned_to_its_bad_commit_and_a_sub_folder_action_of_a_bad_repository(tmp_path: Path) -> None:
    write(
        tmp_path / ".github/workflows/lint.yaml",
        (
            "jobs:\n  lint:\n    runs-on: ubuntu-latest\n    steps:\n"
            "      - uses: reviewdog/action-setup@f0d342d24037bb11d26b9bd8496e0808ba32e9ec\n"
            "      - uses: tj-actions/changed-files/sub/dir@v35-sec\n"
            "      - uses: reviewdog/action-setup@v1.3.0\n"
        ),
    )
    result = depguard("--format", "json", cwd=tmp_path)
    assert result.returncode == 1
    got = [(f["line"], f["package"], f["matched"]) for f in json.loads(result.stdout)["findings"]]
    assert got == [
        (5, "reviewdog/action-setup", affected.BAD_COMMIT),
        (6, "tj-actions/changed-files/sub/dir", affected.LISTED_TAG),
    ]
