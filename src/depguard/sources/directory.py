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
class _Chunk:
    """One job's files after the consumer's checks, in a form cheap to send between processes.

    ``records`` holds the bytes of the files that passed, joined by commas; ``placed`` gives
    each one's length and what the map files it under (:func:`~depguard.packagemap.record_keys`).
    A job's result crosses from the worker as one pickle, and a few large values cross far
    faster than a thousand small objects: sent as one object per file, the results cost the
    receiving process as much time as sharing the checks saved.
    """

    unreadable: list[str]  # read and JSON problems, reported before the records' problems
    problems: list[str]
    records: bytes
    placed: list[tuple[int, list[tuple[str, str]], list[str]]]
    newest: str | None


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
    jobs = [partial(_check_files, paths[start : start + size], moment) for start in range(0, len(paths), size)]
    chunks: list[_Chunk] = share_jobs(jobs, fork=len(paths) >= _SHARE_FROM)
    fatal = [printable(str(i)) for i in listing if i.rule == "readable"]
    fatal += [problem for chunk in chunks for problem in chunk.unreadable]
    fatal += [problem for chunk in chunks for problem in chunk.problems]
    if fatal:
        shown = "; ".join(fatal[:3]) + (f" (and {len(fatal) - 3} more)" if len(fatal) > 3 else "")
        raise InvalidRecordError(f"feed {root} has invalid records, refusing all of it: {shown}")
    with gc_paused():  # tens of thousands of spans and keys, no cycle among them
        all_bytes, package_map = _joined(chunks)
    records = MappedRecords(all_bytes, package_map, f"the feed {root}", remedy="report this as a depguard bug")
    return FeedSnapshot(records, str(root), kind)


def _check_files(files: Sequence[tuple[str, str]], moment: _dt.datetime) -> _Chunk:
    """One job: read, parse and check ``files`` (relative and full paths), as a consumer does."""
    unreadable: list[str] = []
    problems: list[str] = []
    passed: list[bytes] = []
    placed: list[tuple[int, list[tuple[str, str]], list[str]]] = []
    modified: list[str] = []
    with gc_paused():  # parsed records form no cycles (see jsonio.gc_paused)
        for rel, full in files:
            raw = read_record_file(rel, full)
            if isinstance(raw, Issue):
                unreadable.append(printable(str(raw)))
                continue
            data = parse_record_file(rel, raw)
            if isinstance(data, Issue):
                unreadable.append(printable(str(data)))
                continue
            where = printable(rel)  # a contributor chose the file name
            found = [f"{where}#{p.pointer}: {p.message}" for p in record_issues(data, now=moment, raw=raw)]
            record = typed_record(data) if not found else None
            if record is None:
                problems += found or [f"{where}: not a usable record"]
                continue
            passed.append(raw)
            placed.append((len(raw), *record_keys(record)))
            modified.append(record.modified)
    newest = max(modified, default=None, key=parse_timestamp)
    return _Chunk(unreadable, problems, b",".join(passed), placed, newest)


def _joined(chunks: Sequence[_Chunk]) -> tuple[bytes, PackageMap]:
    """The chunks' records as one JSON array, and the map of where each record is in it."""
    spans: list[tuple[tuple[int, int], list[tuple[str, str]], list[str]]] = []
    offset = 1  # after "["
    for chunk in chunks:
        for length, keys, digests in chunk.placed:
            spans.append(((offset, offset + length), keys, digests))
            offset += length + 1  # and the comma after it
    all_bytes = b"[" + b",".join(chunk.records for chunk in chunks if chunk.records) + b"]"
    newest = max((c.newest for c in chunks if c.newest is not None), default=None, key=parse_timestamp)
    # never stored, so it names no digests: it lives as long as this snapshot
    return all_bytes, PackageMap.of_spans("", "", len(all_bytes), spans, newest)


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
