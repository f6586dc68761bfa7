"""Lockfile hashes (``sha256_of`` behind every reader): its shortcut for ``sha256:<lowercase hex>`` is held to the spelling rules.

Lockfiles write ``sha256:HEX``, ``sha256=HEX`` or ``{"sha256": HEX}``, any case, with or
without surrounding space; other algorithms are dropped. The rules are restated here as a
plain oracle, and generated values (mostly near the shortcut's exact form) must give the
same digests.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from depguard.lockfiles import read_lockfile

_HEX = re.compile(r"[0-9a-fA-F]{64}")


def oracle(value: Any) -> str | None:
    """The documented rule, written plainly."""
    if isinstance(value, dict):
        candidate = value.get("sha256") if isinstance(value.get("sha256"), str) else None
    elif isinstance(value, str):
        algorithm, sep, rest = value.replace("=", ":", 1).partition(":")
        candidate = rest if sep and algorithm.strip().lower() == "sha256" else None
    else:
        candidate = None
    if candidate is None:
        return None
    candidate = candidate.strip()
    return candidate.lower() if _HEX.fullmatch(candidate) else None


_HEXES = st.text("0123456789abcdefABCDEF", min_size=63, max_size=65)
_VALUES = st.one_of(
    st.tuples(
        st.sampled_from(["sha256:", "sha256=", "SHA256:", " sha256 :", "sha512:", "sha256", "md5:"]),
        _HEXES,
        st.sampled_from(["", " ", "\n", "x"]),
    ).map("".join),
    _HEXES.map(lambda h: {"sha256": h}),
    st.sampled_from([None, 1, [], {"sha256": 5}, "", "sha256:"]),
)


@given(values=st.lists(_VALUES, max_size=5))
@example(values=["sha256:" + "a" * 64, "sha256:" + "A" * 64, "sha256=" + "a" * 64 + "\n", "sha256:" + "a" * 63 + "g"])
def test_digests_follow_the_spelling_rules(values: list[Any]) -> None:
    expected: list[str] = []
    for value in values:
        digest = oracle(value)
        if digest is not None and digest not in expected:
            expected.append(digest)
    assert locked_hashes(values) == tuple(expected)


def _toml(value: Any) -> str:
    """``value`` as a TOML value (JSON's string escapes are TOML's too)."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{key} = {_toml(item)}" for key, item in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(map(_toml, value)) + "]"
    return json.dumps(value)


def locked_hashes(values: list[Any]) -> tuple[str, ...]:
    """The hashes ``read_lockfile`` gives a uv.lock package whose wheels carry ``values`` as
    their ``hash`` (None: a wheel without one)."""
    wheels = "".join(
        f'    {{ url = "https://example.org/{n}.whl"{"" if v is None else ", hash = " + _toml(v)} }},\n'
        for n, v in enumerate(values)
    )
    text = (
        'version = 1\nrequires-python = ">=3.10"\n\n[[package]]\nname = "demo"\nversion = "1.0"\n'
        f'source = {{ registry = "https://pypi.org/simple" }}\nwheels = [\n{wheels}]\n'
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "uv.lock"
        path.write_text(text, encoding="utf-8")
        (package,) = read_lockfile(path, Path(folder))
    return package.hashes
