"""The published feed's wire format: the names and limits both of its ends agree on.

``depguard feed build`` writes a static tree (:mod:`depguard.publish`) and every client reads
one (:mod:`depguard.sources.remote`, :mod:`depguard.sources.static`). Neither side imports
the other: both import these constants, so a file name or a version bump cannot drift
between writer and reader. Nothing of depguard is imported here.
"""

from __future__ import annotations

__all__ = [
    "ALL_PATH",
    "DEFAULT_FEED_URL",
    "DEFAULT_MAX_BYTES",
    "FORMAT",
    "FORMAT_VERSION",
    "INDEX_PATH",
    "INDEX_SCHEMA",
]

#: The project's published feed (GitHub Pages): the default source and ``feed build``'s default site URL.
DEFAULT_FEED_URL = "https://depguard.github.io/depguard/"
#: ``index.json``'s ``format`` and ``format_version``: a reader refuses a version it does not know.
FORMAT = "depguard-feed"
FORMAT_VERSION = 1
#: The small file a client revalidates on every run (conditional GET), and the one it points at.
INDEX_PATH = "index.json"
ALL_PATH = "all.json"
#: The bundled schema ``index.json`` must satisfy.
INDEX_SCHEMA = "index.schema.json"
#: The largest response (counted after decompression) a client accepts by default.
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
