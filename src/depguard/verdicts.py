"""Remembered lint verdicts: a feed whose exact bytes were linted clean is not linted again.

Why: a publishing job runs ``feed validate`` and then ``feed build`` on the same files, and
build must never publish an invalid feed, so it linted every record again, which took as long
as validate had. When a whole-feed lint finds nothing, :func:`remember_clean` records that in
the cache directory (``$DEPGUARD_CACHE_DIR``, else the platform's user cache, where downloaded
feeds are kept too) under a key naming the exact content and the exact rules, and
:func:`is_clean` finds it again. :func:`depguard.feed.load_feed` asks, and
:func:`depguard.feed.lint` answers and remembers.

The key is a sha256 over

* the rules: every source file of this depguard, its bundled schemas, and the versions of
  Python, ``packaging`` (version syntax) and ``rfc3339-validator`` (timestamps), the only
  things besides depguard's own code that the rules ask;
* the feed: every record file's path below the root and the sha256 of its bytes, in order.

A changed byte, file, rule or library is a different key, never a stale verdict; modification
times play no part. Only "clean" is remembered (a feed with issues is linted again, to report
them), and only when depguard's compiled schema checks vouched for every record: jsonschema,
whose answers could change with the optional packages installed beside it, was not asked.
Only feeds as :func:`depguard.feed.load_feed` read them qualify, whose parsed data is exactly
their bytes', and none with unreadable or stray files.

Trust: a verdict is only as good as the cache directory. It is the user's own, like the
downloaded feeds kept next to it, and whoever can write to it can plant a verdict; a
publishing job keeps it private (the default per-user cache directory is) and starts from an
empty one, or runs ``feed validate`` itself first, as the workflows do.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from collections.abc import Iterable
from functools import cache
from pathlib import Path

__all__ = ["content_key", "is_clean", "remember_clean"]

_FOLDER = "lint-verdicts"
_SCHEME = b"depguard lint verdict 1\n"
#: Verdicts kept; the oldest go first. A CI job needs the latest one only.
_KEEP = 64


def content_key(files: Iterable[tuple[str, bytes]]) -> str | None:
    """The verdict key of a feed's record files, (path below the root, bytes) in path order.

    None when this install's rules cannot be fingerprinted (then nothing is remembered).
    """
    rules = _rules_digest()
    if rules is None:
        return None
    digest = hashlib.sha256(_SCHEME + rules)
    for rel, raw in files:
        path = rel.encode("utf-8")
        digest.update(len(path).to_bytes(4, "big") + path + hashlib.sha256(raw).digest())
    return digest.hexdigest()


def is_clean(key: str) -> bool:
    """True when a whole-feed lint of the content named by ``key`` found nothing."""
    try:
        return (_folder() / key).read_bytes() == key.encode("ascii")
    except (OSError, ValueError):
        return False


def remember_clean(key: str) -> None:
    """Record that a whole-feed lint of the content named by ``key`` found nothing.

    The file is renamed into place but not fsynced: a verdict is only a shortcut, and one torn
    by a crash does not read back as its key, so it is not trusted. (An fsync would make
    ``feed validate`` wait for every byte the system has yet to write, a published tree
    included.) A cache that cannot be written is skipped.
    """
    try:
        folder = _folder()
        folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{key[:16]}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(key.encode("ascii"))
            os.replace(temporary, folder / key)
        except BaseException:
            os.unlink(temporary)
            raise
        _prune(folder)
    except (OSError, ValueError):
        pass


@cache
def _rules_digest() -> bytes | None:
    """A digest of everything besides the feed that a lint verdict depends on, or None if unreadable."""
    import packaging
    import rfc3339_validator

    from depguard.resources import schemas_dir

    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for label in (sys.version, packaging.__version__, rfc3339_validator.__version__):
        digest.update(label.encode("utf-8") + b"\0")
    try:
        sources = sorted(package.rglob("*.py"))
        schemas = sorted(p for p in schemas_dir().iterdir() if p.suffix == ".json")
        if not sources or not schemas:
            return None
        for path in (*sources, *schemas):
            data = path.read_bytes()
            name = path.relative_to(package if path.is_relative_to(package) else path.parent).as_posix().encode("utf-8")
            digest.update(len(name).to_bytes(4, "big") + name + len(data).to_bytes(8, "big") + data)
    except OSError:
        return None
    return digest.digest()


def _folder() -> Path:
    from depguard.client import ENV_CACHE_DIR, FetchOptions, cache_root

    configured = os.environ.get(ENV_CACHE_DIR) or None
    return cache_root(FetchOptions(cache_dir=Path(configured) if configured else None)) / _FOLDER


def _prune(folder: Path) -> None:
    """Keep the newest :data:`_KEEP` verdicts."""
    entries = [entry for entry in os.scandir(folder) if entry.is_file() and len(entry.name) == 64]
    if len(entries) <= _KEEP:
        return
    entries.sort(key=lambda entry: entry.stat().st_mtime, reverse=True)
    for entry in entries[_KEEP:]:
        try:
            os.unlink(entry.path)
        except OSError:
            pass
