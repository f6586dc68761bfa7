"""GitHub Actions: the ``uses:`` references of workflows and of action metadata files.

A workflow (``.github/workflows/*.yml``) or an action's ``action.yml`` does not lock anything,
but every ``uses: owner/repo@ref`` in it names code GitHub downloads and runs with the job's
secrets, at whatever commit ``ref`` points to when the job starts. That is what a hijacked tag
(tj-actions/changed-files, March 2025) turns into an attack, so ``check`` reads these files
like lockfiles: each reference becomes a :class:`~depguard.lockfiles.Package` of ecosystem
``GitHub Actions``, named ``owner/repo`` or ``owner/repo/path`` and versioned by the ref as
written (a tag, a branch or a full commit id). Whether that ref is affected is
:mod:`depguard.affected`'s answer.

Read, with the line of each ``uses:`` key:

* ``jobs.<id>.steps[*].uses`` (actions a job runs);
* ``jobs.<id>.uses`` (a reusable workflow, ``owner/repo/.github/workflows/x.yml@ref``);
* ``runs.steps[*].uses`` (the steps of a composite action).

Local references (``./path``) are files of this repository and ``docker://`` references are
images, not actions fetched by ref: both are left out. The YAML loader is the bounded,
line-keeping one the pnpm and yarn readers use (no aliases, every scalar a string, so
``on:`` stays the key ``"on"``).
"""

from __future__ import annotations

from pathlib import Path

from depguard.errors import LockfileError
from depguard.lockfiles import Location, Package
from depguard.lockfiles._jslock import YMap, load_yaml, read_bounded

__all__ = ["ECOSYSTEM", "parse", "split_uses"]

ECOSYSTEM = "GitHub Actions"


def parse(path: Path, root: Path) -> list[Package]:
    """Every remote ``uses:`` reference in the workflow or action file ``path`` (``root`` unused)."""
    documents = [doc for doc in load_yaml(path, read_bounded(path)) if doc is not None and doc != ""]
    found: list[Package] = []
    for doc in documents:
        if not isinstance(doc, YMap):
            raise LockfileError(f"{path}:1: not a GitHub Actions file: the document is not a mapping")
        found += _jobs(path, doc)
        found += _composite(path, doc)
    return found


def _jobs(path: Path, doc: YMap) -> list[Package]:
    jobs = doc.get("jobs")
    if jobs is None or jobs == "":
        return []
    if not isinstance(jobs, YMap):
        raise LockfileError(f"{path}:{doc.lines['jobs']}: jobs must be a mapping of job ids to jobs")
    found: list[Package] = []
    for job_id, job in jobs.items():
        if not isinstance(job, YMap):
            raise LockfileError(f"{path}:{jobs.lines[job_id]}: job {job_id!r} must be a mapping")
        found += _reference(path, job)
        found += _steps(path, job)
    return found


def _composite(path: Path, doc: YMap) -> list[Package]:
    runs = doc.get("runs")
    if not isinstance(runs, YMap):
        return []  # a JavaScript or Docker action runs no steps of its own
    return _steps(path, runs)


def _steps(path: Path, owner: YMap) -> list[Package]:
    steps = owner.get("steps")
    if steps is None or steps == "":
        return []
    if not isinstance(steps, list):
        raise LockfileError(f"{path}:{owner.lines['steps']}: steps must be a list")
    found: list[Package] = []
    for step in steps:
        if not isinstance(step, YMap):
            raise LockfileError(f"{path}:{owner.lines['steps']}: every step must be a mapping")
        found += _reference(path, step)
    return found


def _reference(path: Path, node: YMap) -> list[Package]:
    """The package a ``uses:`` key of ``node`` names, if it names a remote action or workflow."""
    if "uses" not in node:
        return []
    line = node.lines["uses"]
    value = node["uses"]
    if not isinstance(value, str):
        raise LockfileError(f"{path}:{line}: uses must be a string like owner/repo@ref")
    split = split_uses(value)
    if split is None:
        return []
    name, ref = split
    return [Package(ECOSYSTEM, name, ref, (), Location(path, line))]


def split_uses(value: str) -> tuple[str, str | None] | None:
    """``"owner/repo/path@ref"`` -> ``("owner/repo/path", "ref")``; None for a local
    (``./x``) or ``docker://`` reference. A reference without ``@`` keeps a None ref: it
    can still match an advisory that blocks every version."""
    text = value.strip()
    if not text or text.startswith((".", "/", "docker://")):
        return None
    name, at, ref = text.rpartition("@")
    if not at:
        return text, None
    return name, ref or None
