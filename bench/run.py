"""depguard's benchmark: whole commands, as CI runs them, at the feed sizes the project expects.

Run from the repository root (after ``pip install -e '.[bench]'``)::

    .venv/bin/python bench/run.py             # 20,000 records (and 40,000 for growth), ~3-4 min
    .venv/bin/python bench/run.py --quick     # 3,000 records, ~1 min: a smoke test of the numbers
    .venv/bin/python bench/run.py --records 10000 --runs 5 --output bench.md

Why whole commands in subprocesses: a user pays interpreter start-up, imports, argument
parsing and process exit on every CI run, and that is where a "fast" library call can still
lose. depguard runs from a fresh venv holding only its runtime dependencies (see
:func:`runtime_python`), the install a user's CI job gets. Everything is generated from a fixed seed in a temporary directory (see
``bench/datagen.py``), served over HTTP by a local server on 127.0.0.1 (``bench/feedserver.py``),
and removed at the end (``--keep`` keeps it). Each row is the median of several runs; rows
that are compared with each other are measured round-robin in the same rounds, so a busy
machine slows both sides alike and the ratios stay meaningful. The table ends with the targets
of the "Performance" issue and whether this run met them.

Nothing here asserts: it is a measurement, not a test. Timed tests would be flaky on shared
CI machines; the numbers go into README's "Performance" section with the machine they came from.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import datagen  # noqa: E402 - bench/ is not a package
from feedserver import FeedServer  # noqa: E402

#: The minimal typer program the CLI cannot be faster than: one command with depguard sync's options.
TYPER_FLOOR = '''
from typing import List, Optional
from pathlib import Path
import typer
app = typer.Typer(add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False)
@app.callback()
def root(version: bool = typer.Option(False, "--version")) -> None:
    """Root."""
@app.command("sync")
def sync(paths: List[Path] = typer.Argument(None), check: bool = typer.Option(False, "--check"),
         diff: bool = typer.Option(False, "--diff"), dry_run: bool = typer.Option(False, "--dry-run"),
         feed: Optional[str] = typer.Option(None, "--feed"), offline: bool = typer.Option(False, "--offline"),
         allow_rollback: bool = typer.Option(False, "--allow-rollback"), allow_shrink: bool = typer.Option(False, "--allow-shrink"),
         output: str = typer.Option("text", "--format"), targets: List[str] = typer.Option(None, "--target"),
         relock: bool = typer.Option(False, "--relock")) -> None:
    """Sync."""
@app.command("check")
def check() -> None:
    """Check."""
app()
'''

#: Reads every record file of a feed and parses it: the floor of any validator of those files.
JSON_FLOOR = """
import json, os, sys
for folder, _dirs, files in os.walk(sys.argv[1]):
    for name in files:
        if name.endswith(".json"):
            with open(os.path.join(folder, name), "rb") as handle:
                json.loads(handle.read())
"""


# --------------------------------------------------------------------------- measuring


@dataclass
class Command:
    """One command line to time, where, and the exit codes that mean it did its job."""

    label: str
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    ok: tuple[int, ...] = (0,)
    before: Callable[[], None] | None = None  # untimed set-up before each run (e.g. a fresh --out)


@dataclass
class Result:
    label: str
    times: list[float] = field(default_factory=list)
    error: str | None = None

    @property
    def median(self) -> float | None:
        return statistics.median(self.times) if self.times and self.error is None else None


def run_once(command: Command) -> float:
    """Wall time of one run; raises RuntimeError (with stderr) when the exit code is unexpected."""
    if command.before is not None:
        command.before()
    start = time.perf_counter()
    proc = subprocess.run(
        command.argv, cwd=command.cwd, env=command.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    elapsed = time.perf_counter() - start
    if proc.returncode not in command.ok:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise RuntimeError(f"exit {proc.returncode}: {' | '.join(tail)}")
    return elapsed


def measure(commands: Sequence[Command], rounds: int, *, warmup: bool = True) -> dict[str, Result]:
    """Run the commands round-robin ``rounds`` times (after one untimed warm-up each)."""
    results = {c.label: Result(c.label) for c in commands}
    if warmup:
        for command in commands:
            try:
                run_once(command)
            except RuntimeError as exc:
                results[command.label].error = str(exc)
    for _ in range(rounds):
        for command in commands:
            result = results[command.label]
            if result.error is not None:
                continue
            try:
                result.times.append(run_once(command))
            except RuntimeError as exc:
                result.error = str(exc)
    for label, result in results.items():
        shown = f"{result.median:.3f} s" if result.median is not None else f"FAILED {result.error}"
        print(f"  {label}: {shown}", file=sys.stderr)
    return results


# --------------------------------------------------------------------------- the scenarios


@dataclass
class Bench:
    """The shared state of one benchmark run: sizes, paths, environment, results."""

    records: int
    heavy_runs: int
    light_runs: int
    work: Path
    peer: bool
    env: dict[str, str] = field(default_factory=dict)
    results: dict[str, Result] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # PYTHONDONTWRITEBYTECODE would make every run compile depguard and its dependencies again
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith("DEPGUARD_") and k != "PYTHONDONTWRITEBYTECODE"
        }
        self.env.update(datagen.GIT_ENV)
        self.env["HOME"] = str(self.work / "home")
        (self.work / "home").mkdir(parents=True, exist_ok=True)

    python: str = sys.executable  # the interpreter depguard (and the floors) run on

    def depguard(self) -> list[str]:
        """The console script next to :attr:`python`, else ``python -m depguard``."""
        script = Path(self.python).with_name("depguard")
        return [str(script)] if script.exists() else [self.python, "-m", "depguard"]

    def trash(self) -> Path:
        """Where trees go that are deleted only once nothing is timed any more."""
        folder = self.work / "trash"
        folder.mkdir(exist_ok=True)
        return folder

    def cache_env(self, name: str) -> dict[str, str]:
        return {**self.env, "DEPGUARD_CACHE_DIR": str(self.work / "caches" / name)}

    def record(self, results: dict[str, Result]) -> None:
        self.results.update(results)

    def median(self, label: str) -> float | None:
        result = self.results.get(label)
        return None if result is None else result.median


def generate(bench: Bench) -> dict[str, Path]:
    """Feeds of N and 2N records, lockfiles and the tool-free floors; returns their paths."""
    start = time.perf_counter()
    big = datagen.make_records(2 * bench.records)
    small = big[: bench.records]  # make_records is prefix-stable: the N feed is the first half
    paths = {
        "feed": datagen.write_feed(bench.work / "feed-n", small),
        "feed2": datagen.write_feed(bench.work / "feed-2n", big),
        "typer_floor": bench.work / "typer_floor.py",
        "json_floor": bench.work / "json_floor.py",
    }
    paths["typer_floor"].write_text(TYPER_FLOOR, encoding="utf-8")
    paths["json_floor"].write_text(JSON_FLOOR, encoding="utf-8")
    for packages, feed_name, records in ((1000, "feed", small), (2000, "feed", small), (2000, "feed2", big)):
        folder = bench.work / f"check-{packages}-{feed_name}"
        folder.mkdir()
        hits = datagen.write_uv_lock(folder / "uv.lock", records, packages)
        bench.notes[f"hits-{packages}-{feed_name}"] = str(hits)
    bench.notes["generate"] = f"{time.perf_counter() - start:.1f} s"
    print(
        f"generated {bench.records} + {2 * bench.records} records and lockfiles in {bench.notes['generate']}",
        file=sys.stderr,
    )
    return paths


def runtime_python(bench: Bench) -> str:
    """An interpreter with depguard and its runtime dependencies only, as ``pip install depguard`` leaves it.

    Why not this venv: the test and bench extras install click (pip-tools, check-jsonschema),
    and with click present ``import httpx`` also imports httpx's command line and rich (+45 ms
    on every command here) -- a cost no user pays. The venv gets a regular (non-editable)
    install of this checkout; uv builds it in seconds, pip is the fallback.
    """
    venv = bench.work / "runtime-venv"
    python = venv / "bin" / "python"
    start = time.perf_counter()
    uv = shutil.which("uv", path=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    if uv is not None:
        steps = [
            [uv, "venv", "-q", "--python", sys.executable, str(venv)],
            [
                uv,
                "pip",
                "install",
                "-q",
                "--compile-bytecode",
                "--refresh-package",
                "depguard",
                "--python",
                str(python),
                str(REPO),
            ],
        ]
    else:
        steps = [
            [sys.executable, "-m", "venv", str(venv)],
            [str(python), "-m", "pip", "install", "-q", "--isolated", str(REPO)],
        ]
    for argv in steps:
        subprocess.run(argv, env=env, check=True, capture_output=True)
    bench.notes["runtime"] = (
        f"a fresh venv with depguard's runtime dependencies only, built in {time.perf_counter() - start:.1f} s"
    )
    print(f"runtime venv: {bench.notes['runtime']}", file=sys.stderr)
    return str(python)


def floors(bench: Bench, paths: dict[str, Path]) -> None:
    print("floors and start-up", file=sys.stderr)
    py = bench.python
    bench.record(
        measure(
            [
                Command("python -c pass", [py, "-c", "pass"], bench.work, bench.env),
                Command(
                    "typer floor: typer app with sync's options",
                    [py, str(paths["typer_floor"]), "sync", "--check"],
                    bench.work,
                    bench.env,
                ),
                Command("depguard --help", [*bench.depguard(), "--help"], bench.work, bench.env),
            ],
            bench.light_runs,
        )
    )


def _settle() -> None:
    """Let the kernel finish writing back a deleted cache before the next run is timed (large
    trees are moved aside instead, see ``fresh_out``)."""
    if hasattr(os, "sync"):
        os.sync()


def feed_commands(bench: Bench, feed: Path, tag: str, *, peer: bool) -> list[Command]:
    """validate, build (into a fresh --out each run) and, optionally, the peer and the JSON floor."""
    out = bench.work / f"site-{tag}"
    env = bench.cache_env(f"feed-{tag.replace(',', '')}")
    cache = Path(env["DEPGUARD_CACHE_DIR"])

    def fresh_out() -> None:
        # Moved aside, deleted at the end: on ext4 without a journal (this machine's disk),
        # every file created in the ~30 s after a large delete skips the inodes just freed one
        # by one (the kernel's recently_deleted; 15 % of a build's CPU samples in perf), which
        # added 1-3 s of system time to a build timed right after deleting the last tree.
        if out.exists():
            out.rename(bench.trash() / f"{out.name}-{time.monotonic_ns()}")

    def fresh_cache() -> None:
        if cache.exists():
            shutil.rmtree(cache)
            _settle()

    # A publishing job on a fresh runner: validate starts with an empty cache, build follows
    # it in the same round (and may reuse what validate remembered).
    commands = [
        Command(
            f"feed validate ({tag})",
            [*bench.depguard(), "feed", "validate", str(feed)],
            bench.work,
            env,
            before=fresh_cache,
        ),
        Command(
            f"feed build ({tag})",
            [*bench.depguard(), "feed", "build", str(feed), "--out", str(out), "--base-url", "http://127.0.0.1/"],
            bench.work,
            env,
            before=fresh_out,
        ),
    ]
    if peer:
        commands.append(
            Command(
                f"json.loads of every file ({tag})",
                [sys.executable, str(bench.work / "json_floor.py"), str(feed)],
                bench.work,
                bench.env,
            )
        )
        checker = shutil.which(
            "check-jsonschema", path=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
        )
        if checker is None:
            bench.notes["peer"] = "check-jsonschema is not installed (pip install check-jsonschema)"
        else:
            files = sorted(str(p.relative_to(feed)) for p in feed.rglob("*.json"))
            commands.append(
                Command(
                    f"check-jsonschema, OSV schema ({tag})",
                    [checker, "--schemafile", str(REPO / "schemas" / "osv.schema.json"), *files],
                    feed,
                    bench.env,
                )
            )
    return commands


def feeds(bench: Bench, paths: dict[str, Path]) -> None:
    n, n2 = f"{bench.records:,}", f"{2 * bench.records:,}"
    print(f"feed validate + build: {n} records" + (" vs check-jsonschema" if bench.peer else ""), file=sys.stderr)
    # no untimed warm-up: these commands have no cache to fill, and the files were just written
    bench.record(measure(feed_commands(bench, paths["feed"], n, peer=bench.peer), bench.heavy_runs, warmup=False))
    print(f"feed validate + build: {n2} records", file=sys.stderr)
    # one run fewer at 2N (at least 2): these are the slowest rows, and only their growth matters
    bench.record(
        measure(feed_commands(bench, paths["feed2"], n2, peer=False), max(2, bench.heavy_runs - 1), warmup=False)
    )


def _synced_repo(bench: Bench, name: str, projects: int, url: str) -> tuple[Path, dict[str, str]]:
    """A git repo whose projects were synced and committed: ``sync --check`` then exits 0."""
    repo = datagen.write_repo(bench.work / name, projects, url)
    env = bench.cache_env(name)
    subprocess.run([*bench.depguard(), "sync"], cwd=repo, env=env, check=True, capture_output=True)
    git_env = {**env, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    subprocess.run(["git", "commit", "-qam", "depguard sync"], cwd=repo, env=git_env, check=True, capture_output=True)
    return repo, env


def syncs(bench: Bench, paths: dict[str, Path]) -> None:
    """Warm ``sync --check``: the cache holds the feed, the server answers 304; bytes are counted."""
    real_site = bench.work / "site-real"
    subprocess.run(
        [
            *bench.depguard(),
            "feed",
            "build",
            str(REPO / "feed"),
            "--out",
            str(real_site),
            "--base-url",
            "http://127.0.0.1/",
        ],
        cwd=bench.work,
        env=bench.env,
        check=True,
        capture_output=True,
    )
    n = f"{bench.records:,}"
    servers = {"real": FeedServer(real_site), "n": FeedServer(bench.work / f"site-{n}")}
    try:
        repos = {
            "sync --check, 1 project, real feed": ("sync-1-real", 1, "real"),
            "sync --check, 200 projects, real feed": ("sync-200-real", 200, "real"),
            f"sync --check, 1 project, {n} records": ("sync-1-n", 1, "n"),
        }
        commands = []
        for label, (name, projects, server) in repos.items():
            repo, env = _synced_repo(bench, name, projects, servers[server].url)
            commands.append(Command(label, [*bench.depguard(), "sync", "--check"], repo, env))
        print("sync --check (warm cache, 304)", file=sys.stderr)
        for command in commands:  # warm-up outside the byte count
            run_once(command)
        for server in servers.values():
            server.reset()
        bench.record(measure(commands[:2], bench.light_runs, warmup=False))
        bench.record(measure(commands[2:], bench.heavy_runs, warmup=False))
        bench.notes["sync-bytes"] = str(sum(s.body_bytes for s in servers.values()))
        statuses: dict[int, int] = {}
        for server in servers.values():
            for status, count in server.statuses.items():
                statuses[status] = statuses.get(status, 0) + count
        bench.notes["sync-statuses"] = ", ".join(f"{count}× {status}" for status, count in sorted(statuses.items()))
    finally:
        for server in servers.values():
            server.close()


def checks(bench: Bench, paths: dict[str, Path]) -> None:
    """``depguard check`` of generated uv.lock files against the N and 2N feeds (warm cache)."""
    n, n2 = f"{bench.records:,}", f"{2 * bench.records:,}"
    servers = {"feed": FeedServer(bench.work / f"site-{n}"), "feed2": FeedServer(bench.work / f"site-{n2}")}
    try:
        commands = []
        for packages, feed_name in ((1000, "feed"), (2000, "feed"), (2000, "feed2")):
            size = n if feed_name == "feed" else n2
            folder = bench.work / f"check-{packages}-{feed_name}"
            env = bench.cache_env(f"check-{packages}-{feed_name}")
            commands.append(
                Command(
                    f"check, {packages:,} packages vs {size} records",
                    [*bench.depguard(), "check", "--feed", servers[feed_name].url, "uv.lock"],
                    folder,
                    env,
                    ok=(1,),
                )
            )
        # The feed repo's own CI checks against the feed *directory*: no published tree, no cache.
        folder = bench.work / "check-2000-feed"
        commands.append(
            Command(
                f"check, 2,000 packages vs {n}-record feed directory",
                [*bench.depguard(), "check", "--feed", str(paths["feed"]), "uv.lock"],
                folder,
                bench.cache_env("check-2000-feed-dir"),
                ok=(1,),
            )
        )
        print("check (warm cache)", file=sys.stderr)
        bench.record(measure(commands, bench.heavy_runs))
    finally:
        for server in servers.values():
            server.close()


def _queries(records: list[datagen.SyntheticRecord], count: int) -> bytes:
    rng = random.Random(11)
    queries = []
    for index in range(count):
        if index % 2:
            item = rng.choice(records)
            queries.append({"package": {"ecosystem": item.ecosystem, "name": item.name}, "version": item.versions[0]})
        else:
            ecosystem = "PyPI" if index % 4 else "npm"
            queries.append({"package": {"ecosystem": ecosystem, "name": f"not-in-feed-{index}"}, "version": "1.0.0"})
    return json.dumps({"queries": queries}).encode("utf-8")


def serve(bench: Bench, paths: dict[str, Path]) -> None:
    """``depguard serve`` (the CLI, in a subprocess) and 1,000-query batches over one keep-alive connection."""
    n = f"{bench.records:,}"
    site = bench.work / f"site-{n}"
    argv = [*bench.depguard(), "serve", "--port", "0", "--poll", "0", "--feed", str(site)]
    print("serve: querybatch of 1,000", file=sys.stderr)
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, cwd=bench.work, env=bench.cache_env("serve"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        match = re.search(r"at http://([\d.]+):(\d+)", line)
        if match is None:
            raise RuntimeError(f"serve did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}")
        startup = time.perf_counter() - start
        body = _queries(datagen.make_records(bench.records), 1000)
        conn = http.client.HTTPConnection(match[1], int(match[2]), timeout=30)
        times = []
        for _ in range(3 + 5 * bench.light_runs):
            begin = time.perf_counter()
            conn.request("POST", "/v1/querybatch", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            data = response.read()
            times.append(time.perf_counter() - begin)
            if response.status != 200:
                raise RuntimeError(f"querybatch answered {response.status}")
        conn.close()
        hits = sum(1 for r in json.loads(data)["results"] if r)
        bench.record(
            {
                f"serve start-up, {n} records": Result(f"serve start-up, {n} records", [startup]),
                "serve querybatch, 1,000 queries": Result("serve querybatch, 1,000 queries", times[3:]),
            }
        )
        bench.notes["serve-hits"] = str(hits)
        print(f"  querybatch: {statistics.median(times[3:]) * 1000:.1f} ms ({hits} of 1000 matched)", file=sys.stderr)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --------------------------------------------------------------------------- the report


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from depguard import __version__

    return (
        f"{os.cpu_count()} CPU(s) ({len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'} usable), "
        f"{model}, Python {platform.python_version()}, {platform.system()} {platform.release()}, depguard {__version__}"
    )


def _fmt(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def report(bench: Bench) -> str:
    m = bench.median
    n, n2 = f"{bench.records:,}", f"{2 * bench.records:,}"
    floor = m("python -c pass")
    lines = [
        f"Machine: {machine()}.",
        f"{n} / {n2} synthetic records (seeded; generated in {bench.notes.get('generate', '?')}); median of "
        f"{bench.heavy_runs} runs (feed-scale rows; {max(2, bench.heavy_runs - 1)} for validate/build of {n2}) "
        f"or {bench.light_runs} runs (the rest). depguard ran from {bench.notes.get('runtime', bench.python)}.",
        "",
        "| command | median | × `python -c pass` | note |",
        "| --- | ---: | ---: | --- |",
    ]
    notes = {
        f"feed validate ({n})": "empty cache dir each run",
        f"feed build ({n})": "fresh --out; right after validate, same cache dir",
        f"check-jsonschema, OSV schema ({n})": "peer: same files, same schema (osv.schema.json only)",
        f"json.loads of every file ({n})": "floor for reading the feed",
        "typer floor: typer app with sync's options": "floor for any typer CLI with these options",
        "sync --check, 1 project, real feed": f"feed/ of this repo; body bytes sent in all timed sync runs: {bench.notes.get('sync-bytes', '?')}",
        f"check, 2,000 packages vs {n} records": f"{bench.notes.get('hits-2000-feed', '?')} findings",
        "serve querybatch, 1,000 queries": f"{bench.notes.get('serve-hits', '?')} of 1,000 queries match",
    }
    for label, result in bench.results.items():
        shown = _fmt(result.median) if result.error is None else f"failed: {result.error[:80]}"
        times = _ratio(result.median, floor)
        lines.append(f"| `{label}` | {shown} | {f'{times:.1f}×' if times else ''} | {notes.get(label, '')} |")
    vb = _sum(m(f"feed validate ({n})"), m(f"feed build ({n})"))
    vb2 = _sum(m(f"feed validate ({n2})"), m(f"feed build ({n2})"))
    peer = m(f"check-jsonschema, OSV schema ({n})")
    lines += [
        f"| validate + build ({n}) | {_fmt(vb)} | | sum of the medians |",
        f"| validate + build ({n2}) | {_fmt(vb2)} | | sum of the medians |",
        "",
        "| target | measured | met |",
        "| --- | --- | :---: |",
    ]
    sync1 = m("sync --check, 1 project, real feed")
    typer_floor = m("typer floor: typer app with sync's options")
    lines.append(
        _target(
            "warm `sync --check`, 1 project ≤ 10× `python -c pass`",
            _ratio(sync1, floor),
            10.0,
            f"{_x(_ratio(sync1, floor))} (typer floor alone: {_x(_ratio(typer_floor, floor))}; "
            f"{_x(_ratio(m(f'sync --check, 1 project, {n} records'), floor))} with {n} records)",
        )
    )
    lines.append(
        _target(
            "warm `sync --check`, 1 project ≤ 1.5× the typer floor",
            _ratio(sync1, typer_floor),
            1.5,
            _x(_ratio(sync1, typer_floor)),
        )
    )
    directory = m(f"check, 2,000 packages vs {n}-record feed directory")
    lines.append(_target(f"`check` vs a {n}-record feed directory ≤ 1.0 s", directory, 1.0, _fmt(directory)))
    lines.append(_target(f"validate + build {n} ≤ 0.5× check-jsonschema", _ratio(vb, peer), 0.5, _x(_ratio(vb, peer))))
    lines.append(_target(f"validate + build {n2} ≤ 2.2× the {n} time", _ratio(vb2, vb), 2.2, _x(_ratio(vb2, vb))))
    check = m(f"check, 2,000 packages vs {n} records")
    lines.append(_target(f"`check` 2,000 packages vs {n} records ≤ 0.5 s", check, 0.5, _fmt(check)))
    lines.append(
        f"| `check` linear: 2× packages / 2× records | {_x(_ratio(check, m(f'check, 1,000 packages vs {n} records')))} / "
        f"{_x(_ratio(m(f'check, 2,000 packages vs {n2} records'), check))} | |"
    )
    batch = m("serve querybatch, 1,000 queries")
    lines.append(_target("querybatch of 1,000 ≤ 50 ms", batch, 0.05, _fmt(batch)))
    sent = bench.notes.get("sync-bytes")
    lines.append(
        f"| unchanged feed: 0 body bytes per sync | {sent} bytes ({bench.notes.get('sync-statuses', '')}) | "
        f"{'✅' if sent == '0' else '❌'} |"
    )
    if "peer" in bench.notes:
        lines.append(f"\nNote: {bench.notes['peer']}.")
    return "\n".join(lines) + "\n"


def _sum(a: float | None, b: float | None) -> float | None:
    return a + b if a is not None and b is not None else None


def _x(value: float | None) -> str:
    return f"{value:.2f}×" if value is not None else "n/a"


def _target(name: str, value: float | None, limit: float, shown: str) -> str:
    met = "n/a" if value is None else ("✅" if value <= limit else "❌")
    return f"| {name} | {shown} | {met} |"


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--records", type=int, default=None, help="feed size N (default 20000; --quick: 3000); 2N is measured too"
    )
    parser.add_argument(
        "--runs", type=int, default=None, help="runs per feed-scale row (default 3; the light rows get 3× as many)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes and few runs: checks the harness, not the numbers"
    )
    parser.add_argument("--no-peer", action="store_true", help="skip check-jsonschema (and the JSON floor)")
    parser.add_argument("--output", type=Path, help="also write the markdown table to this file")
    parser.add_argument("--keep", action="store_true", help="keep the generated data (its path is printed)")
    parser.add_argument(
        "--python", help="run depguard with this interpreter (default: a fresh venv with runtime dependencies only)"
    )
    args = parser.parse_args(argv)
    records = args.records or (3000 if args.quick else 20000)
    heavy = args.runs or (2 if args.quick else 3)
    work = Path(tempfile.mkdtemp(prefix="depguard-bench-"))
    bench = Bench(records, heavy, max(3, 3 * heavy), work, peer=not args.no_peer)
    started = time.perf_counter()
    try:
        bench.python = args.python or runtime_python(bench)
        paths = generate(bench)
        floors(bench, paths)
        feeds(bench, paths)
        syncs(bench, paths)
        checks(bench, paths)
        serve(bench, paths)
        table = report(bench)
    finally:
        shutil.rmtree(work / "trash", ignore_errors=True)
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"benchmark took {time.perf_counter() - started:.0f} s", file=sys.stderr)
    print(table)
    if args.output:
        args.output.write_text(table, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
