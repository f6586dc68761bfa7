"""Everything depguard asks git: the only module that imports gitpython.

Projects are found from the files ``git status`` sees (tracked, or untracked and not
ignored), so ignored files, ignored virtualenvs and nested repositories are never touched; commits (for bots) and reads of the
feed's history (for pull-request validation: REF's tree, blobs through one persistent
``git cat-file --batch``, the paths ever added) live here too.

Commits are built with plumbing (a temporary index, ``write-tree``, ``commit-tree``,
``update-ref``) rather than ``git add`` + ``git commit``: the user's index may hold staged
work that must not end up in depguard's commit, and hooks or editors must not run inside a
bot. The user's index and work tree are only ever touched for the exact paths committed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from depguard.display import is_plain, printable
from depguard.errors import GitError

if TYPE_CHECKING:
    from git import Repo

__all__ = [
    "NO_HOOKS",
    "CommitMade",
    "TreeFile",
    "blob_id",
    "commit_files",
    "dirty_paths",
    "files_as_git_sees",
    "find_root",
    "git_common_dir",
    "git_env",
    "open_repo",
    "paths_ever_added",
    "read_blobs",
    "repo_root",
    "require_committable",
    "require_repo",
    "resolve_commit",
    "temporary_worktree",
    "tree_files",
    "visible_files",
]

#: Files in the git directory that mean an operation is half done; committing then would mix
#: depguard's change into someone's merge, rebase, cherry-pick or revert.
_IN_PROGRESS = {
    "MERGE_HEAD": "a merge",
    "rebase-merge": "a rebase",
    "rebase-apply": "a rebase (or git am)",
    "CHERRY_PICK_HEAD": "a cherry-pick",
    "REVERT_HEAD": "a revert",
}


#: ``-c core.hooksPath=/dev/null``: for the commands depguard builds itself (works with any git).
NO_HOOKS = ("-c", f"core.hooksPath={os.devnull}")


def git_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for every git process depguard starts: hooks off.

    A repo is untrusted input (a contributor's clone, a bot's checkout of a pull request): its
    ``core.hooksPath`` or ``.git/hooks`` must never run code because depguard called git
    (``update-ref`` runs ``reference-transaction``, ``update-index`` ``post-index-change``,
    ``worktree add`` ``post-checkout``). The setting travels as a command-line-level config
    entry (``GIT_CONFIG_COUNT``, git 2.31+), appended after any the caller already set, so it
    also reaches the processes GitPython starts on its own; :data:`NO_HOOKS` covers older git
    for the commands depguard builds.
    """
    env = dict(os.environ if base is None else base)
    try:
        count = int(env.get("GIT_CONFIG_COUNT", "0"))
    except ValueError:
        count = 0
    env[f"GIT_CONFIG_KEY_{count}"] = "core.hooksPath"
    env[f"GIT_CONFIG_VALUE_{count}"] = os.devnull
    env["GIT_CONFIG_COUNT"] = str(count + 1)
    return env


def _hook_free_entries() -> dict[str, str]:
    """What :func:`git_env` adds to this process's environment."""
    env = git_env()
    return {key: value for key, value in env.items() if os.environ.get(key) != value}


def open_repo(path: Path) -> Repo | None:
    """The git repository containing ``path``, or None when there is none (or git is missing).

    Every command run through it, GitPython's own included, runs with hooks off (:func:`git_env`).
    """
    try:
        from git import InvalidGitRepositoryError, NoSuchPathError, Repo
    except ImportError:  # gitpython raises ImportError when no git executable is found
        return None
    try:
        repo = Repo(path, search_parent_directories=True)
    except (InvalidGitRepositoryError, NoSuchPathError):
        return None
    repo.git.update_environment(**_hook_free_entries())
    return repo


def git_common_dir(root: Path) -> Path | None:
    """The git directory shared by every worktree of the checkout at ``root``, as git itself
    sees it (``git rev-parse --git-common-dir``), or None when ``root`` is not a checkout's top.

    Asking git rather than reading ``.git`` and ``commondir`` files: a ``.git`` file whose
    ``gitdir:`` points at any directory was taken at its word and files were created there.
    git accepts only a real git directory, and ``root`` must be that checkout's top folder.
    """
    if not os.path.lexists(Path(root) / ".git"):
        return None
    out = _plain_git("rev-parse", "--show-toplevel", "--git-common-dir", cwd=root)
    if out is None:
        return None
    lines = os.fsdecode(out).splitlines()
    if len(lines) != 2:
        return None
    top, common = Path(lines[0]), Path(lines[1])
    try:
        if not top.samefile(root):
            return None  # root is a plain folder inside some other checkout
        common = common if common.is_absolute() else (Path(root) / common)
        common = common.resolve(strict=True)
    except OSError:
        return None
    return common if common.is_dir() else None


def files_as_git_sees(directory: Path) -> list[Path] | None:
    """The files of ``directory`` as ``git status`` would list them were it a repository, or
    None without git.

    Outside a work tree, ``check`` and ``sync`` scan the current folder, which may be a home
    directory full of unrelated checkouts: git itself is asked, with an empty throw-away git
    directory and ``directory`` as the work tree, so ``.gitignore`` files apply exactly as git
    applies them and a nested repository is one ``dir/`` entry that is never entered.
    """
    with tempfile.TemporaryDirectory(prefix="depguard-scan-") as scratch:
        git_dir = f"--git-dir={os.path.join(scratch, 'scan.git')}"
        if _plain_git(git_dir, "init", "-q", "--bare", cwd=directory) is None:
            return None
        out = _plain_git(
            git_dir,
            f"--work-tree={directory}",
            "ls-files",
            "-z",
            "--others",
            "--exclude-standard",
            cwd=directory,
            timeout=300,
        )
    if out is None:
        return None
    names = (os.fsdecode(name) for name in out.split(b"\0"))
    return [directory / name for name in names if name and not name.endswith("/")]


def find_root(start: Path) -> Path:
    """The folder a command works on: the repo's top (git), or ``start`` itself outside a repo."""
    return repo_root(start) or start.resolve()


def repo_root(path: Path) -> Path | None:
    """The work tree's top folder above ``path``, or None outside a work tree (or without git).

    Asked of git itself (``git rev-parse --show-toplevel``, 2-5 ms) rather than through
    GitPython, whose import alone costs 40-60 ms: ``check`` with explicit lockfiles needs
    nothing else from git, and commands that do need more open the repo once afterwards.
    """
    out = _plain_git("rev-parse", "--show-toplevel", cwd=path)
    top = os.fsdecode(out.rstrip(b"\n")) if out is not None else ""
    return Path(top) if top else None


def _plain_git(*args: str, cwd: Path | str, timeout: float = 60) -> bytes | None:
    """stdout of one git command run without GitPython (whose import alone costs 40-60 ms),
    hooks off; None when git is missing, fails or times out: the callers then know nothing."""
    git = shutil.which("git")
    if git is None:
        return None
    try:
        proc = subprocess.run(
            [git, *NO_HOOKS, *args],
            cwd=cwd,
            capture_output=True,
            check=False,
            timeout=timeout,
            env=git_env(),
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


def visible_files(repo: Repo, under: Path | None = None) -> list[Path]:
    """Absolute paths of the files ``git status`` sees: in the index, or untracked and not ignored.

    A lockfile that ``uv lock`` just wrote, or a project not yet added, must be protected and
    checked before anyone remembers ``git add``; ignored files (virtualenvs, build output) stay
    out. git lists an untracked nested repository as one ``dir/`` entry and never descends
    into it, so another repository's files never count as this one's.
    """
    root = Path(repo.working_tree_dir or ".")
    args = ["-z", "--cached", "--others", "--exclude-standard"]
    if under is not None:
        args += ["--", str(under.resolve().relative_to(root.resolve()))]
    try:
        output = repo.git.ls_files(*args)
    except Exception as exc:  # gitpython's GitCommandError carries git's stderr
        raise GitError(f"git ls-files failed: {exc}") from None
    names = dict.fromkeys(name for name in output.split("\0") if name and not name.endswith("/"))
    return [root / name for name in names if os.path.lexists(root / name)]  # not deleted from the work tree


# --- running git ---------------------------------------------------------------------------


def _git(repo: Repo, *args: str, env: dict[str, str] | None = None) -> str:
    """One git command's stdout (hooks off: :data:`NO_HOOKS`); its failure becomes a
    :class:`GitError` carrying git's own words."""
    from git import GitCommandError

    try:
        return repo.git.execute(["git", *NO_HOOKS, *args], env=env)
    except GitCommandError as exc:
        stderr = (exc.stderr or "").strip().removeprefix("stderr:").strip().strip("'").strip()
        raise GitError(f"git {args[0]} failed: {stderr or exc}") from None


def _root(repo: Repo) -> Path:
    if repo.working_tree_dir is None:
        raise GitError("a bare repository has no work tree to sync")
    return Path(repo.working_tree_dir)


def _relpaths(repo: Repo, paths: Iterable[Path]) -> list[str]:
    root = _root(repo).resolve()
    result = []
    for path in paths:
        absolute = (root / path) if not path.is_absolute() else path
        try:
            result.append(absolute.resolve().relative_to(root).as_posix())
        except ValueError:
            raise GitError(f"{path}: outside the repository {root}") from None
    return sorted(set(result))


# --- preconditions for committing ----------------------------------------------------------


def require_repo(path: Path) -> Repo:
    """The repository at ``path``; a clear :class:`GitError` when there is none."""
    repo = open_repo(path)
    if repo is None or repo.working_tree_dir is None:
        raise GitError(f"{path}: not inside a git repository (or git is not installed)")
    return repo


def require_committable(path: Path, *, branch: str | None = None) -> Repo:
    """The repository at ``path`` if depguard may commit to it now, else a :class:`GitError`.

    Refused: no repository, a half-done merge/rebase/cherry-pick/revert, no commit yet, a
    detached HEAD without ``branch`` (the commit would be lost to the next checkout), a
    ``branch`` name git would reject, and a ``branch`` checked out in any work tree (resetting
    it would pull the files out from under that checkout).
    """
    repo = require_repo(path)
    git_dir = Path(repo.git_dir)
    for name, what in _IN_PROGRESS.items():
        if (git_dir / name).exists():
            raise GitError(f"{what} is in progress ({git_dir / name} exists): finish or abort it first")
    try:
        repo.head.commit  # noqa: B018 - raises on an unborn branch
    except ValueError:
        raise GitError("the repository has no commit yet: commit something first") from None
    if branch is None:
        if repo.head.is_detached:
            raise GitError("HEAD is detached: check out a branch, or pass --branch NAME to commit on a new branch")
        return repo
    if branch.startswith(("-", "refs/")) or branch in ("HEAD", "@") or "@{" in branch or not is_plain(branch):
        raise GitError(f"--branch takes a plain branch name: {printable(branch)!r}")
    # Not `check-ref-format --branch`: that expands "@" and "@{-1}" to existing branches.
    _git(repo, "check-ref-format", f"refs/heads/{branch}")
    checked_out = _checked_out_branches(repo)
    if f"refs/heads/{branch}" in checked_out:
        raise GitError(
            f"branch {branch} is checked out in {checked_out[f'refs/heads/{branch}']}: "
            "--branch creates or resets a branch for a pull request; pick another name"
        )
    return repo


def _checked_out_branches(repo: Repo) -> dict[str, str]:
    """``refs/heads/X`` -> the work tree that has it checked out, across linked work trees."""
    output = _git(repo, "worktree", "list", "--porcelain")
    result, where = {}, ""
    for line in output.splitlines():
        if line.startswith("worktree "):
            where = line.removeprefix("worktree ")
        elif line.startswith("branch "):
            result[line.removeprefix("branch ")] = where
    return result


def dirty_paths(repo: Repo, paths: Iterable[Path]) -> list[Path]:
    """Of ``paths``, those whose work-tree or index state differs from HEAD.

    Staged, unstaged, untracked and ignored-but-present all count: any of them would either
    leak into depguard's commit or be overwritten by it.
    """
    rel = _relpaths(repo, paths)
    if not rel:
        return []
    output = _git(
        repo,
        "status",
        "--porcelain=v1",
        "-z",
        "--untracked-files=all",
        "--ignored=matching",
        "--no-renames",
        "--",
        *[f":(literal){p}" for p in rel],
    )
    dirty = set()
    for record in output.split("\0"):
        if len(record) > 3:
            dirty.add(record[3:])
    root = _root(repo)
    return [root / p for p in rel if p in dirty]


# --- committing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CommitMade:
    """A commit depguard made: its id, the ref it now heads, and the paths it changed."""

    sha: str
    ref: str
    paths: tuple[str, ...]


def commit_files(repo: Repo, paths: Sequence[Path], message: str, *, ref: str = "HEAD") -> CommitMade:
    """Commit the work-tree content of exactly ``paths`` on top of HEAD, and point ``ref`` at it.

    The tree is HEAD's tree plus these paths, built in a throw-away index, so whatever else is
    staged or modified stays out of the commit and stays where it was. With ``ref="HEAD"``
    (the checked-out branch moves) the real index entries of ``paths`` are refreshed as well,
    so ``git status`` shows them clean; their work-tree bytes are what was committed.
    ``ref`` may also be ``refs/heads/NAME``: that branch is created or reset, nothing else moves.
    """
    rel = _relpaths(repo, paths)
    if not rel:
        raise GitError("nothing to commit")
    head = _git(repo, "rev-parse", "--verify", "HEAD^{commit}")
    with tempfile.TemporaryDirectory(prefix="depguard-index-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        _git(repo, "read-tree", head, env=env)
        _git(repo, "update-index", "--add", "--", *rel, env=env)
        tree = _git(repo, "write-tree", env=env)
        message_path = Path(tmp) / "message"
        message_path.write_text(message, encoding="utf-8")
        sha = _git(repo, "commit-tree", tree, "-p", head, "-F", str(message_path))
    old = head if ref == "HEAD" else _ref_value(repo, ref)
    _git(repo, "update-ref", "-m", "depguard sync", ref, sha, old)
    if ref == "HEAD":
        _git(repo, "update-index", "--add", "--", *rel)
    return CommitMade(sha, _symbolic(repo, ref), tuple(rel))


def _ref_value(repo: Repo, ref: str) -> str:
    """The ref's current commit, or the all-zero id (create it; fail if someone else did)."""
    from git import GitCommandError

    try:
        return repo.git.execute(["git", "rev-parse", "--verify", "--quiet", ref])
    except GitCommandError:
        return "0" * 40


def _symbolic(repo: Repo, ref: str) -> str:
    if ref != "HEAD":
        return ref
    return _git(repo, "symbolic-ref", "-q", "HEAD")


@contextlib.contextmanager
def temporary_worktree(repo: Repo) -> Iterator[Path]:
    """A detached checkout of HEAD in a temporary directory, removed afterwards.

    Lets ``sync --branch`` write, relock and commit without touching the user's checkout at
    all: their branch, index and work tree are never involved. Hooks are off (:func:`_git`) so
    a ``post-checkout`` hook cannot run inside a bot.
    """
    parent = Path(tempfile.mkdtemp(prefix="depguard-worktree-"))
    path = parent / "checkout"
    _git(repo, "worktree", "add", "--detach", "--quiet", str(path), "HEAD")
    try:
        yield path
    finally:
        try:
            _git(repo, "worktree", "remove", "--force", str(path))
        except GitError:
            shutil.rmtree(path, ignore_errors=True)
            with contextlib.suppress(GitError):
                _git(repo, "worktree", "prune")
        shutil.rmtree(parent, ignore_errors=True)


# --- reading history -----------------------------------------------------------------------


def resolve_commit(repo: Repo, ref: str) -> str:
    """The commit id ``ref`` names; a :class:`GitError` that says so when it names none."""
    from git import GitCommandError

    if ref.startswith("-"):
        raise GitError(f"not a git revision: {ref!r}")
    try:
        return repo.git.execute(["git", "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"])
    except GitCommandError:
        raise GitError(
            f"unknown git revision {ref!r} (in CI, fetch it first, e.g. actions/checkout with fetch-depth: 0)"
        ) from None


@dataclass(frozen=True)
class TreeFile:
    """A file in a commit's tree: repo-relative path and blob id."""

    path: PurePosixPath
    blob: str


def tree_files(repo: Repo, commit: str, under: str) -> list[TreeFile]:
    """Every file under the repo-relative folder ``under`` in ``commit`` (one ``ls-tree``)."""
    output = _git(repo, "ls-tree", "-r", "-z", "--full-tree", commit, "--", under or ".")
    files = []
    for line in output.split("\0"):
        if not line:
            continue
        meta, _, path = line.partition("\t")
        _mode, kind, blob = meta.split()
        if kind == "blob":
            files.append(TreeFile(PurePosixPath(path), blob))
    return files


def read_blobs(repo: Repo, blobs: Iterable[str]) -> dict[str, bytes]:
    """The bytes of many blobs through one persistent ``git cat-file --batch``."""
    result = {}
    for blob in blobs:
        if blob not in result:
            try:
                _, _, _, data = repo.git.get_object_data(blob)
            except Exception as exc:  # gitpython raises ValueError for a missing object
                raise GitError(f"cannot read git object {blob}: {exc}") from None
            result[blob] = data
    return result


def paths_ever_added(repo: Repo, commit: str, under: str) -> dict[PurePosixPath, str]:
    """Every file path ever added under ``under`` in ``commit``'s history -> the first commit adding it.

    One ``git log`` walk: how validation learns which advisory numbers were ever handed out,
    including those of records deleted long ago.
    """
    output = _git(
        repo,
        "log",
        "--format=%x00depguard-commit %H",
        "--name-only",
        "--no-renames",
        "--diff-filter=A",
        "-z",
        commit,
        "--",
        under or ".",
    )
    found: dict[PurePosixPath, str] = {}
    current = ""
    for token in output.split("\0"):
        token = token.strip("\n")
        if token.startswith("depguard-commit "):
            current = token.removeprefix("depguard-commit ")
        elif token:
            found[PurePosixPath(token)] = current  # log walks newest first: keep the oldest
    return found


def blob_id(data: bytes) -> str:
    """The id git gives ``data`` as a blob, so unchanged files are skipped without running git."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()
