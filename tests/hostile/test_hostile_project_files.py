"""Hostile or broken *project files*: what a malicious contributor commits, what editors and
operating systems do to files, and what a disk does when it is full.

Refusals leave every file byte-identical (exit 2, one line naming the file and the problem).
Shapes depguard can edit safely (CRLF, mixed endings, BOM, tabs, a hand-edited block) are
edited, and then only the managed region changes: ``remove(after) == before``.
"""

from __future__ import annotations

import errno
import os
import stat
import time
from pathlib import Path

import pytest

from depguard.writers import constraints as constraints_writer
from depguard.writers import pyproject as pyproject_writer

from feedkit import write_feed
from hostilekit import good_records, refused, run_cli, temp_leftovers, tree_digest, victim
from repokit import depguard, init_repo

BASE = '[project]\nname = "victim"\nversion = "0.1.0"\n'
BLOCK_ROW = '"litellm!=1.82.7,!=1.82.8",  # x_DEPGUARD-2026-0001'


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    return write_feed(tmp_path / "feed", good_records())


def sync(repo: Path, feed: Path, *args: str, real: bool = False):
    """``depguard sync --feed FEED``: the real CLI in a subprocess when ``real``, else the same
    command in this process (parametrized variants; saves an interpreter start each)."""
    if real:
        return depguard(repo, "sync", "--feed", str(feed), *args)
    return run_cli("sync", "--feed", str(feed), *args, cwd=repo)


def one_file(tmp_path: Path, content: str | bytes, name: str = "pyproject.toml", **more: str | bytes) -> Path:
    return init_repo(tmp_path / "repo", {name: content, **more})


def assert_refused_untouched(repo: Path, feed: Path, *needles: str, errors: int = 1, real: bool = False) -> str:
    before = tree_digest(repo)
    line = refused(sync(repo, feed, real=real), *needles, errors=errors)
    assert tree_digest(repo) == before
    return line


def assert_only_the_block_changed(before: bytes, after: bytes, writer=pyproject_writer) -> None:
    assert after != before
    assert writer.remove(after.decode("utf-8")).encode("utf-8") == before, "a byte outside the managed region changed"


# --------------------------------------------------------------------------- malformed


def test_malformed_pyproject_is_refused_with_line_and_column(tmp_path: Path, feed: Path) -> None:
    bad = BASE + 'dependencies = [\n  "litellm",,\n]\n'
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": bad})
    assert_refused_untouched(repo, feed, "pyproject.toml", "invalid TOML", "(at line 5, column 13)", real=True)


def test_malformed_pyproject_is_refused_alone_and_the_other_projects_are_protected(tmp_path: Path, feed: Path) -> None:
    bad = BASE + 'dependencies = [\n  "litellm",,\n]\n'
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": BASE, "sub/pyproject.toml": bad})
    line = refused(sync(repo, feed), "sub/pyproject.toml", "invalid TOML", "(at line 5, column 13)")
    assert line.count("pyproject.toml") == 1  # the path is named once
    assert (repo / "sub/pyproject.toml").read_text() == bad
    assert_only_the_block_changed(BASE.encode(), (repo / "pyproject.toml").read_bytes())


@pytest.mark.parametrize(
    "deep", ["x = " + "[" * 3000 + "]" * 3000, "x = " + "{a=" * 3000 + "1" + "}" * 3000], ids=["array", "inline-table"]
)
def test_deeply_nested_pyproject_is_refused_alone_on_one_line(tmp_path: Path, feed: Path, deep: str) -> None:
    """Issue 14 item 6: a 3,000-deep value crashed sync with a RecursionError traceback."""
    bad = BASE + deep + "\n"
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": BASE, "sub/pyproject.toml": bad})
    line = refused(sync(repo, feed), "sub/pyproject.toml", "invalid TOML")
    assert "Recursion" not in line
    assert (repo / "sub/pyproject.toml").read_text() == bad
    assert_only_the_block_changed(BASE.encode(), (repo / "pyproject.toml").read_bytes())


def test_non_utf8_pyproject_is_refused(tmp_path: Path, feed: Path) -> None:
    repo = one_file(tmp_path, BASE.encode() + b'description = "caf\xe9"\n')
    assert_refused_untouched(repo, feed, "pyproject.toml", "not UTF-8 (byte 62)")


def test_non_utf8_constraints_file_is_refused_alone(tmp_path: Path, feed: Path) -> None:
    repo = one_file(tmp_path, b"tinylib<3  # caf\xe9\n", "constraints.txt", **{"pyproject.toml": BASE})
    before = (repo / "constraints.txt").read_bytes()
    refused(sync(repo, feed), "constraints.txt", "not UTF-8 (byte 16); refusing to edit it")
    assert (repo / "constraints.txt").read_bytes() == before
    assert BLOCK_ROW in (repo / "pyproject.toml").read_text(), "the other targets are still protected"


@pytest.mark.parametrize("name", ["pyproject.toml", "constraints.txt"])
def test_huge_file_is_refused_quickly(tmp_path: Path, feed: Path, name: str) -> None:
    """20 MB of comments: tomlkit would need about half a minute per parse; refused up front."""
    comments = ("# " + "x" * 77 + "\n") * (20 * 1024 * 1024 // 80)
    files = (
        {"pyproject.toml": BASE + comments}
        if name == "pyproject.toml"
        else {"pyproject.toml": BASE, "constraints.txt": comments}
    )
    repo = init_repo(tmp_path / "repo", files)
    before = tree_digest(repo)
    started = time.monotonic()
    proc = sync(repo, feed, "--target", "uv", "--target", "pip", real=True)
    assert time.monotonic() - started < 10
    refused(proc, name, "4194304 bytes depguard")
    assert tree_digest(repo)[name] == before[name]


def test_lone_carriage_return_is_refused(tmp_path: Path, feed: Path) -> None:
    """pip splits lines at a lone CR, TOML calls it an error: depguard cannot know where a line ends."""
    repo = one_file(tmp_path, "tinylib<3\rlitellm<2\n", "constraints.txt", **{"pyproject.toml": BASE})
    before = (repo / "constraints.txt").read_bytes()
    refused(
        sync(repo, feed, real=True), "constraints.txt", "line 1 contains a carriage return that does not end a line"
    )
    assert (repo / "constraints.txt").read_bytes() == before


# --------------------------------------------------------------------------- markers


BLOCKS = {
    "two-begin-markers": (
        '  # >>> depguard: managed\n  "a!=1",  # X-1\n  # >>> depguard: managed\n  # <<< depguard\n',
        "more than one depguard begin marker (lines 6, 8)",
    ),
    "two-end-markers": ("  # >>> depguard\n  # <<< depguard\n  # <<< depguard\n", "more than one depguard end marker"),
    "out-of-order": (
        '  # <<< depguard\n  "a!=1",\n  # >>> depguard\n',
        "end marker (line 6) comes before the begin marker (line 8)",
    ),
    "begin-without-end": ('  # >>> depguard\n  "a!=1",\n', "begin marker at line 6 has no end marker"),
    "end-without-begin": ('  "a!=1",\n  # <<< depguard\n', "end marker at line 7 has no begin marker"),
}


@pytest.mark.parametrize("shape", sorted(BLOCKS))
def test_broken_markers_are_refused(tmp_path: Path, feed: Path, shape: str) -> None:
    inner, message = BLOCKS[shape]
    repo = one_file(tmp_path, BASE + "[tool.uv]\nconstraint-dependencies = [\n" + inner + "]\n")
    assert_refused_untouched(repo, feed, "pyproject.toml", message, real=shape == "two-begin-markers")


def test_marker_outside_the_array_is_refused(tmp_path: Path, feed: Path) -> None:
    text = BASE + "# >>> depguard: managed\n# <<< depguard\n[tool.uv]\nconstraint-dependencies = []\n"
    repo = one_file(tmp_path, text)
    assert_refused_untouched(repo, feed, "marker at line 4 is not directly inside tool.uv.constraint-dependencies")


def test_markers_in_a_constraints_file_are_checked_too(tmp_path: Path, feed: Path) -> None:
    repo = one_file(tmp_path, "# <<< depguard\nx<2\n# >>> depguard\n", "constraints.txt", **{"pyproject.toml": BASE})
    before = (repo / "constraints.txt").read_bytes()
    refused(sync(repo, feed), "constraints.txt", "comes before the begin marker")
    assert (repo / "constraints.txt").read_bytes() == before


def test_hand_edited_block_is_rewritten_and_nothing_else_moves(tmp_path: Path, feed: Path) -> None:
    """Not a refusal: the block is depguard's, so a hand edit is reported and undone."""
    repo = one_file(tmp_path, BASE + 'dependencies = ["litellm"]\n')
    assert sync(repo, feed, real=True).returncode == 0
    synced = (repo / "pyproject.toml").read_bytes()
    edited = synced.replace(b'"litellm!=1.82.7,!=1.82.8"', b'"litellm!=1.82.7"').replace(
        b"    # <<< depguard", b'    "litellm==1.82.7",  # mine\n    # <<< depguard'
    )
    assert edited != synced
    (repo / "pyproject.toml").write_bytes(edited)
    proc = sync(repo, feed)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    assert "the managed block had been edited by hand; it was rewritten" in proc.stdout
    assert (repo / "pyproject.toml").read_bytes() == synced


# --------------------------------------------------------------------------- shapes that are edited


@pytest.mark.parametrize(
    "shape",
    ["crlf", "mixed-endings", "bom", "tabs", "no-final-newline"],
)
def test_unusual_but_valid_files_are_edited_only_inside_the_block(tmp_path: Path, feed: Path, shape: str) -> None:
    text = (
        BASE + 'dependencies = [\n\t"litellm",\t# tab\n]\n\n[tool.uv]\nconstraint-dependencies = [\n\t"numpy<2",\n]\n'
    )
    data = {
        "crlf": text.replace("\n", "\r\n").encode(),
        "mixed-endings": text.replace("\n", "\r\n", 4).encode(),
        "bom": b"\xef\xbb\xbf" + text.encode(),
        "tabs": text.replace("    ", "\t").encode(),
        "no-final-newline": text.rstrip("\n").encode(),
    }[shape]
    constraints = (
        data.replace(BASE.encode(), b"").split(b"[tool.uv]")[0] if shape != "bom" else b"\xef\xbb\xbftinylib<3\r\n"
    )
    repo = one_file(tmp_path, data, **{"constraints.txt": constraints})
    proc = sync(repo, feed, real=shape == "crlf")
    assert proc.returncode == 0, proc.stderr
    after = (repo / "pyproject.toml").read_bytes()
    assert_only_the_block_changed(data, after)
    assert_only_the_block_changed(constraints, (repo / "constraints.txt").read_bytes(), constraints_writer)
    if shape == "crlf":
        assert after.count(b"\n") == after.count(b"\r\n")
    if shape == "bom":
        assert after.startswith(b"\xef\xbb\xbf") and after.count(b"\xef\xbb\xbf") == 1
    again = sync(repo, feed)
    assert again.returncode == 0 and "written" not in again.stdout, "sync after sync changes nothing"


# --------------------------------------------------------------------------- files that are not plain files


def test_read_only_file_is_refused(tmp_path: Path, feed: Path) -> None:
    repo = one_file(tmp_path, BASE)
    (repo / "pyproject.toml").chmod(0o444)
    assert_refused_untouched(repo, feed, "pyproject.toml", "file is read-only; not changing it")
    assert stat.S_IMODE((repo / "pyproject.toml").stat().st_mode) == 0o444


@pytest.mark.parametrize("where", ["root", "member"])
def test_pyproject_symlink_pointing_outside_the_repo_is_refused(tmp_path: Path, feed: Path, where: str) -> None:
    outside = tmp_path / "outside" / "pyproject.toml"
    outside.parent.mkdir()
    outside.write_text(BASE)
    secret = outside.read_bytes()
    files = {"pyproject.toml": BASE} if where == "member" else {}
    repo = init_repo(tmp_path / "repo", {**files, "README": "x"})
    link = repo / ("pyproject.toml" if where == "root" else "sub/pyproject.toml")
    link.parent.mkdir(exist_ok=True)
    link.symlink_to(outside)
    init_repo(repo, {})  # commit the symlink
    line = assert_refused_untouched(repo, feed, "not a regular file; refusing to follow it", real=where == "root")
    assert link.name in line and outside.read_bytes() == secret


def test_constraints_file_behind_a_symlinked_directory_is_refused(tmp_path: Path, feed: Path) -> None:
    """Bug found by this suite: `constraints-file = "ci/constraints.txt"` with a committed
    symlink `ci -> <anywhere>` made sync write outside the repo."""
    outside = tmp_path / "outside"
    outside.mkdir()
    config = BASE + '\n[tool.depguard]\ntargets = ["pip"]\nconstraints-file = "ci/constraints.txt"\n'
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": config})
    (repo / "ci").symlink_to(outside)
    init_repo(repo, {})
    assert_refused_untouched(
        repo, feed, "ci/constraints.txt", "ci is a symbolic link", "refusing to write through it", real=True
    )
    assert list(outside.iterdir()) == []


def test_constraints_file_that_is_a_symlink_is_refused(tmp_path: Path, feed: Path) -> None:
    target = tmp_path / "elsewhere.txt"
    target.write_text("tinylib<3\n")
    repo = one_file(tmp_path, BASE, **{"requirements.in": "litellm\n"})
    (repo / "constraints.txt").symlink_to(target)
    init_repo(repo, {})
    before = tree_digest(repo)
    refused(sync(repo, feed), "constraints.txt", "is a symbolic link", "refusing to write through it")
    assert target.read_text() == "tinylib<3\n" and (repo / "constraints.txt").is_symlink()
    after = tree_digest(repo)
    assert after["requirements.in"] == before["requirements.in"], "no -c line to a refused constraints file"
    assert BLOCK_ROW in (repo / "pyproject.toml").read_text(), "the other targets are still protected"


def test_directory_named_pyproject_toml_is_not_a_project(tmp_path: Path, feed: Path) -> None:
    repo = init_repo(tmp_path / "repo", {"pyproject.toml/notes.txt": "a directory, not a file\n"})
    before = tree_digest(repo)
    proc = sync(repo, feed)
    assert proc.returncode == 0 and "no projects found to protect" in proc.stdout and "Traceback" not in proc.stderr
    assert tree_digest(repo) == before


def test_directory_named_like_the_constraints_file_is_refused(tmp_path: Path, feed: Path) -> None:
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": BASE, "constraints.txt/keep": ""})
    before = tree_digest(repo)
    line = refused(sync(repo, feed, "--target", "pip"), "constraints.txt", "not a regular file")
    assert tree_digest(repo) == before and "Traceback" not in line


# --------------------------------------------------------------------------- config from a contributor


@pytest.mark.parametrize(
    "table,message",
    [
        pytest.param('ignroe = ["x_DEPGUARD-2026-0001"]', "unknown key(s) ignroe", id="typo"),
        pytest.param('ignore = [{id = "x_DEPGUARD-2026-0001"}]', "a reason is required", id="ignore-without-reason"),
        pytest.param(
            'constraints-file = "../../outside.txt"',
            "constraints-file must be a relative path inside the project",
            id="dotdot",
        ),
        pytest.param(
            'constraints-file = "/etc/pip/constraints.txt"', "constraints-file must be a relative path", id="absolute"
        ),
        pytest.param('targets = ["uv", "curl"]', "targets: unknown curl", id="target"),
        pytest.param('feed = "http://evil.example/"', "only https URLs are allowed", id="plain-http-feed"),
    ],
)
def test_hostile_tool_depguard_table_is_refused(tmp_path: Path, table: str, message: str) -> None:
    repo = one_file(tmp_path, BASE + "\n[tool.depguard]\n" + table + "\n")
    before = tree_digest(repo)
    env = {"DEPGUARD_OFFLINE": "0"}
    proc = depguard(repo, "sync", env=env) if "ignroe" in table else run_cli("sync", cwd=repo, env=env)
    refused(proc, message)
    assert tree_digest(repo) == before


@pytest.mark.parametrize(
    "text,message",
    [
        pytest.param("[tool]\nuv = {constraint-dependencies = []}\n", "tool.uv is an inline table", id="inline-table"),
        pytest.param('[tool.uv]\nconstraint-dependencies = "litellm!=1"\n', "is not an array", id="string-value"),
        pytest.param("[[tool.uv]]\nx = 1\n", "is an array of tables", id="array-of-tables"),
        pytest.param("tool = 1\n", "tool is an inline table or a plain value", id="tool-is-a-number"),
    ],
)
def test_shapes_that_cannot_be_edited_safely_are_refused(tmp_path: Path, feed: Path, text: str, message: str) -> None:
    """Before this suite, `[[tool.uv]]` or `tool = 1` crashed project discovery with a traceback."""
    repo = one_file(tmp_path, text + BASE if text.startswith("tool =") else BASE + text)
    assert_refused_untouched(repo, feed, "pyproject.toml", message)


# --------------------------------------------------------------------------- the OS fails the write


@pytest.mark.parametrize(
    "where,code",
    [("fsync", errno.ENOSPC), ("replace", errno.EACCES), ("mkstemp", errno.EROFS), ("write", errno.EDQUOT)],
    ids=["disk-full-at-fsync", "permission-denied-at-rename", "read-only-fs-at-create", "quota-at-write"],
)
def test_failing_write_leaves_every_file_and_no_temp_file(
    tmp_path: Path, feed: Path, monkeypatch: pytest.MonkeyPatch, where: str, code: int
) -> None:
    """A simulation of the OS (monkeypatched in this process), not of depguard."""
    import tempfile

    import depguard.atomic as atomic

    repo = victim(tmp_path / "repo")

    def fail(*_args, **_kwargs):
        raise OSError(code, os.strerror(code))

    if where == "fsync":
        monkeypatch.setattr(atomic.os, "fsync", fail)
    elif where == "replace":
        monkeypatch.setattr(atomic.os, "replace", fail)
    elif where == "mkstemp":
        monkeypatch.setattr(tempfile, "mkstemp", fail)
    else:
        real_fdopen = os.fdopen

        class Full:
            def __init__(self, handle):
                self.handle = handle

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.handle.close()

            def write(self, _data):
                fail()

        monkeypatch.setattr(atomic.os, "fdopen", lambda fd, mode: Full(real_fdopen(fd, mode)))
    before = tree_digest(repo)
    proc = run_cli("sync", "--feed", str(feed), cwd=repo)
    # pyproject.toml and constraints.txt fail; requirements.in is then not pointed at a
    # constraints file that was never written
    refused(proc, "cannot write:", os.strerror(code), "file left as it was", errors=2)
    assert tree_digest(repo) == before
    assert temp_leftovers(repo) == []


def test_file_edited_while_sync_runs_is_not_clobbered(
    tmp_path: Path, feed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An editor saves between plan and apply: the write is refused, the editor's bytes stay."""
    import depguard.sync as sync_mod

    repo = one_file(tmp_path, BASE)
    real_plan = sync_mod.plan
    editors_bytes = (BASE + 'description = "saved by an editor"\n').encode()

    def plan_then_edit(*args, **kwargs):
        result = real_plan(*args, **kwargs)
        (repo / "pyproject.toml").write_bytes(editors_bytes)
        return result

    monkeypatch.setattr(sync_mod, "plan", plan_then_edit)
    refused(
        run_cli("sync", "--feed", str(feed), cwd=repo),
        "pyproject.toml",
        "changed on disk while sync was running; run sync again",
    )
    assert (repo / "pyproject.toml").read_bytes() == editors_bytes


def test_temp_files_left_by_a_killed_run_do_not_break_the_next_one(tmp_path: Path, feed: Path) -> None:
    repo = victim(tmp_path / "repo")
    dead = 2**22 + 12345  # above the default pid_max: no such process
    leftovers = [
        repo / f".pyproject.toml.{dead}.abc123.depguard-tmp",
        repo / f".constraints.txt.{dead}.xyz.depguard-tmp",
    ]
    for path in leftovers:
        path.write_bytes(b"half a file")
    proc = sync(repo, feed, real=True)
    assert proc.returncode == 0, proc.stderr
    assert BLOCK_ROW in (repo / "pyproject.toml").read_text()
    assert temp_leftovers(repo) == [], "the next successful write sweeps what a dead writer left"


# --------------------------------------------------------------------------- check


@pytest.mark.parametrize(
    "name,content,message",
    [
        pytest.param(
            "uv.lock",
            'version = 1\n\n[[package]]\nname = "litellm"\nversion = \n',
            "uv.lock:5: invalid TOML",
            id="uv-lock",
        ),
        pytest.param(
            "uv.lock",
            "version = 1\nx = " + "[" * 3000 + "]" * 3000 + "\n",
            "uv.lock:2: invalid TOML",
            id="uv-lock-3000-deep",
        ),
        pytest.param(
            "requirements.txt",
            "litellm==1.82.7\nfoo @@@ bar\n",
            "requirements.txt:2: not a valid requirement",
            id="requirement",
        ),
        pytest.param("requirements.txt", "-r ../../../../etc/passwd\n", "leaves the repository", id="include-outside"),
    ],
)
def test_check_refuses_an_unreadable_lockfile_on_one_line(
    tmp_path: Path, feed: Path, name: str, content: str, message: str
) -> None:
    repo = one_file(tmp_path, BASE, **{name: content})
    before = tree_digest(repo)
    proc = (
        depguard(repo, "check", "--feed", str(feed))
        if name == "uv.lock"
        else run_cli("check", "--feed", str(feed), cwd=repo)
    )
    refused(proc, message)
    assert tree_digest(repo) == before
