"""Properties over generated inputs (hypothesis), one level above the existing ones.

* "Emitted constraints only remove versions" is proved for the compiler in
  ``tests/test_ranges.py`` (``assert_only_exclusions`` and the oracle there). Here the same
  gate is checked end to end on *hostile* feed values: whatever a record says, either the
  consumer gate refuses the record or every line sync writes is an exclusion.
* Sync over real files (``sync.plan`` + ``sync.apply``, not just the writers as in
  ``tests/test_writers_pyproject.py``): no byte outside the managed region changes,
  sync∘sync = sync, and the result does not depend on earlier feeds.
* ``depguard check`` never reports a version that no live advisory names: findings from
  ``check.match`` over ``matching.AdvisoryIndex`` are checked against OSV's own semantics
  (the oracle in ``tests/test_ranges.py``).
"""

from __future__ import annotations

import copy
import re
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement
from packaging.version import InvalidVersion, Version

from depguard import check, ecosystems, sync
from depguard.config import Config
from depguard.lockfiles import Location, Package
from depguard.matching import AdvisoryIndex
from depguard.projects import discover
from depguard.records import Record
from depguard.sources.interface import FeedSnapshot
from depguard.validation.safety import record_issues
from depguard.writers import constraints as constraints_writer
from depguard.writers import pyproject as pyproject_writer
from feedkit import record
from test_ranges import affected as osv_affected
from test_writers_constraints import CONSTRAINT_LINES, line_files
from test_writers_pyproject import pyprojects

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# --------------------------------------------------------------------------- hostile values never become syntax

HOSTILE_TEXT = st.text(
    alphabet=st.sampled_from(list("0123456789.abcrpostdev!+-_=~<>;@[]\"'#,\\ \n\t*/:") + ["\x1b", "\u202e", "\u0456", "\x00"]),
    min_size=1,
    max_size=16,
)
SPEC = re.compile(r"^(<0|(!=|>=|>)[0-9]+(![0-9]+)?[0-9a-z.]*)$")


@PROPERTY
@given(name=st.one_of(st.sampled_from(["litellm", "lite-llm", "x"]), HOSTILE_TEXT), versions=st.lists(st.one_of(st.sampled_from(["1.0", "2.0rc1", "1!3"]), HOSTILE_TEXT), min_size=1, max_size=3, unique=True))
def test_a_record_either_is_refused_or_compiles_to_exclusions_only(name: str, versions: list[str]) -> None:
    data = record(name=name, versions=tuple(versions))
    data["affected"][0]["package"]["purl"] = f"pkg:pypi/{name}"
    if record_issues(data):
        return  # refused whole by every consumer (directory, built tree, download, cache)
    snapshot = FeedSnapshot((Record.model_validate(data),), "generated", "directory")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n')
        (root / "constraints.txt").write_text("")
        result = sync.plan(root, discover(root), snapshot, Config(targets=("uv", "pip")))
        assert not result.refusals, result.refusals
        for change in result.stale:
            text = change.after.decode("utf-8")
            block = (pyproject_writer if change.target == "uv" else constraints_writer).read_block(text)
            for line in block or ():
                requirement = Requirement(line)
                assert requirement.marker is None and requirement.url is None and not requirement.extras
                assert all(SPEC.match(str(spec)) for spec in requirement.specifier) or str(requirement.specifier) == "<0"
            for value in versions + [name]:
                if not re.fullmatch(r"[A-Za-z0-9.!+_-]+", value):
                    assert value not in text, value


# --------------------------------------------------------------------------- sync over real files

PACKAGES = ["litellm", "ultralytics", "numpy", "req-a"]


@st.composite
def snapshots(draw: st.DrawFn) -> FeedSnapshot:
    names = draw(st.lists(st.sampled_from(PACKAGES), unique=True, max_size=3))
    records = []
    for number, name in enumerate(names, start=1):
        whole = draw(st.integers(0, 4)) == 0
        versions = draw(st.lists(st.sampled_from(["0.1", "1.0", "1.0.post1", "2.0", "2.0rc1", "3.1.4"]), min_size=1, max_size=3, unique=True))
        withdrawn = "2026-04-01T00:00:00Z" if draw(st.integers(0, 5)) == 0 else None
        data = record(f"x_DEPGUARD-2026-{number:04d}", name=name, versions=tuple(sorted(versions, key=Version)), whole_package=whole, withdrawn=withdrawn, modified=withdrawn or "2026-03-25T12:00:00Z")
        assert record_issues(data) == [], record_issues(data)
        records.append(Record.model_validate(data))
    return FeedSnapshot(tuple(records), "generated", "directory")


def _run(root: Path, snapshot: FeedSnapshot) -> sync.SyncPlan:
    config = Config(targets=("uv", "pip"))
    result = sync.plan(root, discover(root), snapshot, config)
    sync.apply(result)
    return result


@PROPERTY
@given(text=pyprojects(), lines=line_files(CONSTRAINT_LINES), first=snapshots(), second=snapshots())
def test_sync_changes_only_the_managed_region_and_is_idempotent(text: str, lines: str, first: FeedSnapshot, second: FeedSnapshot) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files = {root / "pyproject.toml": text.encode("utf-8"), root / "constraints.txt": lines.encode("utf-8")}
        for path, data in files.items():
            path.write_bytes(data)
        result = _run(root, second)
        refused = {r.path for r in result.refusals}
        assert root / "constraints.txt" not in refused
        for path, original in files.items():
            now = path.read_bytes()
            if path in refused:
                assert now == original  # a refused file is untouched
                continue
            writer = pyproject_writer if path.name == "pyproject.toml" else constraints_writer
            assert writer.remove(now.decode("utf-8")).encode("utf-8") == original, "a byte outside the region changed"
        # history independence: second then first == first alone; then sync∘sync = sync
        _run(root, first)
        after_both = {path: path.read_bytes() for path in files}
        for path, data in files.items():
            path.write_bytes(data)
        _run(root, first)
        assert {path: path.read_bytes() for path in files} == after_both
        again = sync.plan(root, discover(root), first, Config(targets=("uv", "pip")))
        assert again.stale == [] and {r.path for r in again.refusals} == refused


# --------------------------------------------------------------------------- check never over-reports

VERSIONS = {
    "PyPI": ["0.1", "1.0", "1.0.0", "1.0.post1", "1.0+local", "1.0rc1", "1.1", "2.0", "2.0.dev0", "1!0.5", "3.0"],
    "npm": ["0.1.0", "1.0.0", "1.0.0-rc.1", "1.0.0+build", "1.1.0", "2.0.0", "3.0.0"],
}
SPELLINGS = {"PyPI": ["litellm", "LiteLLM", "lite_llm", "lite.llm", "numpy"], "npm": ["is", "@scope/is", "left-pad"]}


@st.composite
def advisories(draw: st.DrawFn) -> tuple[list[Record], list[dict[str, Any]]]:
    raw = []
    for number in range(draw(st.integers(1, 4))):
        ecosystem = draw(st.sampled_from(["PyPI", "PyPI", "npm"]))
        pool = VERSIONS[ecosystem]
        name = draw(st.sampled_from(SPELLINGS[ecosystem]))
        # OSV: a range closes with either `fixed` or `last_affected` events, not both
        # (mixing them at one version is ambiguous; matching then errs towards reporting)
        def events(closing: str) -> st.SearchStrategy[list[dict[str, str]]]:
            event = st.one_of(
                st.builds(lambda v: {"introduced": v}, st.one_of(st.just("0"), st.sampled_from(pool))),
                st.builds(lambda v: {closing: v}, st.sampled_from(pool)),
            )
            return st.lists(event, min_size=1, max_size=4)

        affected: dict[str, Any] = {"package": {"ecosystem": ecosystem, "name": name}, "versions": draw(st.lists(st.sampled_from(pool), max_size=3, unique=True))}
        ranges = draw(st.lists(st.sampled_from(["fixed", "last_affected"]).flatmap(events), max_size=2))
        if ranges:
            affected["ranges"] = [{"type": "ECOSYSTEM" if ecosystem == "PyPI" else "SEMVER", "events": events} for events in ranges]
        data = {"id": f"X-{number}", "modified": "2026-03-24T00:00:00Z", "affected": [affected]}
        if draw(st.integers(0, 4)) == 0:
            data["withdrawn"] = "2026-03-25T00:00:00Z"
        raw.append(data)
    return [Record.model_validate(copy.deepcopy(d)) for d in raw], raw


def _key(ecosystem: str, version: str) -> Any:
    eco = ecosystems.get(ecosystem)
    return eco.version_key(version) if eco and eco.version_is_valid(version) else None


def _semver_in_range(version: str, events: list[dict[str, str]]) -> bool:
    """OSV's IncludedInRanges with SemVer precedence (events sorted, stable)."""
    def order(event: dict[str, str]) -> Any:
        (kind, value), = event.items()
        return (0,) if kind == "introduced" and value == "0" else (1, _key("npm", value))

    key, vulnerable = _key("npm", version), False
    for event in sorted(events, key=order):
        (kind, value), = event.items()
        if kind == "introduced" and (value == "0" or key >= _key("npm", value)):
            vulnerable = True
        elif kind == "fixed" and key >= _key("npm", value):
            vulnerable = False
        elif kind == "last_affected" and key > _key("npm", value):
            vulnerable = False
    return vulnerable


def _named(ecosystem: str, version: str | None, data: dict[str, Any]) -> bool:
    """Whether an advisory's affected entry names ``version`` (None: only a whole-package block)."""
    ranges = [r["events"] for r in data.get("ranges", [])]
    whole = any(ev and all("introduced" in e for e in ev) and {"introduced": "0"} in ev for ev in ranges)
    if version is None:
        return whole
    if ecosystem == "PyPI":
        try:
            return osv_affected(Version(version), data)
        except InvalidVersion:
            return whole
    listed = any(_key("npm", v) == _key("npm", version) for v in data.get("versions", []))
    return listed or any(_semver_in_range(version, ev) for ev in ranges)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    feed=advisories(),
    locked=st.lists(
        st.one_of(
            st.tuples(st.just("PyPI"), st.sampled_from(SPELLINGS["PyPI"]), st.one_of(st.none(), st.sampled_from(VERSIONS["PyPI"]))),
            st.tuples(st.just("npm"), st.sampled_from(SPELLINGS["npm"]), st.one_of(st.none(), st.sampled_from(VERSIONS["npm"]))),
        ),
        min_size=1,
        max_size=6,
    ),
)
def test_check_never_reports_a_version_no_live_advisory_names(feed: tuple[list[Record], list[dict[str, Any]]], locked: list[tuple[str, str, str | None]]) -> None:
    records, raw = feed
    packages = [Package(eco, name, version, (), Location(Path("uv.lock"), line)) for line, (eco, name, version) in enumerate(locked, 1)]
    findings, ignored = check.match(packages, AdvisoryIndex.from_records(records))
    assert ignored == []
    by_id = {data["id"]: data for data in raw}
    for finding in findings:
        data = by_id[finding.advisory.id]
        assert "withdrawn" not in data, "a withdrawn advisory matched"
        package = finding.package
        eco = ecosystems.get(package.ecosystem)
        entries = [
            a for a in data["affected"]
            if a["package"]["ecosystem"] == package.ecosystem and eco.normalize_name(a["package"]["name"]) == eco.normalize_name(package.name)
        ]
        assert entries, f"{finding.advisory.id} does not name {package.name}"
        assert any(_named(package.ecosystem, package.version, a) for a in entries), (
            f"{package.ecosystem} {package.name} {package.version} reported for {finding.advisory.id} ({finding.how}): {entries}"
        )


def test_events_out_of_order_are_read_in_osv_order() -> None:
    """Found by the property above: ``[fixed 0.1, introduced 0]`` was taken as a whole-package
    block (every version reported), and a second ``introduced`` moved an open interval's start
    (versions in between were missed)."""
    def index(*events: dict[str, str]) -> AdvisoryIndex:
        affected = {"package": {"ecosystem": "PyPI", "name": "litellm"}, "ranges": [{"type": "ECOSYSTEM", "events": list(events)}]}
        return AdvisoryIndex.from_records([Record.model_validate({"id": "X-1", "modified": "2026-03-24T00:00:00Z", "affected": [affected]})])

    reversed_range = index({"fixed": "0.1"}, {"introduced": "0"})
    assert reversed_range.lookup("PyPI", "litellm", "2.0") == []
    assert reversed_range.lookup("PyPI", "litellm", None) == []
    assert [m.how for m in reversed_range.lookup("PyPI", "litellm", "0.0.5")] == ["affected range"]
    twice = index({"introduced": "1.0"}, {"introduced": "2.0"}, {"fixed": "3.0"})
    assert [m.how for m in twice.lookup("PyPI", "litellm", "1.5")] == ["affected range"]
    assert twice.lookup("PyPI", "litellm", "3.0") == []
