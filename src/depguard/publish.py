"""Publish the feed as a static tree that any web server, CDN or GitHub Pages can host.

Why static files: the feed must stay usable without depguard and without a server that can
be taken down or compromised at run time. Everything a consumer needs is a plain file:

* ``index.json`` and ``all.json`` are what ``depguard sync`` downloads. The index is small
  and carries the sha256 of ``all.json``, so a client pays one conditional request when
  nothing changed and can verify the big file before trusting it.
* the osv.dev bucket layout (``<Ecosystem>/<ID>.json``, ``<Ecosystem>/all.zip``,
  ``modified_id.csv``, ``ecosystems.txt``) lets OSV tooling mirror the feed unchanged.
* ``constraints/pypi.txt`` works with ``pip install -c URL`` and ``UV_CONSTRAINT=URL``.
* ``feed.atom`` and ``index.html`` are for people.

The tree is a pure function of the feed: no clock time, no random order, zip entries dated
from the records, so two builds of the same feed are byte-identical and a rebuild that changes
nothing publishes nothing new. An invalid feed is never published.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import html
import io
import json
import os
import re
import shutil
import tempfile
import urllib.parse
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from depguard.client import ALL_PATH, DEFAULT_FEED_URL, FORMAT, FORMAT_VERSION, INDEX_PATH
from depguard.errors import ConfigError, InvalidRecordError
from depguard.feed import Feed, FeedEntry, Issue, lint, load_feed
from depguard.records import Record, parse_timestamp

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "INDEX_PATH",
    "ALL_PATH",
    "PYPI_CONSTRAINTS_PATH",
    "DEFAULT_SITE_URL",
    "FeedNotPublishable",
    "BuildResult",
    "Progress",
    "render_site",
    "build_site",
    "write_tree",
    "lint_in_chunks",
]

PYPI_CONSTRAINTS_PATH = "constraints/pypi.txt"
#: Where the project publishes its feed: the one constant the client's default also uses.
DEFAULT_SITE_URL = DEFAULT_FEED_URL

#: ``progress(done, total)`` after each record is rendered; for a progress bar in the CLI.
Progress = Callable[[int, int], None]

_SAFE_COMPONENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,199}$")
_ZIP_MIN = (1980, 1, 1, 0, 0, 0)
_ZIP_MAX = (2107, 12, 31, 23, 59, 58)
_EPOCH = "1970-01-01T00:00:00Z"
_ATOM_NS = "http://www.w3.org/2005/Atom"
#: Characters XML 1.0 cannot carry at all, even escaped; JSON strings can hold them.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


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
    """One record ready to publish: its canonical bytes and the facts every output needs."""

    entry: FeedEntry
    record: Record
    ecosystems: tuple[str, ...]

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def data(self) -> dict[str, Any]:
        return self.entry.data

    @property
    def raw(self) -> bytes:
        return self.entry.raw

    @property
    def path(self) -> str:
        """The record's file in the osv.dev layout, under its first ecosystem."""
        return f"{self.ecosystems[0]}/{self.id}.json"


# --------------------------------------------------------------------------- entry points


def build_site(
    feed_root: Path | str,
    out: Path | str,
    *,
    base_url: str = DEFAULT_SITE_URL,
    progress: Progress | None = None,
) -> BuildResult:
    """Validate the feed at ``feed_root``, render the static tree and put it at ``out``.

    Refuses (:class:`FeedNotPublishable`) on any lint issue, before anything is written. The
    tree is written next to ``out`` and swapped in only when complete, so a failed build never
    leaves half a site behind; files of an earlier build that no longer belong are gone.
    """
    feed = load_feed(feed_root)
    total = 2 * len(feed.entries)
    issues = lint_in_chunks(feed, progress=None if progress is None else (lambda done, _n: progress(done, total)))
    if issues:
        raise FeedNotPublishable(Path(feed_root), issues)
    offset = len(feed.entries)
    render_progress = None if progress is None else (lambda done, _n: progress(offset + done, total))
    files = render_site(feed, base_url=base_url, progress=render_progress)
    write_tree(files, Path(out))
    records = feed.records()
    return BuildResult(Path(out), len(records), tuple(sorted(files)), _newest(records))


def render_site(feed: Feed, *, base_url: str = DEFAULT_SITE_URL, progress: Progress | None = None) -> dict[str, bytes]:
    """Every file of the static tree as ``{relative posix path: bytes}``; writes nothing.

    The feed is expected to be lint-clean (``build_site`` checks); a record that has no typed
    view or would need an unsafe file name is refused here anyway, because a path built from
    feed text must never escape the tree.
    """
    items = _items(feed)
    base = _base(base_url)
    files: dict[str, bytes] = {}
    for done, item in enumerate(items, start=1):
        for ecosystem in item.ecosystems:
            files[f"{ecosystem}/{item.id}.json"] = item.raw
        if progress is not None:
            progress(done, len(items))
    for ecosystem in sorted({e for item in items for e in item.ecosystems}):
        members = [item for item in items if ecosystem in item.ecosystems]
        files[f"{ecosystem}/all.zip"] = _zip(members)
        files[f"{ecosystem}/modified_id.csv"] = _modified_csv(members, prefix="")
    files["all.zip"] = _zip(items)
    files["modified_id.csv"] = _modified_csv(items, prefix=None)
    files["ecosystems.txt"] = "".join(f"{e}\n" for e in sorted({e for i in items for e in i.ecosystems})).encode()
    files[ALL_PATH] = _all_json(items)
    files[INDEX_PATH] = _index_json(items, files[ALL_PATH])
    files[PYPI_CONSTRAINTS_PATH] = _pypi_constraints(items, base)
    files["feed.atom"] = _atom(items, base)
    files["index.html"] = _html(items, base)
    return files


def write_tree(files: Mapping[str, bytes], out: Path) -> None:
    """Write ``files`` as a fresh directory at ``out``, replacing an earlier build whole.

    ``out`` may be missing, empty, or an earlier build (it has an ``index.json`` of this
    format); anything else is refused rather than deleted, since ``--out`` could be mistyped.
    """
    out = Path(out)
    if out.exists() and not _replaceable(out):
        raise ConfigError(f"{out} exists and is not an earlier feed build; choose an empty or new --out directory")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    try:
        for rel, data in sorted(files.items()):
            target = staging.joinpath(*_safe_parts(rel))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            os.chmod(target, 0o644)
        for directory in [staging, *(p for p in staging.rglob("*") if p.is_dir())]:
            os.chmod(directory, 0o755)
        _swap(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


# --------------------------------------------------------------------------- records


def lint_in_chunks(feed: Feed, *, chunk: int = 0, progress: Progress | None = None) -> list[Issue]:
    """``feed.lint(feed)``, run over slices of the files so a progress bar can move.

    Per-file rules only look at the slice; cross-record rules (unique ids, overlaps) still see
    the whole feed and report an issue only for files in the slice, so the union of the slices
    is exactly what one ``lint`` call finds. Small feeds are linted in one call.
    """
    paths = sorted({e.path for e in feed.entries} | {PurePosixPath(i.path) for i in feed.load_issues})
    size = chunk or max(200, -(-len(paths) // 50))
    if len(paths) <= size or (progress is None and not chunk):
        issues = lint(feed)
        if progress is not None:
            progress(len(feed.entries), len(feed.entries))
        return issues
    found: set[Issue] = set()
    done = 0
    for start in range(0, len(paths), size):
        part = set(paths[start : start + size])
        found.update(lint(feed, only=part))
        done += sum(1 for e in feed.entries if e.path in part)
        if progress is not None:
            progress(done, len(feed.entries))
    return sorted(found)


def _items(feed: Feed) -> list[_Item]:
    items = []
    for entry in feed.entries:
        if entry.record is None:
            raise InvalidRecordError(f"{entry.path}: not a usable record")
        record = entry.record
        ecosystems = tuple(dict.fromkeys(a.package.ecosystem for a in record.affected if a.package is not None))
        if not ecosystems:
            raise InvalidRecordError(f"{entry.path}: a published record needs at least one affected package")
        for part in (record.id, *ecosystems):
            if not _SAFE_COMPONENT.match(part) or part in {".", ".."}:
                raise InvalidRecordError(f"{entry.path}: {part!r} cannot be used as a file name")
        items.append(_Item(entry, record, ecosystems))
    items.sort(key=lambda item: item.id)
    ids = [item.id for item in items]
    if len(set(ids)) != len(ids):
        raise InvalidRecordError("the feed uses an id twice")
    return items


def _newest(records: Iterable[Record]) -> str | None:
    return max((r.modified for r in records), key=parse_timestamp, default=None)


def _newest_first(items: Iterable[_Item]) -> list[_Item]:
    """Newest ``modified`` first; ties by id, so the order never depends on the file system."""
    by_id = sorted(items, key=lambda item: item.id)
    return sorted(by_id, key=lambda item: item.record.modified_at, reverse=True)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


# --------------------------------------------------------------------------- machine-readable files


def _all_json(items: Sequence[_Item]) -> bytes:
    """Every record, live and withdrawn, in id order: the one file ``sync`` downloads."""
    return _json_bytes([item.data for item in items])


def _index_json(items: Sequence[_Item], all_bytes: bytes) -> bytes:
    """The small file a client fetches first: what exists, how new it is, and the hashes."""
    first_package = {item.id: next(a.package for a in item.record.affected if a.package is not None) for item in items}
    index = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "modified": _newest(item.record for item in items),
        "count": len(items),
        "all": {"path": ALL_PATH, "sha256": _sha256(all_bytes), "size": len(all_bytes)},
        "records": [
            {
                "id": item.id,
                "ecosystem": first_package[item.id].ecosystem,
                "name": first_package[item.id].name,
                "modified": item.record.modified,
                "withdrawn": item.record.withdrawn,
                "path": item.path,
                "sha256": _sha256(item.raw),
            }
            for item in items
        ],
    }
    return (json.dumps(index, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def _zip_time(modified: str) -> tuple[int, int, int, int, int, int]:
    """A zip entry's date from the record's ``modified`` (UTC), clamped to what zip can hold."""
    moment = parse_timestamp(modified).astimezone(_dt.timezone.utc)
    stamp = (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)
    return min(max(stamp, _ZIP_MIN), _ZIP_MAX)


def _zip(items: Sequence[_Item]) -> bytes:
    """An osv.dev-style ``all.zip``: ``<ID>.json`` entries in id order, dated from the records."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for item in items:
            info = zipfile.ZipInfo(f"{item.id}.json", date_time=_zip_time(item.record.modified))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            archive.writestr(info, item.raw, compresslevel=9)
    return buffer.getvalue()


def _modified_csv(items: Sequence[_Item], *, prefix: str | None) -> bytes:
    """``<modified>,<id>`` lines, newest first, as osv.dev writes them.

    ``prefix=None`` is the top-level file, where osv.dev names each record ``<Ecosystem>/<ID>``
    and lists it once per ecosystem it affects.
    """
    lines = []
    for item in _newest_first(items):
        if prefix is None:
            lines += [f"{item.record.modified},{ecosystem}/{item.id}\n" for ecosystem in item.ecosystems]
        else:
            lines.append(f"{item.record.modified},{prefix}{item.id}\n")
    return "".join(lines).encode("utf-8")


def _pypi_constraints(items: Sequence[_Item], base: str) -> bytes:
    """The compiled PyPI exclusions as a constraints file that pip and uv read directly."""
    from depguard.ranges import compile_exclusions

    compiled = compile_exclusions([item.record for item in items], ecosystem="PyPI")
    url = base + PYPI_CONSTRAINTS_PATH
    lines = [
        "# depguard: PyPI releases known to be compromised, as resolver constraints.",
        "# Generated from the feed by `depguard feed build`; do not edit.",
        f"#   pip install -c {url} ...",
        f"#   UV_CONSTRAINT={url} uv pip install ...",
        f"# Feed modified: {_newest(item.record for item in items) or 'never'}; {len(compiled.exclusions)} package(s).",
    ]
    # Requirement and comment passed the exclusions gate (plain names, versions, ids) and are
    # written as they are; free text from the feed is folded onto one comment line.
    lines += [f"{e.requirement}  # {e.comment}" for e in compiled.exclusions]
    lines += [_one_line(f"# not expressible as constraints: {u.advisory} {u.package}: {u.reason}") for u in compiled.unexpressible]
    lines += [_one_line(f"# refused: {r.advisory} {r.package}: {r.reason}") for r in compiled.rejected]
    return ("\n".join(lines) + "\n").encode("utf-8")


# --------------------------------------------------------------------------- for people


def _versions_text(record: Record) -> list[tuple[str, str, str]]:
    """(ecosystem, package, versions) per affected entry; a whole-package block says so."""
    rows = []
    for affected in record.affected:
        if affected.package is None:
            continue
        whole = any(
            any(event.introduced == "0" for event in rng.events)
            and not any(event.fixed or event.last_affected or event.limit for event in rng.events)
            for rng in affected.ranges
        )
        versions = "every version" if whole else ", ".join(affected.versions)
        rows.append((affected.package.ecosystem, affected.package.name, versions))
    return rows


def _title(item: _Item) -> str:
    packages = "; ".join(f"{name} {versions}" for _, name, versions in _versions_text(item.record))
    withdrawn = "[withdrawn] " if item.record.is_withdrawn else ""
    return f"{withdrawn}{packages}: {item.record.summary or item.id}"


def _xml(text: str) -> str:
    return html.escape(_XML_INVALID.sub("\ufffd", text), quote=True)


def _web_url(url: str) -> str | None:
    """``url`` when it is an http(s) link, else None: feed text never becomes a ``javascript:`` href."""
    return url if re.match(r"^https?://[^\s<>\"']+$", url, re.IGNORECASE) else None


def _atom(items: Sequence[_Item], base: str) -> bytes:
    """An Atom 1.0 feed, one entry per advisory, newest first; ids are the records' URLs."""
    updated = _newest(item.record for item in items) or _EPOCH
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<feed xmlns="{_ATOM_NS}">',
        f"  <id>{_xml(base)}</id>",
        "  <title>depguard: compromised package releases</title>",
        f"  <updated>{_xml(updated)}</updated>",
        f'  <link rel="self" type="application/atom+xml" href="{_xml(base)}feed.atom"/>',
        f'  <link rel="alternate" type="text/html" href="{_xml(base)}"/>',
        "  <author><name>depguard</name></author>",
        "  <generator>depguard</generator>",
    ]
    for item in _newest_first(items):
        record = item.record
        out += [
            "  <entry>",
            f"    <id>{_xml(base + item.path)}</id>",
            f"    <title>{_xml(_title(item))}</title>",
            f"    <updated>{_xml(record.modified)}</updated>",
        ]
        if record.published:
            out.append(f"    <published>{_xml(record.published)}</published>")
        out.append(f'    <link rel="alternate" type="text/html" href="{_xml(base)}#{_xml(item.id)}"/>')
        out.append(f'    <link rel="alternate" type="application/json" href="{_xml(base + item.path)}"/>')
        for reference in record.references:
            url = _web_url(reference.url)
            if url:
                out.append(f'    <link rel="related" href="{_xml(url)}"/>')
        for ecosystem in item.ecosystems:
            out.append(f'    <category term="{_xml(ecosystem)}"/>')
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
)


def _e(text: str | None) -> str:
    return html.escape(text or "", quote=True)


def _html_row(item: _Item, base: str) -> str:
    record = item.record
    packages = "".join(
        f"<li>{_e(eco)}: <code>{_e(name)}</code></li>" for eco, name, _ in _versions_text(record)
    )
    versions = "".join(f"<li>{_e(v)}</li>" for _, _, v in _versions_text(record))
    links = [f'<li><a href="{_e(base + item.path)}">OSV JSON</a></li>']
    for reference in record.references:
        url = _web_url(reference.url)
        host = urllib.parse.urlsplit(reference.url).hostname or reference.url
        label = f"{reference.type.lower()} ({host})"
        links.append(f'<li><a href="{_e(url)}" rel="nofollow noopener">{_e(label)}</a></li>' if url else f"<li>{_e(label)}</li>")
    date = (record.published or record.modified)[:10]
    status = ' class="withdrawn"' if record.is_withdrawn else ""
    note = f" (withdrawn {_e((record.withdrawn or '')[:10])})" if record.is_withdrawn else ""
    return (
        f'<tr id="{_e(item.id)}"{status}><td><a href="#{_e(item.id)}">{_e(item.id)}</a>{note}</td>'
        f"<td><ul>{packages}</ul></td><td><ul>{versions}</ul></td><td>{_e(date)}</td>"
        f"<td>{_e(record.summary)}</td><td><ul>{''.join(links)}</ul></td></tr>"
    )


def _html(items: Sequence[_Item], base: str) -> bytes:
    """A readable page of every advisory, newest first; no scripts, every piece of feed text escaped."""
    newest = _newest(item.record for item in items) or "never"
    by_date = sorted(sorted(items, key=lambda i: i.id), key=lambda i: parse_timestamp(i.record.published or i.record.modified), reverse=True)
    live = [item for item in by_date if not item.record.is_withdrawn]
    withdrawn = [item for item in by_date if item.record.is_withdrawn]
    constraints = _e(base + PYPI_CONSTRAINTS_PATH)
    head = "<tr><th>Advisory</th><th>Package</th><th>Versions</th><th>Date</th><th>Summary</th><th>Links</th></tr>"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src 'none'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>depguard: compromised package releases</title>",
        f'<link rel="alternate" type="application/atom+xml" title="depguard advisories" href="{_e(base)}feed.atom">',
        f"<style>{_CSS}</style></head><body>",
        "<h1>Compromised package releases</h1>",
        f"<p>{len(live)} advisories in force, {len(withdrawn)} withdrawn; feed modified {_e(newest)}.</p>",
        "<p>Keep these releases out of your installs: "
        f"<code>pip install -c {constraints} ...</code> or <code>UV_CONSTRAINT={constraints}</code>, "
        "or run <code>depguard sync</code> to write the constraints into your projects.</p>",
        f'<p>Machine-readable: <a href="{_e(base)}all.json">all.json</a>, <a href="{_e(base)}index.json">index.json</a>, '
        f'<a href="{_e(base)}feed.atom">Atom feed</a>, OSV layout (<a href="{_e(base)}ecosystems.txt">ecosystems.txt</a>, '
        f'<a href="{_e(base)}modified_id.csv">modified_id.csv</a>).</p>',
        f"<h2>In force</h2><table><thead>{head}</thead><tbody>",
        *(_html_row(item, base) for item in live),
        "</tbody></table>",
    ]
    if withdrawn:
        parts += [f"<h2>Withdrawn</h2><table><thead>{head}</thead><tbody>", *(_html_row(i, base) for i in withdrawn), "</tbody></table>"]
    parts.append("</body></html>")
    return ("\n".join(parts) + "\n").encode("utf-8")


# --------------------------------------------------------------------------- helpers


def _base(url: str) -> str:
    """The site's base URL with exactly one trailing slash; links are built from it."""
    if not re.match(r"^https?://[^\s<>\"']+$", url, re.IGNORECASE):
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
