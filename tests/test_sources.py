"""One precedence rule for every command (``depguard.sources.resolve``), and the kind a spec names.

The rule: ``--feed``, ``$DEPGUARD_FEED``, ``[tool.depguard] feed`` (relative to its
pyproject.toml), the published feed. ``serve`` once skipped the third; it is asserted here
through the real CLI next to ``feed status``, which shows what sync would use.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from depguard.errors import FeedSourceError, InvalidRecordError
from depguard.feedformat import DEFAULT_FEED_URL
from depguard.publish import build_site
from depguard.sources import PublishedFeed, choose, resolve, source_for
from depguard.sources.directory import DirectorySource
from depguard.sources.interface import FeedSource
from depguard.sources.static import StaticTreeSource

from feedkit import record, write_feed, write_record
from repokit import depguard, init_repo

NO_ENV: dict[str, str] = {}


def test_the_precedence_rule(tmp_path: Path) -> None:
    env = {"DEPGUARD_FEED": "https://env.example/feed/"}
    assert choose("https://flag.example/", config_feed="cfg", config_dir=tmp_path, env=env) == "https://flag.example/"
    assert choose(None, config_feed="cfg", config_dir=tmp_path, env=env) == "https://env.example/feed/"
    assert choose(None, config_feed="cfg", config_dir=tmp_path, env=NO_ENV) == str(tmp_path / "cfg")
    assert choose(None, config_feed="https://cfg.example/", config_dir=tmp_path, env=NO_ENV) == "https://cfg.example/"
    assert choose(None, config_feed=str(tmp_path / "abs"), config_dir=Path("/elsewhere"), env=NO_ENV) == str(
        tmp_path / "abs"
    )
    assert choose(None, env=NO_ENV) == DEFAULT_FEED_URL
    assert choose(None, env={"DEPGUARD_FEED": ""}) == DEFAULT_FEED_URL


def test_a_spec_names_its_kind(tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "feed", [record("x_DEPGUARD-2026-0001")])
    build_site(feed, tmp_path / "site", base_url="https://feed.example/")
    (tmp_path / "file").write_text("x")
    assert isinstance(source_for(str(feed)), DirectorySource)
    assert isinstance(source_for(tmp_path / "site"), StaticTreeSource)
    assert isinstance(source_for("https://feed.example/"), PublishedFeed)
    assert isinstance(source_for(None), PublishedFeed) and source_for(None).location == DEFAULT_FEED_URL
    with pytest.raises(FeedSourceError, match="not found"):
        source_for(str(tmp_path / "missing"))
    with pytest.raises(FeedSourceError, match="not a directory"):
        source_for(str(tmp_path / "file"))
    with pytest.raises(FeedSourceError, match="only https"):
        source_for("http://feed.example/")
    directory, static = source_for(str(feed)).load(), source_for(tmp_path / "site").load()
    assert (directory.kind, static.kind) == ("directory", "static")
    assert [r.id for r in directory.records] == [r.id for r in static.records] == ["x_DEPGUARD-2026-0001"]


def test_resolve_returns_a_source_that_loads_anew(tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "feed", [record("x_DEPGUARD-2026-0001")])
    source = resolve(config_feed="feed", config_dir=tmp_path, env=NO_ENV)
    assert isinstance(source, FeedSource) and source.local_path == feed
    assert len(source.load().records) == 1
    write_feed(feed, [record("x_DEPGUARD-2026-0002", name="other")])
    assert len(source.load().records) == 2


def _repo_with_configured_feed(tmp_path: Path) -> Path:
    repo = init_repo(
        tmp_path / "repo",
        {"pyproject.toml": '[project]\nname = "x"\nversion = "0"\n\n[tool.depguard]\nfeed = "advisories"\n'},
    )
    write_feed(repo / "advisories", [record("x_DEPGUARD-2026-0001"), record("x_DEPGUARD-2026-0002", name="other")])
    return repo


def test_feed_status_reads_the_configured_feed(tmp_path: Path) -> None:
    repo = _repo_with_configured_feed(tmp_path)
    result = depguard(repo, "feed", "status", "--format", "json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert (info["source"], info["kind"], info["records"]) == (str(repo / "advisories"), "directory", 2)


def test_serve_reads_the_configured_feed_as_sync_does(tmp_path: Path) -> None:
    repo = _repo_with_configured_feed(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEPGUARD_FEED")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "depguard", "serve", "--port", "0", "--poll", "0"],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith(f"serving 2 record(s) from {repo / 'advisories'} (directory) at http://127.0.0.1:"), (
            first + (proc.stderr.read() if proc.poll() is not None and proc.stderr else "")
        )
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("files", [{}, {"README.md": "# advisories\n"}])
def test_a_feed_directory_with_no_records_is_refused(tmp_path: Path, files: dict[str, str]) -> None:
    """An empty folder (a submodule not checked out, a wrong path) would lift every exclusion."""
    (tmp_path / "feed").mkdir()
    for name, text in files.items():
        (tmp_path / "feed" / name).write_text(text)
    with pytest.raises(FeedSourceError, match="holds no records"):
        DirectorySource(tmp_path / "feed").load()


@pytest.fixture(scope="module")
def large_feed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A feed large enough for a directory's records to be checked by two processes."""
    records = [record(f"x_DEPGUARD-2026-{n:04d}", name=f"pkg-{n:04d}", versions=(f"1.{n}.0",)) for n in range(2100)]
    return write_feed(tmp_path_factory.mktemp("large") / "feed", records)


def test_a_large_directory_reads_as_a_small_one(large_feed: Path) -> None:
    """Shared out or not, a feed directory gives every record, in file order, and lookups by package."""
    snapshot = DirectorySource(large_feed).load()
    ids = [r.id for r in snapshot.records]
    assert ids == [f"x_DEPGUARD-2026-{n:04d}" for n in range(2100)]
    assert snapshot.newest_modified == max(r.modified for r in snapshot.records)
    picked = DirectorySource(large_feed).load().select({("PyPI", "pkg-0007"), ("PyPI", "pkg-2099")}, set())
    assert [(r.id, r.affected[0].versions) for r in picked] == [
        ("x_DEPGUARD-2026-0007", ("1.7.0",)),
        ("x_DEPGUARD-2026-2099", ("1.2099.0",)),
    ]


def test_a_package_filed_by_both_processes_is_found_whole(large_feed: Path, tmp_path: Path) -> None:
    """Records of one package (and one artifact) in folders at both ends of a large feed, so the
    worker files one and this process the other: a lookup gets both, in file order."""
    import shutil

    feed = Path(shutil.copytree(large_feed, tmp_path / "feed"))
    digest = "ab" * 32
    for advisory_id, folder in (("x_DEPGUARD-2026-9001", "PyPI/aaa"), ("x_DEPGUARD-2026-9002", "PyPI/zzz")):
        data = record(advisory_id, name="shared-pkg", versions=("2.0",))
        data["database_specific"]["depguard"]["artifacts"] = [{"filename": "shared-2.0.tar.gz", "sha256": digest}]
        write_record(feed, data, rel=f"{folder}/{advisory_id}.json")
    snapshot = DirectorySource(feed).load()
    assert len(snapshot.records) == 2102
    both = ["x_DEPGUARD-2026-9001", "x_DEPGUARD-2026-9002"]
    assert [r.id for r in snapshot.select({("PyPI", "shared-pkg")}, set())] == both
    assert [r.id for r in DirectorySource(feed).load().select(set(), {digest})] == both


@pytest.mark.parametrize("position", [0, 1050, 2099])
def test_a_large_directory_with_one_bad_record_is_refused_whole(
    large_feed: Path, tmp_path: Path, position: int
) -> None:
    """Wherever the bad file falls (the worker takes the front, this process the back), it refuses all."""
    import shutil

    feed = Path(shutil.copytree(large_feed, tmp_path / "feed"))
    bad = next(feed.glob(f"PyPI/pkg-{position:04d}/*.json"))
    data = json.loads(bad.read_bytes())
    data["affected"][0]["versions"] = ["1.0; python_version<'3'"]
    bad.write_text(json.dumps(data, indent=2) + "\n")
    with pytest.raises(
        InvalidRecordError, match=f"refusing all of it: PyPI/pkg-{position:04d}/.*not a valid PEP 440 version"
    ):
        DirectorySource(feed).load()


def test_sync_compiles_from_the_pypi_records_alone_and_gets_the_same_exclusions(tmp_path: Path) -> None:
    """``in_ecosystem`` hands sync only the records it compiles from; the exclusions do not change."""
    from depguard.affected import compile_exclusions

    records = [
        record("x_DEPGUARD-2026-0001", name="litellm"),
        record("x_DEPGUARD-2026-0002", name="left-pad", ecosystem="npm", versions=("1.3.1",)),
        record("x_DEPGUARD-2026-0003", name="ultralytics", versions=("8.3.41",)),
        record("x_DEPGUARD-2026-0004", name="chalk", ecosystem="npm", versions=("5.6.1",)),
    ]
    snapshot = DirectorySource(write_feed(tmp_path / "feed", records)).load()
    assert [r.id for r in snapshot.in_ecosystem("PyPI")] == ["x_DEPGUARD-2026-0001", "x_DEPGUARD-2026-0003"]
    assert [r.id for r in snapshot.in_ecosystem("npm")] == [
        "x_DEPGUARD-2026-0004",
        "x_DEPGUARD-2026-0002",
    ]  # file order
    assert snapshot.in_ecosystem("Go") == []
    assert compile_exclusions(snapshot.in_ecosystem("PyPI")) == compile_exclusions(snapshot.records)
    assert [e.requirement for e in compile_exclusions(snapshot.in_ecosystem("PyPI")).exclusions] == [
        "litellm!=1.82.7,!=1.82.8",
        "ultralytics!=8.3.41",
    ]
