"""How the ``depguard`` process ends (``cli.main``, ``cli._end``): exit code, output and atexit
handlers as Python's own exit gives them, without freeing what the command built.

Each test runs the real entry point in a child interpreter: ending the process is the thing
under test, so it cannot run inside pytest's.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from depguard import cli

REPO = Path(__file__).resolve().parents[1]


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)


def test_every_line_of_a_long_report_reaches_a_file_and_the_code_is_the_commands(tmp_path: Path) -> None:
    # stdout to a file is block-buffered: the report (tens of kilobytes) is only whole if the
    # end flushes it; and it needs the loaded feed, which the end leaves to the OS unfreed
    out = tmp_path / "report.json"
    with out.open("w") as sink:
        proc = subprocess.run(
            [sys.executable, "-m", "depguard", "feed", "validate", str(REPO / "feed"), "--format", "json"],
            stdout=sink,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["records"] > 500 and report["errors"] == []


def test_a_command_that_finds_something_exits_1(tmp_path: Path) -> None:
    (tmp_path / "PyPI" / "x").mkdir(parents=True)
    (tmp_path / "PyPI" / "x" / "broken.json").write_text("{", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "depguard", "feed", "validate", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1
    assert "broken.json" in proc.stdout and "1 error(s)" in proc.stdout


def test_atexit_handlers_still_run() -> None:
    proc = _python(
        "import atexit, sys\n"
        "atexit.register(lambda: print('handler ran', flush=True))\n"
        "sys.argv = ['depguard', '--version']\n"
        "from depguard.cli import main\n"
        "main()\n"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].startswith("depguard ")
    assert proc.stdout.splitlines()[-1] == "handler ran"


def test_a_message_instead_of_a_code_is_printed_and_exits_1() -> None:
    proc = _python("from depguard import cli\ncli._end('no usable feed')\n")
    assert proc.returncode == 1
    assert proc.stderr.strip() == "no usable feed"


def _to_a_closed_pipe(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` with stdout a pipe nobody reads, block-buffered as it is by default."""
    read, write = os.pipe()
    os.close(read)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    try:
        return subprocess.run(
            [sys.executable, "-c", code],
            stdout=write,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write)


def test_output_that_cannot_be_flushed_at_the_end_gives_120_as_python_does() -> None:
    plain = _to_a_closed_pipe("import sys\nsys.stdout.write('report')\n")
    ours = _to_a_closed_pipe("import sys\nsys.stdout.write('report')\nfrom depguard import cli\ncli._end(0)\n")
    assert plain.returncode == 120, "the interpreter's own answer, which depguard's end keeps"
    assert ours.returncode == 120


def test_a_command_whose_reader_went_away_exits_as_click_decides() -> None:
    # click flushes each line it writes and turns a broken pipe into exit 1; the end keeps that
    proc = _to_a_closed_pipe(
        "import sys\nsys.argv = ['depguard', '--version']\nfrom depguard.cli import main\nmain()\n"
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr


def test_with_another_thread_running_the_usual_exit_waits_for_it() -> None:
    # in-process on purpose: this path must raise SystemExit, not end the process (if it
    # ended it, pytest would stop here and the run would fail)
    release = threading.Event()
    worker = threading.Thread(target=release.wait, daemon=True)
    worker.start()
    try:
        with pytest.raises(SystemExit) as stopped:
            cli._end(3)
    finally:
        gc.unfreeze()  # _end froze this process's objects, as it does before any exit
        release.set()
        worker.join()
    assert stopped.value.code == 3
