"""The Renovate preset `depguard feed build` writes: what Renovate itself makes of it.

Renovate's own code decides: ``tests/tools/renovate_allowed.cjs`` runs its rule matching and its
``allowedVersions`` regex predicate over the preset (RE2 when Renovate's optional ``re2`` module
is built, JavaScript's RegExp otherwise, both when it can), and ``renovate-config-validator``
checks the file; both come from ``npm install --prefix $DEPGUARD_RENOVATE_DIR renovate`` (``.ci/run``
does it) and the node test falls back to a RegExp stand-in without it. The oracle is packaging's
PEP 440 and depguard's SemVer ordering, never the regexes under test; RE2 itself is also asked
directly through the google-re2 bindings.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from depguard import ecosystems
from depguard.errors import InvalidRecordError
from depguard.feed import load_feed
from depguard.publish import build_site
from depguard.records import Record
from depguard.renovate import (
    PRESET_PATH,
    REFUSE_EVERY_VERSION,
    SCHEMA_URL,
    pep440_pattern,
    render_preset,
    semver_pattern,
)

from feedkit import record, write_feed

REPO = Path(__file__).resolve().parents[1]
TOOL = REPO / "tests" / "tools" / "renovate_allowed.cjs"
NODE = shutil.which("node")


def _renovate_dir() -> Path | None:
    value = os.environ.get("DEPGUARD_RENOVATE_DIR")
    path = Path(value) if value else None
    return path if path is not None and (path / "node_modules" / "renovate" / "package.json").is_file() else None


def _has_re2(prefix: Path) -> bool:
    return (prefix / "node_modules" / "re2" / "build" / "Release" / "re2.node").is_file()


# --------------------------------------------------------------------------- feeds


def _synthetic_records() -> list[dict]:
    """Every shape the preset must handle, in a feed that passes every rule."""
    litellm = record("x_DEPGUARD-2026-0001", name="litellm", versions=("1.82.7", "1.82.8"))
    litellm_again = record("x_DEPGUARD-2026-0002", name="litellm", versions=("1.83.0",))
    odd = record(
        "x_DEPGUARD-2026-0003",
        name="deep-trans-lator",
        versions=("1.0.0", "2.0rc1", "2.1a0.post3.dev2", "3.0.post1", "4.0.dev0", "1!2.0"),
    )
    whole_pypi = record("x_DEPGUARD-2026-0004", name="rlask", versions=("3.1.3",), whole_package=True)
    scoped = record(
        "x_DEPGUARD-2026-0005",
        name="@scope/pkg",
        ecosystem="npm",
        versions=("1.0.0", "1.4.44-liberty-2", "6.11.2-alpha.1"),
    )
    whole_npm = record(
        "x_DEPGUARD-2026-0006", name="flatmap-stream", ecosystem="npm", versions=("0.1.1",), whole_package=True
    )
    gone = record(
        "x_DEPGUARD-2026-0007",
        name="tinylib",
        versions=("2.0",),
        withdrawn="2026-03-27T00:00:00Z",
        modified="2026-03-27T00:00:00Z",
    )
    return [litellm, litellm_again, odd, whole_pypi, scoped, whole_npm, gone]


@pytest.fixture(scope="module")
def synthetic_feed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_feed(tmp_path_factory.mktemp("synthetic") / "feed", _synthetic_records())


@pytest.fixture(scope="module")
def synthetic_site(synthetic_feed: Path) -> Path:
    build_site(synthetic_feed, synthetic_feed.parent / "public", base_url="https://mirror.example/feed/")
    return synthetic_feed.parent / "public"


@pytest.fixture(scope="module")
def real_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("real") / "public"
    build_site(REPO / "feed", out)
    return out


@pytest.fixture(params=["real", "synthetic"])
def site_and_feed(request: pytest.FixtureRequest) -> tuple[Path, Path]:
    """A built tree and the feed it came from."""
    if request.param == "real":
        return request.getfixturevalue("real_site"), REPO / "feed"
    return request.getfixturevalue("synthetic_site"), request.getfixturevalue("synthetic_feed")


def _feed_packages(feed_root: Path) -> dict[tuple[str, str], tuple[set[str], bool]]:
    """What the live records of a feed refuse, per (Renovate datasource, name): read from the records, not the preset."""
    packages: dict[tuple[str, str], tuple[set[str], bool]] = {}
    for entry in load_feed(feed_root).entries:
        data = entry.data
        if data.get("withdrawn"):
            continue
        for affected in data["affected"]:
            datasource = {"PyPI": "pypi", "npm": "npm"}.get(affected["package"]["ecosystem"])
            if datasource is None:  # GitHub Actions: Renovate's preset has no rule for it (check reports it)
                continue
            key = (datasource, affected["package"]["name"])
            versions, whole = packages.get(key, (set(), False))
            packages[key] = (versions | set(affected.get("versions", [])), whole or bool(affected.get("ranges")))
    return packages


def _preset(site: Path) -> dict:
    return json.loads((site / PRESET_PATH).read_bytes())


# --------------------------------------------------------------------------- the oracle and the queries


def _pep440_neighbours(version: str) -> list[str]:
    """Versions next to ``version`` that are other releases, and spellings of the same one."""
    v = Version(version)
    base = ".".join(map(str, v.release))
    head = "" if v.epoch == 0 else f"{v.epoch}!"
    last = v.release[-1]
    out = [
        f"{head}{'.'.join(map(str, v.release[:-1] + (last + 1,)))}",
        f"{head}{base}0",
        f"{head}{base}.1",
        f"{version}.post1" if v.post is None and v.dev is None else f"{head}{base}",
        f"{version}.dev1" if v.dev is None else f"{head}{base}.post9",
        f"{head}{base}rc1" if not v.is_prerelease else f"{head}{base}rc9",
        f"1!{base}" if v.epoch == 0 else base,
        # the same release, spelled otherwise
        version,
        f"v{version}",
        f"V{version}".upper(),
        f"{head}{base}.0{version[len(head) + len(base) :]}",
        f"{version}+local.7",
        f"{version}+Ubuntu-1",
    ]
    if last > 0:
        out.append(f"{head}{'.'.join(map(str, v.release[:-1] + (last - 1,)))}")
    if v.epoch == 0:
        out.append(f"0!{version}")
    if v.pre is not None:
        letter, number = v.pre
        word = {"a": "-Alpha", "b": "_beta.", "rc": ".preview-"}[letter]
        out.append(f"{head}{base}{word}{number}" + version.split(f"{letter}{number}", 1)[1])
    if v.post is not None and v.pre is None and v.dev is None:
        out.append(f"{head}{base}-{v.post}")
    return out


def _npm_neighbours(version: str) -> list[str]:
    core, _, pre = version.partition("-")
    major, minor, patch = map(int, core.split("."))
    out = [
        f"{major}.{minor}.{patch + 1}",
        f"{major}.{minor}.{patch * 10 if patch else 10}",
        f"{major}.{minor + 1}.{patch}",
        version,
        f"{version}+build.7",
    ]
    if patch:
        out.append(f"{major}.{minor}.{patch - 1}")
    out += [f"{version}.1", f"{version}0", core] if pre else [f"{version}-rc.1", f"{version}-0"]
    return out


def _queries(packages: dict[tuple[str, str], tuple[set[str], bool]]) -> tuple[list[list[str]], list[bool]]:
    """For every package: each listed version, its neighbours and spellings; and whether Renovate may propose each."""
    queries: list[list[str]] = []
    expected: list[bool] = []
    for (datasource, name), (listed, whole) in sorted(packages.items()):
        names = [name, name.upper()] + (
            [name.replace("-", "_"), name.replace("-", ".")] if datasource == "pypi" and "-" in name else []
        )
        candidates = [
            n for v in sorted(listed) for n in (_pep440_neighbours(v) if datasource == "pypi" else _npm_neighbours(v))
        ]
        if whole:
            candidates += ["0.0.1", "1.0.0", "99.99.99"]
        for spelled in names:
            for candidate in candidates:
                queries.append([datasource, spelled, candidate])
                expected.append(not whole and not _is_listed(datasource, candidate, listed))
    # packages the preset does not name are left alone
    queries += [
        ["pypi", "not-in-the-feed", "1.82.7"],
        ["npm", "not-in-the-feed", "1.0.0"],
        ["npm", "litellm", "1.82.7"],
    ]
    expected += [True, True, True]
    return queries, expected


def _is_listed(datasource: str, candidate: str, listed: set[str]) -> bool:
    if datasource == "pypi":
        public = Version(candidate).public  # a local build is the release rebuilt: PEP 440's != refuses it
        return any(Version(public) == Version(v) for v in listed)
    return any(ecosystems.semver_key(candidate) == ecosystems.semver_key(v) for v in listed)


def _run_tool(
    preset: Path, queries: list[list[str]], tmp_path: Path, *, prefix: Path | None, env: dict[str, str] | None = None
) -> dict:
    query_file = tmp_path / "queries.json"
    query_file.write_text(json.dumps(queries))
    argv = [str(NODE), str(TOOL), str(preset), str(query_file)] + ([str(prefix)] if prefix else [])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# --------------------------------------------------------------------------- the preset file


def test_preset_is_sorted_merged_and_leaves_withdrawn_records_out(synthetic_site: Path) -> None:
    preset = _preset(synthetic_site)
    assert preset["$schema"] == SCHEMA_URL
    assert "https://mirror.example/feed/" in preset["description"]
    rules = preset["packageRules"]
    keys = [(r["matchDatasources"][0], r["matchPackageNames"][0]) for r in rules]
    assert (
        keys
        == sorted(keys)
        == [
            ("npm", "@scope/pkg"),
            ("npm", "flatmap-stream"),
            ("pypi", "deep-trans-lator"),
            ("pypi", "litellm"),
            ("pypi", "rlask"),
        ]
    )
    assert "tinylib" not in (synthetic_site / PRESET_PATH).read_text()
    litellm = rules[3]
    assert litellm["description"] == "x_DEPGUARD-2026-0001, x_DEPGUARD-2026-0002: litellm 1.82.7, 1.82.8, 1.83.0"
    assert litellm["matchPackageNames"] == ["litellm"]
    assert rules[2]["matchPackageNames"] == ["deep-trans-lator", "/^deep[-_.]+trans[-_.]+lator$/i"]
    assert rules[1]["allowedVersions"] == rules[4]["allowedVersions"] == REFUSE_EVERY_VERSION
    assert rules[0]["allowedVersions"] == r"!/^(?:1\.0\.0|1\.4\.44-liberty-2|6\.11\.2-alpha\.1)(?:\+.*)?$/"


def test_preset_is_byte_identical_across_builds_and_one_rule_per_line(real_site: Path, tmp_path: Path) -> None:
    build_site(REPO / "feed", tmp_path / "again")
    first = (real_site / PRESET_PATH).read_bytes()
    assert (tmp_path / "again" / PRESET_PATH).read_bytes() == first
    preset = json.loads(first)
    lines = first.decode().splitlines()
    assert sum(line.startswith('    {"description"') for line in lines) == len(preset["packageRules"])
    live = [e.record for e in load_feed(REPO / "feed").entries if e.record is not None and not e.record.is_withdrawn]
    packages = {(a.package.ecosystem, a.package.name) for r in live for a in r.affected if a.package is not None}
    actions = {p for p in packages if p[0] == "GitHub Actions"}
    assert actions  # the feed has them, and the preset leaves them out
    assert len(preset["packageRules"]) == len(packages - actions) > 100
    assert "GitHub Actions" not in first.decode() and "tj-actions" not in first.decode()


def test_readme_shows_the_preset_as_it_is_built(real_site: Path) -> None:
    """The README's extends line names the published file, and its example rule is the built one."""
    readme = (REPO / "README.md").read_text()
    assert f'"https://depguard.github.io/depguard/{PRESET_PATH}"' in readme
    example = next(line for line in readme.splitlines() if line.startswith('{"description": "x_DEPGUARD-2026-0001'))
    assert "    " + example + "," in (real_site / PRESET_PATH).read_text().splitlines()


def test_a_range_the_regex_cannot_express_is_refused() -> None:
    data = record(whole_package=True)
    data["affected"][0]["ranges"][0]["events"].append({"fixed": "2.0"})
    with pytest.raises(InvalidRecordError, match="outside depguard.s profile"):
        render_preset([Record.model_validate(data)], feed_url="https://x.example/", modified=None)


# --------------------------------------------------------------------------- Renovate's verdicts


def _engines() -> list[tuple[str, Path | None, dict[str, str]]]:
    prefix = _renovate_dir()
    if prefix is None:
        return [("stand-in", None, {})]
    engines = [("renovate", prefix, {})]
    if _has_re2(prefix):
        engines.append(("renovate-regexp", prefix, {"RENOVATE_X_IGNORE_RE2": "1"}))
    return engines


@pytest.mark.skipif(NODE is None, reason="node is not installed: the preset is evaluated by Renovate's JavaScript")
@pytest.mark.parametrize(("engine", "prefix", "env"), _engines(), ids=[e[0] for e in _engines()])
def test_renovate_refuses_every_listed_version_and_allows_every_neighbour(
    site_and_feed: tuple[Path, Path], tmp_path: Path, engine: str, prefix: Path | None, env: dict[str, str]
) -> None:
    site, feed_root = site_and_feed
    packages = _feed_packages(feed_root)
    assert {(r["matchDatasources"][0], r["matchPackageNames"][0]) for r in _preset(site)["packageRules"]} == set(
        packages
    )
    queries, expected = _queries(packages)
    assert True in expected and False in expected
    answer = _run_tool(site / PRESET_PATH, queries, tmp_path, prefix=prefix, env=env)
    if prefix is not None:
        regex_engine = "re2" if _has_re2(prefix) and not env else "RegExp"
        assert answer["engine"].endswith(f"({regex_engine})"), answer["engine"]
    wrong = [(q, want) for q, want, got in zip(queries, expected, answer["allowed"]) if want != got]
    assert wrong == [], f"{answer['engine']}: {len(wrong)} wrong verdicts, first {wrong[:5]}"


def test_every_pattern_compiles_in_re2_and_agrees_with_python(
    real_site: Path, synthetic_site: Path, synthetic_feed: Path
) -> None:
    """RE2 has no lookahead or backreference: each pattern compiles there, and RE2's verdicts are Python's."""
    re2 = pytest.importorskip("re2", reason="google-re2 is not installed (test extra)")
    for site, feed_root in ((real_site, REPO / "feed"), (synthetic_site, synthetic_feed)):
        preset = _preset(site)
        queries, _ = _queries(_feed_packages(feed_root))
        for rule in preset["packageRules"]:
            values = [rule["allowedVersions"]] + [n for n in rule["matchPackageNames"] if n.startswith("/")]
            for value in values:
                source = re.sub(r"^!?/|/i?$", "", value)
                flags = "(?i)" if value.endswith("/i") else ""
                ours, theirs = re.compile(flags + source), re2.compile(flags + source)
                for _, _, version in queries:
                    assert bool(ours.search(version)) == bool(theirs.search(version)), (value, version)
    with pytest.raises(Exception):
        re2.compile(r"^(?!1\.82\.7$).*$")  # why the preset never uses lookahead


def test_renovate_config_validator_accepts_the_presets(real_site: Path, synthetic_site: Path, tmp_path: Path) -> None:
    prefix = _renovate_dir()
    if NODE is None or prefix is None:
        pytest.skip(
            "DEPGUARD_RENOVATE_DIR does not name a dir with `npm install --prefix DIR renovate` done (.ci/run does it)"
        )
    validator = prefix / "node_modules" / ".bin" / "renovate-config-validator"
    broken = tmp_path / "broken.json"
    preset = _preset(synthetic_site)
    preset["packageRules"][0]["allowedVersion"] = preset["packageRules"][0].pop("allowedVersions")  # a typo
    broken.write_text(json.dumps(preset))
    env = {**os.environ, "LOG_LEVEL": "info"}
    for path in (real_site / PRESET_PATH, synthetic_site / PRESET_PATH):
        done = subprocess.run(
            [str(validator), "--strict", str(path)], capture_output=True, text=True, timeout=300, env=env
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Config validated successfully" in done.stdout + done.stderr
    done = subprocess.run(
        [str(validator), "--strict", str(broken)], capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode != 0 and "allowedVersion" in done.stdout + done.stderr


# --------------------------------------------------------------------------- the PEP 440 patterns, exhaustively


_SEPARATORS = st.sampled_from(["", ".", "-", "_"])
_CASE = st.sampled_from([str.lower, str.upper, str.title])


@st.composite
def _versions(draw: st.DrawFn) -> str:
    epoch = draw(st.sampled_from([0, 0, 0, 1, 12]))
    release = draw(st.lists(st.integers(0, 12), min_size=1, max_size=4))
    text = (f"{epoch}!" if epoch else "") + ".".join(map(str, release))
    if draw(st.booleans()):
        text += draw(st.sampled_from(["a", "b", "rc"])) + str(draw(st.integers(0, 11)))
    if draw(st.booleans()):
        text += f".post{draw(st.integers(0, 11))}"
    if draw(st.booleans()):
        text += f".dev{draw(st.integers(0, 11))}"
    return str(Version(text))


@st.composite
def _spellings(draw: st.DrawFn, version: str) -> str:
    """Another PEP 440 spelling of ``version``'s release, maybe with a local label."""
    v = Version(version)
    num = lambda n: "0" * draw(st.integers(0, 2)) + str(n)  # noqa: E731
    text = draw(st.sampled_from(["", "v", "V"]))
    if v.epoch or draw(st.booleans()):
        text += f"{num(v.epoch)}!"
    text += ".".join(num(p) for p in v.release) + ".0" * draw(st.integers(0, 2))
    bare_letter = False  # "1.0a" then "-1" would read as 1.0a1
    if v.pre is not None:
        letter, n = v.pre
        word = draw(
            st.sampled_from({"a": ["a", "alpha"], "b": ["b", "beta"], "rc": ["rc", "c", "pre", "preview"]}[letter])
        )
        number = draw(_SEPARATORS) if n == 0 and draw(st.booleans()) else draw(_SEPARATORS) + num(n)
        bare_letter = number == ""
        text += draw(_SEPARATORS) + draw(_CASE)(word) + number
    if v.post is not None:
        if v.post and not bare_letter and draw(st.booleans()):
            text += f"-{num(v.post)}"
        else:
            number = "" if v.post == 0 and draw(st.booleans()) else draw(_SEPARATORS) + num(v.post)
            text += draw(_SEPARATORS) + draw(_CASE)(draw(st.sampled_from(["post", "rev", "r"]))) + number
    if v.dev is not None:
        number = "" if v.dev == 0 and draw(st.booleans()) else draw(_SEPARATORS) + num(v.dev)
        text += draw(_SEPARATORS) + draw(_CASE)("dev") + number
    if draw(st.booleans()):
        text += "+" + draw(st.sampled_from(["local", "Ubuntu-1", "abc.5", "1"]))
    assert Version(Version(text).public) == Version(version), (text, version)  # the strategy's own check
    return text


@settings(max_examples=400, deadline=None)
@given(data=st.data(), listed=st.lists(_versions(), min_size=1, max_size=3), other=_versions())
def test_pep440_pattern_matches_exactly_the_spellings_of_the_listed_releases(
    data: st.DataObject, listed: list[str], other: str
) -> None:
    pattern = re.compile(pep440_pattern(listed))
    spelled = data.draw(_spellings(data.draw(st.sampled_from(listed))))
    assert pattern.search(spelled), (spelled, pattern.pattern)
    other_spelled = data.draw(_spellings(other))
    assert bool(pattern.search(other_spelled)) == any(Version(other) == Version(v) for v in listed), (
        other_spelled,
        listed,
    )


def test_semver_pattern_ignores_build_metadata_only() -> None:
    pattern = re.compile(semver_pattern(["1.0.0", "2.0.0-rc.1+meta"]))
    assert [bool(pattern.search(v)) for v in ["1.0.0", "1.0.0+x.1", "2.0.0-rc.1", "2.0.0-rc.1+y"]] == [True] * 4
    assert [bool(pattern.search(v)) for v in ["1.0.00", "1.0.0-0", "2.0.0", "2.0.0-rc.10", "11.0.0", "1x0.0"]] == [
        False
    ] * 6


@pytest.mark.parametrize(
    ("listed", "spelled", "refused"),
    [
        ("1.0a0.post1", "1.0a-1", False),  # that is 1.0a1
        ("1.0a1", "1.0a-1", True),
        ("1.0a0.post1", "1.0a.-1", True),
        ("1.0a0.post1", "1.0-A0-1", True),
        ("1.0a0.post1", "1.0alpha_post1", True),
        ("1.0.post1", "1.0-1", True),
        ("1.0.post1", "1.0.1", False),
        ("1.0", "1.0-0", False),  # 1.0.post0
        ("1.0", "1.0.0.0+x", True),
        ("1!1.0", "1.0", False),
        ("1.0", "0!1.0", True),
    ],
)
def test_pep440_pattern_reads_ambiguous_spellings_as_pep_440_does(listed: str, spelled: str, refused: bool) -> None:
    assert (Version(Version(spelled).public) == Version(listed)) is refused  # the expectation is PEP 440's
    assert bool(re.search(pep440_pattern([listed]), spelled)) is refused
