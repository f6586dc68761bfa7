"""The feed holds to its sources: no upstream record of an incident lists a version the feed lacks.

A feed record names its upstream records in ``aliases``. Where the compatibility corpus
(``$DEPGUARD_UPSTREAM_CORPUS/incidents``) holds such a record (found by file name:
``MAL-*.json``, ``GHSA-*.json``, ``PYSEC-*.yaml``), every version it lists explicitly in
``affected[].versions`` for a package of the feed record must be among the feed's versions of
that package (PyPI versions compared in normal form). Upstream ranges are not compared: the
feed lists exact versions only, and turning a range into versions takes the registry.

A mismatch is a missing exclusion, unless the upstream record is wrong: such records are in
:data:`EXCEPTIONS`, each with the reason, so a reviewer can check the judgement.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from depguard import ecosystems

REPO_FEED = Path(__file__).resolve().parents[1] / "feed"

#: (upstream id, a fragment of its path under incidents/ or "" for every copy) -> why the feed
#: rightly leaves out versions that upstream record lists.
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("PYSEC-2026-206", ""): (
        "spells out its range (every guardrails-ai release up to 0.10.1, 104 versions) as its versions list, while "
        "its own details name 0.10.1 as the one malicious upload and call 0.10.0 and 0.10.2 unaffected"
    ),
}


def _corpus() -> Path | None:
    value = os.environ.get("DEPGUARD_UPSTREAM_CORPUS")
    if not value:
        return None
    return Path(value).resolve() / "incidents"


def _upstream_files(incidents: Path) -> dict[str, list[Path]]:
    """Upstream record files by id (a record can have several copies, e.g. live and withdrawn)."""
    found: dict[str, list[Path]] = {}
    for pattern in ("MAL-*.json", "GHSA-*.json", "PYSEC-*.yaml"):
        for path in incidents.rglob(pattern):
            found.setdefault(path.name.rsplit(".", 1)[0], []).append(path)
    return {key: sorted(paths) for key, paths in found.items()}


def _read(path: Path) -> dict[str, Any]:
    if path.suffix == ".json":
        return json.loads(path.read_text(encoding="utf-8"))
    # Versions must stay text (1.10 is not 1.1): load every scalar as a string.
    from depguard.importer import parse_upstream

    return parse_upstream(path.read_bytes(), str(path), yaml=True).data


def _listed(data: dict[str, Any], eco: ecosystems.Ecosystem, name: str) -> list[str]:
    """Versions the upstream record lists explicitly for ``name`` (normal form)."""
    versions = []
    for affected in data.get("affected") or ():
        package = affected.get("package") or {}
        if package.get("ecosystem") != eco.name or eco.normalize_name(str(package.get("name"))) != name:
            continue
        for version in affected.get("versions") or ():
            version = str(version)
            versions.append(eco.normalize_version(version) if eco.version_is_valid(version) else version)
    return versions


def _cases() -> list[Any]:
    incidents = _corpus()
    if incidents is None:
        return [
            pytest.param(
                None,
                None,
                None,
                marks=pytest.mark.skip(
                    reason="DEPGUARD_UPSTREAM_CORPUS is not set; the upstream corpus is not available"
                ),
                id="no-corpus",
            )
        ]
    if not incidents.is_dir():
        return [pytest.param(None, None, None, id="corpus-missing")]
    files = _upstream_files(incidents)
    cases = []
    # Read the files directly: collection runs before the fixtures that isolate depguard's cache.
    for record_file in sorted(REPO_FEED.rglob("x_DEPGUARD-*.json")):
        data = json.loads(record_file.read_text(encoding="utf-8"))
        for alias in data.get("aliases") or ():
            for path in files.get(alias, ()):
                rel = path.relative_to(incidents).as_posix()
                cases.append(
                    pytest.param(record_file.relative_to(REPO_FEED).as_posix(), alias, path, id=f"{data['id']}-{rel}")
                )
    return cases


def _exception(alias: str, path: Path) -> str | None:
    for (upstream_id, fragment), reason in EXCEPTIONS.items():
        if upstream_id == alias and fragment in "/" + path.as_posix():
            return reason
    return None


@pytest.mark.parametrize(("record_path", "alias", "upstream_path"), _cases())
def test_feed_versions_include_every_version_upstream_lists(
    record_path: str | None, alias: str | None, upstream_path: Path | None
) -> None:
    if record_path is None:
        pytest.fail(f"DEPGUARD_UPSTREAM_CORPUS={os.environ.get('DEPGUARD_UPSTREAM_CORPUS')!r} has no incidents/ folder")
    assert alias is not None and upstream_path is not None
    reason = _exception(alias, upstream_path)
    if reason is not None:
        pytest.skip(f"documented exception {alias}: {reason}")
    data = json.loads((REPO_FEED / record_path).read_text(encoding="utf-8"))
    upstream = _read(upstream_path)
    missing = {}
    for affected in data["affected"]:
        eco = ecosystems.get(affected["package"]["ecosystem"])
        assert eco is not None
        name = eco.normalize_name(affected["package"]["name"])
        have = {eco.version_key(v) for v in affected.get("versions", ())}
        lacking = [
            v for v in _listed(upstream, eco, name) if not eco.version_is_valid(v) or eco.version_key(v) not in have
        ]
        if lacking:
            missing[f"{eco.name} {name}"] = sorted(set(lacking))
    assert not missing, (
        f"{record_path} ({data['id']}) lacks versions that {alias} lists ({upstream_path}): {missing}; "
        f"add them to the record, or add {alias} to EXCEPTIONS in this module with the reason"
    )


def test_exceptions_name_records_the_corpus_still_has() -> None:
    """An exception whose upstream record left the corpus is stale: remove it."""
    incidents = _corpus()
    if incidents is None:
        pytest.skip("DEPGUARD_UPSTREAM_CORPUS is not set; the upstream corpus is not available")
    files = _upstream_files(incidents)
    stale = [key for key in EXCEPTIONS if not any(key[1] in "/" + p.as_posix() for p in files.get(key[0], ()))]
    assert not stale, f"exceptions without an upstream record in the corpus: {stale}"
