"""``depguard.affected``: what a profile record affects, held to the exclusions sync writes.

The central property: for any records of the two shapes the profile admits (listed versions,
whole-package block) and any candidate version, ``affects`` says yes exactly when the
compiled requirement, read by ``packaging`` as a resolver reads it (pre-releases allowed),
does not admit the version. The same is checked on every record of the repo's ``feed/`` and
on the upstream MAL records that are profile-shaped. Records of any other shape are refused
by every source path and by the module itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.specifiers import SpecifierSet

from depguard import ecosystems
from depguard.advisoryindex import AdvisoryIndex
from depguard.affected import BLOCK, Compiled, OutsideProfileError, Rejected, compile_exclusions, read_entry
from depguard.errors import InvalidRecordError
from depguard.feed import load_feed
from depguard.records import Affected, Record

SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WHOLE = [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]


def entry(name: str, versions: list[str], *, whole: bool = False, ecosystem: str = "PyPI") -> dict[str, Any]:
    data: dict[str, Any] = {"package": {"ecosystem": ecosystem, "name": name}, "versions": versions}
    if whole:
        data["ranges"] = WHOLE
    return data


def record(rid: str, *affected: dict[str, Any], withdrawn: bool = False) -> Record:
    data: dict[str, Any] = {"id": rid, "modified": "2026-03-24T00:00:00Z", "affected": list(affected)}
    if withdrawn:
        data["withdrawn"] = "2026-03-25T00:00:00Z"
    return Record.model_validate(data)


def requirements(compiled: Compiled) -> dict[str, str]:
    return {e.name: e.requirement for e in compiled.exclusions}


def admitted(records: list[Record], name: str, version: str) -> bool:
    """Whether the compiled exclusion of ``name`` admits ``version`` (no exclusion: it does)."""
    exclusion = next((e for e in compile_exclusions(records).exclusions if e.name == name), None)
    return exclusion is None or SpecifierSet(",".join(exclusion.specifiers)).contains(version, prereleases=True)


def matched(records: list[Record], ecosystem: str, name: str, version: str | None) -> bool:
    return bool(AdvisoryIndex.from_records(records).lookup(ecosystem, name, version))


# --------------------------------------------------------------------------- the property

RELEASES = st.lists(st.integers(0, 3), min_size=1, max_size=3).map(lambda parts: ".".join(map(str, parts)))
PEP440 = st.builds(
    lambda epoch, release, pre, post, dev: f"{epoch}{release}{pre}{post}{dev}",
    st.sampled_from(["", "", "", "1!"]),
    RELEASES,
    st.sampled_from(["", "", "a1", "rc0"]),
    st.sampled_from(["", "", ".post1"]),
    st.sampled_from(["", "", ".dev0"]),
)
LOCAL = st.sampled_from(["", "+local", "+cu121.7", "+0"])


@st.composite
def pypi_feeds(draw: st.DrawFn) -> list[Record]:
    """Profile records of one package: listed versions (some unwritable) or the whole package."""
    records = []
    for number in range(draw(st.integers(1, 3))):
        listed = draw(
            st.lists(
                st.one_of(PEP440, st.builds(str.__add__, PEP440, st.just("+local"))),
                min_size=1,
                max_size=4,
                unique=True,
            )
        )
        whole = draw(st.integers(0, 4)) == 0
        records.append(
            record(
                f"DG-{number}",
                entry(draw(st.sampled_from(["pkg", "Pkg", "p.k.g"])), listed, whole=whole),
                withdrawn=draw(st.integers(0, 9)) == 0,
            )
        )
    return records


@st.composite
def pypi_candidates(draw: st.DrawFn, records: list[Record]) -> str:
    """A version near a listed one (padding, local label, pre/post/dev, epoch) or any version."""
    listed = [v for r in records for a in r.affected for v in a.versions]
    base = (draw(st.sampled_from(listed)) if draw(st.booleans()) else draw(PEP440)).partition("+")[0]
    change = draw(st.sampled_from(["", ".0", "rc1", ".post1", ".dev0", "1!"]))
    changed = (base if "!" in base else "1!" + base) if change == "1!" else base + change
    if ecosystems.parse_pep440(changed) is None:  # e.g. "1.0a1" + ".0"
        changed = base
    return changed + draw(LOCAL)


@SETTINGS
@given(st.data())
def test_pypi_affected_iff_the_exclusion_removes_the_version(data: st.DataObject) -> None:
    records = data.draw(pypi_feeds())
    version = data.draw(pypi_candidates(records))
    assert matched(records, "PyPI", "pkg", version) == (not admitted(records, "pkg", version)), (
        version,
        compile_exclusions(records),
    )


SEMVER_CORE = st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 2)).map(lambda t: ".".join(map(str, t)))
SEMVER = st.builds(str.__add__, SEMVER_CORE, st.sampled_from(["", "", "-rc.1", "-alpha", "-0"]))
BUILD = st.sampled_from(["", "", "+build.5", "+sha.abc"])


@SETTINGS
@given(
    listed=st.lists(st.builds(str.__add__, SEMVER, BUILD), min_size=1, max_size=4, unique=True),
    whole=st.booleans(),
    version=st.builds(str.__add__, SEMVER, BUILD),
)
def test_npm_affected_by_semver_precedence(listed: list[str], whole: bool, version: str) -> None:
    records = [record("DG-1", entry("@scope/pkg", listed, whole=whole, ecosystem="npm"))]
    # independent of the implementation: SemVer versions without build metadata have equal
    # precedence exactly when they are equal strings (numeric identifiers have no leading zeros)
    named = whole or any(v.partition("+")[0] == version.partition("+")[0] for v in listed)
    assert matched(records, "npm", "@scope/pkg", version) == named
    assert compile_exclusions(records).exclusions == ()  # nothing is written for npm


# --------------------------------------------------------------------------- examples


def test_a_local_build_of_a_listed_version_is_affected_as_sync_excludes_it() -> None:
    """The bug behind this module: ``check`` and serve said 1.82.7+local was clean."""
    records = [record("DG-2026-0001", entry("litellm", ["1.82.7", "1.82.8"]))]
    assert requirements(compile_exclusions(records)) == {"litellm": "litellm!=1.82.7,!=1.82.8"}
    for bad in ("1.82.7", "1.82.7+local", "1.82.7.0", "1.82.8.0+cu121"):
        assert matched(records, "PyPI", "LiteLLM", bad) and not admitted(records, "litellm", bad)
    for good in ("1.82.6", "1.82.9", "1.82.7.post1", "1.82.7.1", "1.82.7rc1", "1!1.82.7", None):
        assert not matched(records, "PyPI", "litellm", good)


def test_whole_package_block_affects_every_version_and_writes_only_the_block() -> None:
    records = [
        record("DG-2", entry("evil-pkg", ["0.1"], whole=True)),
        record("DG-3", entry("Evil_Pkg", ["1.0", "2.0"])),
    ]
    compiled = compile_exclusions(records)
    assert requirements(compiled) == {"evil-pkg": "evil-pkg" + BLOCK}
    assert compiled.exclusions[0].advisories == ("DG-2", "DG-3")
    for version in ("0", "0.dev0", "0a0", "0+x", "1.0", "99!1.0", "not a version", None):
        assert matched(records, "PyPI", "evil-pkg", version)
    for version in ("0", "0.dev0", "0a0", "0+x", "1.0", "99!1.0"):
        assert not admitted(records, "evil-pkg", version)


def test_merging_sorting_withdrawn_ignored_and_other_ecosystems() -> None:
    records = [
        record("DG-10", entry("pkg", ["2.5", "1.0"]), entry("Alpha", ["2"])),
        record("DG-11", entry("PKG", ["3.0", "2.5.0"]), entry("pkg", ["9.0"], ecosystem="npm")),
        record("DG-12", entry("pkg", ["4.0"]), withdrawn=True),
    ]
    compiled = compile_exclusions(records)
    assert requirements(compiled) == {"alpha": "alpha!=2", "pkg": "pkg!=1.0,!=2.5,!=3.0"}
    assert [e.name for e in compiled.exclusions] == ["alpha", "pkg"]
    assert compiled.exclusions[1].advisories == ("DG-10", "DG-11")
    assert requirements(compile_exclusions(records, ignore={"DG-11"}))["pkg"] == "pkg!=1.0,!=2.5"
    assert not matched(records, "PyPI", "pkg", "4.0")  # withdrawn
    assert matched(records, "PyPI", "pkg", "2.5.0+x")


@pytest.mark.parametrize(
    "bad", ["1.0; rm -rf /", '1.0"]', "1.0\n", "===1.0", "", "1.0+local", " 1.0", "1.0 || 2.0", "1." + "0" * 130]
)
def test_an_unwritable_version_is_refused_alone_and_affects_nothing(bad: str) -> None:
    records = [record("DG-1", entry("pkg", ["2.0", bad]))]
    compiled = compile_exclusions(records)
    assert requirements(compiled) == {"pkg": "pkg!=2.0"}
    assert [(r.advisory, r.package) for r in compiled.rejected] == [("DG-1", "pkg")]
    assert repr(bad) in compiled.rejected[0].reason
    assert not matched(records, "PyPI", "pkg", bad)  # check never claims what sync did not write


@pytest.mark.parametrize("name", ["bad name", "pkg;rm", "pkg[extra]", "-pkg", "", "pkg\n", "pkg@http://x"])
def test_an_invalid_package_name_refuses_its_entry(name: str) -> None:
    compiled = compile_exclusions([record("DG-1", entry(name, ["1.0"]), entry("good", ["1.0"]))])
    assert requirements(compiled) == {"good": "good!=1.0"}
    assert [r.advisory for r in compiled.rejected] == ["DG-1"]
    shown = compiled.rejected[0].package
    assert shown.isprintable() and (json.loads(shown) if shown.startswith('"') else shown) == name


@pytest.mark.parametrize("rid", ["DG-1\n# x", "DG-1\n", "DG 1", "DG-1;x", "DG-1\x1b[2J"])
def test_an_unsafe_advisory_id_refuses_its_entries(rid: str) -> None:
    compiled = compile_exclusions([record(rid, entry("pkg", ["1.0\x1b[2J"]))])
    assert compiled.exclusions == () and len(compiled.rejected) == 1
    assert all(text.isprintable() for r in compiled.rejected for text in (r.advisory, r.reason))


@pytest.mark.parametrize(
    ("spelling", "normal"), [("1.0-1", "1.0.post1"), ("V1.0", "1.0"), ("1.0RC1", "1.0rc1"), ("1.0_dev2", "1.0.dev2")]
)
def test_odd_spellings_are_written_normalized_and_still_match(spelling: str, normal: str) -> None:
    records = [record("DG-1", entry("pkg", [spelling]))]
    assert requirements(compile_exclusions(records)) == {"pkg": f"pkg!={normal}"}
    assert matched(records, "PyPI", "pkg", normal) and matched(records, "PyPI", "pkg", spelling)


def test_compiled_output_is_sorted_and_frozen() -> None:
    records = [record(f"DG-{n}", entry(name, [v])) for n, (name, v) in enumerate([("b", "2"), ("a", "1"), ("b", "1")])]
    assert compile_exclusions(records) == compile_exclusions(list(reversed(records)))
    with pytest.raises(AttributeError):
        Rejected("a", "b", "c").advisory = "x"  # type: ignore[misc]


# --------------------------------------------------------------------------- outside the profile

OUTSIDE = {
    "introduced above 0": [{"type": "ECOSYSTEM", "events": [{"introduced": "1.0"}]}],
    "fixed": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}],
    "last_affected": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"last_affected": "2.0"}]}],
    "limit": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"limit": "2.0"}]}],
    "SEMVER": [{"type": "SEMVER", "events": [{"introduced": "0"}]}],
    "GIT": [{"type": "GIT", "repo": "https://example.org/r", "events": [{"introduced": "0"}]}],
    "two ranges": WHOLE + WHOLE,
    "an extra field": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}], "database_specific": {}}],
}


@pytest.mark.parametrize("ranges", list(OUTSIDE.values()), ids=list(OUTSIDE))
def test_a_range_outside_the_profile_is_refused_not_guessed(ranges: list[dict[str, Any]]) -> None:
    data = {"package": {"ecosystem": "PyPI", "name": "gevent"}, "versions": ["23.9.0"], "ranges": ranges}
    with pytest.raises(OutsideProfileError):
        read_entry(Affected.model_validate(data))
    rec = Record.model_validate({"id": "PYSEC-2023-177", "modified": "2023-01-01T00:00:00Z", "affected": [data]})
    with pytest.raises(OutsideProfileError, match="PYSEC-2023-177 affected\\[0\\]"):
        compile_exclusions([rec])
    with pytest.raises(InvalidRecordError):
        AdvisoryIndex.from_records([rec])


# --------------------------------------------------------------------------- real records


def _probes(eco: ecosystems.Ecosystem, listed: tuple[str, ...]) -> set[str]:
    """Versions next to each listed one (the valid ones: ``1.0.post1`` + ``.post1`` is not)."""
    if eco is ecosystems.NPM:
        near = {p for v in listed for p in (v, v + "+build.1", v.partition("+")[0] + "-rc.1", "0.0.1", "99.0.0")}
    else:
        near = {
            p
            for v in listed
            for p in (v, v + "+local", v + ".0", v + ".post1", v + "rc1", v + ".dev0", "1!" + v, "0", "99")
        }
    return {p for p in near if eco.version_is_valid(p)}


def _profile_records(paths: list[Path]) -> list[Record]:
    found = []
    for path in paths:
        rec = Record.model_validate(json.loads(path.read_text(encoding="utf-8")))
        try:
            AdvisoryIndex.from_records([rec])
        except OutsideProfileError:
            continue
        found.append(rec.model_copy(update={"withdrawn": None}))  # their versions count all the same
    return found


def _assert_agree(records: list[Record]) -> int:
    checked = 0
    for rec in records:
        for affected in rec.affected:
            entry_ = read_entry(affected)
            if entry_ is None:
                continue
            for version in _probes(entry_.ecosystem, affected.versions):
                hit = matched([rec], entry_.ecosystem.name, entry_.name, version)
                if entry_.ecosystem is ecosystems.PYPI:
                    assert hit == (not admitted([rec], entry_.name, version)), (rec.id, version)
                elif entry_.ecosystem is ecosystems.GITHUB_ACTIONS:  # a tag is its exact string
                    assert hit == (entry_.whole_package or version in affected.versions), (rec.id, version)
                else:
                    named = entry_.whole_package or any(
                        v.partition("+")[0] == version.partition("+")[0] for v in affected.versions
                    )
                    assert hit == named, (rec.id, version)
                checked += 1
    return checked


def test_every_record_of_the_repo_feed(repo_root: Path) -> None:
    paths = sorted((repo_root / "feed").rglob("*.json"))
    records = _profile_records(paths)
    assert len(records) == len(paths) == len(load_feed(repo_root / "feed").entries)  # all of them are profile records
    assert _assert_agree(records) > 100


def test_every_profile_shaped_mal_record_of_the_corpus(upstream_corpus: Path) -> None:
    paths = sorted((upstream_corpus / "ossf-malicious-packages").rglob("*.json"))
    records = _profile_records(paths)
    assert records and len(records) < len(paths)  # some use SEMVER ranges: outside the profile
    assert _assert_agree(records) > 50
