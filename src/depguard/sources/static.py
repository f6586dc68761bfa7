"""A built tree on disk (``depguard feed build``'s output), verified exactly like a download."""

from __future__ import annotations

from pathlib import Path

from depguard.errors import FeedSourceError
from depguard.feedformat import ALL_PATH, INDEX_PATH
from depguard.sources.interface import FeedSnapshot, FeedSource
from depguard.sources.verify import parse_index, verify_records

__all__ = ["StaticTreeSource", "is_static_tree", "read_static_tree"]


def is_static_tree(path: Path) -> bool:
    """Whether ``path`` is a built tree (``index.json`` + ``all.json``) rather than a feed source."""
    return (path / INDEX_PATH).is_file() and (path / ALL_PATH).is_file()


def read_static_tree(root: Path) -> FeedSnapshot:
    """A built tree on disk, verified exactly like a download (hashes, schemas, agreement)."""
    try:
        index_bytes = (root / INDEX_PATH).read_bytes()
        all_bytes = (root / ALL_PATH).read_bytes()
    except OSError as exc:
        raise FeedSourceError(f"cannot read the feed tree {root}: {exc.strerror or exc}") from None
    index = parse_index(index_bytes, str(root / INDEX_PATH))
    records = verify_records(index, all_bytes, str(root))
    return FeedSnapshot(records, str(root), "static")


class StaticTreeSource(FeedSource):
    """``index.json`` + ``all.json`` in a directory: hashes, schemas and agreement checked on every load."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.location = str(root)

    def load(self) -> FeedSnapshot:
        return read_static_tree(self.root)

    @property
    def local_path(self) -> Path:
        return self.root
