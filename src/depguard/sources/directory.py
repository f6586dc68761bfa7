"""A feed source directory (the ``feed/`` layout contributors edit), checked record by record."""

from __future__ import annotations

from pathlib import Path

from depguard.clock import now
from depguard.display import printable
from depguard.errors import InvalidRecordError
from depguard.feed import load_feed
from depguard.sources.interface import FeedSnapshot, FeedSource
from depguard.validation.safety import record_issues

__all__ = ["DirectorySource", "from_directory"]


def from_directory(root: Path, *, kind: str = "directory") -> FeedSnapshot:
    """A feed source directory (``feed/`` layout), schema-checked record by record.

    Formatting lints do not matter to a consumer; schema and JSON problems do, and refuse the
    whole directory.
    """
    feed = load_feed(root)
    moment = now()
    fatal = [printable(str(i)) for i in feed.load_issues if i.rule in {"json", "readable"}]
    for entry in feed.entries:
        where = printable(str(entry.path))  # a contributor chose the file name
        problems = [f"{where}#{p.pointer}: {p.message}" for p in record_issues(entry.data, now=moment)]
        if entry.record is None and not problems:
            problems.append(f"{where}: not a usable record")
        fatal += problems
    if fatal:
        shown = "; ".join(fatal[:3]) + (f" (and {len(fatal) - 3} more)" if len(fatal) > 3 else "")
        raise InvalidRecordError(f"feed {root} has invalid records, refusing all of it: {shown}")
    return FeedSnapshot(tuple(feed.records()), str(root), kind)


class DirectorySource(FeedSource):
    """A ``feed/`` directory, loaded and checked on every :meth:`load` (``serve`` watches it)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.location = str(root)

    def load(self) -> FeedSnapshot:
        return from_directory(self.root)

    @property
    def local_path(self) -> Path:
        return self.root
