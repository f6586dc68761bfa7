"""A feed source directory (the ``feed/`` layout contributors edit), checked record by record."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from depguard.clock import now
from depguard.display import printable
from depguard.errors import InvalidRecordError
from depguard.feed import Issue, list_record_files, parse_record_file, read_record_file, share_jobs, typed_record
from depguard.jsonio import gc_paused
from depguard.packagemap import MappedRecords, PackageMap, record_keys
from depguard.records import parse_timestamp
from depguard.sources.interface import FeedSnapshot, FeedSource
from depguard.validation.safety import record_issues

__all__ = ["DirectorySource", "from_directory"]

#: From this many files on, a forked worker checks half of them (see
#: :func:`depguard.feed.share_jobs`): below it, starting the worker costs more than it saves.
_SHARE_FROM = 2000
#: Jobs per feed: enough for the two processes to finish together, few enough to send cheaply.
_JOBS = 16


@dataclass(frozen=True)
class _Checked:
    """One record file after the consumer's checks: its bytes and map keys, or why it is refused."""

    rel: str
    raw: bytes = b""  # only for a record that passed
    unreadable: str | None = None  # a read or JSON problem (reported before the record problems)
    problems: tuple[str, ...] = ()
    keys: tuple[tuple[str, str], ...] = ()
    digests: tuple[str, ...] = ()
    modified: str | None = None


def from_directory(root: Path, *, kind: str = "directory") -> FeedSnapshot:
    """A feed source directory (``feed/`` layout), schema-checked record by record.

    Formatting lints do not matter to a consumer; schema and JSON problems do, and refuse the
    whole directory. The checks are the bulk of the work (a 20,000-record feed is a second of
    them), so a forked worker shares them (see :func:`depguard.feed.share_jobs`), and the
    records are not typed here: the checked bytes are joined into one ``all.json``-like array
    behind a :class:`~depguard.packagemap.MappedRecords`, so a ``check`` types only the
    records its lockfiles can match, as it does with a downloaded feed.
    """
    paths, listing = list_record_files(root)
    moment = now()
    size = -(-len(paths) // _JOBS)
    chunks = [paths[start : start + size] for start in range(0, len(paths), size)]
    jobs = [partial(_check_files, chunk, moment) for chunk in chunks]
    checked = [item for result in share_jobs(jobs, fork=len(paths) >= _SHARE_FROM) for item in result]
    fatal = [printable(str(i)) for i in listing if i.rule == "readable"]
    fatal += [item.unreadable for item in checked if item.unreadable is not None]
    fatal += [problem for item in checked for problem in item.problems]
    if fatal:
        shown = "; ".join(fatal[:3]) + (f" (and {len(fatal) - 3} more)" if len(fatal) > 3 else "")
        raise InvalidRecordError(f"feed {root} has invalid records, refusing all of it: {shown}")
    all_bytes, package_map = _joined(checked)
    records = MappedRecords(all_bytes, package_map, f"the feed {root}", remedy="report this as a depguard bug")
    return FeedSnapshot(records, str(root), kind)


def _check_files(files: Sequence[tuple[str, str]], moment: _dt.datetime) -> list[_Checked]:
    """One job: read, parse and check ``files`` (relative and full paths), as a consumer does."""
    with gc_paused():  # parsed records form no cycles (see jsonio.gc_paused)
        return [_check_file(rel, full, moment) for rel, full in files]


def _check_file(rel: str, full: str, moment: _dt.datetime) -> _Checked:
    raw = read_record_file(rel, full)
    if isinstance(raw, Issue):
        return _Checked(rel, unreadable=printable(str(raw)))
    data = parse_record_file(rel, raw)
    if isinstance(data, Issue):
        return _Checked(rel, unreadable=printable(str(data)))
    where = printable(rel)  # a contributor chose the file name
    problems = tuple(f"{where}#{p.pointer}: {p.message}" for p in record_issues(data, now=moment, raw=raw))
    record = typed_record(data) if not problems else None
    if record is None:
        return _Checked(rel, problems=problems or (f"{where}: not a usable record",))
    keys, digests = record_keys(record)
    return _Checked(rel, raw, keys=tuple(keys), digests=tuple(digests), modified=record.modified)


def _joined(checked: Sequence[_Checked]) -> tuple[bytes, PackageMap]:
    """The checked files as one JSON array, and the map of where each record is in it."""
    parts, placed, offset = [b"["], [], 1
    for index, item in enumerate(checked):
        if index:
            parts.append(b",")
            offset += 1
        placed.append(((offset, offset + len(item.raw)), item.keys, item.digests))
        parts.append(item.raw)
        offset += len(item.raw)
    parts.append(b"]")
    newest = max((item.modified for item in checked if item.modified), default=None, key=parse_timestamp)
    all_bytes = b"".join(parts)
    # never stored, so it names no digests: it lives as long as this snapshot
    return all_bytes, PackageMap.of_spans("", "", len(all_bytes), placed, newest)


class DirectorySource(FeedSource):
    """A ``feed/`` directory, loaded and checked on every :meth:`load` (``serve`` watches it)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.location = str(root)

    def load(self) -> FeedSnapshot:
        return from_directory(self.root)

    @property
    def local_path(self) -> Path | None:
        return self.root
