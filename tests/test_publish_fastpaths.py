"""``feed build``'s fast paths give exactly the bytes of the slow code they stand in front of.

The zip writer against :mod:`zipfile`, the hand-written ``index.json`` against
``json.dumps``, the escaping and host-name shortcuts against ``html``
and ``urllib``, and a build split with a forked child against the one-process rendering,
also when the child fails.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import os
import re
import urllib.parse
import zipfile
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from depguard import publish, ziparchive
from depguard.errors import InvalidRecordError
from depguard.feed import Feed, FeedEntry, canonical_bytes, load_feed, record_relpath, typed_record

from feedkit import child_processes, forking_allowed, record, write_feed


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _modes(root: Path) -> set[tuple[str, int]]:
    return {("dir" if p.is_dir() else "file", p.stat().st_mode & 0o777) for p in [root, *root.rglob("*")]}


def _feed(root: Path, count: int) -> Path:
    """A lint-clean feed of ``count`` records: PyPI and npm, live and withdrawn, equal timestamps."""
    records = []
    for n in range(1, count + 1):
        ecosystem = "npm" if n % 3 == 0 else "PyPI"
        data = record(
            f"x_DEPGUARD-2026-{n:04d}",
            name=f"pkg{n}",
            ecosystem=ecosystem,
            versions=("1.0.0",),
            whole_package=n % 5 == 0,
            modified=f"2026-04-0{1 + n % 3}T00:00:00Z",
            withdrawn="2026-04-05T00:00:00Z" if n % 7 == 0 else None,
        )
        data["summary"] = f'<b>{n}</b> & "friends"'
        data["references"].append({"type": "WEB", "url": f"https://User@Example.ORG:8443/a?b={n}&c=<2>"})
        records.append(data)
    write_feed(root, records)
    return root


# --------------------------------------------------------------------------- zip archives

names = st.text(alphabet="ab_.-é0", min_size=1, max_size=12)
dates = st.tuples(
    st.integers(1980, 2107),
    st.integers(1, 12),
    st.integers(1, 28),
    st.integers(0, 23),
    st.integers(0, 59),
    st.integers(0, 59),
)
members = st.lists(st.tuples(names, dates, st.binary(max_size=300)), max_size=6, unique_by=lambda m: m[0])


@settings(max_examples=150, deadline=None)
@given(
    members=members, create_system=st.sampled_from([0, 3]), external_attr=st.sampled_from([0o100644 << 16, 0o600 << 16])
)
def test_zip_archive_is_what_zipfile_writes(
    members: list[tuple[str, Any, bytes]], create_system: int, external_attr: int
) -> None:
    built = [ziparchive.member(name, date, data) for name, date, data in members]
    fast = ziparchive.archive(built, create_system=create_system, external_attr=external_attr)
    assert fast == ziparchive.archive_with_zipfile(built, create_system=create_system, external_attr=external_attr)
    with zipfile.ZipFile(io.BytesIO(fast)) as archive:
        assert archive.testzip() is None
        # zip keeps seconds in steps of two
        assert [(i.filename, i.date_time) for i in archive.infolist()] == [
            (n, (*d[:5], d[5] // 2 * 2)) for n, d, _ in members
        ]
        assert [archive.read(i) for i in archive.infolist()] == [data for _, _, data in members]


def test_zip_archive_reference_is_the_code_it_replaced() -> None:
    """archive_with_zipfile is what the feed build did before: ZipInfo + writestr at level 9."""
    data = b'{"id": "x"}\n' * 50
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo("x.json", date_time=(2026, 3, 25, 12, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.create_system = 3
        info.external_attr = 0o100644 << 16
        archive.writestr(info, data, compresslevel=9)
    member = ziparchive.member("x.json", (2026, 3, 25, 12, 0, 0), data)
    assert ziparchive.archive([member]) == ziparchive.archive_with_zipfile([member]) == buffer.getvalue()


def test_zip_archive_past_the_member_count_limit_has_zip64_end_records() -> None:
    one = ziparchive.member("a", (2026, 1, 1, 0, 0, 0), b"")
    built = [ziparchive.Member(f"{n}", one.date_time, one.size, one.crc, one.deflated, one.data) for n in range(70_000)]
    fast = ziparchive.archive(built)
    assert fast == ziparchive.archive_with_zipfile(built)
    assert b"PK\x06\x06" in fast[-200:]


def test_zip_archive_past_two_gibibytes_is_left_to_zipfile(monkeypatch: pytest.MonkeyPatch) -> None:
    built = [ziparchive.member(f"{n}.json", (2026, 1, 1, 0, 0, 0), os.urandom(64)) for n in range(3)]
    calls: list[int] = []
    reference = ziparchive.archive_with_zipfile

    def counted(*args: Any, **kwargs: Any) -> bytes:
        calls.append(1)
        return reference(*args, **kwargs)

    monkeypatch.setattr(ziparchive, "archive_with_zipfile", counted)
    # private on purpose: 2 GiB of members is more than a test should hold in memory
    monkeypatch.setattr(ziparchive, "_LIMIT", 100)
    assert ziparchive.archive(built) == reference(built) and calls


# --------------------------------------------------------------------------- JSON and text


def _rendered(records: list[dict[str, Any]], base_url: str = "https://example.org/") -> dict[str, bytes]:
    """The static tree of ``records``, rendered in memory (no feed directory)."""
    entries = []
    for data in records:
        package = data["affected"][0]["package"]
        path = record_relpath(package["ecosystem"], package["name"], data["id"])
        entries.append(FeedEntry(path, canonical_bytes(data), data))
    return publish.render_site(Feed(Path("feed"), entries), base_url=base_url)


@pytest.mark.parametrize("count", [0, 1, 12])
def test_index_json_is_json_dumps_indent_1(count: int) -> None:
    records = [
        record(f"x_DEPGUARD-2026-{n:04d}", name=f"pkg{n}", ecosystem="npm" if n % 3 == 0 else "PyPI")
        for n in range(1, count + 1)
    ]
    if count:  # a withdrawal date that needs escaping in JSON
        records[0]["withdrawn"] = 'x"\\é\u2028'
    tree = _rendered(records)
    written = tree[publish.INDEX_PATH]
    index = json.loads(written)
    assert written == (json.dumps(index, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
    all_bytes = tree[publish.ALL_PATH]
    assert index["all"] == {
        "path": publish.ALL_PATH,
        "sha256": hashlib.sha256(all_bytes).hexdigest(),
        "size": len(all_bytes),
    }
    assert (index["format"], index["format_version"], index["count"]) == (publish.FORMAT, publish.FORMAT_VERSION, count)
    assert index["modified"] == (max(r["modified"] for r in records) if records else None)
    expected = []
    for data in sorted(records, key=lambda r: r["id"]):
        package = data["affected"][0]["package"]
        path = f"{package['ecosystem']}/{data['id']}.json"
        entry = {"id": data["id"], "ecosystem": package["ecosystem"], "name": package["name"]}
        entry |= {"modified": data["modified"], "withdrawn": data.get("withdrawn"), "path": path}
        expected.append(entry | {"sha256": hashlib.sha256(tree[path]).hexdigest()})
    assert index["records"] == expected


urls = st.lists(
    st.sampled_from(
        [
            "http://",
            "https://",
            "HTTPS://",
            "ftp://",
            "//",
            "a",
            "Z",
            "0",
            ".",
            "-",
            ":",
            "8",
            "/",
            "?",
            "#",
            "@",
            "[",
            "]",
            "%",
            " ",
            "\t",
            "\n",
            "\x00",
            "\x7f",
            "é",
            "_",
            "~",
            "user@",
            "[::1]",
        ]
    ),
    max_size=10,
).map("".join)


#: Characters XML 1.0 cannot carry at all, even escaped (its ``Char`` production).
XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _link(url: str) -> str:
    """The list item the page shows for a reference: its host name as ``urllib.parse`` reads it."""
    label = html.escape(f"web ({urllib.parse.urlsplit(url).hostname or url})", quote=True)
    if re.fullmatch(r"https?://[^\s<>\"']+", url, re.IGNORECASE):
        return f'<li><a href="{html.escape(url, quote=True)}" rel="nofollow noopener">{label}</a></li>'
    return f"<li>{label}</li>"


@settings(max_examples=600, deadline=None)
@given(batch=st.lists(urls, min_size=1, max_size=8))
def test_reference_hosts_on_the_page_are_urlsplits(batch: list[str]) -> None:
    data = record()
    data["references"] = [{"type": "WEB", "url": url} for url in batch]
    try:
        expected = [_link(url) for url in batch]
    except ValueError:  # urllib refuses the URL: so does the page
        with pytest.raises(ValueError):
            _rendered([data])
        return
    page = _rendered([data])["index.html"].decode("utf-8")
    at = page.index('">OSV JSON</a></li>')
    for item in expected:
        at = page.index(item, at)


@settings(max_examples=1000, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("ab &<>\"'\x00\x08\x0b\x1f\ufffe\uffff\u2028é")), max_size=10))
def test_escapes_are_html_escape(text: str) -> None:
    data = record()
    data["summary"] = text
    tree = _rendered([data])
    assert f"<td>{html.escape(text, quote=True)}</td>" in tree["index.html"].decode("utf-8")
    atom = tree["feed.atom"].decode("utf-8")
    if text:
        assert f"<summary>{html.escape(XML_INVALID.sub(chr(0xFFFD), text), quote=True)}</summary>" in atom
    else:
        assert "<summary>" not in atom


def test_a_record_without_summary_has_an_empty_cell() -> None:
    data = record()
    del data["summary"]
    assert "<td></td><td><ul>" in _rendered([data])["index.html"].decode("utf-8")


# --------------------------------------------------------------------------- the build, in one process or two


#: A feed this large is built with a forked worker sharing the work (smaller ones in one process).
LARGE = 2000


class Workers:
    """A build's progress callback that notes the forked workers alive as the files are written
    (the callback runs here, as each share of the work arrives)."""

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.calls: list[tuple[int, int]] = []

    def __call__(self, done: int, total: int) -> None:
        self.calls.append((done, total))
        if done > total // 2:  # past the lint, the first half of the progress
            self.seen.update(child_processes())


@pytest.mark.skipif(not forking_allowed(), reason="no fork here: the build always runs in one process")
def test_build_shared_with_a_child_is_the_one_process_rendering(tmp_path: Path) -> None:
    root = _feed(tmp_path / "feed", LARGE)
    workers = Workers()
    result = publish.build_site(root, tmp_path / "out", base_url="https://example.org/feed", progress=workers)
    assert workers.seen, "a forked worker shared the writing"
    expected = publish.render_site(load_feed(root), base_url="https://example.org/feed")
    assert _tree(tmp_path / "out") == expected
    assert list(result.files) == sorted(expected)
    assert _modes(tmp_path / "out") == {("dir", 0o755), ("file", 0o644)}
    publish.write_tree(expected, tmp_path / "reference")
    assert _tree(tmp_path / "reference") == expected and _modes(tmp_path / "reference") == _modes(tmp_path / "out")


@pytest.mark.skipif(not forking_allowed(), reason="no fork here: the build always runs in one process")
def test_a_failing_child_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The child dies as it writes its first file: the parent does every job itself."""
    root = _feed(tmp_path / "feed", LARGE)
    parent, died = os.getpid(), tmp_path / "worker-died"
    # private on purpose: the worker must die inside a job, as a crash would. A SIGKILL sent from
    # the progress callback can land while the pool hands the worker its next job, and that hung
    # Python 3.11's ProcessPoolExecutor (once in about a dozen runs)
    real_write = publish._Staging.write

    def write(staging: Any, rel: str, data: bytes) -> str:
        if os.getpid() != parent:
            died.touch()
            os._exit(3)
        return real_write(staging, rel, data)

    monkeypatch.setattr(publish._Staging, "write", write)
    publish.build_site(root, tmp_path / "out")
    assert died.exists(), "a forked worker took a share of the writing"
    assert _tree(tmp_path / "out") == publish.render_site(load_feed(root))
    assert child_processes() == []


def test_build_progress_reaches_the_total(tmp_path: Path) -> None:
    root = _feed(tmp_path / "feed", LARGE)
    workers = Workers()
    publish.build_site(root, tmp_path / "out", progress=workers)
    seen = workers.calls
    assert seen[-1] == (2 * LARGE, 2 * LARGE) and all(total == 2 * LARGE for _, total in seen)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


# --------------------------------------------------------------------------- facts read without typing

_odd_values = st.sampled_from([None, 0, 1.5, True, "", "x", [], {}, ["npm"], {"ecosystem": "npm"}])
_VALID_PACKAGES = [
    {"ecosystem": "PyPI", "name": "p"},
    {"ecosystem": "npm", "name": "q"},
    {"ecosystem": "npm", "name": "r"},
]
#: Mostly what the model types (the valid ones listed three times), sometimes not.
_packages = st.sampled_from([*_VALID_PACKAGES * 3, None, {"name": "p"}, {"ecosystem": 0, "name": "p"}, "x", {}])
_entry = st.fixed_dictionaries({"package": _packages, "versions": st.just(["1.0"])})
_affected_entries = st.one_of(_entry, st.sampled_from([{"versions": ["1.0"]}, None, "x", []]))
_withdrawn = st.sampled_from([None, "", "2026-04-05T00:00:00Z", 'x"\\\u00e9', 0, "drop", "drop"])


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(st.sampled_from(["x_DEPGUARD-2026-0001"] * 6 + [None, 0, ""]), st.text(max_size=5)),
    st.sampled_from(["2026-04-01T00:00:00Z", "2026-04-01T00:00:00.5+02:00"] * 3 + [None, 0, "x"]),
    st.one_of(
        st.lists(_affected_entries, min_size=1, max_size=4), st.lists(_affected_entries, max_size=1), _odd_values
    ),
    _withdrawn,
    st.sampled_from([None] * 5 + ["id", "modified", "affected"]),
)
def test_facts_read_from_json_are_the_typed_views(
    advisory_id: Any, modified: Any, affected: Any, withdrawn: Any, drop: Any
) -> None:
    # private on purpose: what feed build reads from the JSON before any record is typed (its
    # items' facts and index.json's entries), against the typed view
    data = record("x_DEPGUARD-2026-0001")
    data |= {"id": advisory_id, "modified": modified, "affected": affected, "withdrawn": withdrawn}
    for key in (drop, "withdrawn" if withdrawn == "drop" else None):
        data.pop(key, None)  # type: ignore[arg-type]
    facts = publish._facts(data)
    typed = typed_record(data)
    if typed is not None and facts is not None:
        packages = [a.package for a in typed.affected if a.package is not None]
        assert facts == (typed.id, typed.modified, tuple(dict.fromkeys(p.ecosystem for p in packages)))
        if packages:
            entry = FeedEntry(PurePosixPath("PyPI/p/x.json"), canonical_bytes(data), data)
            item = publish._Item(entry, *facts, 0, datetime.now(timezone.utc), entry.raw)
            written = json.loads(publish._index_record(item))
            expected = {"id": typed.id, "ecosystem": packages[0].ecosystem, "name": packages[0].name}
            expected |= {"modified": typed.modified, "withdrawn": typed.withdrawn, "path": item.path}
            assert written == expected | {"sha256": hashlib.sha256(entry.raw).hexdigest()}
    if typed is None and facts is not None:  # typing fails elsewhere: the renderer that needs it refuses
        entry = FeedEntry(PurePosixPath("PyPI/p/x.json"), canonical_bytes(data), data)
        item = publish._Item(entry, *facts, 0, datetime.now(timezone.utc), entry.raw)
        with pytest.raises(InvalidRecordError, match="not a usable record"):
            item.record  # noqa: B018


def test_the_shortcut_covers_every_record_of_a_lint_clean_feed(tmp_path: Path) -> None:
    """No record of a valid feed falls back to typing before the build is shared."""
    feed = load_feed(_feed(tmp_path / "feed", 30))
    assert all(publish._facts(entry.data) is not None for entry in feed.entries)  # private on purpose
