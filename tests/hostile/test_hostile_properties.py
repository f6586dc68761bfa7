"""Properties over generated inputs (hypothesis), one level above the existing ones.

* "Emitted constraints only remove versions" is proved for the compiler in
  ``tests/test_affected.py`` (exclusions and matching held to each other). Here the same
  gate is checked end to end on *hostile* feed values: whatever a record says, either the
  consumer gate refuses the record or every line sync writes is an exclusion.
* Sync over real files (``sync.plan`` + ``sync.apply``, not just the writers as in
  ``tests/test_writers_pyproject.py``): no byte outside the managed region changes,
  sync∘sync = sync, and the result does not depend on earlier feeds.
* ``depguard check`` never reports a version that no live advisory names: findings from
  ``check.match`` over ``advisoryindex.AdvisoryIndex`` are checked against what each listed
  version's ``!=`` excludes (PyPI) or SemVer precedence (npm).
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
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version
from test_writers_constraints import CONSTRAINT_LINES, line_files
from test_writers_pyproject import pyprojects

from depguard import check, ecosystems, sync
from depguard.advisoryindex import AdvisoryIndex
from depguard.config import Config
from depguard.lockfiles import Location, Package
from depguard.projects import discover
from depguard.protected import is_protected
from depguard.records import Record
from depguard.sources.interface import FeedSnapshot
from depguard.validation.safety import record_issues
from depguard.writers import constraints as constraints_writer
from depguard.writers import pyproject as pyproject_writer

from feedkit import record

PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)

# --------------------------------------------------------------------------- hostile values never become syntax

HOSTILE_TEXT = st.text(
    alphabet=st.sampled_from(
        list("0123456789.abcrpostdev!+-_=~<>;@[]\"'#,\\ \n\t*/:") + ["\x1b", "\u202e", "\u0456", "\x00"]
    ),
    min_size=1,
    max_size=16,
)
SPEC = re.compile(r"^(<0|(!=|>=|>)[0-9]+(![0-9]+)?[0-9a-z.]*)$")


@PROPERTY
@given(
    name=st.one_of(st.sampled_from(["litellm", "lite-llm", "x"]), HOSTILE_TEXT),
    versions=st.lists(
        st.one_of(st.sampled_from(["1.0", "2.0rc1", "1!3"]), HOSTILE_TEXT), min_size=1, max_size=3, unique=True
    ),
)
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
                assert (
                    all(SPEC.match(str(spec)) for spec in requirement.specifier) or str(requirement.specifier) == "<0"
                )
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
        whole = draw(st.integers(0, 4)) == 0 and not is_protected("PyPI", name)  # a protected block needs an override
        versions = draw(
            st.lists(
                st.sampled_from(["0.1", "1.0", "1.0.post1", "2.0", "2.0rc1", "3.1.4"]),
                min_size=1,
                max_size=3,
                unique=True,
            )
        )
        withdrawn = "2026-04-01T00:00:00Z" if draw(st.integers(0, 5)) == 0 else None
        data = record(
            f"x_DEPGUARD-2026-{number:04d}",
            name=name,
            versions=tuple(sorted(versions, key=Version)),
            whole_package=whole,
            withdrawn=withdrawn,
            modified=withdrawn or "2026-03-25T12:00:00Z",
        )
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
def test_sync_changes_only_the_managed_region_and_is_idempotent(
    text: str, lines: str, first: FeedSnapshot, second: FeedSnapshot
) -> None:
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
    """Records of the two shapes depguard's profile admits: listed versions, or the whole package."""
    raw = []
    for number in range(draw(st.integers(1, 4))):
        ecosystem = draw(st.sampled_from(["PyPI", "PyPI", "npm"]))
        pool = VERSIONS[ecosystem]
        name = draw(st.sampled_from(SPELLINGS[ecosystem]))
        affected: dict[str, Any] = {
            "package": {"ecosystem": ecosystem, "name": name},
            "versions": draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=True)),
        }
        if draw(st.integers(0, 3)) == 0:
            affected["ranges"] = [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]
        data = {"id": f"X-{number}", "modified": "2026-03-24T00:00:00Z", "affected": [affected]}
        if draw(st.integers(0, 4)) == 0:
            data["withdrawn"] = "2026-03-25T00:00:00Z"
        raw.append(data)
    return [Record.model_validate(copy.deepcopy(d)) for d in raw], raw


def _excluded_by(listed: str, version: str) -> bool:
    """Whether ``!=listed`` removes ``version``, as a resolver reads it."""
    try:
        return not SpecifierSet(f"!={listed}").contains(version, prereleases=True)
    except InvalidSpecifier:
        return False


def _named(ecosystem: str, version: str | None, data: dict[str, Any]) -> bool:
    """Whether an advisory's affected entry names ``version`` (None: only a whole-package block)."""
    if data.get("ranges"):
        return True
    if version is None:
        return False
    if ecosystem == "PyPI":
        return any(_excluded_by(v, version) for v in data["versions"])
    return any(v.partition("+")[0] == version.partition("+")[0] for v in data["versions"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    feed=advisories(),
    locked=st.lists(
        st.one_of(
            st.tuples(
                st.just("PyPI"),
                st.sampled_from(SPELLINGS["PyPI"]),
                st.one_of(st.none(), st.sampled_from(VERSIONS["PyPI"])),
            ),
            st.tuples(
                st.just("npm"),
                st.sampled_from(SPELLINGS["npm"]),
                st.one_of(st.none(), st.sampled_from(VERSIONS["npm"])),
            ),
        ),
        min_size=1,
        max_size=6,
    ),
)
def test_check_never_reports_a_version_no_live_advisory_names(
    feed: tuple[list[Record], list[dict[str, Any]]], locked: list[tuple[str, str, str | None]]
) -> None:
    records, raw = feed
    packages = [
        Package(eco, name, version, (), Location(Path("uv.lock"), line))
        for line, (eco, name, version) in enumerate(locked, 1)
    ]
    findings, ignored = check.match(packages, AdvisoryIndex.from_records(records))
    assert ignored == []
    by_id = {data["id"]: data for data in raw}
    for finding in findings:
        data = by_id[finding.advisory.id]
        assert "withdrawn" not in data, "a withdrawn advisory matched"
        package = finding.package
        eco = ecosystems.get(package.ecosystem)
        entries = [
            a
            for a in data["affected"]
            if a["package"]["ecosystem"] == package.ecosystem
            and eco.normalize_name(a["package"]["name"]) == eco.normalize_name(package.name)
        ]
        assert entries, f"{finding.advisory.id} does not name {package.name}"
        assert any(_named(package.ecosystem, package.version, a) for a in entries), (
            f"{package.ecosystem} {package.name} {package.version} reported for {finding.advisory.id} ({finding.how}): {entries}"
        )
