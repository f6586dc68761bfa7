"""What the validator accepts, sync writes; what sync cannot write, the validator refuses.

A version that passed `feed validate` but that the exclusion writer refused was dropped with a
warning, quietly lifting that exclusion (``1.82.8+evil`` lifted 1.82.8). Generated versions
hold the two to one answer.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from depguard.errors import UnsafeValueError
from depguard.exclusions import safe_version
from depguard.feed import check_record, record_relpath

from feedkit import record

_RELEASE = st.lists(st.integers(0, 99999).map(str), min_size=1, max_size=6).map(".".join)
_PEP440ISH = st.builds(
    lambda epoch, release, pre, post, dev, local, pad: f"{epoch}{release}{pre}{post}{dev}{local}{pad}",
    st.sampled_from(["", "1!", "0!"]),
    _RELEASE,
    st.sampled_from(["", "a1", "b2", "rc3", "-rc.1", "alpha", "c1"]),
    st.sampled_from(["", ".post1", "-1", "post2", ".r3"]),
    st.sampled_from(["", ".dev0", "dev1"]),
    st.sampled_from(["", "+evil", "+local.1", "+ubuntu-1"]),
    st.sampled_from(["", "", "", " ", "\n", "x" * 130]),
)
_VERSIONS = st.one_of(_PEP440ISH, st.text(max_size=20), _RELEASE.map(lambda r: r + ".0" * 70))


def _validator_accepts(version: str) -> bool:
    data = record(versions=(version,))
    issues = check_record(record_relpath("PyPI", "litellm", data["id"]), data)
    return not [i for i in issues if i.pointer.startswith("/affected/0/versions")] and not issues


def _writer_accepts(version: str) -> bool:
    try:
        return safe_version(version) == version  # the feed must already spell it as written
    except UnsafeValueError:
        return False


@settings(max_examples=400, deadline=None)
@given(_VERSIONS)
def test_validator_and_writer_agree_on_every_version(version: str) -> None:
    assert _validator_accepts(version) == _writer_accepts(version), version


def test_the_reported_cases() -> None:
    assert not _validator_accepts("1.82.8+evil")
    assert not _validator_accepts("1." + "0." * 70 + "1")
    assert _validator_accepts("1.82.8")
