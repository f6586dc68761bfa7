"""Terminal escapes from files, paths and the feed never reach the screen raw.

A folder name, a package name or version in a lockfile, or a feed summary can carry ESC / OSC
sequences (set the window title, clear the screen, rewrite the verdict line). Text output
escapes them; JSON and SARIF keep the exact strings.
"""

from __future__ import annotations

import json
from pathlib import Path

from feedkit import record, write_feed, write_record
from repokit import depguard, init_repo

OSC_TITLE = "\x1b]0;pwned\x07"
CLEAR = "\x1b[2J"


def _lock(name: str, version: str) -> str:
    return (
        json.dumps(
            {
                "name": "app",
                "lockfileVersion": 3,
                "requires": True,
                "packages": {"": {"name": "app"}, f"node_modules/{name}": {"version": version}},
            },
            indent=2,
        )
        + "\n"
    )


def test_check_text_output_escapes_names_versions_and_folders(tmp_path: Path) -> None:
    folder = f"web{CLEAR}"
    evil = f"evil{OSC_TITLE}pkg"
    repo = init_repo(
        tmp_path / "repo",
        {
            f"{folder}/package-lock.json": _lock(evil, f"1.0.0{CLEAR}"),
            "app/package-lock.json": _lock("debug", "4.4.2"),
        },
    )
    feed = write_feed(tmp_path / "feed", [record(name="debug", ecosystem="npm", versions=("4.4.2",))])
    proc = depguard(repo, "check", "--feed", str(feed))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "\x1b" not in proc.stdout + proc.stderr and "\x07" not in proc.stdout + proc.stderr
    assert "web\\x1b[2J/package-lock.json" in proc.stdout  # the folder is still named, escaped
    assert proc.stdout.rstrip().splitlines()[-1].startswith("1 compromised package(s)")
    exact = json.loads(depguard(repo, "check", "--feed", str(feed), "--format", "json").stdout)
    assert any(c["path"] == f"{folder}/package-lock.json" for c in exact["checked"])  # JSON stays exact


def _no_escapes(proc) -> str:
    """Both streams, after asserting that no ESC or BEL reached them; every diagnostic is one
    ``depguard: `` line."""
    both = proc.stdout + proc.stderr
    assert "\x1b" not in both and "\x07" not in both, both
    assert all(line.startswith("depguard: ") for line in proc.stderr.splitlines()), proc.stderr
    return both


def test_sync_escapes_folders_diffs_warnings_and_the_feed_source(tmp_path: Path) -> None:
    """A project folder, a constraints-file comment (diff context), an unprotected project's
    folder and the feed directory's name, each holding ESC / OSC: all escaped, JSON exact."""
    svc, poetry = f"svc{CLEAR}", f"po{OSC_TITLE}etry"
    repo = init_repo(
        tmp_path / "repo",
        {
            f"{svc}/pyproject.toml": '[project]\nname = "svc"\nversion = "1"\ndependencies = ["litellm"]\n',
            f"{svc}/constraints.txt": f"numpy<2  # {OSC_TITLE}\n",
            f"{poetry}/pyproject.toml": '[project]\nname = "p"\nversion = "1"\n',
            f"{poetry}/poetry.lock": "",
        },
    )
    feed = write_feed(tmp_path / f"feed{CLEAR}", [record(name="litellm")])
    for args in (["--diff"], ["--check"], []):
        proc = depguard(repo, "sync", "--feed", str(feed), *args)
        assert proc.returncode == (0 if not args else 1), proc.stdout + proc.stderr
        _no_escapes(proc)
        assert "svc\\x1b[2J/constraints.txt [pip]" in proc.stdout
        assert "depguard: warning: not protected by sync: po\\x1b]0;pwned\\x07etry: poetry" in proc.stderr
        assert f"feed: {tmp_path}/feed\\x1b[2J (directory" in proc.stdout
    diff = depguard(repo, "sync", "--feed", str(feed), "--diff")  # written above: now up to date, no diff
    assert "--- a/" not in diff.stdout
    (repo / svc / "constraints.txt").write_text(f"numpy<2  # {OSC_TITLE}\n")
    diff = depguard(repo, "sync", "--feed", str(feed), "--diff")
    assert "--- a/svc\\x1b[2J/constraints.txt" in diff.stdout and " numpy<2  # \\x1b]0;pwned\\x07\n" in diff.stdout
    _no_escapes(diff)
    exact = json.loads(depguard(repo, "sync", "--feed", str(feed), "--check", "--format", "json").stdout)
    assert exact["feed"]["source"] == str(feed)
    assert {f["path"] for f in exact["files"]} == {f"{svc}/pyproject.toml", f"{svc}/constraints.txt"}
    assert exact["summary"]["unprotected"]["projects"][0]["project"] == poetry


def test_a_feed_summary_with_escapes_is_refused_in_one_escaped_line(tmp_path: Path) -> None:
    """sync, feed status and feed validate all name the hostile summary, escaped."""
    hostile = record(name="litellm")
    hostile["summary"] = f"Compromised {OSC_TITLE}litellm{CLEAR}"
    feed = write_feed(tmp_path / "feed", [hostile])
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": '[project]\nname = "r"\nversion = "1"\n'})
    for args, code in (
        (["sync", "--feed", str(feed)], 2),
        (["feed", "status", "--feed", str(feed)], 2),
        (["feed", "validate", str(feed)], 1),
    ):
        proc = depguard(repo, *args)
        assert proc.returncode == code, proc.stdout + proc.stderr
        both = _no_escapes(proc)
        assert "'Compromised \\x1b]0;pwned\\x07litellm\\x1b[2J' contains the control character U+001B" in both
    refused = depguard(repo, "sync", "--feed", str(feed))
    assert refused.stderr.startswith("depguard: error: ") and len(refused.stderr.splitlines()) == 1


def test_feed_status_and_validate_escape_the_feed_path_and_record_paths(tmp_path: Path) -> None:
    feed = write_feed(tmp_path / f"feed{CLEAR}", [record(name="litellm")])
    write_record(
        feed,
        record("x_DEPGUARD-2026-0002", name="tinylib", versions=("2.0",)),
        rel=f"PyPI/tiny{OSC_TITLE}lib/x_DEPGUARD-2026-0002.json",
    )
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": '[project]\nname = "r"\nversion = "1"\n'})
    status = depguard(repo, "feed", "status", "--feed", str(feed))
    assert status.returncode == 0, status.stderr
    _no_escapes(status)
    assert status.stdout.startswith(f"source:   {tmp_path}/feed\\x1b[2J (directory)\n")
    assert json.loads(depguard(repo, "feed", "status", "--feed", str(feed), "--format", "json").stdout)[
        "source"
    ] == str(feed)
    validate = depguard(repo, "feed", "validate", str(feed))
    assert validate.returncode == 1
    _no_escapes(validate)
    assert (
        "PyPI/tiny\\x1b]0;pwned\\x07lib/x_DEPGUARD-2026-0002.json: record belongs at PyPI/tinylib/" in validate.stdout
    )
    exact = json.loads(depguard(repo, "feed", "validate", str(feed), "--format", "json").stdout)
    assert exact["errors"][0]["path"] == f"PyPI/tiny{OSC_TITLE}lib/x_DEPGUARD-2026-0002.json"


def test_printable_text_keeps_layout_and_escapes_the_rest() -> None:
    """The multi-line variant (diffs, reports): newlines, tabs and CRLF stay; ESC, BEL, a lone
    CR (which moves back over the line) and bidi overrides are escaped; it is idempotent."""
    from depguard.display import printable_text

    text = f"a\tb\r\nc{OSC_TITLE}\rd\u202e{CLEAR}\n"
    assert printable_text(text) == "a\tb\r\nc\\x1b]0;pwned\\x07\\rd\\u202e\\x1b[2J\n"
    assert printable_text(printable_text(text)) == printable_text(text)
