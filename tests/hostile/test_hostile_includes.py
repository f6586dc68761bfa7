"""Hostile requirements includes: a chain of ``-r`` files deep enough to exhaust recursion."""

from __future__ import annotations

import json
from pathlib import Path

from depguard.lockfiles.requirements import MAX_INCLUDE_DEPTH

from feedkit import record, write_feed
from repokit import depguard, init_repo


def test_a_3000_level_include_chain_is_one_error_and_other_files_are_still_checked(tmp_path: Path) -> None:
    files = {f"requirements/r{i}.txt": f"-r r{i + 1}.txt\n" for i in range(3000)}
    files["requirements/r3000.txt"] = "litellm==1.82.7\n"
    files["requirements.txt"] = "-r requirements/r0.txt\n"
    files["other/requirements.txt"] = "litellm==1.82.8\n"
    repo = init_repo(tmp_path / "repo", files)
    feed = write_feed(tmp_path / "feed", [record()])
    proc = depguard(repo, "check", "--feed", str(feed), "--format", "json")
    assert "Traceback" not in proc.stderr and "RecursionError" not in proc.stderr
    report = json.loads(proc.stdout)
    assert proc.returncode == 1, proc.stderr  # the finding in the other file wins over the error
    assert ("litellm", "1.82.8") in {(f["package"], f["version"]) for f in report["findings"]}
    errors = [line for line in proc.stderr.splitlines() if "nest more than" in line]
    assert errors and f"more than {MAX_INCLUDE_DEPTH} files deep" in errors[0]


def test_a_chain_within_the_bound_is_followed_to_the_end(tmp_path: Path) -> None:
    depth = MAX_INCLUDE_DEPTH - 2  # requirements.txt, then r0 … r62: 64 files in the chain
    files = {f"r{i}.txt": f"-r r{i + 1}.txt\n" for i in range(depth)}
    files[f"r{depth}.txt"] = "litellm==1.82.7\n"
    files["requirements.txt"] = "-r r0.txt\n"
    repo = init_repo(tmp_path / "repo", files)
    feed = write_feed(tmp_path / "feed", [record()])
    proc = depguard(repo, "check", "--feed", str(feed), "requirements.txt", "--format", "json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (finding,) = json.loads(proc.stdout)["findings"]
    assert finding["path"].endswith(f"r{depth}.txt")
