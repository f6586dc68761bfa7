"""The protected list: whole-package blocks of widely used packages need a reviewed override."""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, requires
from pathlib import Path

import pytest

from depguard.feed import check_record, record_relpath
from depguard.protected import PROTECTED, is_protected

from feedkit import record


def _runtime_closure(name: str) -> set[str]:
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if current in seen:
            continue
        seen.add(current)
        try:
            requirements = requires(current) or []
        except PackageNotFoundError:
            continue
        todo += [re.match(r"[A-Za-z0-9._-]+", r)[0] for r in requirements if "extra ==" not in r]
    return seen


def test_depguards_own_runtime_dependencies_are_protected() -> None:
    """A new dependency of depguard must join the list: a feed that blocks it would break depguard itself."""
    missing = sorted(n for n in _runtime_closure("depguard") if not is_protected("PyPI", n))
    assert missing == []


def test_the_lists_are_normalized_and_cover_the_installers() -> None:
    assert all(n == re.sub(r"[-_.]+", "-", n).lower() for n in PROTECTED["PyPI"])
    assert all(n == n.lower() for n in PROTECTED["npm"])
    assert {"pip", "uv", "setuptools", "poetry", "requests", "depguard"} <= PROTECTED["PyPI"]
    assert {"npm", "yarn", "pnpm", "debug", "chalk"} <= PROTECTED["npm"]
    assert len(PROTECTED["PyPI"]) >= 100 and len(PROTECTED["npm"]) >= 100


@pytest.mark.parametrize(
    ("ecosystem", "name"), [("PyPI", "requests"), ("PyPI", "uv"), ("PyPI", "depguard"), ("npm", "debug")]
)
def test_whole_package_block_of_a_protected_package_is_refused(ecosystem: str, name: str) -> None:
    data = record(name=name, ecosystem=ecosystem, versions=("1.0.0",), whole_package=True)
    issues = check_record(record_relpath(ecosystem, name, data["id"]), data)
    assert [i.rule for i in issues] == ["protected"], issues


def test_exact_versions_of_a_protected_package_stay_allowed() -> None:
    data = record(name="requests", versions=("2.99.0",))
    assert check_record(record_relpath("PyPI", "requests", data["id"]), data) == []


def test_a_reviewed_override_admits_the_block() -> None:
    data = record(name="requests", versions=("2.99.0",), whole_package=True)
    data["database_specific"]["depguard"]["protected_override"] = {
        "reviewed_by": "a maintainer",
        "reason": "the name was taken over whole",
    }
    assert check_record(record_relpath("PyPI", "requests", data["id"]), data) == []


def test_the_repo_feed_blocks_no_protected_package_whole() -> None:
    from depguard.feed import lint, load_feed

    feed = load_feed(Path(__file__).resolve().parents[1] / "feed")
    assert [i for i in lint(feed) if i.rule == "protected"] == []
