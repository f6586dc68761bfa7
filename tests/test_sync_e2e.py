"""depguard sync end to end: the real CLI in a git repo, then the real uv and pip resolvers.

The promise under test: after sync, no resolver run in any project of the repo can select a
compromised version, not even on an exact pin, and nothing else in the user's files moved.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from feedkit import record, write_feed, write_record
from repokit import depguard, init_repo, project, tree_digest
from support import resolvers

pytestmark = pytest.mark.slow


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    return write_feed(
        tmp_path / "feed",
        [
            record("x_DEPGUARD-2026-0001", name="litellm", versions=("1.82.7", "1.82.8")),
            record("x_DEPGUARD-2026-0002", name="evilpkg", versions=("0.1.0", "0.2.0"), whole_package=True),
        ],
    )


def sync(repo: Path, feed: Path, *args: str):
    return depguard(repo, "sync", "--feed", str(feed), *args)


def test_uv_project_never_locks_a_compromised_version(tmp_path: Path, feed: Path, local_index: Path) -> None:
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": project(["litellm>=1.82"])})
    proc = sync(repo, feed)
    assert proc.returncode == 0, proc.stderr
    assert "pyproject.toml [uv]: written" in proc.stdout
    assert resolvers.locked_versions(resolvers.uv_lock(repo, local_index).assert_ok() and repo)["litellm"] == "1.82.9"


def test_users_own_exclusion_still_applies_alongside(tmp_path: Path, feed: Path, local_index: Path) -> None:
    extra = '\n[tool.uv]\nconstraint-dependencies = [\n    "litellm!=1.82.9",  # ours\n]\n'
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": project(["litellm>=1.82"], extra)})
    assert sync(repo, feed).returncode == 0
    text = (repo / "pyproject.toml").read_text()
    assert '"litellm!=1.82.9",  # ours' in text and "litellm!=1.82.7,!=1.82.8" in text
    resolvers.uv_lock(repo, local_index).assert_ok()
    assert resolvers.locked_versions(repo)["litellm"] == "1.82.6"


def test_exact_pin_on_a_compromised_version_fails_to_lock(tmp_path: Path, feed: Path, local_index: Path) -> None:
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": project(["litellm==1.82.7"])})
    resolvers.uv_lock(repo, local_index).assert_ok()  # without depguard, uv happily locks it
    assert sync(repo, feed).returncode == 0
    resolvers.uv_lock(repo, local_index).assert_failed("litellm")


def test_workspace_block_goes_to_root_and_binds_members(tmp_path: Path, feed: Path, local_index: Path) -> None:
    member_extra = '\n[tool.uv]\nconstraint-dependencies = ["tinylib<2"]\n'
    files = {
        "pyproject.toml": project([], '\n[tool.uv.workspace]\nmembers = ["packages/*"]\n', name="root"),
        "packages/app/pyproject.toml": project(["litellm==1.82.7"], member_extra, name="app"),
    }
    repo = init_repo(tmp_path / "repo", files)
    member_before = (repo / "packages/app/pyproject.toml").read_bytes()
    proc = sync(repo, feed)
    assert proc.returncode == 0, proc.stderr
    assert "litellm!=1.82.7,!=1.82.8" in (repo / "pyproject.toml").read_text()
    assert (repo / "packages/app/pyproject.toml").read_bytes() == member_before
    assert "have no effect" in proc.stderr and "packages/app/pyproject.toml" in proc.stderr
    resolvers.uv_lock(repo, local_index).assert_failed("litellm")


def test_pip_constraints_file_blocks_pin_and_allows_good_version(tmp_path: Path, feed: Path, local_index: Path) -> None:
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": project([]), "constraints.txt": "tinylib<2\n"})
    proc = sync(repo, feed)
    assert proc.returncode == 0, proc.stderr
    constraints = repo / "constraints.txt"
    assert constraints.read_text().startswith("tinylib<2\n")
    resolvers.pip_install(None, ["litellm==1.82.7"], local_index, constraints).assert_failed("litellm")
    assert (
        resolvers.pip_install(None, ["litellm>=1.82"], local_index, constraints).assert_ok().versions["litellm"]
        == "1.82.9"
    )
    assert (
        resolvers.pip_install(
            None, ["litellm==1.82.7"], local_index, env_extra={"PIP_CONSTRAINT": str(constraints)}
        ).returncode
        != 0
    )


def test_whole_package_block_makes_any_requirement_unsatisfiable(tmp_path: Path, feed: Path, local_index: Path) -> None:
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": project(["evilpkg"])})
    assert sync(repo, feed).returncode == 0
    assert '"evilpkg<0",' in (repo / "pyproject.toml").read_text()
    resolvers.uv_lock(repo, local_index).assert_failed("evilpkg")


def test_withdrawn_advisory_is_lifted_on_next_sync(tmp_path: Path, feed: Path, local_index: Path) -> None:
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": project(["litellm==1.82.7"])})
    assert sync(repo, feed).returncode == 0
    withdrawn = record(
        "x_DEPGUARD-2026-0001",
        name="litellm",
        versions=("1.82.7", "1.82.8"),
        withdrawn="2026-04-01T00:00:00Z",
        modified="2026-04-01T00:00:00Z",
    )
    write_record(feed, withdrawn)
    proc = sync(repo, feed)
    assert proc.returncode == 0
    assert "removed: litellm" in proc.stdout
    assert "litellm!=" not in (repo / "pyproject.toml").read_text()
    resolvers.uv_lock(repo, local_index).assert_ok()


def test_second_sync_is_a_no_op_and_check_passes(tmp_path: Path, feed: Path) -> None:
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": project(["litellm"])})
    assert sync(repo, feed).returncode == 0
    before = tree_digest(repo)
    proc = sync(repo, feed)
    assert proc.returncode == 0 and "up to date" in proc.stdout
    assert tree_digest(repo) == before
    assert sync(repo, feed, "--check").returncode == 0


def test_check_reports_stale_block_with_diff_and_exit_1(tmp_path: Path, feed: Path) -> None:
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": project(["litellm"])})
    before = tree_digest(repo)
    proc = sync(repo, feed, "--check")
    assert proc.returncode == 1
    assert '+    "litellm!=1.82.7,!=1.82.8",  # x_DEPGUARD-2026-0001' in proc.stdout
    assert tree_digest(repo) == before


def test_dry_run_and_diff_write_nothing(tmp_path: Path, feed: Path) -> None:
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": project(["litellm"])})
    before = tree_digest(repo)
    proc = sync(repo, feed, "--dry-run", "--diff")
    assert proc.returncode == 0 and "would change" in proc.stdout and "+++ b/pyproject.toml" in proc.stdout
    assert tree_digest(repo) == before


def test_diff_previews_like_black_and_ruff(tmp_path: Path, feed: Path) -> None:
    """`sync --diff` prints the diff, writes nothing and exits 1 while something would change."""
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": project(["litellm"])})
    before = tree_digest(repo)
    proc = sync(repo, feed, "--diff")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "+++ b/pyproject.toml" in proc.stdout and "would change" in proc.stdout
    assert tree_digest(repo) == before
    assert sync(repo, feed).returncode == 0
    after = tree_digest(repo)
    proc = sync(repo, feed, "--diff")
    assert proc.returncode == 0 and "+++" not in proc.stdout
    assert tree_digest(repo) == after


def test_json_output_lists_files_and_exclusions(tmp_path: Path, feed: Path) -> None:
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": project(["litellm"])})
    report = json.loads(sync(repo, feed, "--format", "json").stdout)
    assert {e["requirement"] for e in report["exclusions"]} == {"litellm!=1.82.7,!=1.82.8", "evilpkg<0"}
    (entry,) = report["files"]
    assert entry["path"] == "pyproject.toml" and entry["written"] and entry["added"] == ["evilpkg", "litellm"]


def test_unsafe_file_is_reported_untouched_while_others_are_protected(tmp_path: Path, feed: Path) -> None:
    files = {
        "a/pyproject.toml": project([], "\n[tool]\nuv = {managed = true}\n", name="a"),
        "b/pyproject.toml": project(["litellm"], name="b"),
    }
    repo = init_repo(tmp_path / "repo", files)
    before = (repo / "a/pyproject.toml").read_bytes()
    proc = sync(repo, feed)
    assert proc.returncode == 2
    assert "a/pyproject.toml" in proc.stderr and "Traceback" not in proc.stderr
    assert (repo / "a/pyproject.toml").read_bytes() == before
    assert "litellm!=1.82.7" in (repo / "b/pyproject.toml").read_text()


def test_ignored_projects_and_virtualenvs_are_left_alone(tmp_path: Path, feed: Path) -> None:
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": project(["litellm"]), ".gitignore": "scratch/\n"})
    (repo / "scratch").mkdir()
    (repo / "scratch/pyproject.toml").write_text(project([], name="scratch"))
    venv_site = repo / ".venv/lib/site-packages/pkg"
    venv_site.mkdir(parents=True)
    (venv_site / "pyproject.toml").write_text(project([], name="vendored"))
    before = {
        p: (repo / p).read_bytes() for p in ("scratch/pyproject.toml", ".venv/lib/site-packages/pkg/pyproject.toml")
    }
    assert sync(repo, feed).returncode == 0
    assert all((repo / p).read_bytes() == b for p, b in before.items())


def test_untracked_project_git_does_not_ignore_is_protected(tmp_path: Path, feed: Path) -> None:
    """A project created but not yet added sees what `git status` sees: it is protected."""
    repo = init_repo(tmp_path / "repo", {"README.md": "x\n"})
    (repo / "new").mkdir()
    (repo / "new/pyproject.toml").write_text(project(["litellm"], name="new"))
    proc = sync(repo, feed)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "litellm!=1.82.7,!=1.82.8" in (repo / "new/pyproject.toml").read_text()
    assert "no projects found" not in proc.stdout


def test_nested_repository_is_not_this_repos_project(tmp_path: Path, feed: Path) -> None:
    """An untracked nested clone belongs to another repository: never edited."""
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": project(["litellm"])})
    nested = init_repo(repo / "clone", {"pyproject.toml": project(["litellm"], name="other")})
    before = (nested / "pyproject.toml").read_bytes()
    assert sync(repo, feed).returncode == 0
    assert (nested / "pyproject.toml").read_bytes() == before
    assert "litellm!=1.82.7" in (repo / "pyproject.toml").read_text()


def test_pip_tools_requirements_in_gets_constraint_line(tmp_path: Path, feed: Path) -> None:
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": project([]), "requirements.in": "litellm\n"})
    assert sync(repo, feed).returncode == 0
    assert "-c constraints.txt" in (repo / "requirements.in").read_text()
    assert "litellm!=1.82.7,!=1.82.8" in (repo / "constraints.txt").read_text()


def test_ignore_entry_needs_reason_and_expires(tmp_path: Path, feed: Path) -> None:
    cfg = '\n[tool.depguard]\nignore = [{id = "x_DEPGUARD-2026-0001", reason = "audited fork", until = "2999-01-01"}]\n'
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": project(["litellm"], cfg)})
    assert sync(repo, feed).returncode == 0
    assert "litellm!=" not in (repo / "pyproject.toml").read_text()
    expired = cfg.replace("2999-01-01", "2020-01-01")
    repo2 = init_repo(tmp_path / "repo2", {"pyproject.toml": project(["litellm"], expired)})
    proc = sync(repo2, feed)
    assert "expired on 2020-01-01" in proc.stderr
    assert "litellm!=1.82.7" in (repo2 / "pyproject.toml").read_text()
    bad = cfg.replace('reason = "audited fork", ', "")
    repo3 = init_repo(tmp_path / "repo3", {"pyproject.toml": project(["litellm"], bad)})
    proc = sync(repo3, feed)
    assert proc.returncode == 2 and "reason is required" in proc.stderr


def test_bundled_feed_is_used_offline_by_default(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": project(["ultralytics"])})
    proc = depguard(repo, "sync")
    assert proc.returncode == 0, proc.stderr
    record = json.loads(
        (Path(__file__).resolve().parents[1] / "feed/PyPI/ultralytics/x_DEPGUARD-2024-0005.json").read_text()
    )
    expected = "ultralytics" + ",".join(
        f"!={v}" for v in record["affected"][0]["versions"]
    )  # the bundled copy is feed/
    assert expected.startswith("ultralytics!=8.3.41,!=8.3.42,")
    assert f'"{expected}",  # x_DEPGUARD-2024-0005' in (repo / "pyproject.toml").read_text()


def test_error_messages_name_the_file_once_and_escape_control_characters(tmp_path: Path, feed: Path) -> None:
    evil = "sub\x1b[2J"
    repo = init_repo(
        tmp_path / "repo", {"pyproject.toml": project(["litellm"]), f"{evil}/pyproject.toml": "[project\n"}
    )
    proc = sync(repo, feed)
    assert proc.returncode == 2
    (line,) = [text for text in proc.stderr.splitlines() if text.startswith("depguard: error: ")]
    assert "\x1b" not in proc.stderr and "sub\\x1b[2J/pyproject.toml" in line
    assert line.count("pyproject.toml") == 1
    assert "litellm!=1.82.7" in (repo / "pyproject.toml").read_text()


def test_a_stand_in_feed_never_lifts_exclusions(tmp_path: Path, feed: Path) -> None:
    """Offline with no cache, sync falls back to the bundled snapshot, which may be older than
    the feed the project was synced with: it may add exclusions but must not lift any."""
    write_record(feed, record("x_DEPGUARD-2026-0003", name="tinylib", versions=("2.0",)))
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": project(["tinylib"])})
    assert sync(repo, feed).returncode == 0
    synced = (repo / "pyproject.toml").read_bytes()
    assert b"tinylib!=2.0" in synced
    proc = depguard(repo, "sync", "--feed", "http://127.0.0.1:9/", env={"DEPGUARD_OFFLINE": "1"})
    assert proc.returncode == 2
    assert "stand-in" in proc.stderr and "tinylib" in proc.stderr and "Traceback" not in proc.stderr
    assert (repo / "pyproject.toml").read_bytes() == synced
    fresh = init_repo(tmp_path / "fresh", {"pyproject.toml": project(["litellm"])})
    proc = depguard(fresh, "sync", "--feed", "http://127.0.0.1:9/", env={"DEPGUARD_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr  # adding exclusions from the stand-in is fine
    assert "litellm!=1.82.7" in (fresh / "pyproject.toml").read_text()


def test_an_empty_feed_folder_lifts_nothing(tmp_path: Path, feed: Path) -> None:
    """``--feed`` naming an empty folder (a submodule not checked out) is an error, not a feed
    with no advisories: sync and check exit 2 and the block stays as it was."""
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": project(["litellm"])})
    assert sync(repo, feed).returncode == 0
    synced = (repo / "pyproject.toml").read_bytes()
    (tmp_path / "empty").mkdir()
    for args in (("sync",), ("sync", "--check"), ("check",)):
        proc = depguard(repo, *args, "--feed", str(tmp_path / "empty"))
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert "holds no records" in proc.stderr and "Traceback" not in proc.stderr
    assert (repo / "pyproject.toml").read_bytes() == synced
