"""Two depguard trees in the same rounds: the rows a performance change is judged by.

``bench/run.py`` measures one tree; two of its runs made minutes apart drift by a few per
cent on a shared machine, as much as a change may be worth. This script times both trees'
commands round-robin in the same rounds, on run.py's own data and commands: ``feed validate``
and ``feed build`` of 20,000 records (with check-jsonschema once per round for the ratio),
``check`` of a 2,000-package ``uv.lock`` against the 20,000-record feed directory, and warm
``sync --check`` of a one-project repo against the real feed (a local server answering 304),
with the typer floor. Each interpreter is a venv with depguard installed, e.g.
``uv venv /tmp/before && VIRTUAL_ENV=/tmp/before uv pip install --compile-bytecode .``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import datagen
import run as R
from feedserver import FeedServer

REPO = Path(__file__).resolve().parents[1]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="python of the venv holding the tree to compare against")
    parser.add_argument("--after", required=True, help="python of the venv holding the changed tree")
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=7, help="rounds (default 7)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="depguard-compare-"))
    sides = {}
    for tag, python in (("before", args.before), ("after", args.after)):
        bench = R.Bench(args.records, args.runs, args.runs, work, peer=True)
        bench.python = python
        sides[tag] = bench
    server = None
    try:
        records = datagen.make_records(args.records)
        feed = datagen.write_feed(work / "feed-n", records)
        folder = work / "check-2000-feed"
        folder.mkdir()
        datagen.write_uv_lock(folder / "uv.lock", records, 2000)
        floor = work / "typer_floor.py"
        floor.write_text(R.TYPER_FLOOR, encoding="utf-8")
        after = sides["after"]
        real_site = work / "site-real"
        build = [*after.depguard(), "feed", "build", str(REPO / "feed"), "--out", str(real_site)]
        subprocess.run([*build, "--base-url", "http://127.0.0.1/"], check=True, capture_output=True, env=after.env)
        server = FeedServer(real_site)
        commands: list[R.Command] = []
        for tag, bench in sides.items():
            repo, env = R._synced_repo(bench, f"sync-1-{tag}", 1, server.url)
            for command in R.feed_commands(bench, feed, tag, peer=tag == "after"):
                if not command.label.startswith("json.loads"):
                    commands.append(command)
            check = [*bench.depguard(), "check", "--feed", str(feed), "uv.lock"]
            commands.append(R.Command(f"check, feed directory ({tag})", check, folder, bench.cache_env(tag), ok=(1,)))
            commands.append(
                R.Command(f"sync --check, real feed ({tag})", [*bench.depguard(), "sync", "--check"], repo, env)
            )
        python = sides["before"].python
        commands.append(R.Command("typer floor", [python, str(floor), "sync", "--check"], work, sides["before"].env))
        for command in commands:
            if command.label.startswith(("check,", "sync")):
                R.run_once(command)  # warm caches, outside the timing
        time.sleep(30)  # let the writes of the set-up settle (see run.py's note on feed build)
        print(f"{args.runs} rounds of {len(commands)} commands", file=sys.stderr)
        results = R.measure(commands, args.runs, warmup=False)
    finally:
        if server is not None:
            server.close()
        shutil.rmtree(work, ignore_errors=True)
    medians = {label: result.median for label, result in results.items()}
    peer = medians.get("check-jsonschema, OSV schema (after)")
    print("| command | before | after |\n| --- | ---: | ---: |")
    for label in ("feed validate", "feed build", "check, feed directory", "sync --check, real feed"):
        pair = [medians.get(f"{label} ({tag})") for tag in ("before", "after")]
        print(f"| {label} | " + " | ".join("n/a" if m is None else f"{m:.3f} s" for m in pair) + " |")
    sums = [
        (medians.get(f"feed validate ({tag})") or 0.0) + (medians.get(f"feed build ({tag})") or 0.0)
        for tag in ("before", "after")
    ]
    ratios = " | ".join(f"{total / peer:.3f}×" if peer else "n/a" for total in sums)
    print(f"| validate + build ({args.records:,} records) | {sums[0]:.3f} s | {sums[1]:.3f} s |")
    print(f"| the same ÷ check-jsonschema ({peer or 0:.3f} s) | {ratios} |")
    print(f"| typer floor | {medians.get('typer floor') or 0:.3f} s | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
