"""Where the bundled schemas and feed snapshot live.

An installed wheel carries them under ``depguard/_data``; a checkout (editable install, tests)
keeps them at the top of the repository. Looking in both places lets the same code run from
either without copying files around.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

__all__ = ["bundled_feed_dir", "data_dir", "schemas_dir"]


@cache
def data_dir(name: str) -> Path:
    """The directory ``name`` (``schemas`` or ``feed``) from the wheel, else from the checkout."""
    packaged = Path(__file__).parent / "_data" / name
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[2] / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"depguard's bundled {name!r} directory is missing from this install")


def schemas_dir() -> Path:
    return data_dir("schemas")


def bundled_feed_dir() -> Path:
    return data_dir("feed")
