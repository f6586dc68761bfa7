"""Tests for the OSV -> PEP 440 compiler.

The property tests check the compiler against an oracle written independently of it: OSV's
``IsVulnerable`` pseudocode evaluated version by version with plain :class:`Version`
comparisons, and the over-exclusions the module documents as forced by PEP 440. The compiled
requirement is evaluated the way a resolver does, through ``packaging.requirements``.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from depguard.exclusions import Exclusion
from depguard.ranges import Compiled, Rejected, Unexpressible, affected_range, compile_exclusions
from depguard.records import Affected, Record

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --------------------------------------------------------------------------- helpers


def entry(name: str, versions: list[str] | None = None, *ranges: list[dict[str, str]], ecosystem: str = "PyPI", kind: str = "ECOSYSTEM") -> dict[str, Any]:
    data: dict[str, Any] = {"package": {"ecosystem": ecosystem, "name": name}}
    if versions is not None:
        data["versions"] = versions
    if ranges:
        data["ranges"] = [{"type": kind, "events": events} for events in ranges]
    return data


def record(rid: str, *affected: dict[str, Any], withdrawn: bool = False) -> Record:
    data: dict[str, Any] = {"id": rid, "modified": "2026-03-24T00:00:00Z", "affected": list(affected)}
    if withdrawn:
        data["withdrawn"] = "2026-03-25T00:00:00Z"
    return Record.model_validate(data)


def requirements(compiled: Compiled) -> dict[str, str]:
    return {e.name: e.requirement for e in compiled.exclusions}


def allowed(exclusion: Exclusion | None, version: str | Version) -> bool:
    if exclusion is None:
        return True
    return Requirement(exclusion.requirement).specifier.contains(version, prereleases=True)


def by_name(compiled: Compiled, name: str) -> Exclusion | None:
    return next((e for e in compiled.exclusions if e.name == name), None)


ZERO = {"introduced": "0"}

# --------------------------------------------------------------------------- examples


def test_litellm_two_versions() -> None:
    compiled = compile_exclusions([record("DG-2026-0001", entry("litellm", ["1.82.7", "1.82.8"]))])
    assert requirements(compiled) == {"litellm": "litellm!=1.82.7,!=1.82.8"}
    assert compiled.exclusions[0].advisories == ("DG-2026-0001",)
    assert compiled.unexpressible == () and compiled.rejected == ()
    excl = compiled.exclusions[0]
    # PEP 440: != ignores a candidate's local label and zero padding.
    for bad in ("1.82.7", "1.82.7+x", "1.82.7.0", "1.82.8.0+cu121"):
        assert not allowed(excl, bad)
    for good in ("1.82.6", "1.82.9", "1.82.7.post1", "1.82.7.1"):
        assert allowed(excl, good)


def test_ultralytics_four_versions() -> None:
    versions = ["8.3.41", "8.3.42", "8.3.45", "8.3.46"]
    compiled = compile_exclusions([record("DG-2024-0007", entry("ultralytics", list(reversed(versions))))])
    assert requirements(compiled) == {"ultralytics": "ultralytics" + ",".join(f"!={v}" for v in versions)}


def test_whole_package_block_subsumes_everything() -> None:
    compiled = compile_exclusions(
        [
            record("DG-2026-0002", entry("evil-pkg", None, [ZERO])),
            record("DG-2026-0003", entry("Evil_Pkg", ["1.0", "2.0"], [ZERO, {"fixed": "3.0"}])),
        ]
    )
    assert requirements(compiled) == {"evil-pkg": "evil-pkg<0"}
    excl = compiled.exclusions[0]
    assert excl.blocks_everything and excl.advisories == ("DG-2026-0002", "DG-2026-0003")
    for version in ("0", "0.dev0", "0a0", "0+x", "1.0", "99!1.0"):
        assert not allowed(excl, version)


def test_fixed_becomes_lower_bound() -> None:
    compiled = compile_exclusions([record("DG-1", entry("pkg", None, [ZERO, {"fixed": "2.1"}]))])
    assert requirements(compiled) == {"pkg": "pkg>=2.1"}
    assert allowed(compiled.exclusions[0], "2.1+local")  # a build of the fixed release
    assert not allowed(compiled.exclusions[0], "2.1rc1")


def test_last_affected_becomes_exclusive_bound() -> None:
    compiled = compile_exclusions([record("DG-1", entry("pkg", None, [ZERO, {"last_affected": "2.1"}]))])
    assert requirements(compiled) == {"pkg": "pkg>2.1"}
    excl = compiled.exclusions[0]
    assert not allowed(excl, "2.1") and not allowed(excl, "2.1+x")
    assert not allowed(excl, "2.1.post1")  # documented PEP 440 over-exclusion
    assert allowed(excl, "2.1.1") and allowed(excl, "2.2.dev0")


def test_prerelease_bounds_round_up_to_a_final_release() -> None:
    """A bound naming a pre-release would opt the package into pre-releases; it is rounded up."""
    compiled = compile_exclusions(
        [
            record("DG-1", entry("a", None, [ZERO, {"fixed": "2.0rc1"}])),
            record("DG-2", entry("b", None, [ZERO, {"last_affected": "2.0.post1.dev3"}])),
        ]
    )
    assert requirements(compiled) == {"a": "a>=2.0", "b": "b>=2.0.post1"}
    for excl in compiled.exclusions:
        assert Requirement(excl.requirement).specifier.prereleases is not True


def test_limit_is_an_upper_bound_in_a_linear_order() -> None:
    compiled = compile_exclusions([record("DG-1", entry("pkg", None, [ZERO, {"limit": "3.0"}]))])
    assert requirements(compiled) == {"pkg": "pkg>=3.0"}
    compiled = compile_exclusions([record("DG-1", entry("pkg", None, [ZERO, {"limit": "*"}]))])
    assert requirements(compiled) == {"pkg": "pkg<0"}


def test_merged_advisories_keep_strongest_bound_and_all_ids() -> None:
    compiled = compile_exclusions(
        [
            record("DG-2026-0010", entry("pkg", ["1.0", "2.5"])),
            record("DG-2026-0011", entry("pkg", None, [ZERO, {"fixed": "2.0"}])),
            record("DG-2026-0012", entry("PKG", ["3.0", "2.5.0"], [ZERO, {"last_affected": "1.5"}])),
            record("DG-2026-0013", entry("pkg", ["0.1"])),
        ]
    )
    assert requirements(compiled) == {"pkg": "pkg>=2.0,!=2.5,!=3.0"}
    assert compiled.exclusions[0].advisories == ("DG-2026-0010", "DG-2026-0011", "DG-2026-0012", "DG-2026-0013")


def test_several_packages_sorted_by_name() -> None:
    compiled = compile_exclusions(
        [record("DG-1", entry("zeta", ["1"]), entry("Alpha", ["2"]), entry("mid", ["3"]))]
    )
    assert [e.name for e in compiled.exclusions] == ["alpha", "mid", "zeta"]


def test_withdrawn_and_ignored_are_skipped() -> None:
    records = [
        record("DG-1", entry("pkg", ["1.0"]), withdrawn=True),
        record("DG-2", entry("pkg", ["2.0"])),
        record("DG-3", entry("other", ["3.0"])),
    ]
    assert requirements(compile_exclusions(records)) == {"pkg": "pkg!=2.0", "other": "other!=3.0"}
    assert requirements(compile_exclusions(records, ignore={"DG-2"})) == {"other": "other!=3.0"}


def test_other_ecosystems_are_ignored() -> None:
    compiled = compile_exclusions([record("DG-1", entry("pkg", ["1.0"], ecosystem="npm"), entry("pkg", ["2.0"]))])
    assert requirements(compiled) == {"pkg": "pkg!=2.0"}


@pytest.mark.parametrize(
    ("events", "versions"),
    [
        ([{"introduced": "1.0"}], ["1.5"]),  # open range above 0
        ([{"introduced": "1.0"}, {"fixed": "2.0"}], []),  # bounded, nothing enumerated
        ([{"introduced": "1.0"}, {"fixed": "2.0"}], ["3.0"]),  # listed version is outside
        ([ZERO, {"fixed": "1.0"}, {"introduced": "2.0"}], ["2.1"]),  # second interval open
    ],
)
def test_unexpressible_is_reported_and_listed_versions_still_excluded(events: list[dict[str, str]], versions: list[str]) -> None:
    compiled = compile_exclusions([record("DG-9", entry("pkg", versions, events))])
    assert [(u.advisory, u.package) for u in compiled.unexpressible] == [("DG-9", "pkg")]
    excl = by_name(compiled, "pkg")
    for version in versions:
        assert not allowed(excl, version)


def test_bounded_range_covered_by_versions_is_not_reported() -> None:
    compiled = compile_exclusions(
        [record("DG-9", entry("pkg", ["1.82.7", "1.82.8"], [{"introduced": "1.82.7"}, {"last_affected": "1.82.8"}]))]
    )
    assert compiled.unexpressible == ()
    assert requirements(compiled) == {"pkg": "pkg!=1.82.7,!=1.82.8"}


def test_unexpressible_range_already_excluded_is_not_reported() -> None:
    compiled = compile_exclusions(
        [
            record("DG-1", entry("pkg", None, [{"introduced": "1.0"}, {"fixed": "2.0"}])),
            record("DG-2", entry("pkg", None, [ZERO, {"fixed": "2.0"}])),
            record("DG-3", entry("blocked", None, [{"introduced": "1.0"}], [ZERO])),
        ]
    )
    assert compiled.unexpressible == ()
    assert requirements(compiled) == {"pkg": "pkg>=2.0", "blocked": "blocked<0"}


@pytest.mark.parametrize("kind", ["GIT", "SEMVER"])
def test_opaque_range_types_need_versions_and_an_end(kind: str) -> None:
    closed = [{"introduced": "a" * 40}, {"fixed": "b" * 40}]
    covered = compile_exclusions([record("DG-1", entry("pkg", ["1.0"], closed, kind=kind))])
    assert covered.unexpressible == () and requirements(covered) == {"pkg": "pkg!=1.0"}
    for versions, events in (([], closed), (["1.0"], closed[:1])):
        compiled = compile_exclusions([record("DG-1", entry("pkg", versions, events, kind=kind))])
        assert len(compiled.unexpressible) == 1


@pytest.mark.parametrize("bad", ["1.0; rm -rf /", '1.0"]', "1.0\n", "===1.0", "", "1.0+local", " 1.0", "1.0 || 2.0", "1.0,<0"])
def test_invalid_versions_are_rejected_alone(bad: str) -> None:
    compiled = compile_exclusions([record("DG-1", entry("pkg", ["2.0", bad]))])
    assert requirements(compiled) == {"pkg": "pkg!=2.0"}
    assert [(r.advisory, r.package) for r in compiled.rejected] == [("DG-1", "pkg")]
    assert repr(bad) in compiled.rejected[0].reason


def test_invalid_range_bound_is_rejected_and_range_reported() -> None:
    compiled = compile_exclusions([record("DG-1", entry("pkg", ["0.5"], [ZERO, {"fixed": "2.0; rm"}]))])
    assert requirements(compiled) == {"pkg": "pkg!=0.5"}
    assert len(compiled.rejected) == 1 and len(compiled.unexpressible) == 1


@pytest.mark.parametrize("name", ["bad name", "pkg;rm", "pkg[extra]", "-pkg", "", "pkg\n", "pkg@http://x"])
def test_invalid_package_name_rejects_the_entry(name: str) -> None:
    compiled = compile_exclusions([record("DG-1", entry(name, ["1.0"]), entry("good", ["1.0"]))])
    assert requirements(compiled) == {"good": "good!=1.0"}
    assert [r.advisory for r in compiled.rejected] == ["DG-1"]
    shown = compiled.rejected[0].package  # the refused name, JSON-escaped unless plain
    assert shown.isprintable() and (json.loads(shown) if shown.startswith('"') else shown) == name


@pytest.mark.parametrize("rid", ["DG-1\n# x", "DG-1\n", "DG 1", "DG-1;x", "DG-1\x1b[2J"])
def test_unsafe_advisory_id_rejects_its_entries(rid: str) -> None:
    compiled = compile_exclusions([record(rid, entry("pkg", ["1.0"]))])
    assert compiled.exclusions == () and len(compiled.rejected) == 1
    assert all(text.isprintable() for text in (compiled.rejected[0].advisory, compiled.rejected[0].reason))


def test_reports_escape_feed_text() -> None:
    compiled = compile_exclusions([record("DG-1", entry("pkg", ["1.0\x1b[2J"], [{"introduced": "1\n"}], kind="GIT\x07"))])
    texts = [t for u in compiled.unexpressible for t in (u.range_text, u.reason)]
    texts += [r.reason for r in compiled.rejected]
    assert texts and all(t.isprintable() for t in texts)


@pytest.mark.parametrize(
    ("spelling", "normal"), [("1.0-1", "1.0.post1"), ("V1.0", "1.0"), ("v2.0.0", "2.0.0"), ("1.0RC1", "1.0rc1"), ("1.0_dev2", "1.0.dev2")]
)
def test_odd_spellings_are_normalized(spelling: str, normal: str) -> None:
    compiled = compile_exclusions([record("DG-1", entry("pkg", [spelling]))])
    assert requirements(compiled) == {"pkg": f"pkg!={normal}"}


@pytest.mark.parametrize(
    ("events", "inside", "outside"),
    [
        ([ZERO, {"last_affected": "1.0"}, {"limit": "1.0"}], ["0.9"], ["1.0", "1.0+x"]),  # limit is strict
        ([{"introduced": "1.0"}, {"fixed": "2.0"}, {"introduced": "2.0"}, {"fixed": "3.0"}], ["2.0", "2.5"], ["3.0"]),
        ([{"introduced": "1.0"}, {"last_affected": "1.0"}], ["1.0", "1.0+x"], ["1.0.post1", "1.1"]),
        ([{"introduced": "1.0"}, {"fixed": "1.0"}], [], ["1.0"]),
        ([ZERO, {"last_affected": "1.0"}, {"fixed": "1.0"}], ["0.9"], ["1.0"]),  # fixed fires at 1.0
        ([{"fixed": "2.0"}, {"introduced": "1.0"}], ["1.0", "1.9"], ["2.0"]),  # unsorted events
        ([ZERO, {"limit": "2.0"}, {"limit": "3.0"}], ["2.5"], ["3.0"]),  # below any limit
    ],
)
def test_affected_range_edge_cases(events: list[dict[str, str]], inside: list[str], outside: list[str]) -> None:
    rng = affected_range(Affected.model_validate(entry("pkg", None, events)))
    assert all(v in rng for v in inside) and not any(v in rng for v in outside)


def test_affected_range_follows_osv() -> None:
    aff = Affected.model_validate(entry("pkg", ["0.5"], [{"introduced": "1.0"}, {"fixed": "2.0"}, {"introduced": "3.0"}]))
    rng = affected_range(aff)
    assert [v in rng for v in ("0.5", "0.5+x", "0.9", "1.0", "1.9", "2.0", "2.9", "3.0", "99")] == [
        True, True, False, True, True, False, False, True, True
    ]


# --------------------------------------------------------------------------- the oracle


@functools.lru_cache(maxsize=None)
def _bound(text: str) -> Version:
    return Version(text)


@functools.lru_cache(maxsize=None)
def _public(v: Version) -> Version:
    return Version(v.public)


def _osv_range(v: Version, events: list[dict[str, str]]) -> bool:
    """OSV's IncludedInRanges for one range, verbatim, with PEP 440 ordering (stable sort)."""
    limits = [e["limit"] for e in events if "limit" in e]
    if limits and not any(lim == "*" or v < _bound(lim) for lim in limits):
        return False

    def key(event: dict[str, str]) -> tuple[Any, ...]:
        (kind, value), = event.items()
        return (0,) if kind == "introduced" and value == "0" else (1, _bound(value))

    vulnerable = False
    for event in sorted((e for e in events if "limit" not in e), key=key):
        if "introduced" in event and (event["introduced"] == "0" or v >= _bound(event["introduced"])):
            vulnerable = True
        elif "fixed" in event and v >= _bound(event["fixed"]):
            vulnerable = False
        elif "last_affected" in event and v > _bound(event["last_affected"]):
            vulnerable = False
    return vulnerable


@functools.lru_cache(maxsize=None)
def _parse(text: str) -> Version | None:
    try:
        return Version(text) if text == text.strip() else None
    except InvalidVersion:
        return None


def _osv_entry(v: Version, data: dict[str, Any], *, only_zero: bool = False) -> bool:
    listed = any(v == p for p in map(_parse, data.get("versions", [])) if p is not None)
    ranges = [r["events"] for r in data.get("ranges", []) if r["type"] == "ECOSYSTEM"]
    if only_zero:
        ranges = [ev for ev in ranges if ZERO in ev]
    return listed or any(_osv_range(v, ev) for ev in ranges)


def affected(v: Version, data: dict[str, Any], *, only_zero: bool = False) -> bool:
    """OSV semantics, where a local build of an affected public version is affected too."""
    return _osv_entry(v, data, only_zero=only_zero) or _osv_entry(_public(v), data, only_zero=only_zero)


def _next_final(v: Version) -> Version:
    """The first final release at or after ``v``, computed from the PEP 440 fields."""
    text = f"{v.epoch}!" + ".".join(map(str, v.release))
    if v.pre is None and v.dev is not None and v.post is not None:
        text += f".post{v.post}"
    return Version(text)


def over_excluded(v: Version, data: dict[str, Any]) -> bool:
    """The documented, PEP 440-forced over-exclusions of a ``[0, F)`` / ``[0, L]`` range."""
    p = _public(v)
    for rng in data.get("ranges", []):
        events = rng["events"]
        if rng["type"] != "ECOSYSTEM" or len(events) != 2 or events[0] != ZERO:
            continue
        (kind, value), = events[1].items()
        bound = Version(value)
        if kind == "fixed" and bound.is_prerelease and bound <= p < _next_final(bound):
            return True
        if kind == "last_affected":
            if bound.is_prerelease and bound < p < _next_final(bound):
                return True
            if not bound.is_prerelease and not bound.is_postrelease and p > bound and p.is_postrelease:
                if Version(p.base_version) == Version(bound.base_version):
                    return True
    return False


# --------------------------------------------------------------------------- strategies

RELEASES = ["0", "0.9", "1.0", "1.0.1", "1.1", "2.0", "1!0.5"]
BOUND_SUFFIXES = ["", "", "", "rc1", "a1", ".dev0", ".post1", ".post1.dev2", "rc1.post1"]
CANDIDATE_SUFFIXES = ["", ".0", "rc1", "rc2", "a1", ".dev0", ".dev3", ".post1", ".post2", ".post0.dev0", ".post1.dev2", ".post1.dev3", "rc1.post1"]
LOCALS = ["", "+x", "+cu121.1"]
NAMES = ["litellm", "LiteLLM", "lite_llm", "ultralytics", "Ultra.Lytics"]
CANDIDATES = sorted(
    {Version(r + s + loc) for r in RELEASES + ["1.0.0", "0.0"] for s in CANDIDATE_SUFFIXES for loc in LOCALS}
)

bound_versions = st.builds(lambda r, s: r + s, st.sampled_from(RELEASES), st.sampled_from(BOUND_SUFFIXES))
listed_versions = st.one_of(
    bound_versions,
    st.builds(lambda r: "V" + r, st.sampled_from(["1.0", "2.0"])),
    st.sampled_from(["1.0-1", "1.0.0", "1.0; rm -rf /", "2.0\n"]),
)


@st.composite
def entries(draw: st.DrawFn, *, arbitrary_events: bool = False) -> dict[str, Any]:
    name = draw(st.sampled_from(NAMES))
    ecosystem = draw(st.sampled_from(["PyPI"] * 6 + ["npm"]))
    versions = draw(st.lists(listed_versions, max_size=3))
    if arbitrary_events:
        # few values, some equal in PEP 440 (1.0 / 1.0.0), so events often tie
        tight = st.sampled_from(["0.9", "1.0", "1.0.0", "1.0rc1", "1.0.post1", "1.0.post1.dev2", "2.0", "2.0.dev0", "1!0.5"])
        event = st.one_of(
            st.builds(lambda v: {"introduced": v}, st.one_of(st.just("0"), tight)),
            st.builds(lambda v: {"fixed": v}, tight),
            st.builds(lambda v: {"last_affected": v}, tight),
            st.builds(lambda v: {"limit": v}, st.one_of(st.just("*"), tight)),
        )
        ranges = draw(st.lists(st.lists(event, min_size=1, max_size=5), max_size=2))
    else:
        shape = st.one_of(
            st.just([ZERO]),
            st.builds(lambda v: [ZERO, {"fixed": v}], bound_versions),
            st.builds(lambda v: [ZERO, {"last_affected": v}], bound_versions),
            st.builds(lambda x: [{"introduced": x}], bound_versions),
            st.builds(lambda x, y, k: [{"introduced": x}, {k: y}], bound_versions, bound_versions, st.sampled_from(["fixed", "last_affected"])),
        )
        ranges = draw(st.lists(shape, max_size=2))
    return entry(name, versions, *ranges, ecosystem=ecosystem)


@st.composite
def feeds(draw: st.DrawFn, *, arbitrary_events: bool = False) -> tuple[list[dict[str, Any]], set[str]]:
    count = draw(st.integers(1, 5))
    raw = []
    for i in range(count):
        raw.append(
            {
                "id": f"DG-2026-{i:04d}",
                "modified": "2026-03-24T00:00:00Z",
                "affected": draw(st.lists(entries(arbitrary_events=arbitrary_events), min_size=1, max_size=2)),
                **({"withdrawn": "2026-03-25T00:00:00Z"} if draw(st.integers(0, 5)) == 0 else {}),
            }
        )
    ignore = set(draw(st.lists(st.sampled_from([r["id"] for r in raw]), max_size=1)))
    return raw, ignore


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _live_entries(raw: list[dict[str, Any]], ignore: set[str]) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    out: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for rec in raw:
        if "withdrawn" in rec or rec["id"] in ignore:
            continue
        for data in rec["affected"]:
            if data["package"]["ecosystem"] == "PyPI":
                out.setdefault(_normal(data["package"]["name"]), []).append((rec["id"], data))
    return out


SPEC = re.compile(r"^(<0|(!=|>=|>)[0-9]+(![0-9]+)?[0-9a-z.]*)$")


def assert_only_exclusions(compiled: Compiled) -> None:
    names = [e.name for e in compiled.exclusions]
    assert names == sorted(set(names))
    for excl in compiled.exclusions:
        for spec in excl.specifiers:
            assert SPEC.match(spec), spec
        text = excl.requirement
        assert not any(tok in text for tok in ("==", "~=", "===", "@", ";", "[", '"', "'", "+", "*")), text
        assert not re.search(r"\s", text)
        req = Requirement(text)
        assert req.name == excl.name and req.marker is None and req.url is None and not req.extras
        if len(excl.specifiers) > 1:
            keys = [Version(re.sub(r"^[!<>=]+", "", s)) for s in excl.specifiers]
            assert keys == sorted(keys)
            # minimal: one lower bound at most, no duplicate or redundant ``!=``
            bounds = [s for s in excl.specifiers if not s.startswith("!=")]
            assert len(bounds) <= 1 and "<0" not in bounds
            excluded = [k for k, s in zip(keys, excl.specifiers) if s.startswith("!=")]
            assert len(set(excluded)) == len(excluded)
            for version in excluded:
                assert not bounds or SpecifierSet(bounds[0]).contains(version, prereleases=True)
        assert req.specifier.prereleases is not True  # never opts a package into pre-releases


# --------------------------------------------------------------------------- properties


@SETTINGS
@given(feeds())
def test_compiled_requirement_admits_exactly_the_unaffected_versions(feed: tuple[list[dict[str, Any]], set[str]]) -> None:
    raw, ignore = feed
    compiled = compile_exclusions([Record.model_validate(r) for r in raw], ignore=ignore)
    assert_only_exclusions(compiled)
    live = _live_entries(raw, ignore)
    assert {e.name for e in compiled.exclusions} <= set(live)
    reported = {u.package for u in compiled.unexpressible}
    for name, items in live.items():
        excl = by_name(compiled, name)
        spec = Requirement(excl.requirement).specifier if excl is not None else None
        if excl is not None:
            assert set(excl.advisories) <= {rid for rid, _ in items}
        for v in CANDIDATES:
            ok = spec is None or spec.contains(v, prereleases=True)
            strict = any(affected(v, data, only_zero=True) for _, data in items)
            assert not (ok and strict), (name, str(v), excl)
            over = any(over_excluded(v, data) for _, data in items)
            if over:
                assert v.is_prerelease or v.is_postrelease, (name, str(v))
            if name not in reported:
                assert ok == (not strict and not over), (name, str(v), excl)
            if ok and any(affected(v, data) for _, data in items):
                # inside a range above 0: allowed only when reported, or when the entry
                # enumerates that range (the documented trust in ``versions``)
                assert name in reported or any(affected(v, data) and data.get("versions") for _, data in items), (
                    name,
                    str(v),
                )


@SETTINGS
@given(feeds(arbitrary_events=True))
def test_nothing_affected_is_allowed_silently(feed: tuple[list[dict[str, Any]], set[str]]) -> None:
    """With arbitrary event lists: an affected version is admitted only with a report or an enumeration."""
    raw, ignore = feed
    compiled = compile_exclusions([Record.model_validate(r) for r in raw], ignore=ignore)
    assert_only_exclusions(compiled)
    reported = {u.package for u in compiled.unexpressible}
    for name, items in _live_entries(raw, ignore).items():
        excl = by_name(compiled, name)
        spec = Requirement(excl.requirement).specifier if excl is not None else None
        for v in CANDIDATES:
            if spec is not None and not spec.contains(v, prereleases=True):
                continue
            hits = [data for _, data in items if affected(v, data)]
            assert not hits or name in reported or any(data.get("versions") for data in hits), (name, str(v), excl)


@SETTINGS
@given(entries(arbitrary_events=True))
def test_affected_range_matches_osv_pseudocode(data: dict[str, Any]) -> None:
    rng = affected_range(Affected.model_validate(data))
    for v in CANDIDATES:
        assert (v in rng) == affected(v, data), (str(v), data)


@settings(max_examples=100, deadline=None)
@given(feeds(arbitrary_events=True), st.randoms(use_true_random=False))
def test_output_is_deterministic(feed: tuple[list[dict[str, Any]], set[str]], rnd: Any) -> None:
    raw, ignore = feed
    records = [Record.model_validate(r) for r in raw]
    first = compile_exclusions(records, ignore=ignore)
    shuffled = list(records)
    rnd.shuffle(shuffled)
    assert compile_exclusions(shuffled, ignore=ignore) == first
    assert compile_exclusions(iter(shuffled), ignore=tuple(ignore)) == first


def test_report_types_are_frozen() -> None:
    for obj in (Unexpressible("a", "b", "c", "d"), Rejected("a", "b", "c")):
        with pytest.raises(AttributeError):
            obj.advisory = "x"  # type: ignore[misc]


def test_trailing_newline_never_passes_the_exclusion_gate() -> None:
    """``$`` matches before a final newline in Python regexes; the gate must use fullmatch."""
    from depguard.errors import UnsafeValueError
    from depguard.exclusions import make_exclusion

    for name, advisory in (("pkg\n", "DG-1"), ("pkg", "DG-1\n")):
        with pytest.raises(UnsafeValueError):
            make_exclusion(name, ["!=1.0"], [advisory])


def test_safe_version_remembers_answers_not_refusals() -> None:
    from depguard.errors import UnsafeValueError
    from depguard.exclusions import safe_version

    assert safe_version("v1.0-1") == safe_version("v1.0-1") == "1.0.post1"
    for bad in ("1.0+local", " 1.0", "not a version", "", ["1.0"], None):
        for _ in range(2):  # a refusal is not remembered as an answer
            with pytest.raises(UnsafeValueError):
                safe_version(bad)  # type: ignore[arg-type]
