"""Hostile configured names: a newline, a control or bidi character, or a git shorthand in a
name that depguard turns into a file, a branch or a line of output."""

from __future__ import annotations

from pathlib import Path

import pytest

from depguard.config import parse_config
from depguard.errors import ConfigError, UnsafeEditError
from depguard.writers import requirements_in

from feedkit import record, write_feed
from repokit import depguard, git, init_repo, tree_digest

PROJECT = '[project]\nname = "victim"\nversion = "0"\ndependencies = ["litellm"]\n'


@pytest.mark.parametrize("value", ["c.txt\n", "c.txt\r", "c\u202etxt.txt", "c\x1b[2J.txt", " c.txt", "c\u200b.txt"])
def test_constraints_file_with_control_bidi_or_space_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="constraints-file"):
        parse_config({"constraints-file": value})
    toml_value = "".join(c if " " < c < "\x7f" and c not in '"\\' else f"\\u{ord(c):04x}" for c in value)
    repo = init_repo(
        tmp_path / "repo", {"pyproject.toml": PROJECT + f'\n[tool.depguard]\nconstraints-file = "{toml_value}"\n'}
    )
    before = tree_digest(repo)
    proc = depguard(repo, "sync", "--feed", str(write_feed(tmp_path / "feed", [record()])))
    assert proc.returncode == 2 and "constraints-file" in proc.stderr
    assert "\x1b" not in proc.stderr and "\u202e" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert tree_digest(repo) == before


@pytest.mark.parametrize("key", ["exclude", "targets", "ecosystems"])
def test_list_entries_with_control_characters_are_refused(key: str) -> None:
    with pytest.raises(ConfigError, match="control or bidi"):
        parse_config({key: ["ok", "bad\u202e"]})


def test_requirements_in_path_with_a_trailing_newline_is_not_written() -> None:
    """`$` also matches before a final newline: the writer's path check must be whole-string."""
    with pytest.raises(UnsafeEditError, match="refusing to write constraints path"):
        requirements_in.ensure_constraint_line("litellm\n", "c.txt\n")


@pytest.mark.parametrize("branch", ["@", "@{-1}", "HEAD", "bad\u202ename", "a\x1b[2Jb", "-x", "refs/heads/x", "a..b"])
def test_branch_names_git_would_expand_or_that_carry_control_characters_are_refused(
    tmp_path: Path, branch: str
) -> None:
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": PROJECT})
    git(repo, "checkout", "-q", "-b", "other")  # so "@{-1}" names an existing branch
    refs = git(repo, "for-each-ref", "--format=%(refname)")
    proc = depguard(repo, "sync", "--feed", str(write_feed(tmp_path / "feed", [record()])), "--branch", branch)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "\x1b" not in proc.stderr and "\u202e" not in proc.stderr
    assert git(repo, "for-each-ref", "--format=%(refname)") == refs
