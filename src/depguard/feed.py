"""The on-disk feed: one OSV record per file, its layout, canonical form and semantic rules.

A contributor adds a record by pull request, so every rule a reviewer would otherwise have to
check by eye lives here: where the file sits, what it is called, how it is formatted, whether
its versions exist in the ecosystem's syntax and whether it overlaps a live record. Validation
collects every problem in one pass and never stops at the first.
"""

from __future__ import annotations

import datetime as _dt
import functools
import gc
import json
import os
import re
import stat
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path, PurePosixPath
from typing import Any

from depguard import ecosystems
from depguard.atomic import write_bytes
from depguard.clock import now as _now
from depguard.errors import FeedSourceError, InvalidRecordError, UnsafeValueError
from depguard.exclusions import safe_version
from depguard.jsonio import JSONError, gc_paused, strict_loads
from depguard.protected import is_protected
from depguard.records import OSV_FIELD_ORDER, Record, timestamp_or_none
from depguard.validation.profile import prepare_profile, profile_issues, profile_vouched
from depguard.validation.safety import future_issues, unsafe_text_issues
from depguard.validation.schema import osv_issues

__all__ = [
    "ID_PATTERN",
    "TODO_MARKER",
    "Feed",
    "FeedEntry",
    "Issue",
    "Listed",
    "RecordFiles",
    "Validation",
    "canonical_bytes",
    "check_record",
    "create_record",
    "cross_facts",
    "format_feed",
    "group_jobs",
    "lint",
    "list_record_files",
    "list_record_files_in",
    "list_record_groups",
    "load_feed",
    "new_record",
    "next_id",
    "parse_record_file",
    "read_record_file",
    "read_record_groups",
    "record_relpath",
    "settle_objects",
    "typed_record",
    "validate",
    "validate_feed",
]

#: The only range the profile admits: every version, from the first upload on (``name<0``).
WHOLE_PACKAGE_RANGES = [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]
ID_PATTERN = re.compile(r"^x_DEPGUARD-(?P<year>[0-9]{4})-(?P<number>[0-9]{4,})$")
ALIAS_PATTERNS = (
    re.compile(r"^MAL-[0-9]{4}-[0-9]+$"),
    re.compile(r"^PYSEC-[0-9]{4}-[0-9]+$"),
    re.compile(r"^GHSA(-[23456789cfghjmpqrvwx]{4}){3}$"),
    re.compile(r"^CVE-[0-9]{4}-[0-9]{4,}$"),
    re.compile(r"^OSV-[0-9]{4}-[0-9]+$"),
    re.compile(r"^SNYK-[A-Z0-9]+(-[A-Z0-9]+)*-[0-9]+$"),
)
#: What ``depguard feed import`` writes where a human must decide; a record holding it never validates.
TODO_MARKER = "TODO(depguard import)"
#: Any of :data:`ALIAS_PATTERNS`, in one match instead of one per pattern.
_ANY_ALIAS = re.compile("|".join(f"(?:{pattern.pattern})" for pattern in ALIAS_PATTERNS))

#: Key order of nested OSV objects in canonical files (top level: ``OSV_FIELD_ORDER``).
_NESTED_ORDER: dict[str, tuple[str, ...]] = {
    "affected": ("package", "severity", "ranges", "versions", "ecosystem_specific", "database_specific"),
    "package": ("ecosystem", "name", "purl"),
    "ranges": ("type", "repo", "events", "database_specific"),
    "events": ("introduced", "fixed", "last_affected", "limit"),
    "references": ("type", "url"),
    "credits": ("name", "contact", "type"),
    "severity": ("type", "score"),
}


@dataclass(frozen=True, order=True)
class Issue:
    """One problem in the feed: file (relative to the feed root), JSON pointer, rule, message."""

    path: str
    pointer: str
    rule: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}#{self.pointer}" if self.pointer else self.path
        return f"{where}: {self.message} [{self.rule}]"

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "pointer": self.pointer, "rule": self.rule, "message": self.message}


#: "Not built yet" for :attr:`FeedEntry.record`.
_LAZY: Any = object()


class _TypedBatch:
    """The entries of one :func:`load_feed`, whose typed views are built together on first need.

    A caller that wants one record's typed view (``feed build``, a feed source for ``sync``)
    wants them all; building all of them in one pass with the garbage collector paused
    (see :func:`depguard.jsonio.gc_paused`) takes a fifth of the time of building them one by
    one with collections walking the growing heap, and keeps a 40,000-record build linear.

    The batch holds its entries by weak reference: each entry holds the batch, and strong
    references both ways would put the whole feed in one reference cycle, which only a full
    garbage collection frees (half a second for 20,000 records, paid at the latest when the
    process exits) instead of reference counting the moment the feed is dropped.
    """

    def __init__(self) -> None:
        self.entries: list[weakref.ref[FeedEntry]] = []

    def hold(self, entries: Iterable[FeedEntry]) -> None:
        self.entries = [weakref.ref(entry) for entry in entries]

    def build(self) -> None:
        entries, self.entries = self.entries, []
        with gc_paused():
            for ref in entries:
                entry = ref()
                if entry is not None and "_record" not in entry.__dict__:
                    object.__setattr__(entry, "_record", typed_record(entry.data))
            settle_objects()


@dataclass(frozen=True)
class FeedEntry:
    """A record file that parsed as JSON: its place, its bytes, its data, its typed view.

    The typed view (:attr:`record`) is built on first use, or given as the fourth argument:
    linting never needs it, and building 20,000 pydantic models (and importing pydantic)
    would cost ``feed validate`` half a second for nothing.
    """

    path: PurePosixPath
    raw: bytes
    data: dict[str, Any]
    typed: Any = field(default=_LAZY, repr=False, compare=False)  # a Record, None, a _TypedBatch, or _LAZY

    @property
    def record(self) -> Record | None:
        """The pydantic view of :attr:`data`, or None when it does not fit the model."""
        cached = self.__dict__.get("_record", _LAZY)
        if cached is _LAZY:
            if isinstance(self.typed, _TypedBatch):
                self.typed.build()
                cached = self.__dict__.get("_record", _LAZY)
            if cached is _LAZY:
                cached = (
                    typed_record(self.data)
                    if self.typed is _LAZY or isinstance(self.typed, _TypedBatch)
                    else self.typed
                )
            object.__setattr__(self, "_record", cached)
        return cached


@dataclass
class Feed:
    """Every record file under a feed root, plus the files that could not be read at all."""

    root: Path
    entries: list[FeedEntry] = field(default_factory=list)
    load_issues: list[Issue] = field(default_factory=list)
    #: Cross-record issues of the whole feed and the entries they were computed from: linting
    #: a feed slice by slice (for a progress bar) asks for them once per slice, and
    #: recomputing them each time made a 20,000-record build quadratic.
    _cross: tuple[tuple[FeedEntry, ...], list[Issue]] | None = field(default=None, repr=False, compare=False)
    #: The whole feed's lint, done while loading (``load_feed(root, lint=True)``), and the
    #: entries it was done on: :func:`lint` of the same entries returns it.
    _linted: tuple[tuple[FeedEntry, ...], list[Issue]] | None = field(default=None, repr=False, compare=False)

    def records(self) -> list[Record]:
        with gc_paused():  # thousands of pydantic models: see jsonio.gc_paused
            return [entry.record for entry in self.entries if entry.record is not None]


# --- loading -------------------------------------------------------------------------------


#: A listing entry: (relative parts, full path, what it is: "file", "link" (a symlink, not
#: followed) or "folder" (not entered yet)).
Listed = tuple[tuple[str, ...], str, str]
#: How deep :func:`list_record_groups` lists: ``<ecosystem>/<package>/``, the feed's layout,
#: and one more level under an npm scope (``npm/@scope/<package>/``): a scope can hold
#: hundreds of packages, and one group that large kept one process busy while the other waited.
_GROUP_DEPTH = 2


def _scan(folder: str, parts: tuple[str, ...]) -> list[Listed]:
    """The visible entries of one folder, unsorted.

    ``os.scandir`` rather than ``Path.rglob``: a 20,000-record feed is 20,000 folders, and
    rglob's per-entry Path objects took half of the time of loading it. Dot-files and
    dot-folders are skipped, a symlinked folder is not a folder to enter, a symlink to a file
    is reported as one (the caller decides), an unreadable folder is skipped.
    """
    try:
        with os.scandir(folder) as listing:
            entries = list(listing)
    except PermissionError:
        return []
    found: list[Listed] = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            if entry.is_dir():
                if not entry.is_symlink():
                    found.append(((*parts, entry.name), entry.path, "folder"))
            elif entry.is_file() or entry.is_symlink():
                found.append(((*parts, entry.name), entry.path, "link" if entry.is_symlink() else "file"))
        except OSError:
            continue
    return found


def list_record_groups(root: Path) -> list[Listed]:
    """The top of the listing of ``root``: its files down to the package folders
    (``<ecosystem>/<package>/``, npm's ``npm/@scope/<package>/``), and those folders
    unentered, in path order.

    Each folder is a group of files that sorts as one block (every path under it sorts right
    after it), so groups can be listed out of order, even in other processes, and
    concatenated: :func:`list_record_files_in` of consecutive slices gives the order that
    :func:`list_record_files` gives for the whole. A feed directory shares its 20,000 folders
    out that way (:mod:`depguard.sources.directory`).
    """
    found: list[Listed] = []

    def visit(folder: str, parts: tuple[str, ...]) -> None:
        # Each folder's entries sorted by name, a folder's own entries right after it: path
        # order without sorting 20,000 tuples at the end (15 ms; names sort five times faster).
        for item in sorted(_scan(folder, parts), key=_last_part):
            depth = len(item[0])
            is_scope = depth == _GROUP_DEPTH and item[0][-1][:1] == "@"
            if item[2] == "folder" and (depth < _GROUP_DEPTH or is_scope):
                visit(item[1], item[0])
            else:
                found.append(item)

    visit(os.fspath(root), ())
    return found


def _last_part(item: Listed) -> str:
    return item[0][-1]


def _record_files(groups: Sequence[Listed]) -> list[tuple[tuple[str, ...], str, bool]]:
    """(relative parts, full path, is a symlink) of every file in ``groups``, in path order."""
    found: list[tuple[tuple[str, ...], str, bool]] = []
    for group in groups:
        if group[2] != "folder":
            found.append((group[0], group[1], group[2] == "link"))
            continue
        inside: list[tuple[tuple[str, ...], str, bool]] = []
        pending = [group]
        while pending:
            parts, folder, _kind = pending.pop()
            for item in _scan(folder, parts):
                if item[2] == "folder":
                    pending.append(item)
                else:
                    inside.append((item[0], item[1], item[2] == "link"))
        inside.sort()
        found += inside
    return found


def _suffix(name: str) -> str:
    """``PurePath(name).suffix`` without building a path."""
    index = name.rfind(".")
    return name[index:] if 0 < index < len(name) - 1 else ""


def _stem(name: str) -> str:
    """``PurePath(name).stem`` without building a path."""
    index = name.rfind(".")
    return name[:index] if 0 < index < len(name) - 1 else name


def load_feed(root: Path | str, *, lint: bool = False) -> Feed:
    """Read every file under ``root``; unreadable or non-JSON files become issues, not errors.

    The package folders are listed here (:func:`list_record_groups`); listing, reading and
    parsing the files under them is the bulk of the work (20,000 folders, 20,000 files, half a
    second), shared out in jobs with a forked worker from :data:`_LOAD_SHARE_FROM` folders on
    (:func:`share_jobs`). The worker's records cross back in a few large values
    (:class:`RecordFiles`), which costs this process a tenth of parsing them itself. Entries and
    issues come out in the order one process reading the whole listing gives.

    ``lint=True`` also lints the feed, in the same jobs (:func:`_read_and_lint`), for a caller
    that lints it next anyway (``feed build``): :func:`lint` of the whole feed then returns
    what was found, without a second round of jobs that would walk every record again.
    """
    feed = Feed(Path(root))
    batch = _TypedBatch()
    with gc_paused():
        chunks = _shared_read(feed.root, lint=lint, keep=True)
        for chunk in chunks:
            feed.load_issues += chunk.files.unlisted
        for chunk in chunks:
            feed.load_issues += chunk.files.unreadable
        for chunk in chunks:
            feed.load_issues += chunk.files.unparsed
        for chunk in chunks:
            files = chunk.files
            feed.entries += map(FeedEntry, map(PurePosixPath, files.rels), files.raws, files.datas, repeat(batch))
        batch.hold(feed.entries)
        if lint:
            feed._linted = (tuple(feed.entries), _issues_of(feed.load_issues, chunks))
        settle_objects()
    return feed


@dataclass(frozen=True)
class Validation:
    """What :func:`validate_feed` found: how many files were records (or tried to be: those
    that could not be read or parsed count), and every issue, sorted."""

    records: int
    issues: list[Issue]


def validate_feed(root: Path | str) -> Validation:
    """Lint the feed at ``root`` without keeping it: what ``feed validate`` reports.

    The same issues as ``lint(load_feed(root))``, found in one round of jobs shared with a
    forked worker (:func:`_read_and_lint`); the worker sends back its issues and the few
    facts the cross-record rules need, not the records it parsed, which took as long to cross
    as a sixth of all the checks.
    """
    with gc_paused():
        chunks = _shared_read(Path(root), lint=True, keep=False)
        load_issues = [issue for chunk in chunks for issue in chunk.files.unlisted]
        load_issues += [issue for chunk in chunks for issue in chunk.files.unreadable]
        load_issues += [issue for chunk in chunks for issue in chunk.files.unparsed]
        tried = sum(len(chunk.files.rels) for chunk in chunks)
        tried += sum(1 for issue in load_issues if issue.rule in {"json", "readable"})
        return Validation(tried, _issues_of(load_issues, chunks))


def validate(root: Path | str) -> list[Issue]:
    """Every issue of the feed directory at ``root`` (:func:`validate_feed`)."""
    return validate_feed(root).issues


class _Read:
    """One job's files (:class:`RecordFiles`) and, when it linted them, their per-file issues
    and cross-record facts (:func:`cross_facts`)."""

    __slots__ = ("facts", "files", "issues")

    def __init__(self, files: RecordFiles, issues: list[Issue], facts: list[CrossFacts]) -> None:
        self.files, self.issues, self.facts = files, issues, facts

    def __reduce__(self) -> tuple[Any, ...]:
        import marshal

        return _Read._unpack, (self.files, self.issues, marshal.dumps(self.facts))

    @staticmethod
    def _unpack(files: RecordFiles, issues: list[Issue], facts: bytes) -> _Read:
        import marshal

        return _Read(files, issues, marshal.loads(facts))


def _shared_read(root: Path, *, lint: bool, keep: bool) -> list[_Read]:
    """:func:`_read_and_lint` of every package folder under ``root``, in jobs shared with a
    forked worker from :data:`_LOAD_SHARE_FROM` folders on."""
    if not root.exists():
        raise FeedSourceError(f"feed directory not found: {root}")
    if not root.is_dir():
        raise FeedSourceError(f"feed path is not a directory: {root}")
    groups = list_record_groups(root)
    fork = len(groups) >= _LOAD_SHARE_FROM and not _JOBS  # not from inside another share_jobs's job
    if fork and lint:
        prepare_profile()  # compiled here, before the worker forks, not in both processes
    jobs = [functools.partial(_read_and_lint, root, part, lint=lint, keep=keep) for part in group_jobs(groups)]
    return share_jobs(jobs, fork=fork)


def _read_and_lint(root: Path, groups: Sequence[Listed], *, lint: bool, keep: bool) -> _Read:
    """One job of :func:`_shared_read`: read and parse the files of ``groups``; with ``lint``,
    run the per-file rules on them and take their cross-record facts; without ``keep``, send
    back the records' paths but not the records."""
    files = read_record_groups(root, groups)
    issues: list[Issue] = []
    facts: list[CrossFacts] = []
    if lint:
        entries = map(FeedEntry, map(PurePosixPath, files.rels), files.raws, files.datas)
        issues = _file_issues(list(entries))
        facts = [cross_facts(rel, data) for rel, data in zip(files.rels, files.datas)]
    if not keep:
        files.raws, files.datas = [], []
    return _Read(files, issues, facts)


def _issues_of(load_issues: list[Issue], chunks: Sequence[_Read]) -> list[Issue]:
    """Every issue of a feed read and linted in ``chunks``, as :func:`lint` sorts them."""
    issues = list(load_issues)
    for chunk in chunks:
        issues += chunk.issues
    issues += _cross_issues_of((fact for chunk in chunks for fact in chunk.facts), None)
    return sorted(set(issues))


#: From this many package folders on, :func:`load_feed` shares the reading with a forked worker:
#: below it, starting the worker costs more than it saves.
_LOAD_SHARE_FROM = 2000
#: Jobs the package folders are cut into at least (:func:`group_jobs`): enough for both
#: processes to finish together.
_MIN_GROUP_JOBS = 16
#: Package folders per job at most (:func:`group_jobs`).
_GROUPS_PER_JOB = 300


def group_jobs(groups: Sequence[Listed]) -> list[Sequence[Listed]]:
    """``groups`` (:func:`list_record_groups`) cut into consecutive slices, one per job.

    :data:`_MIN_GROUP_JOBS` slices or more (fewer only for a feed of a few hundred folders,
    too small to be shared anyway), and at most :data:`_GROUPS_PER_JOB` folders in each: a job
    walks its records several times (read and parse, then each group of rules, then filing),
    and the records of a few hundred folders are still in the CPU's cache on the next walk.
    Against 16 jobs for 20,000 folders, 67 cut the jobs' CPU time by a tenth (1.41 -> 1.27 s
    for a feed directory's checks), and the two processes' ends meet in finer steps.
    """
    size = max(1, min(_GROUPS_PER_JOB, -(-len(groups) // _MIN_GROUP_JOBS)))
    return [groups[at : at + size] for at in range(0, len(groups), size)]


class RecordFiles:
    """The files of some package folders (:func:`read_record_groups`): the issues of those
    that are not records, and the records' relative paths, bytes and parsed JSON, in path order.

    Pickled (only when it crosses from the forked worker) with the parsed JSON marshalled
    into one bytes value: sent as objects, ten thousand records took this process longer to
    unpickle than to parse again, and ``marshal`` writes and reads exactly the JSON types
    (dicts keep their order) several times faster than pickle. The files' bytes go as they
    are: pickle copies each straight into its own bytes object (joined and sliced again,
    they cost two more copies of every file).
    """

    __slots__ = ("datas", "raws", "rels", "unlisted", "unparsed", "unreadable")

    def __init__(
        self,
        unlisted: list[Issue],
        unreadable: list[Issue],
        unparsed: list[Issue],
        rels: list[str],
        raws: list[bytes],
        datas: list[dict[str, Any]],
    ) -> None:
        self.unlisted, self.unreadable, self.unparsed = unlisted, unreadable, unparsed
        self.rels, self.raws, self.datas = rels, raws, datas

    def __reduce__(self) -> tuple[Any, ...]:
        import marshal

        packed = (self.unlisted, self.unreadable, self.unparsed, self.rels, self.raws)
        return _unpack_record_files, (*packed, marshal.dumps(self.datas))


def _unpack_record_files(
    unlisted: list[Issue],
    unreadable: list[Issue],
    unparsed: list[Issue],
    rels: list[str],
    raws: list[bytes],
    datas: bytes,
) -> RecordFiles:
    """A :class:`RecordFiles` from its pickled form (see :meth:`RecordFiles.__reduce__`)."""
    import marshal

    with gc_paused():
        return RecordFiles(unlisted, unreadable, unparsed, rels, raws, marshal.loads(datas))


def settle_objects() -> None:
    """Move every object the collector tracks to its oldest generation, at the end of a
    :func:`~depguard.jsonio.gc_paused` block that built many long-lived objects.

    Objects created while the collector is paused all wait in the youngest generation, and
    the first collection after it resumes walks every one of them (70 ms after loading
    20,000 records, 120 ms after a build), then the middle one walks them again: the feed
    lives until the command ends, so those walks find nothing. ``gc.freeze`` then
    ``gc.unfreeze`` puts them in the oldest generation at once (two list splices); full
    collections still see them. Left alone while someone else holds objects frozen
    (:func:`share_jobs`), whose unfreeze would be this one.
    """
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()


def read_record_groups(root: Path | str, groups: Sequence[Listed]) -> RecordFiles:
    """List ``groups`` (see :func:`list_record_groups`), read and parse their files: one job
    of :func:`load_feed`, and the first half of one of a feed directory's checks
    (:mod:`depguard.sources.directory`)."""
    paths, unlisted = list_record_files_in(root, groups)
    unreadable: list[Issue] = []
    unparsed: list[Issue] = []
    rels: list[str] = []
    raws: list[bytes] = []
    datas: list[dict[str, Any]] = []
    with gc_paused():
        for rel, full in paths:
            raw = read_record_file(rel, full)
            if isinstance(raw, Issue):
                unreadable.append(raw)
                continue
            data = parse_record_file(rel, raw)
            if isinstance(data, Issue):
                unparsed.append(data)
                continue
            rels.append(rel)
            raws.append(raw)
            datas.append(data)
    return RecordFiles(unlisted, unreadable, unparsed, rels, raws, datas)


def list_record_files(root: Path) -> tuple[list[tuple[str, str]], list[Issue]]:
    """The files under ``root`` to read as records, (relative path, full path) in path order,
    and the issues of the files that are not read: other kinds of file, links out of the folder.

    Listing is separate from reading so that a caller can share the reading out (see
    :func:`depguard.sources.directory.from_directory`).
    """
    return list_record_files_in(root, list_record_groups(root))


def list_record_files_in(root: Path | str, groups: Sequence[Listed]) -> tuple[list[tuple[str, str]], list[Issue]]:
    """:func:`list_record_files` of some of the groups of :func:`list_record_groups`."""
    paths: list[tuple[str, str]] = []
    issues: list[Issue] = []
    real_root = os.path.realpath(root)
    for parts, full, link in _record_files(groups):
        rel = "/".join(parts)
        if _suffix(parts[-1]) != ".json":
            if parts[-1] not in {"README.md", "README"}:
                issues.append(Issue(rel, "", "layout", "only <id>.json record files belong in the feed"))
            continue
        if link and os.path.commonpath([real_root, os.path.realpath(full)]) != real_root:
            issues.append(Issue(rel, "", "readable", "a symlink that leads out of the feed folder; not read"))
            continue
        paths.append((rel, full))
    return paths, issues


def read_record_file(rel: str, full: str) -> bytes | Issue:
    """The bytes of one listed record file, or the ``readable`` issue that stopped the read."""
    try:
        return _read(full)
    except OSError as exc:
        return Issue(rel, "", "readable", f"cannot read: {exc.strerror or exc}")
    except ValueError as exc:
        return Issue(rel, "", "readable", str(exc))


def parse_record_file(rel: str, raw: bytes) -> dict[str, Any] | Issue:
    """A record file's JSON object (:func:`~depguard.jsonio.strict_loads`), or its ``json`` issue."""
    try:
        data = strict_loads(raw)
    except JSONError as exc:
        return Issue(rel, "", "json", f"invalid JSON: {exc}")
    if not isinstance(data, dict):
        return Issue(rel, "", "json", "a record must be a JSON object")
    return data


def _read(path: str) -> bytes:
    """The whole file: ``open(path, "rb").read()`` in four system calls instead of nine.

    Only a regular file: a FIFO or a device would block or never end (opened non-blocking,
    so a FIFO cannot stall the open either); that is a ValueError. One read asks for a byte
    more than the file's size: a shorter answer from a regular file is its end, so no second
    read has to say so (a file that grew meanwhile is read on to its new end).
    """
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags)
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise ValueError("not a regular file; not read")
        first = os.read(fd, status.st_size + 1)
        if len(first) <= status.st_size:
            return first
        chunks = [first]
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


def typed_record(data: dict[str, Any]) -> Record | None:
    """The pydantic view of a record's data, or None when it does not fit the model (which a
    consumer treats as an invalid record)."""
    from pydantic import ValidationError

    try:
        return Record.model_validate(data)
    except ValidationError:
        return None


def parse_record(raw: bytes, *, source: str = "record") -> Record:
    """One record from bytes, schema-checked against OSV; raises :class:`InvalidRecordError`."""

    try:
        data = strict_loads(raw)
    except JSONError as exc:
        raise InvalidRecordError(f"{source}: invalid JSON: {exc}") from None
    problems = osv_issues(data)
    if problems:
        first = problems[0]
        raise InvalidRecordError(f"{source}: not a valid OSV record: {first.pointer or '/'}: {first.message}")
    record = typed_record(data)
    if record is None:
        raise InvalidRecordError(f"{source}: not a valid OSV record")
    return record


# --- canonical form ------------------------------------------------------------------------


def _ordered(value: Any, key: str | None = None) -> Any:
    if isinstance(value, list):
        return [_ordered(item, key) for item in value]
    if not isinstance(value, dict):
        return value
    order = OSV_FIELD_ORDER if key is None else _NESTED_ORDER.get(key)
    if order is None:
        return {k: _ordered(value[k], k) for k in sorted(value)}
    known = [k for k in order if k in value]
    extra = sorted(k for k in value if k not in order)
    # database_specific and ecosystem_specific are free-form: sort inside them.
    return {k: _ordered(value[k], k if k in _NESTED_ORDER else f"free:{k}") for k in known + extra}


def canonical_bytes(data: dict[str, Any]) -> bytes:
    """The one byte form of a record: OSV field order, 2-space indent, UTF-8, final newline.

    Exactly ``json.dumps(_ordered(data), indent=2, ensure_ascii=False)``, written out by
    :func:`_emit` because the standard library's encoder drops to its pure-Python generators
    whenever ``indent`` is set; this is three times faster and matters because every lint
    compares every file with its canonical form. Values JSON files never hold fall back to
    ``json.dumps`` itself.
    """
    out: list[str] = []
    try:
        _emit(data, None, "\n", out)
    except _Unusual:
        return (json.dumps(_ordered(data), indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    out.append("\n")
    return "".join(out).encode("utf-8")


class _Unusual(Exception):
    """A value :func:`_emit` leaves to ``json.dumps`` (non-string keys, non-JSON types)."""


_encode_string = json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) uses
_INF = float("inf")


def _emit(value: Any, key: str | None, newline: str, out: list[str]) -> None:
    """Append ``value`` as ``json.dumps(_ordered(value, key), indent=2)`` writes it.

    ``newline`` is a line break plus the current indentation. Strings, most of a record, are
    written inline rather than by a recursive call.
    """
    kind = type(value)
    if kind is str:
        out.append(_encode_string(value))
    elif kind is dict:
        if not value:
            out.append("{}")
            return
        inner = newline + "  "
        separator = "{" + inner
        for name, child_key, label in _key_order(value, key):
            child = value[name]
            if type(child) is str:
                out.append(f"{separator}{label}{_encode_string(child)}")
            else:
                out.append(separator + label)
                _emit(child, child_key, inner, out)
            separator = "," + inner
        out.append(newline + "}")
    elif kind is list:
        if not value:
            out.append("[]")
            return
        inner = newline + "  "
        separator = "[" + inner
        for item in value:
            if type(item) is str:
                out.append(separator + _encode_string(item))
            else:
                out.append(separator)
                _emit(item, key, inner, out)
            separator = "," + inner
        out.append(newline + "]")
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif kind is int:
        out.append(int.__repr__(value))
    elif kind is float and value == value and value not in (_INF, -_INF):
        out.append(float.__repr__(value))
    else:
        raise _Unusual


#: (key context, the object's keys) -> canonical order; records share a handful of shapes.
_ORDER_CACHE: dict[tuple[str | None, tuple[str, ...]], list[tuple[str, str, str]]] = {}
_ORDER_CACHE_LIMIT = 4096


def _key_order(value: dict[str, Any], key: str | None) -> list[tuple[str, str, str]]:
    """(name, key context of its value, ``"name": ``) in canonical order, as :func:`_ordered` decides."""
    shape = (key, tuple(value))
    cached = _ORDER_CACHE.get(shape)
    if cached is not None:
        return cached
    if not all(type(name) is str for name in value):
        raise _Unusual
    order = OSV_FIELD_ORDER if key is None else _NESTED_ORDER.get(key)
    if order is None:
        pairs = [(name, name) for name in sorted(value)]
    else:
        known = [name for name in order if name in value]
        extra = sorted(name for name in value if name not in order)
        pairs = [(name, name if name in _NESTED_ORDER else f"free:{name}") for name in known + extra]
    result = [(name, child, _encode_string(name) + ": ") for name, child in pairs]
    if len(_ORDER_CACHE) >= _ORDER_CACHE_LIMIT:
        _ORDER_CACHE.clear()
    _ORDER_CACHE[shape] = result
    return result


# --- layout --------------------------------------------------------------------------------


def record_relpath(ecosystem: str, name: str, advisory_id: str) -> PurePosixPath:
    """Where a record belongs: ``<ecosystem>/<name>/<id>.json`` (npm scopes as folders)."""
    eco = ecosystems.get(ecosystem)
    parts = eco.feed_dir_parts(name) if eco else (name,)
    return PurePosixPath(ecosystem, *parts, f"{advisory_id}.json")


# --- rules ---------------------------------------------------------------------------------


#: Below this many files a lint stays in one process: a fork would cost more than it saves.
_FORK_MIN_FILES = 1000
#: Jobs a shared lint is cut into at least: enough for the two processes to end together.
_SHARED_SLICES = 16


def lint(
    feed: Feed,
    *,
    only: Iterable[PurePosixPath] | None = None,
    chunk: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> list[Issue]:
    """Every schema and semantic problem in the feed, sorted by file and pointer.

    ``only`` limits per-file rules to some files (a pull request's changes); rules that
    compare records with each other (unique ids, overlaps) still look at the whole feed.
    The consumers' security floor (:func:`depguard.validation.safety.unsafe_text_issues`) is part of the
    rules, so nothing that validates here is refused by a client later.

    ``progress(done, total)`` follows the records linted, in slices of ``chunk`` files (by
    default a fiftieth of the feed, at least 200; a small feed in one slice). The slices of a
    large feed are shared with a forked worker (:func:`share_jobs`); slicing never changes
    the issues found.
    """
    if only is None and feed._linted is not None and feed._linted[0] == tuple(feed.entries):
        if progress is not None:
            progress(len(feed.entries), len(feed.entries))
        return list(feed._linted[1])
    selected = None if only is None else {PurePosixPath(p) for p in only}
    issues = [i for i in feed.load_issues if selected is None or PurePosixPath(i.path) in selected]
    entries = [e for e in feed.entries if selected is None or e.path in selected]
    slices = _slices(entries, [PurePosixPath(i.path) for i in issues], chunk, progress)
    found, cross = _shared_issues(feed, slices, progress)
    issues += found
    issues.extend(i for i in cross if selected is None or PurePosixPath(i.path) in selected)
    return sorted(set(issues))


def _slices(
    entries: list[FeedEntry], other_paths: list[PurePosixPath], chunk: int, progress: Callable[[int, int], None] | None
) -> list[list[FeedEntry]]:
    """``entries`` in slices of ``chunk`` of the sorted files (files that are not entries count too).

    One slice when nobody watches the progress, or when the feed fits in one slice.
    """
    if progress is None and not chunk:
        return [entries]
    paths = sorted(
        {e.path for e in entries} | set(other_paths), key=lambda p: p.parts
    )  # PurePath order, without its slow __lt__
    size = chunk or max(200, -(-len(paths) // 50))
    if len(paths) <= size:
        return [entries]
    by_path: dict[PurePosixPath, list[FeedEntry]] = {}
    for entry in entries:
        by_path.setdefault(entry.path, []).append(entry)
    return [
        [e for p in paths[start : start + size] for e in by_path.get(p, ())] for start in range(0, len(paths), size)
    ]


def _shared_issues(
    feed: Feed, slices: list[list[FeedEntry]], progress: Callable[[int, int], None] | None
) -> tuple[list[Issue], list[Issue]]:
    """The per-file issues of every slice and the feed's cross-record issues.

    From :data:`_FORK_MIN_FILES` records on, the slices (at least :data:`_SHARED_SLICES` of
    them) and the cross-record rules are jobs shared with a forked child
    (:func:`share_jobs`). ``progress`` hears of each slice linted here when
    there are several, and of the total at the end.
    """
    total = sum(len(part) for part in slices)
    fork = total >= _FORK_MIN_FILES
    parts = slices
    if fork and len(parts) < _SHARED_SLICES:
        step = -(-total // _SHARED_SLICES)
        every = [e for part in slices for e in part]
        parts = [every[start : start + step] for start in range(0, total, step)]
    per_job = -(-len(parts) // (_MAX_JOBS - 1))  # slices per job, leaving one job for the cross-record rules
    groups = [[e for part in parts[start : start + per_job] for e in part] for start in range(0, len(parts), per_job)]
    jobs: list[Callable[[], Any]] = [lambda: _cross_issues(feed)]
    jobs += [functools.partial(_file_issues, group) for group in groups]
    linted = 0

    def done(index: int) -> None:
        nonlocal linted
        if index and progress is not None and len(slices) > 1:
            linted += len(groups[index - 1])
            progress(linted, total)

    if fork:
        prepare_profile()  # compiled here, before the worker forks, not in both processes
    cross, *per_file = share_jobs(jobs, fork=fork, done=done)
    if progress is not None and linted != total:
        progress(total, total)
    return [issue for found in per_file for issue in found], cross


#: Jobs per lint: a few per core keeps both busy to the end; more only adds result traffic.
_MAX_JOBS = 256
#: The jobs of the :func:`share_jobs` call under way. A forked worker inherits this list, so a
#: job crosses to it as its index: closures over a parsed feed cannot be pickled, nor need to be.
_JOBS: list[Callable[[], Any]] = []
#: The jobs nobody has taken yet, as ``[first, end)`` in shared memory with its lock (a
#: ``multiprocessing`` Array the worker inherits), then the end of the worker's part: the
#: worker takes from the front, this process from the back, each without waiting on the other.
_LEFT: list[Any] = []


def _take(*, front: bool) -> int | None:
    """The next job to run, from the front (the worker) or the back (this process), or None.

    None also when the lock stays taken: only a process killed inside the few lines below
    keeps it, and then the jobs nobody finished are run here anyway (see :func:`share_jobs`).
    """
    left = _LEFT[0]
    lock = left.get_lock()
    if not lock.acquire(timeout=5.0):
        return None
    try:
        first, end = left[0], left[1]
        if first >= (min(end, left[2]) if front else end):
            return None
        if front:
            left[0] = first + 1
            return int(first)
        left[1] = end - 1
        return int(end - 1)
    finally:
        lock.release()


def _work_from_front() -> dict[int, Any]:
    """Run in the forked worker: take jobs from the front until none is left; their results.

    A job that raises is left out: this process runs it again and raises it with its own
    traceback (the worker's cannot cross).
    """
    finished = {}
    while (index := _take(front=True)) is not None:
        try:
            finished[index] = _JOBS[index]()
        except Exception:
            continue
    return finished


def share_jobs(
    jobs: Sequence[Callable[[], Any]],
    *,
    fork: bool,
    done: Callable[[int], None] | None = None,
    worker_takes: int | None = None,
) -> list[Any]:
    """Every job's result, in job order; with ``fork``, shared with one forked worker.

    Why fork: ``feed validate`` and ``feed build`` spend seconds on pure computation over a
    parsed feed, and a forked worker sees that feed without re-reading or pickling it (spawn
    would redo the very work to save). The worker takes jobs from the front (list long jobs
    first), this process from the back, both from one pair of counters in shared memory, so
    neither waits for the other between jobs (handing the worker one job at a time through
    the pool's threads left it idle a tenth of a second per job while this process held the
    interpreter). The worker's results cross in one piece when it runs out of jobs. A job
    that fails in the worker, or a worker that dies, is run again here: errors are raised in
    this process with its traceback (jobs must be repeatable, as pure computations and writes
    of the same bytes are). ``done(index)`` is called here as each result is in (the worker's
    all at once, at its end). Serial when forking is unsafe or useless (:func:`_fork_context`).

    ``worker_takes`` limits the worker to the first jobs: those after it need something only
    this process has built (``feed build`` types its records here, after the fork; a page job
    taken by the worker would type all 20,000 again, 0.19 s, for a job of 0.11 s).
    """
    results: dict[int, Any] = {}

    def run_here(index: int) -> None:
        results[index] = jobs[index]()
        if done is not None:
            done(index)

    context = _fork_context() if fork and len(jobs) > 1 else None
    if context is None:
        for index in range(len(jobs)):
            run_here(index)
        return [results[index] for index in range(len(jobs))]
    from concurrent.futures import ProcessPoolExecutor

    _JOBS[:] = jobs
    _LEFT[:] = [context.Array("q", [0, len(jobs), len(jobs) if worker_takes is None else worker_takes])]
    froze = gc.get_freeze_count() == 0  # a collection in either process would copy every shared page
    if froze:
        gc.freeze()
    pool = ProcessPoolExecutor(1, mp_context=context, initializer=gc.disable)
    try:
        theirs = pool.submit(_work_from_front)
        while (mine := _take(front=False)) is not None:
            run_here(mine)
        try:
            finished: dict[int, Any] = theirs.result()
        except Exception:  # the worker died (BrokenProcessPool) or its results could not cross
            finished = {}
        for index in range(len(jobs)):
            if index in results:
                continue
            if index in finished:
                results[index] = finished[index]
                if done is not None:
                    done(index)
            else:
                run_here(index)
    except BaseException:  # this process gives up (an error here, ^C): do not wait for a long job
        _stop_workers(pool)
        raise
    finally:
        _JOBS.clear()
        _LEFT.clear()
        pool.shutdown(wait=True)  # nothing is pending by now, or the pool is broken
        if froze:
            gc.unfreeze()
    return [results[index] for index in range(len(jobs))]


def _stop_workers(pool: Any) -> None:
    """Kill the pool's workers now (``terminate_workers`` from Python 3.14 on, before it by hand)."""
    terminate = getattr(pool, "terminate_workers", None)
    if terminate is not None:
        terminate()
        return
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.kill()


def _fork_context() -> Any:
    """The ``fork`` multiprocessing context when a forked worker is safe and useful, else None:
    Linux only (macOS forks badly, Windows cannot), no other thread running (the worker would
    inherit the locks it holds), and at least two cores for this process."""
    import sys
    import threading

    if not sys.platform.startswith("linux") or threading.active_count() != 1:
        return None
    try:
        if len(os.sched_getaffinity(0)) < 2:
            return None
    except OSError:
        return None
    import multiprocessing

    return multiprocessing.get_context("fork")


def _file_issues(entries: Sequence[FeedEntry]) -> list[Issue]:
    """The per-file rules' issues of ``entries``.

    One pass over the records per group of rules rather than every rule per record: the
    interpreter then stays in one rule's code and data, which is a sixth faster.
    """

    issues: list[Issue] = []
    with gc_paused():
        for entry in entries:
            if not profile_vouched(entry.data):
                issues += [Issue(str(entry.path), p.pointer, "schema", p.message) for p in profile_issues(entry.data)]
        for entry in entries:
            unsafe = unsafe_text_issues(entry.data, raw=entry.raw)
            if unsafe:
                issues += [Issue(str(entry.path), p.pointer, "unsafe-text", p.message) for p in unsafe]
        for entry in entries:
            issues.extend(_entry_issues(entry))
    return issues


def _cross_issues(feed: Feed) -> list[Issue]:
    """Every cross-record issue of the feed, computed once per set of entries.

    Filtering the whole feed's list by file gives exactly what a run limited to those files
    reports: a limited run looks at the same records and only leaves out other files' issues.
    """
    key = tuple(feed.entries)  # same entry objects (or equal ones): same answer
    if feed._cross is None or feed._cross[0] != key:
        with gc_paused():
            feed._cross = (key, list(_cross_record_issues(feed.entries, None)))
    return feed._cross[1]


def check_record(rel: PurePosixPath, data: dict[str, Any]) -> list[Issue]:
    """The issues of one record on its own (as if written canonically at ``rel``)."""

    entry = FeedEntry(rel, canonical_bytes(data), data, typed_record(data))
    found = [Issue(str(rel), p.pointer, "schema", p.message) for p in profile_issues(data)]
    return sorted(set(found) | set(_entry_issues(entry)))


def _entry_issues(entry: FeedEntry) -> Iterator[Issue]:
    path, data = str(entry.path), entry.data
    advisory_id = data.get("id")
    if isinstance(advisory_id, str) and _stem(entry.path.name) != advisory_id:
        yield Issue(path, "/id", "filename", f"file name must be the id: {advisory_id}.json")
    yield from _time_issues(path, data)
    yield from _todo_issues(path, data)
    yield from _alias_issues(path, data)
    yield from _reference_issues(path, data)
    for index, affected in enumerate(_list(data.get("affected"))):
        if isinstance(affected, dict):
            yield from _affected_issues(entry, index, affected)
    if entry.raw != canonical_bytes(data):
        yield Issue(path, "", "canonical", "not in canonical form: run `depguard feed fmt`")


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _time(data: dict[str, Any], key: str) -> _dt.datetime | None:
    return timestamp_or_none(data.get(key))


def _time_issues(path: str, data: dict[str, Any]) -> Iterator[Issue]:
    published, modified, withdrawn = _time(data, "published"), _time(data, "modified"), _time(data, "withdrawn")
    if published and modified and modified < published:
        yield Issue(path, "/modified", "timestamps", "modified is earlier than published")
    if published and withdrawn and withdrawn < published:
        yield Issue(path, "/withdrawn", "timestamps", "withdrawn is earlier than published")
    for problem in future_issues(data, _now()):
        yield Issue(
            path,
            problem.pointer,
            "future",
            problem.message + "; a future-dated record would freeze every client's rollback check",
        )


def _todo_issues(path: str, data: dict[str, Any]) -> Iterator[Issue]:
    """An open question left by ``depguard feed import``: the record is a draft until it is answered."""
    for key in ("summary", "details"):
        text = data.get(key)
        if isinstance(text, str) and TODO_MARKER in text:
            line = next(line for line in text.splitlines() if TODO_MARKER in line)
            line = line if len(line) <= 300 else line[:297] + "..."
            yield Issue(
                path, f"/{key}", "todo", f"draft not finished, do what it says and delete the line: {line.strip()}"
            )


def _alias_issues(path: str, data: dict[str, Any]) -> Iterator[Issue]:
    for index, alias in enumerate(_list(data.get("aliases"))):
        if isinstance(alias, str) and not _ANY_ALIAS.fullmatch(alias):
            yield Issue(
                path,
                f"/aliases/{index}",
                "aliases",
                f"unknown alias form {alias!r} (MAL-, PYSEC-, GHSA-, CVE-, OSV-, SNYK-)",
            )


def _reference_issues(path: str, data: dict[str, Any]) -> Iterator[Issue]:
    for index, ref in enumerate(_list(data.get("references"))):
        url = ref.get("url") if isinstance(ref, dict) else None
        if isinstance(url, str) and not url.startswith("https://"):
            yield Issue(path, f"/references/{index}/url", "references", "references must use https")


def _affected_issues(entry: FeedEntry, index: int, affected: dict[str, Any]) -> Iterator[Issue]:
    path, base = str(entry.path), f"/affected/{index}"
    raw_package = affected.get("package")
    package: dict[str, Any] = raw_package if isinstance(raw_package, dict) else {}
    eco = ecosystems.get(package.get("ecosystem", ""))
    name = package.get("name")
    if eco is None or not isinstance(name, str):
        return
    if not eco.name_is_valid(name):
        yield Issue(path, f"{base}/package/name", "name", f"not a valid {eco.name} package name: {name!r}")
        return
    if eco is ecosystems.PYPI and name != eco.normalize_name(name):
        yield Issue(
            path,
            f"{base}/package/name",
            "name",
            f"PyPI names are written in PEP 503 form: {eco.normalize_name(name)!r}",
        )
    purl = package.get("purl")
    if purl is not None and purl != eco.purl(name):
        yield Issue(path, f"{base}/package/purl", "purl", f"purl must be {eco.purl(name)!r} for {eco.name} {name}")
    advisory_id = entry.data.get("id")
    if isinstance(advisory_id, str) and index == 0 and not _is_record_path(path, eco, name, advisory_id):
        expected = record_relpath(eco.name, name, advisory_id)
        if entry.path != expected:
            yield Issue(path, "", "layout", f"record belongs at {expected}")
    yield from _version_issues(path, base, eco, _list(affected.get("versions")))
    yield from _bad_commit_issues(path, base, affected)
    if (
        _blocks_every_version(affected)
        and is_protected(eco.name, eco.normalize_name(name))
        and not _has_override(entry.data)
    ):
        yield Issue(
            path,
            f"{base}/package/name",
            "protected",
            f"{name} is on depguard's protected list (widely used, an installer, or a dependency of depguard): "
            "blocking every version would break every consumer's installs; list the bad versions instead, or add "
            "database_specific.depguard.protected_override {reviewed_by, reason} after review",
        )


def _bad_commit_issues(path: str, base: str, affected: dict[str, Any]) -> Iterator[Issue]:
    """Every tag a known-bad commit was seen under must be listed too: a workflow naming that
    tag ran the commit, and ``check`` matches tags only by the ``versions`` list."""
    specific = affected.get("database_specific")
    depguard = specific.get("depguard") if isinstance(specific, dict) else None
    commits = depguard.get("bad_commits") if isinstance(depguard, dict) else None
    listed = set(_list(affected.get("versions")))
    for c_index, commit in enumerate(_list(commits)):
        for t_index, tag in enumerate(_list(commit.get("tags") if isinstance(commit, dict) else None)):
            if isinstance(tag, str) and tag not in listed:
                pointer = f"{base}/database_specific/depguard/bad_commits/{c_index}/tags/{t_index}"
                yield Issue(path, pointer, "versions", f"tag {tag!r} pointed to a bad commit but is not in versions")


def _blocks_every_version(affected: dict[str, Any]) -> bool:
    """The profile's whole-package block, on the raw data (linting builds no models); the
    typed twin is :func:`depguard.affected.blocks_every_version`."""
    return affected.get("ranges") == WHOLE_PACKAGE_RANGES


def _has_override(data: dict[str, Any]) -> bool:
    specific = data.get("database_specific")
    depguard = specific.get("depguard") if isinstance(specific, dict) else None
    return isinstance(depguard, dict) and isinstance(depguard.get("protected_override"), dict)


def _is_record_path(path: str, eco: ecosystems.Ecosystem, name: str, advisory_id: str) -> bool:
    """True when ``path`` (a feed entry's, as text) is where :func:`record_relpath` puts the record.

    Text instead of a path object per record, for the common answer: entry paths are relative
    and normalized, so text equal to the joined parts has no empty, ``.`` or absolute part and
    names the same path. False only means "compare the paths" (the caller does).
    """
    return path == "/".join((eco.name, *eco.feed_dir_parts(name), f"{advisory_id}.json"))


def _version_issues(path: str, base: str, eco: ecosystems.Ecosystem, versions: list[Any]) -> Iterator[Issue]:
    valid: list[tuple[Any, str]] = []
    for index, version in enumerate(versions):
        if not isinstance(version, str):
            continue
        refusal = _writer_refusal(eco, version)
        if refusal is not None:  # what sync could not write, the validator refuses (never a silent drop)
            yield Issue(path, f"{base}/versions/{index}", "versions", refusal)
        elif not eco.version_is_valid(version):
            syntax = {"PyPI": "PEP 440", "GitHub Actions": "tag"}.get(eco.name, "semver")
            yield Issue(path, f"{base}/versions/{index}", "versions", f"{version!r} is not a valid {syntax} version")
        elif eco.normalize_version(version) != version:
            yield Issue(
                path,
                f"{base}/versions/{index}",
                "versions",
                f"write {version!r} in normal form: {eco.normalize_version(version)!r}",
            )
        else:
            valid.append((eco.version_key(version), version))
    keys = [key for key, _ in valid]
    if len(set(keys)) != len(keys):
        yield Issue(path, f"{base}/versions", "versions", "versions are listed twice")
    elif keys != sorted(keys):
        yield Issue(path, f"{base}/versions", "versions", "versions must be sorted from oldest to newest")


def _writer_refusal(eco: ecosystems.Ecosystem, version: str) -> str | None:
    """Why the exclusion writer would refuse this PyPI version (a local label, over 128
    characters), in its own words; None when it would write it (or for npm, which sync does
    not write)."""
    if eco is not ecosystems.PYPI or not eco.version_is_valid(version):
        return None
    try:
        safe_version(version)
    except UnsafeValueError as exc:
        return f"sync could not write this version: {exc}"
    return None


def _cross_record_issues(entries: Sequence[FeedEntry], selected: set[PurePosixPath] | None) -> Iterator[Issue]:
    """Ids used twice and versions two live records both claim, of ``entries`` in path order."""
    ordered = sorted(entries, key=lambda e: e.path.parts)  # PurePath order, without its slow __lt__
    return _cross_issues_of([cross_facts(str(e.path), e.data) for e in ordered], selected)


#: What the cross-record rules need of one record (:func:`cross_facts`): its path, its id when
#: that is a string, the claimant its claims are made in the name of (the id as text, whatever
#: it is), whether it is withdrawn, and its claims as (ecosystem, normalized name, version,
#: affected index, version index). Plain values, so a forked worker's facts cross cheaply.
CrossFacts = tuple[str, str | None, str, bool, list[tuple[str, str, str, int, int]]]


def cross_facts(path: str, data: dict[str, Any]) -> CrossFacts:
    """The facts of one record for :func:`_cross_issues_of`: the per-record half of the rules,
    which the jobs that load a feed compute in whichever process reads the record."""
    advisory_id = data.get("id")
    claims = []
    for index, affected in enumerate(_list(data.get("affected"))):
        package = affected.get("package") if isinstance(affected, dict) else None
        if not isinstance(package, dict):
            continue
        eco = ecosystems.get(package.get("ecosystem", ""))
        name = package.get("name")
        if eco is None or not isinstance(name, str):
            continue
        normal = eco.normalize_name(name)
        for v_index, version in enumerate(_list(affected.get("versions"))):
            if isinstance(version, str) and eco.version_is_valid(version):
                claims.append((eco.name, normal, version, index, v_index))
    withdrawn = data.get("withdrawn") is not None
    return path, advisory_id if isinstance(advisory_id, str) else None, str(advisory_id), withdrawn, claims


def _cross_issues_of(facts: Iterable[CrossFacts], selected: set[PurePosixPath] | None) -> Iterator[Issue]:
    """The cross-record issues of records given by their facts, in path order.

    An id is owned by the first file that uses it. A version (as its ecosystem compares
    versions: PyPI's ``1.0`` is ``1.0.0``) is owned by the first live record that claims it, and
    every later claim by another record is an overlap. Only packages that two live records
    name can overlap, so versions are compared only there (a handful of 20,000 records).
    """
    first_path: dict[str, str] = {}
    by_package: dict[tuple[str, str], list[tuple[str, bool, str, str, int, int]]] = {}
    for path, advisory_id, claimant, withdrawn, claims in facts:
        report = selected is None or PurePosixPath(path) in selected
        if advisory_id is not None:
            if advisory_id in first_path and report:
                yield Issue(path, "/id", "unique-id", f"id {advisory_id} is already used by {first_path[advisory_id]}")
            first_path.setdefault(advisory_id, path)
        if withdrawn:
            continue
        for ecosystem, name, version, index, v_index in claims:
            by_package.setdefault((ecosystem, name), []).append((claimant, report, path, version, index, v_index))
    for (ecosystem, name), package_claims in by_package.items():
        if all(claim[0] == package_claims[0][0] for claim in package_claims):
            continue  # one record (or one record twice): nobody to overlap with
        version_key = ecosystems.ECOSYSTEMS[ecosystem].version_key
        claimed: dict[Any, str] = {}
        for claimant, report, path, version, index, v_index in package_claims:
            owner = claimed.setdefault(version_key(version), claimant)
            if owner != claimant and report:
                yield Issue(
                    path,
                    f"/affected/{index}/versions/{v_index}",
                    "overlap",
                    f"{ecosystem} {name} {version} is already covered by live record {owner}",
                )


# --- contributor commands ------------------------------------------------------------------


def next_id(root: Path | str, year: int) -> str:
    """The first free ``x_DEPGUARD-<year>-NNNN`` id: one more than the highest of that year."""
    numbers = [0]
    for path in Path(root).rglob("x_DEPGUARD-*.json"):
        match = ID_PATTERN.fullmatch(path.stem)
        if match and int(match["year"]) == year:
            numbers.append(int(match["number"]))
    return f"x_DEPGUARD-{year:04d}-{max(numbers) + 1:04d}"


def new_record(
    *,
    advisory_id: str,
    ecosystem: str,
    package: str,
    versions: Sequence[str],
    summary: str,
    details: str | None = None,
    aliases: Sequence[str] = (),
    references: Sequence[str] = (),
    now: _dt.datetime,
) -> dict[str, Any]:
    """A new compromised-release record, versions normalized and sorted; raises on bad input."""
    eco = ecosystems.get(ecosystem)
    if eco is None:
        raise InvalidRecordError(f"unsupported ecosystem {ecosystem!r}: use one of {', '.join(ecosystems.ECOSYSTEMS)}")
    if not eco.name_is_valid(package):
        raise InvalidRecordError(f"not a valid {eco.name} package name: {package!r}")
    bad = [v for v in versions if not eco.version_is_valid(v)]
    if bad:
        raise InvalidRecordError(f"not valid {eco.name} versions: {', '.join(map(repr, bad))}")
    if not versions:
        raise InvalidRecordError("at least one --version is required")
    normal = sorted({eco.normalize_version(v) for v in versions}, key=eco.version_key)
    stamp = now.astimezone(_dt.timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    name = eco.normalize_name(package)
    versions_text = ", ".join(normal)
    return {
        "schema_version": "1.7.5",
        "id": advisory_id,
        "modified": stamp,
        "published": stamp,
        "aliases": sorted(set(aliases)),
        "summary": summary,
        "details": details
        or f"Compromised releases of {name} ({versions_text}) were published to {eco.name}. "
        f"Do not install them; move to a release outside this list.",
        "affected": [{"package": {"ecosystem": eco.name, "name": name, "purl": eco.purl(name)}, "versions": normal}],
        "references": [{"type": "REPORT", "url": url} for url in references],
        "database_specific": {"depguard": {"kind": "compromised-release"}},
    }


def create_record(
    root: Path | str,
    *,
    ecosystem: str,
    package: str,
    versions: Sequence[str],
    summary: str,
    aliases: Sequence[str] = (),
    references: Sequence[str] = (),
    now: _dt.datetime | None = None,
) -> Path:
    """Write a new record under the next free id of ``now``'s year; return its path.

    What ``depguard feed new`` does, for any caller: the record is built by
    :func:`new_record`, checked as ``feed validate`` checks a single file (so a contributor
    never starts from an invalid file), and written atomically in canonical form. Raises
    :class:`~depguard.errors.FeedSourceError` when ``root`` is not a directory and
    :class:`~depguard.errors.InvalidRecordError` on bad input; nothing is written then.
    """
    root = Path(root)
    if not root.is_dir():
        raise FeedSourceError(f"feed directory not found: {root}")
    now = now or _dt.datetime.now(_dt.timezone.utc)
    advisory_id = next_id(root, now.year)
    data = new_record(
        advisory_id=advisory_id,
        ecosystem=ecosystem,
        package=package,
        versions=versions,
        summary=summary,
        aliases=aliases,
        references=references,
        now=now,
    )
    package_data = data["affected"][0]["package"]
    rel = record_relpath(package_data["ecosystem"], package_data["name"], advisory_id)
    problems = check_record(rel, data)
    if problems:
        raise InvalidRecordError(
            "the record would not be valid: " + "; ".join(f"{p.pointer or '/'}: {p.message}" for p in problems)
        )
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(target, canonical_bytes(data))
    return target


def format_feed(root: Path | str, *, check: bool = False) -> list[PurePosixPath]:
    """Rewrite records that are not canonical (or, with ``check``, only list them)."""
    feed = load_feed(root)
    changed = []
    for entry in feed.entries:
        wanted = canonical_bytes(entry.data)
        if entry.raw != wanted:
            changed.append(entry.path)
            if not check:
                write_bytes(feed.root / entry.path, wanted)
    return changed
