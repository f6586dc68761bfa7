"""Deterministic benchmark data: a feed shaped like ossf/malicious-packages, lockfiles, repos.

Everything is derived from one seed, so two runs of the benchmark (on two machines, or
before and after a change) time exactly the same bytes. Generation uses only the standard
library and :func:`depguard.feed.canonical_bytes`, and writes each file once: it has to stay
cheap next to what it measures (20,000 records are written in about a second).

Shape of a record, from the real feeds: most malicious-package advisories are npm, most
block a whole package (``introduced: 0`` plus the one or two versions analysts saw), and a
minority are hijacked releases of a real project listed by exact versions. A few packages
carry several advisories with disjoint versions, as a project hijacked twice does.
"""

from __future__ import annotations

import random
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from depguard.feed import canonical_bytes, record_relpath

__all__ = ["GIT_ENV", "SyntheticRecord", "make_records", "write_feed", "write_repo", "write_uv_lock"]

#: Share of npm records (ossf/malicious-packages is mostly npm) and of whole-package blocks.
NPM_SHARE = 0.7
WHOLE_PACKAGE_SHARE = 0.75
#: Share of packages that get a second advisory for other versions (hijacked twice).
SECOND_ADVISORY_SHARE = 0.05

GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.org",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.org",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
}

_SYLLABLES = ("ba", "co", "de", "fi", "gu", "ka", "lo", "mi", "nu", "po", "ra", "si", "tu", "ve", "xo", "zy")
_WORDS = ("utils", "core", "sdk", "cli", "api", "http", "json", "auth", "crypto", "logger", "colors", "config")
_SCOPES = ("@acme", "@fastkit", "@devtools", "@cloudy", "@webpkg")


@dataclass(frozen=True)
class SyntheticRecord:
    """One generated advisory: its JSON data and the facts a lockfile generator needs."""

    data: dict[str, Any]
    ecosystem: str
    name: str
    versions: tuple[str, ...]
    whole_package: bool


def _name(rng: random.Random, index: int, ecosystem: str) -> str:
    """A unique, valid package name: syllables for realism, the index for uniqueness."""
    stem = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))
    name = f"{stem}-{rng.choice(_WORDS)}-{index}"
    if ecosystem == "npm" and rng.random() < 0.15:
        return f"{rng.choice(_SCOPES)}/{name}"
    return name


def _versions(rng: random.Random, count: int, ecosystem: str, major: int = 0) -> tuple[str, ...]:
    """``count`` distinct versions in ascending order (PEP 440 normal form is also SemVer here)."""
    base = major or rng.randint(1, 9)
    minors = sorted(rng.sample(range(0, 40), count))
    return tuple(f"{base}.{minor}.{rng.randint(0, 9)}" for minor in minors)


def _stamp(rng: random.Random, year: int) -> str:
    return f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00Z"


def _record_data(
    number: int, ecosystem: str, name: str, versions: tuple[str, ...], whole: bool, rng: random.Random
) -> dict[str, Any]:
    year = 2020 + number % 7
    purl_name = name.replace("@", "%40") if ecosystem == "npm" else name
    affected: dict[str, Any] = {
        "package": {"ecosystem": ecosystem, "name": name, "purl": f"pkg:{ecosystem.lower()}/{purl_name}"}
    }
    if whole:
        affected["ranges"] = [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]
    affected["versions"] = list(versions)
    kind = "malicious-package" if whole else "compromised-release"
    what = "was malicious from its first upload" if whole else f"had releases {', '.join(versions)} hijacked"
    return {
        "schema_version": "1.7.5",
        "id": f"x_DEPGUARD-{year}-{number:05d}",
        # Dates in the past (feeds refuse future-dated records), modified always a later year.
        "modified": _stamp(rng, 2025),
        "published": _stamp(rng, year if year < 2025 else 2024),
        "aliases": [f"MAL-{year}-{100000 + number}"],
        "summary": f"{name} on {ecosystem} {what}",
        "details": (
            f"`{name}` {what}. Its install script reads environment variables and sends them to a "
            "remote host.\n\n**What to do:** remove it and rotate any credential the installing user could read."
        ),
        "affected": [affected],
        "references": [
            {"type": "REPORT", "url": f"https://example.org/reports/{number}"},
            {"type": "ADVISORY", "url": f"https://osv.dev/vulnerability/MAL-{year}-{100000 + number}"},
        ],
        "database_specific": {"depguard": {"kind": kind}},
    }


def make_records(count: int, seed: int = 20260325) -> list[SyntheticRecord]:
    """``count`` valid, non-overlapping records; the first N of a larger call equal a smaller call."""
    records: list[SyntheticRecord] = []
    for number in range(1, count + 1):
        rng = random.Random(seed * 1_000_003 + number)  # per record: prefixes stay stable
        ecosystem = "npm" if rng.random() < NPM_SHARE else "PyPI"
        whole = rng.random() < WHOLE_PACKAGE_SHARE
        if not whole and records and rng.random() < SECOND_ADVISORY_SHARE * 4:
            previous = records[-1]
            if not previous.whole_package and previous.ecosystem == ecosystem:
                # hijacked again: same package, a later major version, so no version overlaps
                versions = _versions(
                    rng, rng.randint(1, 4), ecosystem, major=int(previous.versions[-1].split(".")[0]) + 10
                )
                data = _record_data(number, ecosystem, previous.name, versions, False, rng)
                records.append(SyntheticRecord(data, ecosystem, previous.name, versions, False))
                continue
        name = _name(rng, number, ecosystem)
        versions = _versions(rng, rng.randint(1, 2) if whole else rng.randint(1, 8), ecosystem)
        records.append(
            SyntheticRecord(
                _record_data(number, ecosystem, name, versions, whole, rng), ecosystem, name, versions, whole
            )
        )
    return records


def write_feed(root: Path, records: list[SyntheticRecord]) -> Path:
    """The records as a feed source directory, canonical bytes at their canonical paths."""
    made: set[Path] = set()
    for item in records:
        path = root / str(record_relpath(item.ecosystem, item.name, item.data["id"]))
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        path.write_bytes(canonical_bytes(item.data))
    return root


def write_uv_lock(path: Path, records: list[SyntheticRecord], packages: int, *, hits: int = 20, seed: int = 7) -> int:
    """A ``uv.lock`` with ``packages`` index packages; ``hits`` of them are compromised.

    The rest are names that are in the feed at other versions (half) or not at all, so each
    lookup does real work. Returns the number of entries the feed should flag.
    """
    rng = random.Random(seed)
    pypi = [r for r in records if r.ecosystem == "PyPI"]
    bad = rng.sample(pypi, min(hits, len(pypi), packages))
    taken = {id(r) for r in bad}
    candidates = [r for r in pypi if not r.whole_package and id(r) not in taken]
    near = rng.sample(candidates, min(packages // 2, len(candidates)))
    lines = ["version = 1", "revision = 3", 'requires-python = ">=3.10"', ""]
    lines += ["[[package]]", 'name = "bench-project"', 'version = "0.1.0"', 'source = { virtual = "." }', ""]
    entries: list[tuple[str, str]] = [(r.name, r.versions[0]) for r in bad]
    entries += [(r.name, f"{int(r.versions[-1].split('.')[0]) + 50}.0.0") for r in near]
    entries += [(f"clean-package-{i}", f"{1 + i % 5}.{i % 17}.{i % 3}") for i in range(packages - len(entries))]
    for name, version in sorted(entries):
        digest = f"{rng.getrandbits(256):064x}"
        wheel = f"{rng.getrandbits(256):064x}"
        file_stem = name.replace("-", "_")
        lines += [
            "[[package]]",
            f'name = "{name}"',
            f'version = "{version}"',
            'source = { registry = "https://pypi.org/simple" }',
            f'sdist = {{ url = "https://files.example.org/{file_stem}-{version}.tar.gz", hash = "sha256:{digest}", size = 1234 }}',
            "wheels = [",
            f'    {{ url = "https://files.example.org/{file_stem}-{version}-py3-none-any.whl", hash = "sha256:{wheel}", size = 2345 }},',
            "]",
            "",
        ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return len(bad)


def _pyproject(name: str, feed_url: str | None) -> str:
    text = (
        f'[project]\nname = "{name}"\nversion = "0.1.0"\nrequires-python = ">=3.10"\ndependencies = ["requests>=2"]\n'
    )
    if feed_url is not None:
        text += f'\n[tool.depguard]\nfeed = "{feed_url}"\n'
    return text


def write_repo(root: Path, projects: int, feed_url: str) -> Path:
    """A git repo with ``projects`` tracked pyproject.toml files (the first at the root).

    The feed URL lives in ``[tool.depguard]`` of the root pyproject, as a real repo configures
    it; nothing is synced yet, so ``sync --check`` has real work (and exits 1: stale).
    """
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(_pyproject("root-project", feed_url), encoding="utf-8")
    for index in range(1, projects):
        folder = root / "services" / f"svc-{index:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "pyproject.toml").write_text(_pyproject(f"svc-{index:03d}", None), encoding="utf-8")
    env = {**GIT_ENV, "HOME": str(root), "PATH": "/usr/bin:/bin:/usr/local/bin"}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "bench"]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)
    return root
