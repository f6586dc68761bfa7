"""Feed size and freshness: `depguard.feedstats`, `depguard feed stats`, `feed status`, the README block."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from depguard import feedstats
from depguard.cli import app
from depguard.records import Record

from feedkit import record, write_feed

runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]
START, END = "<!-- feed-stats:start -->\n", "<!-- feed-stats:end -->"


def _synthetic() -> list[dict]:
    """Two ecosystems, a withdrawn record, a whole-package block, npm scopes, PyPI spellings."""
    return [
        record("x_DEPGUARD-2026-0001", name="Some_Pkg", versions=("1.0", "2.0"), published="2026-03-24T12:00:00Z"),
        # the same PyPI package spelled another way, one version written differently (1.0 == 1.0.0)
        record("x_DEPGUARD-2026-0002", name="some-pkg", versions=("1.0.0", "3.0"), published="2026-03-24T12:00:00Z"),
        record(
            "x_DEPGUARD-2025-0001",
            name="evil",
            versions=("0.1", "0.2"),
            whole_package=True,
            published="2025-06-01T00:00:00Z",
        ),
        # a version list for a package another record blocks whole: covered, not a pair of its own
        record("x_DEPGUARD-2025-0002", name="Evil", versions=("0.3",), published="2025-06-02T00:00:00Z"),
        record(
            "x_DEPGUARD-2025-0003",
            name="@scope/tiny",
            ecosystem="npm",
            versions=("1.0.0",),
            published="2025-09-15T00:00:00Z",
        ),
        record(
            "x_DEPGUARD-2025-0004",
            name="tiny",
            ecosystem="npm",
            versions=("1.0.0", "1.0.1"),
            published="2025-09-16T00:00:00Z",
        ),
        record(
            "x_DEPGUARD-2025-0005",
            name="@scope/tiny",
            ecosystem="npm",
            versions=("1.0.0", "1.0.2"),
            published="2025-09-17T00:00:00Z",
        ),
        # 23:30 at UTC-02:00 is already the next year in UTC
        record("x_DEPGUARD-2024-0001", name="old", versions=("1.0",), published="2024-12-31T23:30:00-02:00"),
        record(
            "x_DEPGUARD-2024-0002",
            name="gone",
            versions=("9.9",),
            published="2024-01-01T00:00:00Z",
            withdrawn="2024-02-01T00:00:00Z",
            modified="2024-02-01T00:00:00Z",
        ),
        record(
            "x_DEPGUARD-2024-0003",
            name="@gone/npm",
            ecosystem="npm",
            versions=("1.0.0",),
            published="2024-01-01T00:00:00Z",
            withdrawn="2024-02-01T00:00:00Z",
            modified="2024-02-01T00:00:00Z",
        ),
    ]


def _counts(stats: feedstats.FeedStats) -> dict[str, tuple[int, int, int, int, int]]:
    return {
        c.ecosystem: (c.records, c.packages, c.package_versions, c.whole_package_blocks, c.withdrawn)
        for c in (*stats.ecosystems, stats.total)
    }


def test_counts_per_ecosystem_exclude_withdrawn_and_normalise_names_and_versions() -> None:
    stats = feedstats.compute(_synthetic())
    assert _counts(stats) == {
        # some-pkg: 1.0, 2.0, 3.0 (1.0.0 is 1.0); evil: blocked whole, its listed versions not pairs; old: 1.0
        "PyPI": (5, 3, 4, 1, 1),
        # @scope/tiny and tiny are two packages; @scope/tiny@1.0.0 listed twice is one pair
        "npm": (3, 2, 4, 0, 1),
        "all": (8, 5, 8, 1, 2),
    }
    assert (stats.live, stats.withdrawn) == (8, 2)


def test_years_are_utc_years_of_published_and_exclude_withdrawn() -> None:
    stats = feedstats.compute(_synthetic())
    assert [(y.year, y.records, y.by_ecosystem) for y in stats.years] == [
        (2026, 2, (("PyPI", 2),)),
        (2025, 6, (("PyPI", 3), ("npm", 3))),  # x_DEPGUARD-2024-0001 is 2025-01-01T01:30Z
    ]


def test_newest_first_by_published_then_id_live_only() -> None:
    stats = feedstats.compute(_synthetic())
    assert [i.id for i in stats.newest] == [
        "x_DEPGUARD-2026-0002",
        "x_DEPGUARD-2026-0001",  # same instant: the higher id first
        "x_DEPGUARD-2025-0005",
        "x_DEPGUARD-2025-0004",
        "x_DEPGUARD-2025-0003",
        "x_DEPGUARD-2025-0002",
        "x_DEPGUARD-2025-0001",
        "x_DEPGUARD-2024-0001",  # 2025-01-01T01:30Z
    ]
    top = stats.newest[0]
    assert (top.date, top.packages, top.summary) == (
        "2026-03-24",
        (("PyPI", "some-pkg"),),
        "Compromised some-pkg releases",
    )
    assert stats.newest[-1].date == "2025-01-01" and stats.newest_published == "2026-03-24T12:00:00Z"


def test_typed_records_and_all_json_entries_give_the_same_stats() -> None:
    data = _synthetic()
    assert feedstats.compute(Record.model_validate(d) for d in data) == feedstats.compute(data)


def test_empty_feed() -> None:
    stats = feedstats.compute([])
    assert stats.ecosystems == () and stats.years == () and stats.newest == () and stats.newest_published is None
    assert "Records in force by year published: none. Withdrawn: 0." in feedstats.render_markdown(stats)
    assert feedstats.to_json(stats)["total"]["records"] == 0


def test_markdown_rendering() -> None:
    assert feedstats.render_markdown(feedstats.compute(_synthetic())) == (
        "| ecosystem | records | packages | package@version pairs | whole-package blocks |\n"
        "| --- | ---: | ---: | ---: | ---: |\n"
        "| PyPI | 5 | 3 | 4 | 1 |\n"
        "| npm | 3 | 2 | 4 | 0 |\n"
        "| **all** | 8 | 5 | 8 | 1 |\n"
        "\n"
        "Records in force by year published: 2026: 2 (PyPI 2); 2025: 6 (PyPI 3, npm 3). Withdrawn: 2. "
        "Newest incident: 2026-03-24 (`x_DEPGUARD-2026-0002`).\n"
    )


def test_text_rendering_escapes_feed_text() -> None:
    hostile = record(name="litellm")
    hostile["summary"] = "looks fine \x1b[2J\u202e"
    hostile["affected"][0]["package"]["ecosystem"] = "Py\x1bPI"
    text = feedstats.render_text(feedstats.compute([hostile]))
    assert "\x1b" not in text and "\u202e" not in text
    assert "looks fine \\x1b[2J\\u202e" in text and "Py\\x1bPI" in text
    markdown = feedstats.render_markdown(feedstats.compute([hostile]))
    assert "\x1b" not in markdown


def test_text_rendering_lists_ten_newest() -> None:
    data = [
        record(f"x_DEPGUARD-2025-{n:04d}", name=f"pkg{n}", published=f"2025-01-{n:02d}T00:00:00Z") for n in range(1, 13)
    ]
    lines = feedstats.render_text(feedstats.compute(data)).splitlines()
    start = lines.index("newest incidents (10 of 12):")
    shown = lines[start + 1 :]
    assert len(shown) == 10
    assert shown[0] == "  2025-01-12  x_DEPGUARD-2025-0012  pkg12 (PyPI): Compromised pkg12 releases"
    assert shown[-1].startswith("  2025-01-03  x_DEPGUARD-2025-0003  ")


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown stats format"):
        feedstats.render(feedstats.compute([]), "yaml")


# --------------------------------------------------------------------------- the commands


def _valid_feed(root: Path) -> Path:
    """A lint-clean subset of the synthetic feed (one record per package spelling)."""
    keep = {"x_DEPGUARD-2025-0001", "x_DEPGUARD-2025-0003", "x_DEPGUARD-2025-0004", "x_DEPGUARD-2024-0002"}
    first = record("x_DEPGUARD-2026-0001", name="some-pkg", versions=("1.0", "2.0"), published="2026-03-24T12:00:00Z")
    return write_feed(root, [first, *(d for d in _synthetic() if d["id"] in keep)])


def test_feed_stats_command_formats(tmp_path: Path) -> None:
    root = _valid_feed(tmp_path / "feed")
    done = runner.invoke(app, ["feed", "stats", str(root), "--format", "json"])
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert report["total"] == {
        "ecosystem": "all",
        "records": 4,
        "packages": 4,
        "package_versions": 5,
        "whole_package_blocks": 1,
        "withdrawn": 1,
    }
    assert [e["ecosystem"] for e in report["ecosystems"]] == ["PyPI", "npm"]
    assert [i["id"] for i in report["newest"]][:2] == ["x_DEPGUARD-2026-0001", "x_DEPGUARD-2025-0004"]
    text = runner.invoke(app, ["feed", "stats", str(root)])
    assert text.exit_code == 0 and "package@version pairs" in text.stdout and "x_DEPGUARD-2025-0003" in text.stdout
    markdown = runner.invoke(app, ["feed", "stats", str(root), "--format", "markdown"])
    assert markdown.stdout == feedstats.render_markdown(
        feedstats.compute(json.loads(p.read_text()) for p in root.rglob("*.json"))
    )


def test_feed_stats_of_a_built_tree_equals_the_source(tmp_path: Path) -> None:
    root = _valid_feed(tmp_path / "feed")
    assert runner.invoke(app, ["feed", "build", str(root), "--out", str(tmp_path / "site")]).exit_code == 0
    source = runner.invoke(app, ["feed", "stats", str(root), "--format", "json"])
    built = runner.invoke(app, ["feed", "stats", str(tmp_path / "site"), "--format", "json"])
    assert built.exit_code == 0 and built.stdout == source.stdout


def test_feed_stats_refuses_an_invalid_feed_in_one_line(tmp_path: Path) -> None:
    bad = record()
    bad["affected"][0]["versions"] = ["1.0; rm -rf /"]
    write_feed(tmp_path / "feed", [bad])
    done = runner.invoke(app, ["feed", "stats", str(tmp_path / "feed")])
    assert done.exit_code == 2 and done.stdout == ""
    assert done.stderr.startswith("depguard: error: ") and done.stderr.count("\n") == 1
    missing = runner.invoke(app, ["feed", "stats", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "not found" in missing.stderr


def test_feed_status_shows_counts_years_and_newest(tmp_path: Path) -> None:
    root = _valid_feed(tmp_path / "feed")
    text = runner.invoke(app, ["feed", "status", "--feed", str(root)])
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert "records:  5 (4 in force, 1 withdrawn)" in lines
    assert "  all              4         4                      5                     1          1" in lines
    assert "  2025: 3 (PyPI 1, npm 2)" in lines
    assert "  2026-03-24  x_DEPGUARD-2026-0001  some-pkg (PyPI): Compromised some-pkg releases" in lines
    report = json.loads(runner.invoke(app, ["feed", "status", "--feed", str(root), "--format", "json"]).stdout)
    assert report["in_force"] == report["stats"]["in_force"] == 4
    assert report["stats"]["years"][0] == {"year": 2026, "records": 1, "ecosystems": {"PyPI": 1}}
    assert len(report["stats"]["newest"]) == 4


# --------------------------------------------------------------------------- the README


def test_readme_headline_block_is_the_commands_output() -> None:
    """README.md's counts are exactly `depguard feed stats feed --format markdown` of this checkout.

    After the feed changes, regenerate the block with that command; this test says when to.
    """
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert readme.count(START) == 1 and readme.count(END) == 1
    block = readme[readme.index(START) + len(START) : readme.index(END)]
    done = runner.invoke(app, ["feed", "stats", str(REPO / "feed"), "--format", "markdown"])
    assert done.exit_code == 0, done.output
    assert block == done.stdout, (
        "README.md's feed-stats block is stale: run `depguard feed stats feed --format markdown`"
    )
    before = readme[: readme.index(START)]
    assert readme.index(START) < readme.index("## Quickstart"), "the headline sits near the top"
    assert "depguard feed stats feed --format markdown" in before[-400:], (
        "one sentence names the command that regenerates it"
    )
