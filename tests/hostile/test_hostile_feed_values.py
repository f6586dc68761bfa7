"""Hostile *values* in a feed: names, versions, ids and texts crafted to smuggle syntax.

Served over real HTTP by a host that signs what it serves (index.json hashes match), so the
hash check passes and the record gates have to catch the attack. With no verified copy cached
the outcome is exit 2 and nothing written; the project tree is compared byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from depguard.errors import UnsafeEditError, UnsafeValueError
from depguard.exclusions import Exclusion, make_exclusion

from feedkit import record, write_feed
from hostilekit import (
    LITELLM,
    Site,
    cache_states,
    good_records,
    refused,
    run_cli,
    sync_url,
    tree_digest,
    victim,
)
from repokit import depguard


def served_with(site: Site, change: Callable[[dict[str, Any]], None]) -> Site:
    """The good feed with the litellm record changed by ``change``, re-signed by the host."""
    records = good_records()
    change(records[0])
    return site.hostile(records)


def assert_refused_whole(repo: Path, site: Site, *needles: str, inproc: bool = True) -> str:
    before = tree_digest(repo)
    proc = sync_url(repo, site.url, inproc=inproc)
    line = refused(proc, "all.json has invalid records, refusing all of them", "no usable feed", *needles)
    assert tree_digest(repo) == before
    assert cache_states() == [], "a refused download is never cached"
    return line


def set_name(name: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["affected"][0]["package"]["name"] = name
        data["affected"][0]["package"]["purl"] = f"pkg:pypi/{name}"

    return change


def set_versions(*versions: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["affected"][0]["versions"] = list(versions)

    return change


# --------------------------------------------------------------------------- package names


@pytest.mark.parametrize(
    "name",
    [
        pytest.param('litellm"]\n[tool.evil]\nx = "', id="toml-quote-newline-bracket"),
        pytest.param("litellm]", id="toml-bracket"),
        pytest.param("litellm#", id="comment-marker"),
        pytest.param('litellm; python_version < "4"', id="marker"),
        pytest.param("litellm@https://evil.example/litellm.whl", id="url"),
        pytest.param("-e", id="editable-flag"),
        pytest.param("--index-url=https://evil.example/simple", id="index-url-flag"),
    ],
)
def test_name_carrying_toml_or_requirements_syntax_is_refused(site: Site, repo: Path, name: str) -> None:
    served_with(site, set_name(name))
    real_cli = name.startswith('litellm"]')  # one variant through a real subprocess, the rest in-process
    assert_refused_whole(repo, site, f"{LITELLM}#/affected/0/package/name", inproc=not real_cli)


@pytest.mark.parametrize(
    "name", ["lite\x1b[2Jllm", "lite\x00llm", "lite\u202ellm"], ids=["escape", "nul", "bidi-override"]
)
def test_name_with_control_characters_is_refused_and_never_printed_raw(site: Site, repo: Path, name: str) -> None:
    served_with(site, set_name(name))
    line = assert_refused_whole(repo, site, "/affected/0/package/name")
    assert name not in line  # shown escaped: the refusal itself cannot drive the terminal


@pytest.mark.parametrize(
    "name", ["l\u0456tellm", "\uff4c\uff49\uff54\uff45\uff4c\uff4c\uff4d"], ids=["cyrillic-i", "fullwidth"]
)
def test_unicode_confusable_name_is_refused(site: Site, repo: Path, name: str) -> None:
    served_with(site, set_name(name))
    assert_refused_whole(repo, site, "/affected/0/package/name")


# --------------------------------------------------------------------------- versions


@pytest.mark.parametrize(
    "version",
    [
        pytest.param('1.82.7"]', id="toml-quote-bracket"),
        pytest.param("1.82.7#", id="comment-marker"),
        pytest.param("1.82.7,", id="comma"),
        pytest.param("1.82.7\u2028", id="line-separator"),
    ],
)
def test_version_carrying_toml_syntax_refuses_the_feed(site: Site, repo: Path, version: str) -> None:
    served_with(site, set_versions("1.82.7", version))
    assert_refused_whole(repo, site, f"{LITELLM}#/affected/0/versions/1")


@pytest.mark.parametrize(
    "version",
    [
        pytest.param("==1.82.6", id="pin"),
        pytest.param("===1.82.6", id="arbitrary-equality"),
        pytest.param("~=1.82", id="compatible-release"),
        pytest.param("1.82.7;python_version<'4'", id="marker"),
        pytest.param("1.82.7[extra]", id="extra"),
        pytest.param("1.82.7@https://evil.example/x.whl", id="url"),
        pytest.param("*", id="wildcard"),
    ],
)
def test_version_that_would_add_versions_refuses_the_feed(site: Site, repo: Path, version: str) -> None:
    """Before this suite, such a value was dropped alone with a warning: one exclusion lifted by a hostile feed."""
    served_with(site, set_versions("1.82.7", version))
    assert_refused_whole(
        repo, site, "/affected/0/versions/1", "is not a valid PEP 440 version", inproc=version != "==1.82.6"
    )


# --------------------------------------------------------------------------- ids


@pytest.mark.parametrize(
    "advisory_id",
    [
        "../../../../pwn",
        "x_DEPGUARD-2026-0001/../../pwn",
        "..",
        "x_DEPGUARD-2026-0001\\..\\pwn",
        "x_DEPGUARD-2026-0001\x1b[2Jpwn",
    ],
)
def test_id_with_path_separators_is_refused_and_writes_no_file(
    site: Site, repo: Path, tmp_path: Path, advisory_id: str
) -> None:
    records = good_records()
    records[0]["id"] = advisory_id
    site.hostile(records)
    before = tree_digest(repo)
    proc = sync_url(repo, site.url)
    refused(proc, "no usable feed")
    assert tree_digest(repo) == before and cache_states() == []
    assert not [p for p in tmp_path.rglob("*pwn*")]


@pytest.mark.parametrize(
    "file_name",
    ["x_DEPGUARD-2026-0001.json", "x_DEPGUARD-2026-0001\x1b[2J\x1b]0;title\x07.json"],
    ids=["plain-file-name", "escape-in-file-name"],
)
def test_id_with_path_separators_in_a_feed_directory_is_refused(repo: Path, tmp_path: Path, file_name: str) -> None:
    """A contributor's pull request (a feed directory, no index) goes through the same gate;
    a file name with terminal escapes is printed escaped."""
    bad = record("x_DEPGUARD-2026-0001")
    bad["id"] = "../../pwn"
    feed = write_feed(tmp_path / "feed", [])
    (feed / "PyPI" / "litellm").mkdir(parents=True)
    (feed / "PyPI" / "litellm" / file_name).write_text(json.dumps(bad))
    before = tree_digest(repo)
    proc = depguard(repo, "sync", "--feed", str(feed))
    refused(proc, "has invalid records, refusing all of it", "#/id")
    assert tree_digest(repo) == before
    assert not [p for p in tmp_path.rglob("*pwn*")]


# --------------------------------------------------------------------------- texts


@pytest.mark.parametrize(
    "field,value,pointer",
    [
        pytest.param("summary", "bad\n# <<< depguard\n]\n[tool.evil]", "/summary", id="summary-newline-markers"),
        pytest.param("summary", "bad\r# >>> depguard", "/summary", id="summary-carriage-return"),
        pytest.param("summary", "\x1b]0;pwned\x07\x1b[2Jcompromised", "/summary", id="summary-terminal-escape"),
        pytest.param("summary", "safe \u202egnp.exe", "/summary", id="summary-bidi-override"),
        pytest.param("details", "fine\n\x1b[31mred\x1b[0m", "/details", id="details-terminal-escape"),
        pytest.param("aliases", ["MAL-2026-1\x1b[2J"], "/aliases/0", id="alias-terminal-escape"),
    ],
)
def test_text_that_could_break_out_of_a_line_or_a_terminal_is_refused(
    site: Site, repo: Path, field: str, value: Any, pointer: str
) -> None:
    served_with(site, lambda data: data.__setitem__(field, value))
    assert_refused_whole(repo, site, f"{LITELLM}#{pointer}")


def test_details_with_markers_and_newlines_never_reach_a_file(site: Site, tmp_path: Path) -> None:
    """Multi-line details are legitimate Markdown: accepted, and inert - a generated comment
    carries only advisory ids, so the files equal those written from the benign feed."""
    control = victim(tmp_path / "control")
    site.publish(good_records())
    assert sync_url(control, site.url).returncode == 0

    hostile = victim(tmp_path / "hostile")
    records = site.records()
    records[0]["details"] = (
        'x"]\n    # <<< depguard\n]\n[tool.uv]\nconstraint-dependencies = ["litellm==1.82.7"]  # >>> depguard\n'
    )
    records[0]["modified"] = "2026-03-26T00:00:00Z"  # newer, so it is downloaded and used
    site.hostile(records)
    proc = sync_url(hostile, site.url)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "(url, 4 records" in proc.stdout
    assert tree_digest(hostile) == tree_digest(control)


def test_check_refuses_a_hostile_feed_too(site: Site, repo: Path) -> None:
    (repo / "requirements.txt").write_text("litellm==1.82.7\n")
    served_with(site, set_versions("1.82.7", "==1.82.6"))
    before = tree_digest(repo)
    proc = depguard(repo, "check", "--feed", site.url, env={"DEPGUARD_OFFLINE": "0"})
    refused(proc, "/affected/0/versions/1", "no usable feed")
    assert tree_digest(repo) == before


# --------------------------------------------------------------------------- emitted requirements


SNEAKY = [
    pytest.param(("==1.82.6",), id="pin"),
    pytest.param(("===1.82.6",), id="arbitrary-equality"),
    pytest.param(("~=1.82",), id="compatible-release"),
    pytest.param(("!=1.82.7; python_version < '4'",), id="marker"),
    pytest.param(("[proxy]!=1.82.7",), id="extra"),
    pytest.param((" @ https://evil.example/litellm.whl",), id="url"),
    pytest.param(("<=1.82.8",), id="upper-bound"),
]


@pytest.mark.parametrize("specifiers", SNEAKY)
def test_emitted_requirement_that_adds_versions_is_refused_by_every_writer(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, specifiers: tuple[str, ...]
) -> None:
    """Even if the compiler were fooled, the exclusion gate and then every writer refuse."""
    with pytest.raises(UnsafeValueError):
        make_exclusion("litellm", list(specifiers), [LITELLM])

    import depguard.affected
    from depguard.affected import Compiled

    sneaky = Exclusion("litellm", specifiers, (LITELLM,))
    monkeypatch.setattr(depguard.affected, "compile_exclusions", lambda *a, **k: Compiled((sneaky,), ()))
    feed = write_feed(tmp_path / "feed", good_records())
    before = tree_digest(repo)
    proc = run_cli("sync", "--feed", str(feed), cwd=repo)
    # pyproject.toml and constraints.txt both refuse; requirements.in is only a -c line and
    # is not written either, because the file it points at was refused
    line = refused(proc, "refusing to write requirement", "not a plain exclusion", errors=2)
    assert "litellm" in line
    assert tree_digest(repo) == before, "requirements.in must not point at a constraints file that was refused"


def test_writer_gate_holds_without_the_compiler(tmp_path: Path) -> None:
    """The last line of defence, directly: a hand-built Exclusion with syntax is refused."""
    from depguard.writers import constraints, pyproject

    for specs in (("==1",), ("!=1\n]",), ("!=1#x",)):
        for writer in (pyproject, constraints):
            with pytest.raises(UnsafeEditError, match="refusing to write requirement"):
                writer.apply("", [Exclusion("litellm", specs, (LITELLM,))])
    for advisory in ("X-1\n# <<< depguard", "X-1 ]"):
        with pytest.raises(UnsafeEditError, match="refusing to write comment"):
            pyproject.apply("", [Exclusion("litellm", ("!=1",), (advisory,))])
