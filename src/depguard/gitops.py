"""Everything depguard asks git: the only module that imports gitpython.

Projects are found from the files git tracks, so ignored files, untracked virtualenvs and
vendored checkouts outside the index are never touched; commits (for bots) live here too.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from depguard.errors import GitError

if TYPE_CHECKING:
    from git import Repo

__all__ = ["open_repo", "repo_root", "tracked_files"]


def open_repo(path: Path) -> Repo | None:
    """The git repository containing ``path``, or None when there is none (or git is missing)."""
    try:
        from git import InvalidGitRepositoryError, NoSuchPathError, Repo
    except ImportError:  # gitpython raises ImportError when no git executable is found
        return None
    try:
        return Repo(path, search_parent_directories=True)
    except (InvalidGitRepositoryError, NoSuchPathError):
        return None


def repo_root(path: Path) -> Path | None:
    repo = open_repo(path)
    if repo is None or repo.working_tree_dir is None:
        return None
    return Path(repo.working_tree_dir)


def tracked_files(repo: Repo, under: Path | None = None) -> list[Path]:
    """Absolute paths of the files in git's index (staged or committed), optionally under a folder."""
    root = Path(repo.working_tree_dir or ".")
    args = ["-z", "--cached"]
    if under is not None:
        args += ["--", str(under.resolve().relative_to(root.resolve()))]
    try:
        output = repo.git.ls_files(*args)
    except Exception as exc:  # gitpython's GitCommandError carries git's stderr
        raise GitError(f"git ls-files failed: {exc}") from None
    return [root / name for name in output.split("\0") if name]
