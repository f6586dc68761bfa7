"""A feed source directory (the ``feed/`` layout contributors edit), checked record by record."""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO

from depguard.clock import now
from depguard.display import printable
from depguard.errors import FeedSourceError, InvalidRecordError
from depguard.feed import Listed, group_jobs, list_record_groups, read_record_groups, share_jobs
from depguard.jsonio import gc_paused
from depguard.packagemap import Filing, MappedRecords, PackageMap, data_keys
from depguard.records import parse_timestamp
from depguard.sources.interface import FeedSnapshot, FeedSource
from depguard.validation.profile import prepare_profile
from depguard.validation.safety import record_issues

__all__ = ["DirectorySource", "from_directory"]

#: From this many package folders on, a forked worker checks half of them (see
#: :func:`depguard.feed.share_jobs`): below it, starting the worker costs more than it saves.
_SHARE_FROM = 2000


@dataclass(frozen=True)
class _Chunk:
    """One job's files after the consumer's checks, in a form cheap to send between processes.

    ``records`` holds the bytes of the files that passed, joined by commas, and ``filing``
    where each of them is in those bytes under every package and artifact it names. A job's
    result crosses from the worker as one pickle (its bytes through a :class:`_Spool`), and a
    few large values cross far faster than thousands of small objects: sent as one object per
    file, the results cost the receiving process as much time as sharing the checks saved.
    """

    unlisted: list[str]  # files the listing refused (links out of the feed)
    unreadable: list[str]  # read and JSON problems, reported before the records' problems
    problems: list[str]
    records: bytes  # empty when they went to the spool instead
    filing: Filing
    newest: str | None
    spooled: tuple[int, int] | None = None  # (offset, length) of the records in the spool

    @property
    def size(self) -> int:
        """How many bytes the records take, wherever they are."""
        return len(self.records) if self.spooled is None else self.spooled[1]


class _Spool:
    """A private temporary file (``tempfile.TemporaryFile``, unlinked) that the forked worker
    writes its checked records to, one job after the other, instead of sending them back.

    Sent back, the worker's 12 MB of a 20,000-record feed were pickled after its last job,
    piped, and unpickled here while both processes waited: 0.02-0.03 s at the very end. Written
    to the spool as each of its jobs ends, they cost the worker a few milliseconds while this
    process still works, and this process one read. This process keeps its own chunks in memory.
    """

    def __init__(self, file: IO[bytes]) -> None:
        self._fd = file.fileno()
        self._owner = os.getpid()
        self._end = 0  # in the worker, where its next bytes go (only the worker writes)

    def keep(self, records: bytes) -> tuple[bytes, tuple[int, int] | None]:
        """``records`` as a chunk holds them: as they are in this process, spooled in the worker."""
        if os.getpid() == self._owner or not records:
            return records, None
        start, view = self._end, memoryview(records)
        while view:
            view = view[os.pwrite(self._fd, view, self._end) :]
            self._end = start + len(records) - len(view)
        return b"", (start, len(records))

    def read(self) -> bytes:
        """Everything the worker wrote."""
        return os.pread(self._fd, os.fstat(self._fd).st_size, 0)


def from_directory(root: Path, *, kind: str = "directory") -> FeedSnapshot:
    """A feed source directory (``feed/`` layout), schema-checked record by record.

    Formatting lints do not matter to a consumer; schema and JSON problems do, and refuse the
    whole directory. Listing, reading and checking are the bulk of the work (a 20,000-record
    feed is 20,000 folders and a second of checks), so the package folders are shared out in
    jobs with a forked worker (see :func:`depguard.feed.share_jobs`). The records are not
    typed here: the checked bytes are joined into one ``all.json``-like array behind a
    :class:`~depguard.packagemap.MappedRecords`, so a ``check`` types only the records its
    lockfiles can match, as it does with a downloaded feed. Both schemas admit only what the
    model types (``test_what_the_consumer_checks_admit_is_typed``), so typing each record here
    would only repeat them.
    """
    groups = list_record_groups(root)
    moment, real_root = now(), os.path.realpath(root)
    prepare_profile()  # compiled once, here, before the worker forks
    shared = len(groups) >= _SHARE_FROM
    with contextlib.ExitStack() as files:
        spool = _Spool(files.enter_context(tempfile.TemporaryFile(prefix="depguard-feed-"))) if shared else None
        jobs = [partial(_check_files, real_root, part, moment, spool) for part in group_jobs(groups)]
        chunks: list[_Chunk] = share_jobs(jobs, fork=shared)
        fatal = [problem for chunk in chunks for problem in chunk.unlisted]
        fatal += [problem for chunk in chunks for problem in chunk.unreadable]
        fatal += [problem for chunk in chunks for problem in chunk.problems]
        if fatal:
            shown = "; ".join(fatal[:3]) + (f" (and {len(fatal) - 3} more)" if len(fatal) > 3 else "")
            raise InvalidRecordError(f"feed {root} has invalid records, refusing all of it: {shown}")
        if not any(chunk.size for chunk in chunks):
            raise FeedSourceError(
                f"feed {root} holds no records (a submodule not checked out, or the wrong folder?); "
                "refusing it: a feed with no advisories would lift every exclusion"
            )
        spooled = spool.read() if spool is not None and any(chunk.spooled for chunk in chunks) else b""
    with gc_paused():  # tens of thousands of bounds and keys, no cycle among them
        all_bytes, package_map = _joined(chunks, spooled)
    records = MappedRecords(all_bytes, package_map, f"the feed {root}", remedy="report this as a depguard bug")
    return FeedSnapshot(records, str(root), kind)


def _check_files(root: str, groups: Sequence[Listed], moment: _dt.datetime, spool: _Spool | None) -> _Chunk:
    """One job: list, read and parse the files of ``groups`` (:func:`~depguard.feed.read_record_groups`),
    then check each record as a consumer does and file the ones that pass (their bytes go to
    ``spool`` when the job runs in the forked worker)."""
    files = read_record_groups(root, groups)
    unlisted = [printable(str(issue)) for issue in files.unlisted if issue.rule == "readable"]
    unreadable = [printable(str(issue)) for issue in files.unreadable + files.unparsed]
    problems: list[str] = []
    passed: list[bytes] = []
    filing = Filing()
    modified: list[str] = []
    offset = 0
    with gc_paused():  # parsed records form no cycles (see jsonio.gc_paused)
        for rel, raw, data in zip(files.rels, files.raws, files.datas):
            found = record_issues(data, now=moment, raw=raw)
            if found:
                where = printable(rel)  # a contributor chose the file name
                problems += [f"{where}#{p.pointer}: {p.message}" for p in found]
                continue
            passed.append(raw)
            filing.add(offset, offset + len(raw), *data_keys(data))
            offset += len(raw) + 1  # and the comma after it
            modified.append(data["modified"])
    newest = max(modified, default=None, key=parse_timestamp)
    records, spooled = (b",".join(passed), None) if spool is None else spool.keep(b",".join(passed))
    return _Chunk(unlisted, unreadable, problems, records, filing, newest, spooled)


def _joined(chunks: Sequence[_Chunk], spooled: bytes) -> tuple[bytes, PackageMap]:
    """The chunks' records (``spooled``: what the worker wrote to the spool) as one JSON array,
    and the map of where each record is in it."""
    filing = Filing()
    offset = 1  # after "["
    for chunk in chunks:
        if chunk.size:
            filing.extend(chunk.filing, offset)
            offset += chunk.size + 1  # and the comma after it
    spool = memoryview(spooled)
    parts: list[bytes | memoryview] = [b"["]
    for chunk in chunks:
        if chunk.spooled is not None:
            start, length = chunk.spooled
            parts += (spool[start : start + length], b",")
        elif chunk.records:
            parts += (chunk.records, b",")
    parts[-1:] = [b"]"] if len(parts) > 1 else [b"[]"]
    all_bytes = b"".join(parts)  # one copy of the feed's bytes, not three
    newest = max((c.newest for c in chunks if c.newest is not None), default=None, key=parse_timestamp)
    # never stored, so it names no digests: it lives as long as this snapshot
    return all_bytes, PackageMap.of_filing("", "", len(all_bytes), filing, newest)


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
