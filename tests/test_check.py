"""``depguard check``: matching rules, the real CLI on real lockfiles, exit codes, SARIF.

The lockfiles come from the real uv (lock and export), pip (install into a venv) and the
hand-written fixtures of ``checkkit`` for formats whose tools cannot run offline here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from depguard.advisoryindex import AdvisoryIndex
from depguard.check import ACTION_VERSION, match
from depguard.lockfiles import Location, Package
from depguard.records import Record

import checkkit
from feedkit import record
from support import resolvers


def index_of(*records: dict) -> AdvisoryIndex:
    return AdvisoryIndex.from_records([Record.model_validate(r) for r in records])


def pkg(name: str, version: str | None, *, ecosystem: str = "PyPI", hashes: tuple[str, ...] = ()) -> Package:
    return Package(ecosystem, name, version, hashes, Location(Path("uv.lock"), 1))


def found(packages: list[Package], index: AdvisoryIndex, ignore: dict[str, str] | None = None) -> list[tuple[str, str]]:
    findings, _ = match(packages, index, ignore)
    return [(f.package.name, f.advisory.id) for f in findings]


# --- matching rules -------------------------------------------------------------------------


def test_pypi_names_and_versions_compare_in_pep_503_and_pep_440_terms() -> None:
    index = index_of(record("x_DEPGUARD-2026-0001", name="litellm", versions=("1.82.7",)))
    packages = [
        pkg("LiteLLM", "1.82.7.0"),
        pkg("lite_llm", "1.82.7"),
        pkg("litellm", "1.82.70"),
        pkg("litellm", "1.82.7.post1"),
    ]
    assert found(packages, index) == [("LiteLLM", "x_DEPGUARD-2026-0001")]


def test_npm_versions_match_exactly_and_names_are_case_sensitive() -> None:
    index = index_of(record("x_DEPGUARD-2025-0004", name="debug", versions=("4.4.2",), ecosystem="npm"))
    packages = [
        pkg("debug", "4.4.2", ecosystem="npm"),
        pkg("debug", "4.4.2-rc.1", ecosystem="npm"),
        pkg("Debug", "4.4.2", ecosystem="npm"),
        pkg("debug", "4.4.2"),
    ]
    findings, _ = match(packages, index)
    assert [(f.package.name, f.package.version, f.package.ecosystem) for f in findings] == [("debug", "4.4.2", "npm")]


def test_whole_package_block_matches_any_version_even_unpinned() -> None:
    index = index_of(record("x_DEPGUARD-2024-0001", name="evilpkg", versions=("0.2.0",), whole_package=True))
    findings, _ = match([pkg("evilpkg", "9.9.9"), pkg("EvilPkg", None)], index)
    assert {f.package.version for f in findings} == {"9.9.9", None}
    assert all(f.action.startswith("remove the package") for f in findings)


def test_withdrawn_advisories_never_match() -> None:
    index = index_of(
        record("x_DEPGUARD-2026-0003", name="tinylib", versions=("2.0",), withdrawn="2026-03-26T00:00:00Z")
    )
    assert found([pkg("tinylib", "2.0")], index) == []


def test_matching_hash_is_a_finding_under_another_name_and_version() -> None:
    bad = "ab" * 32
    renamed = record("x_DEPGUARD-2026-0002", name="tinylib-evil", versions=("6.6.6",))
    renamed["database_specific"]["depguard"]["artifacts"] = [
        {"filename": "tinylib_evil-6.6.6-py3-none-any.whl", "sha256": bad}
    ]
    findings, _ = match([pkg("tinylib", "2.0", hashes=("00" * 32, bad)), pkg("tinylib", "2.0")], index_of(renamed))
    assert len(findings) == 1
    assert findings[0].how == "sha256 of known-bad file tinylib_evil-6.6.6-py3-none-any.whl"
    assert findings[0].action.startswith("remove this file")


def test_ignored_advisories_are_listed_with_their_reason_not_failed() -> None:
    index = index_of(record("x_DEPGUARD-2026-0001", name="litellm", versions=("1.82.7",)))
    findings, ignored = match([pkg("litellm", "1.82.7")], index, {"x_DEPGUARD-2026-0001": "audited"})
    assert findings == []
    assert [(f.package.name, f.ignored_reason, f.action) for f in ignored] == [("litellm", "audited", ACTION_VERSION)]


# --- the real CLI on a git repo -------------------------------------------------------------


def depguard(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real command line, as CI runs it (a fresh process, no test-only hooks)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEPGUARD_")}
    return subprocess.run(
        [sys.executable, "-m", "depguard", "check", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=t@example.org", "-c", "user.name=t", *args], cwd=cwd, check=True, capture_output=True
    )


@pytest.fixture(scope="module")
def real_index(tmp_path_factory: pytest.TempPathFactory) -> checkkit.RealIndex:
    return checkkit.build_index(tmp_path_factory.mktemp("check-index"))


@pytest.fixture
def git_repo(tmp_path: Path, real_index: checkkit.RealIndex) -> Path:
    """A git repo whose uv.lock (real uv lock, before any constraint) holds litellm 1.82.7,
    with the test feed in ``feed/``."""
    repo = checkkit.uv_project(tmp_path / "repo", real_index, ["litellm==1.82.7"])
    checkkit.check_feed(repo / "feed", real_index)
    git(repo, "init", "-q")
    (repo / ".gitignore").write_text("pylock.toml\nrequirements.txt\n")
    git(repo, "add", "pyproject.toml", "uv.lock", ".gitignore")
    return repo


def test_check_git_repo_with_bad_uv_lock_exits_1_and_names_everything(git_repo: Path) -> None:
    result = depguard(git_repo, "--feed", "feed")
    assert result.returncode == 1, result.stdout + result.stderr
    line = next(
        n for n, text in enumerate((git_repo / "uv.lock").read_text().splitlines(), 1) if text == 'name = "litellm"'
    )
    row = next(r for r in result.stdout.splitlines() if r.startswith("uv.lock:"))
    assert row.split()[:4] == [f"uv.lock:{line}", "litellm", "1.82.7", checkkit.LITELLM]
    assert ACTION_VERSION in row
    # what git ignores is not read: the ignored exports stay out
    assert "pylock.toml" not in result.stdout and "requirements.txt" not in result.stdout


def test_check_reads_an_untracked_lockfile_git_does_not_ignore(git_repo: Path) -> None:
    """A uv.lock that `uv lock` just wrote, before anyone ran `git add`, is checked."""
    git(git_repo, "rm", "-q", "--cached", "uv.lock")
    status = subprocess.run(["git", "status", "--porcelain"], cwd=git_repo, capture_output=True, text=True, check=True)
    assert "?? uv.lock" in status.stdout
    result = depguard(git_repo, "--feed", "feed")
    assert result.returncode == 1, result.stdout + result.stderr
    assert any(r.startswith("uv.lock:") and "litellm" in r for r in result.stdout.splitlines())
    assert "checked: uv.lock" in result.stdout


def test_check_clean_repo_exits_0(tmp_path: Path, real_index: checkkit.RealIndex) -> None:
    repo = checkkit.uv_project(tmp_path / "repo", real_index, ["litellm==1.82.6"])
    checkkit.check_feed(repo / "feed", real_index)
    result = depguard(repo, "--feed", "feed")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no compromised packages found" in result.stdout


def test_check_malformed_lockfile_exits_2_naming_file_and_line(git_repo: Path) -> None:
    lock = git_repo / "uv.lock"
    lines = lock.read_text().splitlines()
    broken = next(i for i, text in enumerate(lines) if text == 'version = "1.82.7"')
    lines[broken] = "version = 1.82.7"  # not valid TOML
    lock.write_text("\n".join(lines) + "\n")
    result = depguard(git_repo, "--feed", "feed")
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"uv.lock:{broken + 1}: invalid TOML" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_ignored_advisory_exits_0_with_the_reason(git_repo: Path) -> None:
    with (git_repo / "pyproject.toml").open("a") as handle:
        handle.write(
            f'\n[tool.depguard]\nignore = [{{id = "{checkkit.LITELLM}", reason = "{checkkit.IGNORE_REASON}"}}]\n'
        )
    result = depguard(git_repo, "--feed", "feed")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ignored by [tool.depguard] ignore (not failing):" in result.stdout
    assert checkkit.IGNORE_REASON in result.stdout
    data = json.loads(depguard(git_repo, "--feed", "feed", "--format", "json").stdout)
    assert data["findings"] == [] and data["ignored"][0]["reason"] == checkkit.IGNORE_REASON


def test_check_expired_ignore_entry_applies_again(git_repo: Path) -> None:
    with (git_repo / "pyproject.toml").open("a") as handle:
        handle.write(
            f'\n[tool.depguard]\nignore = [{{id = "{checkkit.LITELLM}", reason = "r", until = "2020-01-01"}}]\n'
        )
    result = depguard(git_repo, "--feed", "feed")
    assert result.returncode == 1
    assert "expired on 2020-01-01" in result.stderr


def test_check_hash_match_on_renamed_package(tmp_path: Path, real_index: checkkit.RealIndex) -> None:
    """tinylib 2.0 is clean by name, but its wheel is the known-bad file of another advisory."""
    repo = checkkit.uv_project(tmp_path / "repo", real_index, ["tinylib==2.0"])
    checkkit.check_feed(repo / "feed", real_index)
    result = depguard(repo, "--feed", "feed", "uv.lock", "--format", "json")
    assert result.returncode == 1, result.stdout + result.stderr
    (finding,) = json.loads(result.stdout)["findings"]
    assert (finding["package"], finding["version"], finding["advisory"]) == ("tinylib", "2.0", checkkit.RENAMED)
    assert finding["matched"] == "sha256 of known-bad file tinylib_evil-6.6.6-py3-none-any.whl"


def test_check_env_of_a_real_venv(tmp_path: Path, real_index: checkkit.RealIndex) -> None:
    venv = resolvers.make_venv(tmp_path / "venv")
    resolvers.pip_install(venv, ["litellm==1.82.8"], real_index.find_links).assert_ok()
    checkkit.check_feed(tmp_path / "feed", real_index)
    result = depguard(tmp_path, "--feed", "feed", "--env", "venv", "--format", "json")
    assert result.returncode == 1, result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert [(f["package"], f["version"], f["advisory"]) for f in data["findings"]] == [
        ("litellm", "1.82.8", checkkit.LITELLM)
    ]
    assert data["findings"][0]["path"].endswith("litellm-1.82.8.dist-info/METADATA")
    assert data["checked"][-1]["kind"] == "environment"


def test_check_env_of_the_current_interpreter(tmp_path: Path, real_index: checkkit.RealIndex) -> None:
    checkkit.check_feed(tmp_path / "feed", real_index)
    result = depguard(tmp_path, "--feed", "feed", "--env", "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    (source,) = json.loads(result.stdout)["checked"]
    assert source["kind"] == "environment" and source["packages"] > 5  # pytest, depguard's dependencies...


def test_a_finding_is_never_hidden_by_an_unreadable_file(git_repo: Path) -> None:
    """One compromised lockfile plus one broken file: exit 1 (found), and the summary names both."""
    (git_repo / "sub").mkdir()
    (git_repo / "sub/uv.lock").write_text("version = [\n")  # not TOML
    result = depguard(git_repo, "--feed", "feed")
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.index("litellm") < result.stdout.rindex("compromised package(s)")
    verdict = result.stdout.rstrip().splitlines()[-1]
    assert "1 compromised package(s)" in verdict and "1 error(s)" in verdict
    assert "sub/uv.lock" in result.stderr


def test_check_include_escaping_the_repo_is_an_error(tmp_path: Path, real_index: checkkit.RealIndex) -> None:
    repo = tmp_path / "repo"
    checkkit.check_feed(repo / "feed", real_index)
    (tmp_path / "elsewhere.txt").write_text("litellm==1.82.7\n")
    (repo / "requirements.txt").write_text("-r ../elsewhere.txt\n")
    result = depguard(repo, "--feed", "feed")
    assert result.returncode == 2
    assert "requirements.txt:1: include '../elsewhere.txt' leaves the repository" in result.stderr


def test_check_unknown_file_given_by_path_is_an_error(tmp_path: Path, real_index: checkkit.RealIndex) -> None:
    checkkit.check_feed(tmp_path / "feed", real_index)
    (tmp_path / "deps.lock").write_text("")
    result = depguard(tmp_path, "--feed", "feed", "deps.lock")
    assert result.returncode == 2
    assert "not a lockfile format depguard reads" in result.stderr


# --- SARIF is what GitHub code scanning accepts ---------------------------------------------


def test_sarif_validates_against_the_official_schema(upstream_corpus: Path, golden_repo: Path) -> None:
    import jsonschema

    schema = json.loads((upstream_corpus / "sarif" / "sarif-schema-2.1.0.json").read_text())
    result = depguard(golden_repo, "--feed", "feed", "--format", "sarif")
    assert result.returncode == 1, result.stderr
    log = json.loads(result.stdout)
    validator_class = jsonschema.validators.validator_for(schema)
    errors = sorted(validator_class(schema).iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


def test_sarif_has_what_github_needs(golden_repo: Path) -> None:
    log = json.loads(depguard(golden_repo, "--feed", "feed", "--format", "sarif").stdout)
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "depguard" and driver["version"] and driver["informationUri"].startswith("https://")
    rules = {rule["id"]: rule for rule in driver["rules"]}
    for rule in rules.values():
        assert rule["shortDescription"]["text"] and rule["helpUri"].startswith("https://")
        assert float(rule["properties"]["security-severity"]) >= 9.0
        assert "security" in rule["properties"]["tags"]
    for result in run["results"]:
        assert result["ruleId"] in rules and driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] == ("note" if "suppressions" in result else "error")
        (location,) = result["locations"]
        uri = location["physicalLocation"]["artifactLocation"]["uri"]
        assert not uri.startswith("/") and "\\" not in uri and (golden_repo / uri).is_file()
        assert location["physicalLocation"]["region"]["startLine"] >= 1
        assert result["partialFingerprints"]
    fingerprints = [tuple(r["partialFingerprints"].items()) for r in run["results"]]
    assert len(set(fingerprints)) == len(fingerprints)


# --- golden files ---------------------------------------------------------------------------
#
# tests/golden/check.{txt,json,sarif} are the exact output of `depguard check --feed feed`
# on checkkit.golden_repo. After an intended change of the output (or of uv's lockfile
# layout), regenerate them and review the diff:
#
#     DEPGUARD_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_check.py -k golden

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def golden_repo(tmp_path_factory: pytest.TempPathFactory, real_index: checkkit.RealIndex) -> Path:
    return checkkit.golden_repo(tmp_path_factory.mktemp("golden") / "repo", real_index)


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_golden_output(golden_repo: Path, fmt: str) -> None:
    result = depguard(golden_repo, "--feed", "feed", "--format", fmt)
    assert result.returncode == 1, result.stderr
    assert result.stderr == ""
    path = GOLDEN / f"check.{'txt' if fmt == 'text' else fmt}"
    if os.environ.get("DEPGUARD_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(result.stdout)
    assert path.is_file(), f"{path} is missing; run with DEPGUARD_UPDATE_GOLDEN=1 to write it"
    assert result.stdout == path.read_text(), f"output differs from {path}; see the comment above test_golden_output"
