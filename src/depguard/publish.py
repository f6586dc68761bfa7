"""Publish the feed as a static tree that any web server, CDN or GitHub Pages can host.

Why static files: the feed must stay usable without depguard and without a server that can
be taken down or compromised at run time. Everything a consumer needs is a plain file:

* ``index.json`` and ``all.json`` are what ``depguard sync`` downloads. The index is small
  and carries the sha256 of ``all.json``, so a client pays one conditional request when
  nothing changed and can verify the big file before trusting it.
* the osv.dev bucket layout (``<Ecosystem>/<ID>.json``, ``<Ecosystem>/all.zip``,
  ``modified_id.csv``, ``ecosystems.txt``) lets OSV tooling mirror the feed unchanged.
* ``constraints/pypi.txt`` works with ``pip install -c URL`` and ``UV_CONSTRAINT=URL``.
* ``renovate.json`` is a Renovate preset that refuses the same releases (:mod:`depguard.renovate`).
* ``feed.atom`` and ``index.html`` are for people.

The tree is a pure function of the feed: no clock time, no random order, zip entries dated
from the records, so two builds of the same feed are byte-identical and a rebuild that changes
nothing publishes nothing new. An invalid feed is never published.

A publishing job builds tens of thousands of records, so each piece of work is done once:
a record's published file is its source bytes (a lint-clean record is canonical), each
record is deflated once for both archives that hold it (:mod:`depguard.ziparchive`), the
orders and dates several outputs share are computed once (:class:`_Site`), and the outputs
are split between this process and a forked worker (:func:`depguard.feed.share_jobs`) that
writes its share straight into the tree. ``feed validate`` and ``feed build`` each lint the
feed: a verdict remembered between them would be a file anyone who can write the cache
could plant.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import html
import json
import os
import re
import shutil
import tempfile
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from depguard import affected, renovate, ziparchive
from depguard.affected import blocks_every_version
from depguard.ecosystems import PYPI
from depguard.errors import ConfigError, InvalidRecordError
from depguard.feed import Feed, FeedEntry, Issue, lint, load_feed, settle_objects, share_jobs
from depguard.feedformat import ALL_PATH, DEFAULT_FEED_URL, FORMAT, FORMAT_VERSION, INDEX_PATH
from depguard.feedstats import FeedStats, compute, newest_first_key
from depguard.jsonio import gc_paused
from depguard.records import Record, parse_timestamp

__all__ = [
    "ALL_PATH",
    "DEFAULT_SITE_URL",
    "FORMAT",
    "FORMAT_VERSION",
    "INDEX_PATH",
    "PYPI_CONSTRAINTS_PATH",
    "BuildResult",
    "FeedNotPublishable",
    "Progress",
    "build_site",
    "lint_in_chunks",
    "render_site",
    "write_tree",
]

PYPI_CONSTRAINTS_PATH = "constraints/pypi.txt"
#: Where the project publishes its feed: the one constant the client's default also uses.
DEFAULT_SITE_URL = DEFAULT_FEED_URL

#: ``progress(done, total)`` after each record is rendered; for a progress bar in the CLI.
Progress = Callable[[int, int], None]

#: A folder or file name the tree may use: a single space only between two word characters
#: (OSV's ``GitHub Actions``), never leading, trailing or doubled.
_SAFE_COMPONENT = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._:@+-]| (?=[A-Za-z0-9])){0,199}$")
_ZIP_MIN = (1980, 1, 1, 0, 0, 0)
_ZIP_MAX = (2107, 12, 31, 23, 59, 58)
_EPOCH = "1970-01-01T00:00:00Z"
_ATOM_NS = "http://www.w3.org/2005/Atom"
#: Characters XML 1.0 cannot carry at all, even escaped; JSON strings can hold them.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
#: What :func:`_xml` changes: XML-invalid characters and what ``html.escape`` escapes.
_XML_CHANGES = re.compile("[&<>\"'\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
#: What ``html.escape(quote=True)`` changes.
_HTML_CHANGES = re.compile("[&<>\"']")
_WEB_URL = re.compile(r"^https?://[^\s<>\"']+$", re.IGNORECASE)
#: ``http(s)://host[:port]`` then the end or a path, query or fragment: where the host name is plain.
_PLAIN_HOST = re.compile(r"https?://([A-Za-z0-9.-]+)(?::[0-9]*)?(?:[/?#][^\x00-\x20\x7f]*)?", re.IGNORECASE)
#: Below this many records a build stays in one process: a fork would cost more than it saves.
_FORK_MIN_RECORDS = 2000


class FeedNotPublishable(InvalidRecordError):
    """The feed has lint issues; ``issues`` lists every one, so a publisher fixes them at once."""

    def __init__(self, root: Path, issues: Sequence[Issue]) -> None:
        shown = "; ".join(str(i) for i in issues[:3]) + (f" (and {len(issues) - 3} more)" if len(issues) > 3 else "")
        super().__init__(f"feed {root} has {len(issues)} issue(s), refusing to publish it: {shown}")
        self.issues = tuple(issues)


@dataclass(frozen=True)
class BuildResult:
    """What a build wrote: where, how many records, which files (sorted), the feed's age."""

    out: Path
    records: int
    files: tuple[str, ...]
    newest_modified: str | None


@dataclass(frozen=True)
class _Item:
    """One record ready to publish: its canonical bytes and the facts every output needs.

    ``position`` is the record's place in the feed's file order; ``modified_at`` is its
    ``modified`` parsed once, for every newest-first order and every zip date. The typed
    view (:attr:`record`) is built on first need, in the process that renders from it: the
    record files, the archives, ``all.json`` and ``index.json`` are written from these facts
    and the bytes alone (see :func:`_items`).
    """

    entry: FeedEntry
    id: str
    modified: str
    ecosystems: tuple[str, ...]
    position: int
    modified_at: _dt.datetime
    raw: bytes

    @property
    def data(self) -> dict[str, Any]:
        return self.entry.data

    @cached_property
    def record(self) -> Record:
        """The record's typed view; a record without one is refused, as :func:`_items` refuses it."""
        record = self.entry.record
        if record is None:
            raise InvalidRecordError(f"{self.entry.path}: not a usable record")
        return record

    @property
    def path(self) -> str:
        """The record's file in the osv.dev layout, under its first ecosystem."""
        return f"{self.ecosystems[0]}/{self.id}.json"

    @property
    def href(self) -> str:
        """:attr:`path` as a relative URL (``GitHub Actions`` has a space, written ``%20``)."""
        return self.path.replace(" ", "%20")

    @cached_property
    def versions_text(self) -> list[tuple[str, str, str]]:
        """:func:`_versions_text` of the record; the title and the page row both show it."""
        return _versions_text(self.record)


# --------------------------------------------------------------------------- entry points


def build_site(
    feed: Feed | Path | str,
    out: Path | str,
    *,
    base_url: str = DEFAULT_SITE_URL,
    progress: Progress | None = None,
) -> BuildResult:
    """Validate ``feed`` (loaded, or the directory to load it from), render the static tree and put it at ``out``.

    Refuses (:class:`FeedNotPublishable`) on any lint issue, before anything is written. The
    tree is written next to ``out`` and swapped in only when complete, so a failed build never
    leaves half a site behind; files of an earlier build that no longer belong are gone. The
    records typed for the pages stay with ``feed``: a caller that loaded it decides when they go.
    """
    if not isinstance(feed, Feed):
        feed = load_feed(feed)
    total = 2 * len(feed.entries)
    issues = lint_in_chunks(feed, progress=None if progress is None else (lambda done, _n: progress(done, total)))
    if issues:
        raise FeedNotPublishable(feed.root, issues)
    with gc_paused():  # tens of thousands of typed records and strings, none of them in a cycle
        site = _Site(_items(feed, typed=False), _base(base_url))
        staging = _Staging(Path(out))
        try:
            files = _write_site(
                site,
                staging,
                progress=None if progress is None else (lambda done: progress(len(feed.entries) + done, total)),
            )
            staging.finish(files)
        except BaseException:
            staging.discard()
            raise
        settle_objects()  # the items live until the command ends: see feed.settle_objects
    return BuildResult(Path(out), len(site.items), tuple(sorted(files)), site.newest_in_feed_order)


def render_site(feed: Feed, *, base_url: str = DEFAULT_SITE_URL, progress: Progress | None = None) -> dict[str, bytes]:
    """Every file of the static tree as ``{relative posix path: bytes}``; writes nothing.

    The feed is expected to be lint-clean (``build_site`` checks); a record that has no typed
    view or would need an unsafe file name is refused here anyway, because a path built from
    feed text must never escape the tree.
    """
    with gc_paused():
        site = _Site(_items(feed), _base(base_url))
        files: dict[str, bytes] = {}
        for done, item in enumerate(site.items, start=1):
            for ecosystem in item.ecosystems:
                files[f"{ecosystem}/{item.id}.json"] = item.raw
            if progress is not None:
                progress(done, len(site.items))
        files.update(site.archives())
        all_bytes = site.all_json()
        files[ALL_PATH] = all_bytes
        files.update((rel, render()) for rel, render in site.pages())
        files[INDEX_PATH] = site.index_json(_sha256(all_bytes), len(all_bytes))
    return files


def write_tree(files: Mapping[str, bytes], out: Path) -> None:
    """Write ``files`` as a fresh directory at ``out``, replacing an earlier build whole.

    ``out`` may be missing, empty, or an earlier build (it has an ``index.json`` of this
    format); anything else is refused rather than deleted, since ``--out`` could be mistyped.
    """
    staging = _Staging(Path(out))
    try:
        for rel, data in sorted(files.items()):
            staging.write(rel, data)
        staging.finish(files)
    except BaseException:
        staging.discard()
        raise


def _rendered(rel: str, render: Callable[[], bytes]) -> list[tuple[str, bytes]]:
    """One page as a writer job's files: rendered when the job runs, in whichever process."""
    return [(rel, render())]


def _write_site(site: _Site, staging: _Staging, *, progress: Callable[[int], None] | None) -> list[str]:
    """Render and write every file of ``site`` into ``staging``; returns their paths.

    Jobs shared with a forked worker on a large feed (:func:`depguard.feed.share_jobs`):
    one job per ecosystem folder for the records' own files (creating files in one folder is
    serialized by the file system, in different folders it is not), one for the archives and
    CSVs, one for ``all.json`` with ``index.json`` (which carries its hash), one per page.
    The worker takes jobs from the front, this process from the back. The front is what is
    written from the parsed JSON alone: the largest folder, the archives, ``all.json`` with
    ``index.json``, then the other folders from the largest to the smallest. The back is the
    pages from the shortest to the longest, which only this process runs: the first it takes
    types the records for all of them, which the worker would have to do again (20,000 records
    0.19 s). For 20,000 records the worker's part took 1.8 s and the pages 2.1 s (traced); the
    smallest folders, in the middle, go to whoever is free first. Each job writes its own files, so a
    job run twice writes the same bytes twice.
    """

    def writer(render: Callable[[], Iterable[tuple[str, bytes]]]) -> Callable[[], list[str]]:
        return lambda: [staging.write(rel, data) for rel, data in render()]

    def machine_files() -> Iterable[tuple[str, bytes]]:
        all_bytes = site.all_json()
        yield ALL_PATH, all_bytes
        yield INDEX_PATH, site.index_json(_sha256(all_bytes), len(all_bytes))

    folders = sorted(site.ecosystems, key=lambda ecosystem: -site.ecosystem_sizes[ecosystem])
    jobs = [writer(functools.partial(site.record_files, folders[0]))] if folders else []
    jobs += [writer(lambda: site.archives().items()), writer(machine_files)]
    jobs += [writer(functools.partial(site.record_files, ecosystem)) for ecosystem in folders[1:]]
    untyped = len(jobs)
    jobs += [writer(functools.partial(_rendered, rel, render)) for rel, render in reversed(site.pages())]
    finished = 0

    def done(_index: int) -> None:
        nonlocal finished
        finished += 1
        if progress is not None:
            progress(len(site.items) * finished // len(jobs))

    written = [
        rel
        for paths in share_jobs(jobs, fork=len(site.items) >= _FORK_MIN_RECORDS, done=done, worker_takes=untyped)
        for rel in paths
    ]
    if progress is not None:
        progress(len(site.items))
    return written


# --------------------------------------------------------------------------- records


def lint_in_chunks(feed: Feed, *, chunk: int = 0, progress: Progress | None = None) -> list[Issue]:
    """``feed.lint(feed)`` with ``progress`` following slices of ``chunk`` files, so a progress bar can move.

    The slicing lives in :func:`depguard.feed.lint` (which also shares large feeds with a
    forked child); the issues are exactly those of one ``lint`` call.
    """
    return lint(feed, chunk=chunk, progress=progress)


def _items(feed: Feed, *, typed: bool = True) -> list[_Item]:
    """The feed's records to publish, in id order; refuses what cannot be published.

    ``typed=False`` (:func:`build_site`, whose feed is lint-clean) takes id, ``modified`` and
    ecosystems from the parsed JSON (:func:`_facts`) and leaves typing to the renderers that
    need it: typing 20,000 records is a sixth of a second, and done here it is done before
    the build is shared with the worker, by this process alone. A lint-clean record always
    has a typed view (``test_what_the_consumer_checks_admit_is_typed``); one without would
    still be refused, by the renderer that finds it. ``typed=True`` types every record here
    and refuses the first without a typed view.
    """
    items = []
    for position, entry in enumerate(feed.entries):
        facts = None if typed else _facts(entry.data)
        if facts is None:
            record = entry.record
            if record is None:
                raise InvalidRecordError(f"{entry.path}: not a usable record")
            ecosystems = tuple(dict.fromkeys(a.package.ecosystem for a in record.affected if a.package is not None))
            facts = (record.id, record.modified, ecosystems)
        advisory_id, modified, ecosystems = facts
        if not ecosystems:
            raise InvalidRecordError(f"{entry.path}: a published record needs at least one affected package")
        for part in (advisory_id, *ecosystems):
            if not _SAFE_COMPONENT.fullmatch(part) or part in {".", ".."}:
                raise InvalidRecordError(f"{entry.path}: {part!r} cannot be used as a file name")
        items.append(_Item(entry, advisory_id, modified, ecosystems, position, parse_timestamp(modified), entry.raw))
    items.sort(key=lambda item: item.id)
    ids = [item.id for item in items]
    if len(set(ids)) != len(ids):
        raise InvalidRecordError("the feed uses an id twice")
    return items


def _facts(data: dict[str, Any]) -> tuple[str, str, tuple[str, ...]] | None:
    """(id, modified, ecosystems of the affected packages) as the typed view gives them, read
    from the parsed JSON; None when the JSON is not of the shape the model types (the typed
    view then decides). A test holds this to the typed view."""
    advisory_id, modified, affected = data.get("id"), data.get("modified"), data.get("affected", [])
    if type(advisory_id) is not str or type(modified) is not str or type(affected) is not list:
        return None
    ecosystems: dict[str, None] = {}
    for entry in affected:
        if type(entry) is not dict:
            return None
        package = entry.get("package")
        if package is None:
            continue
        ecosystem = package.get("ecosystem") if type(package) is dict else None
        if type(ecosystem) is not str:
            return None
        ecosystems[ecosystem] = None
    return advisory_id, modified, tuple(ecosystems)


def _newest(items: Iterable[_Item]) -> str | None:
    """The ``modified`` of the newest item; of equally new ones, the first in ``items``."""
    newest = max(items, key=lambda item: item.modified_at, default=None)
    return None if newest is None else newest.modified


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_json_string = json.encoder.encode_basestring  # a str as json.dumps(ensure_ascii=False) writes it


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


class _Site:
    """The items of a feed in id order, the base URL, and what several outputs share, computed once."""

    def __init__(self, items: list[_Item], base: str) -> None:
        self.items = items
        self.base = base

    @cached_property
    def newest_first(self) -> list[_Item]:
        """Newest ``modified`` first; ties by id, so the order never depends on the file system."""
        return sorted(self.items, key=lambda item: item.modified_at, reverse=True)  # stable: id order within ties

    @cached_property
    def newest(self) -> str | None:
        return _newest(self.items)

    @cached_property
    def newest_in_feed_order(self) -> str | None:
        """:attr:`newest` as the feed's file order breaks ties between equal instants."""
        return _newest(sorted(self.items, key=lambda item: item.position))

    @cached_property
    def ecosystems(self) -> list[str]:
        return sorted({e for item in self.items for e in item.ecosystems})

    def record_files(self, ecosystem: str) -> Iterable[tuple[str, bytes]]:
        """The source bytes of each record of ``ecosystem`` in its folder: a lint-clean file is canonical."""
        for item in self.items:
            if ecosystem in item.ecosystems:
                yield f"{ecosystem}/{item.id}.json", item.raw

    @cached_property
    def ecosystem_sizes(self) -> dict[str, int]:
        """How many records each ecosystem's folder holds."""
        sizes = dict.fromkeys(self.ecosystems, 0)
        for item in self.items:
            for ecosystem in item.ecosystems:
                sizes[ecosystem] += 1
        return sizes

    def archives(self) -> dict[str, bytes]:
        """The osv.dev archives and lists: ``all.zip`` and ``modified_id.csv`` per ecosystem and for all."""
        members = {
            item.id: ziparchive.member(f"{item.id}.json", _zip_time(item.modified_at), item.raw) for item in self.items
        }
        files: dict[str, bytes] = {}
        for ecosystem in self.ecosystems:
            files[f"{ecosystem}/all.zip"] = ziparchive.archive(
                [members[i.id] for i in self.items if ecosystem in i.ecosystems]
            )
            files[f"{ecosystem}/modified_id.csv"] = _modified_csv(
                [i for i in self.newest_first if ecosystem in i.ecosystems], prefix=""
            )
        files["all.zip"] = ziparchive.archive(list(members.values()))
        files["modified_id.csv"] = _modified_csv(self.newest_first, prefix=None)
        files["ecosystems.txt"] = "".join(f"{e}\n" for e in self.ecosystems).encode()
        return files

    def all_json(self) -> bytes:
        """Every record, live and withdrawn, in id order: the one file ``sync`` downloads."""
        return _json_bytes([item.data for item in self.items])

    def pages(self) -> list[tuple[str, Callable[[], bytes]]]:
        """The files rendered from the typed records, each with its renderer, the longest to render first:
        web page, Renovate preset, Atom feed, constraints."""
        return [
            ("index.html", lambda: _html(self)),
            (
                renovate.PRESET_PATH,
                lambda: renovate.render_preset(
                    [i.record for i in self.items], feed_url=self.base, modified=self.newest
                ),
            ),
            ("feed.atom", lambda: _atom(self)),
            (PYPI_CONSTRAINTS_PATH, lambda: _pypi_constraints(self)),
        ]

    def index_json(self, all_sha256: str, all_size: int) -> bytes:
        """The small file a client fetches first: what exists, how new it is, and the hashes."""
        return _index_json(self, all_sha256, all_size)


# --------------------------------------------------------------------------- writing


class _Staging:
    """A fresh directory next to ``out`` that replaces ``out`` only once every file is in it.

    ``out`` may be missing, empty, or an earlier build (it has an ``index.json`` of this
    format); anything else is refused rather than deleted, since ``--out`` could be mistyped.
    Files may be written by this process and by a forked child at once: each writes its own.
    """

    def __init__(self, out: Path) -> None:
        if out.exists() and not _replaceable(out):
            raise ConfigError(f"{out} exists and is not an earlier feed build; choose an empty or new --out directory")
        out.parent.mkdir(parents=True, exist_ok=True)
        self.out = out
        self.root = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
        self._folders: set[str] = set()

    def write(self, rel: str, data: bytes) -> str:
        """Write ``data`` at ``rel`` (mode 0644) and return ``rel``; refuses paths leaving the tree."""
        parts = _safe_parts(rel)
        folder = os.path.join(self.root, *parts[:-1])
        if folder not in self._folders:
            os.makedirs(folder, exist_ok=True)
            self._folders.add(folder)
        target = os.path.join(folder, parts[-1])
        fd = os.open(
            target,
            os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0),
            0o644,
        )
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            _fchmod(fd, target, 0o644)  # whatever the umask: a web server must be able to read it
        finally:
            os.close(fd)
        return rel

    def finish(self, files: Iterable[str]) -> None:
        """Open every folder of the tree for reading and put the tree at ``out``."""
        folders = {""}
        for rel in files:
            folder = rel.rpartition("/")[0]
            while folder not in folders:
                folders.add(folder)
                folder = folder.rpartition("/")[0]
        for folder in folders:
            os.chmod(self.root.joinpath(*folder.split("/")) if folder else self.root, 0o755)
        _swap(self.root, self.out)

    def discard(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


# --------------------------------------------------------------------------- machine-readable files


def _index_json(site: _Site, all_sha256: str, all_size: int) -> bytes:
    """``json.dumps(index, indent=1, ensure_ascii=False)`` plus a newline, the records written by hand.

    ``json.dumps`` falls back to its pure-Python encoder whenever ``indent`` is set; every record
    entry has the same seven fields, so each is one format string instead (a test holds the
    result to ``json.dumps``).
    """
    index = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "modified": site.newest,
        "count": len(site.items),
        "all": {"path": ALL_PATH, "sha256": all_sha256, "size": all_size},
        "records": [],
    }
    text = json.dumps(index, ensure_ascii=False, indent=1)  # small: the records are not in it yet
    if site.items:
        head, tail = text.rsplit('"records": []', 1)
        text = head + '"records": [\n' + ",\n".join(map(_index_record, site.items)) + "\n ]" + tail
    return (text + "\n").encode("utf-8")


def _index_record(item: _Item) -> str:
    """One entry of ``index.json``'s ``records`` at its indentation (two spaces, fields at three).

    From the parsed JSON, which gives what the typed view gives for a record that has one
    (the first affected entry with a package; ``withdrawn`` absent or null is null), so the
    process writing it need not type the feed.
    """
    data = item.data
    package = next(a["package"] for a in data["affected"] if a.get("package") is not None)
    withdrawn = data.get("withdrawn")
    return (
        f'  {{\n   "id": {_json_string(item.id)},\n   "ecosystem": {_json_string(package["ecosystem"])},'
        f'\n   "name": {_json_string(package["name"])},\n   "modified": {_json_string(item.modified)},'
        f'\n   "withdrawn": {"null" if withdrawn is None else _json_string(withdrawn)},'
        f'\n   "path": {_json_string(item.path)},\n   "sha256": "{_sha256(item.raw)}"\n  }}'
    )


def _zip_time(moment: _dt.datetime) -> tuple[int, int, int, int, int, int]:
    """A zip entry's date from the record's ``modified`` (UTC), clamped to what zip can hold."""
    moment = moment.astimezone(_dt.timezone.utc)
    stamp = (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)
    return min(max(stamp, _ZIP_MIN), _ZIP_MAX)


def _modified_csv(newest_first: Sequence[_Item], *, prefix: str | None) -> bytes:
    """``<modified>,<id>`` lines, newest first, as osv.dev writes them.

    ``prefix=None`` is the top-level file, where osv.dev names each record ``<Ecosystem>/<ID>``
    and lists it once per ecosystem it affects.
    """
    lines = []
    for item in newest_first:
        if prefix is None:
            lines += [f"{item.modified},{ecosystem}/{item.id}\n" for ecosystem in item.ecosystems]
        else:
            lines.append(f"{item.modified},{prefix}{item.id}\n")
    return "".join(lines).encode("utf-8")


def _pypi_constraints(site: _Site) -> bytes:
    """The compiled PyPI exclusions as a constraints file that pip and uv read directly.

    Only records naming a PyPI package are typed and compiled: :func:`~depguard.affected.compile_exclusions`
    skips every other entry, and in a feed that is mostly npm the rest are most of the work
    (0.19 s of 20,000 records, and in the worker, which types none for the other pages, 0.4 s).
    """
    compiled = affected.compile_exclusions([item.record for item in site.items if PYPI.name in item.ecosystems])
    url = site.base + PYPI_CONSTRAINTS_PATH
    lines = [
        "# depguard: PyPI releases known to be compromised, as resolver constraints.",
        "# Generated from the feed by `depguard feed build`; do not edit.",
        f"#   pip install -c {url} ...",
        f"#   UV_CONSTRAINT={url} uv pip install ...",
        f"# Feed modified: {site.newest or 'never'}; {len(compiled.exclusions)} package(s).",
    ]
    # Requirement and comment passed the exclusions gate (plain names, versions, ids) and are
    # written as they are; free text from the feed is folded onto one comment line.
    lines += [f"{e.requirement}  # {e.comment}" for e in compiled.exclusions]
    lines += [_one_line(f"# refused: {r.advisory} {r.package}: {r.reason}") for r in compiled.rejected]
    return ("\n".join(lines) + "\n").encode("utf-8")


# --------------------------------------------------------------------------- for people


def _versions_text(record: Record) -> list[tuple[str, str, str]]:
    """(ecosystem, package, versions) per affected entry; a whole-package block says so."""
    rows = []
    for entry in record.affected:
        if entry.package is None:
            continue
        versions = "every version" if blocks_every_version(entry) else ", ".join(entry.versions)
        rows.append((entry.package.ecosystem, entry.package.name, versions))
    return rows


def _title(item: _Item) -> str:
    packages = "; ".join(f"{name} {versions}" for _, name, versions in item.versions_text)
    withdrawn = "[withdrawn] " if item.record.is_withdrawn else ""
    return f"{withdrawn}{packages}: {item.record.summary or item.id}"


def _xml(text: str) -> str:
    """Feed text as XML character data or attribute value; most text needs no change at all."""
    if _XML_CHANGES.search(text) is None:
        return text
    return html.escape(_XML_INVALID.sub("\ufffd", text), quote=True)


def _web_url(url: str) -> str | None:
    """``url`` when it is an http(s) link, else None: feed text never becomes a ``javascript:`` href."""
    return url if _WEB_URL.fullmatch(url) else None


def _atom(site: _Site) -> bytes:
    """An Atom 1.0 feed, one entry per advisory, newest first; ids are the records' URLs.

    Ids, paths and ecosystems are safe file-name components (:func:`_items`): nothing in them
    needs escaping, so only the base URL and free text go through :func:`_xml`.
    """
    base = _xml(site.base)
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<feed xmlns="{_ATOM_NS}">',
        f"  <id>{base}</id>",
        "  <title>depguard: compromised package releases</title>",
        f"  <updated>{_xml(site.newest or _EPOCH)}</updated>",
        f'  <link rel="self" type="application/atom+xml" href="{base}feed.atom"/>',
        f'  <link rel="alternate" type="text/html" href="{base}"/>',
        "  <author><name>depguard</name></author>",
        "  <generator>depguard</generator>",
    ]
    for item in site.newest_first:
        record = item.record
        out += [
            "  <entry>",
            f"    <id>{base}{item.path}</id>",
            f"    <title>{_xml(_title(item))}</title>",
            f"    <updated>{_xml(record.modified)}</updated>",
        ]
        if record.published:
            out.append(f"    <published>{_xml(record.published)}</published>")
        out.append(f'    <link rel="alternate" type="text/html" href="{base}#{item.id}"/>')
        out.append(f'    <link rel="alternate" type="application/json" href="{base}{item.href}"/>')
        for reference in record.references:
            url = _web_url(reference.url)
            if url:
                out.append(f'    <link rel="related" href="{_xml(url)}"/>')
        for ecosystem in item.ecosystems:
            out.append(f'    <category term="{ecosystem}"/>')
        if record.summary:
            out.append(f"    <summary>{_xml(record.summary)}</summary>")
        if record.details:
            out.append(f'    <content type="text">{_xml(record.details)}</content>')
        out.append("  </entry>")
    out.append("</feed>")
    return ("\n".join(out) + "\n").encode("utf-8")


_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;line-height:1.45}"
    "table{border-collapse:collapse;width:100%}th,td{text-align:left;vertical-align:top;padding:.4rem;"
    "border-bottom:1px solid #ccc}code{font-size:.95em}.withdrawn{color:#777}.withdrawn td{text-decoration:line-through}"
    "ul{margin:0;padding-left:1.1rem}td:last-child li,td:nth-child(4){white-space:nowrap}"
    "table.counts{width:auto;margin-bottom:1rem}table.counts td.n,table.counts th.n{text-align:right}"
)


def _e(text: str | None) -> str:
    """``html.escape(text or "", quote=True)``; most text needs no change at all."""
    if not text:
        return ""
    if _HTML_CHANGES.search(text) is None:
        return text
    return html.escape(text, quote=True)


def _hostname(url: str) -> str | None:
    """``urllib.parse.urlsplit(url).hostname``; a plain ``http(s)://host[:port]`` URL without the parser.

    A third of the page's time went to the parser, and nearly every reference URL is plain:
    an ASCII host name, no user info, no brackets, no whitespace. Anything else is parsed.
    """
    plain = _PLAIN_HOST.fullmatch(url)
    if plain is None:
        return urllib.parse.urlsplit(url).hostname
    return plain[1].lower()


def _html_row(item: _Item, base: str) -> str:
    """One advisory's table row; ``base`` is already escaped, ids and paths need no escaping."""
    record = item.record
    rows = item.versions_text
    packages = "".join(f"<li>{_e(eco)}: <code>{_e(name)}</code></li>" for eco, name, _ in rows)
    versions = "".join(f"<li>{_e(v)}</li>" for _, _, v in rows)
    links = [f'<li><a href="{base}{item.href}">OSV JSON</a></li>']
    for reference in record.references:
        url = _web_url(reference.url)
        host = _hostname(reference.url) or reference.url
        label = f"{reference.type.lower()} ({host})"
        links.append(
            f'<li><a href="{_e(url)}" rel="nofollow noopener">{_e(label)}</a></li>' if url else f"<li>{_e(label)}</li>"
        )
    date = (record.published or record.modified)[:10]
    status = ' class="withdrawn"' if record.is_withdrawn else ""
    note = f" (withdrawn {_e((record.withdrawn or '')[:10])})" if record.is_withdrawn else ""
    return (
        f'<tr id="{item.id}"{status}><td><a href="#{item.id}">{item.id}</a>{note}</td>'
        f"<td><ul>{packages}</ul></td><td><ul>{versions}</ul></td><td>{_e(date)}</td>"
        f"<td>{_e(record.summary)}</td><td><ul>{''.join(links)}</ul></td></tr>"
    )


def _html_counts(stats: FeedStats) -> list[str]:
    """The feed's size as two small tables: per ecosystem, and per year published and ecosystem.

    The numbers are :mod:`depguard.feedstats`'s, the same as ``depguard feed stats`` prints;
    ecosystem names come from the feed and are escaped like any feed text.
    """
    head = "".join(
        f'<th class="n">{label}</th>'
        for label in ("Records", "Packages", "package@version pairs", "Whole-package blocks", "Withdrawn")
    )
    rows = [
        f"<tr><td>{_e(c.ecosystem) if c is not stats.total else 'All'}</td>"
        + "".join(
            f'<td class="n">{n}</td>'
            for n in (c.records, c.packages, c.package_versions, c.whole_package_blocks, c.withdrawn)
        )
        + "</tr>"
        for c in (*stats.ecosystems, stats.total)
    ]
    names = [c.ecosystem for c in stats.ecosystems]
    year_head = "".join(f'<th class="n">{_e(name)}</th>' for name in names) + '<th class="n">All</th>'
    year_rows = []
    for year in stats.years:
        by_ecosystem = dict(year.by_ecosystem)
        cells = "".join(f'<td class="n">{by_ecosystem.get(name, 0)}</td>' for name in names)
        year_rows.append(f'<tr><td>{year.year}</td>{cells}<td class="n">{year.records}</td></tr>')
    return [
        '<h2 id="counts">The feed in numbers</h2>',
        (
            "<p>Records in force per ecosystem; a withdrawn record counts only as withdrawn. package@version pairs "
            "are the exact versions listed; a whole-package block covers every version of a package.</p>"
        ),
        f'<table class="counts" id="per-ecosystem"><thead><tr><th>Ecosystem</th>{head}</tr></thead><tbody>',
        *rows,
        "</tbody></table>",
        f'<table class="counts" id="per-year"><thead><tr><th>Published</th>{year_head}</tr></thead><tbody>',
        *year_rows,
        "</tbody></table>",
    ]


def _html(site: _Site) -> bytes:
    """A readable page of every advisory, newest first; no scripts, every piece of feed text escaped."""
    items = site.items
    stats = compute(item.record for item in items)
    # the stats list every live record newest first (newest_first_key): that order, not a second sort
    by_id = {item.id: item for item in items}
    live = [by_id[incident.id] for incident in stats.newest]
    withdrawn = sorted(
        (item for item in items if item.record.is_withdrawn), key=lambda i: newest_first_key(i.record), reverse=True
    )
    base = _e(site.base)
    constraints = _e(site.base + PYPI_CONSTRAINTS_PATH)
    head = "<tr><th>Advisory</th><th>Package</th><th>Versions</th><th>Date</th><th>Summary</th><th>Links</th></tr>"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src 'none'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>depguard: compromised package releases</title>",
        f'<link rel="alternate" type="application/atom+xml" title="depguard advisories" href="{base}feed.atom">',
        f"<style>{_CSS}</style></head><body>",
        "<h1>Compromised package releases</h1>",
        f"<p>{len(live)} advisories in force, {len(withdrawn)} withdrawn; feed modified {_e(site.newest or 'never')}.</p>",
        "<p>Keep these releases out of your installs: "
        f"<code>pip install -c {constraints} ...</code> or <code>UV_CONSTRAINT={constraints}</code>, "
        "or run <code>depguard sync</code> to write the constraints into your projects.</p>",
        f'<p>Machine-readable: <a href="{base}all.json">all.json</a>, <a href="{base}index.json">index.json</a>, '
        f'<a href="{base}feed.atom">Atom feed</a>, OSV layout (<a href="{base}ecosystems.txt">ecosystems.txt</a>, '
        f'<a href="{base}modified_id.csv">modified_id.csv</a>).</p>',
        *_html_counts(stats),
        f"<h2>In force</h2><p>Newest first, by date published.</p><table><thead>{head}</thead><tbody>",
        *(_html_row(item, base) for item in live),
        "</tbody></table>",
    ]
    if withdrawn:
        parts += [
            f"<h2>Withdrawn</h2><table><thead>{head}</thead><tbody>",
            *(_html_row(i, base) for i in withdrawn),
            "</tbody></table>",
        ]
    parts.append("</body></html>")
    return ("\n".join(parts) + "\n").encode("utf-8")


# --------------------------------------------------------------------------- helpers


def _base(url: str) -> str:
    """The site's base URL with exactly one trailing slash; links are built from it."""
    if not _WEB_URL.fullmatch(url):
        raise ConfigError(f"not an http(s) base URL: {url!r}")
    return url.rstrip("/") + "/"


def _one_line(text: str) -> str:
    """Feed text in a comment must not start a new line of the constraints file."""
    return " ".join(text.split())


def _safe_parts(rel: str) -> list[str]:
    parts = rel.split("/")
    if any(part in {"", ".", ".."} for part in parts):
        raise InvalidRecordError(f"refusing to write outside the tree: {rel!r}")
    return parts


def _fchmod(fd: int, path: str, mode: int) -> None:
    """``os.fchmod`` (no second path lookup) where the platform has it, else ``os.chmod``."""
    if hasattr(os, "fchmod"):
        os.fchmod(fd, mode)
    else:
        os.chmod(path, mode)


def _replaceable(out: Path) -> bool:
    if not out.is_dir():
        return False
    if not any(out.iterdir()):
        return True
    try:
        index = json.loads((out / INDEX_PATH).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(index, dict) and index.get("format") == FORMAT


def _swap(staging: Path, out: Path) -> None:
    """Put ``staging`` at ``out``; the old tree is renamed away first and removed after."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.rmdir(old)
        os.replace(out, old)
    os.replace(staging, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
