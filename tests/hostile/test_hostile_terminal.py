"""Terminal escapes from files, paths and the feed never reach the screen raw.

A folder name, a package name or version in a lockfile, or a feed summary can carry ESC / OSC
sequences (set the window title, clear the screen, rewrite the verdict line). Text output
escapes them; JSON and SARIF keep the exact strings.
"""

from __future__ import annotations

import json
from pathlib import Path

from feedkit import record, write_feed
from repokit import depguard, init_repo

OSC_TITLE = "\x1b]0;pwned\x07"
CLEAR = "\x1b[2J"


def _lock(name: str, version: str) -> str:
    return json.dumps({
        "name": "app", "lockfileVersion": 3, "requires": True,
        "packages": {"": {"name": "app"}, f"node_modules/{name}": {"version": version}},
    }, indent=2) + "\n"


def test_check_text_output_escapes_names_versions_and_folders(tmp_path: Path) -> None:
    folder = f"web{CLEAR}"
    evil = f"evil{OSC_TITLE}pkg"
    repo = init_repo(tmp_path / "repo", {
        f"{folder}/package-lock.json": _lock(evil, f"1.0.0{CLEAR}"),
        "app/package-lock.json": _lock("debug", "4.4.2"),
    })
    feed = write_feed(tmp_path / "feed", [record(name="debug", ecosystem="npm", versions=("4.4.2",))])
    proc = depguard(repo, "check", "--feed", str(feed))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "\x1b" not in proc.stdout + proc.stderr and "\x07" not in proc.stdout + proc.stderr
    assert "web\\x1b[2J/package-lock.json" in proc.stdout  # the folder is still named, escaped
    assert proc.stdout.rstrip().splitlines()[-1].startswith("1 compromised package(s)")
    exact = json.loads(depguard(repo, "check", "--feed", str(feed), "--format", "json").stdout)
    assert any(c["path"] == f"{folder}/package-lock.json" for c in exact["checked"])  # JSON stays exact
