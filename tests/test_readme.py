"""Every fenced code block of README.md runs, or says why it does not (issue 13, item 10).

The README's examples had drifted: an "Add an advisory" command whose record failed
``feed validate`` in this very repo, a "What sync writes" block that no longer matched the
feed. So each block is now checked, and a block nobody decided about fails the suite.

How a block is checked is chosen by a marker on the line just before its fence, an HTML
comment that GitHub does not render::

    <!-- readme-test: skip: REASON -->   not run; REASON is shown as the pytest skip reason
    <!-- readme-test: NAME -->           checked by CHECKERS[NAME] (each says what it runs)

A block without a marker is checked by the rule for its language (``DEFAULT_BY_LANGUAGE``):
toml, json and yaml must parse; sh and python run in a temporary git repo with a uv project
whose ``[tool.depguard] feed`` is this checkout's ``feed/``, every command must exit 0; any
other block (an untagged one, ``text``, ...) fails until it is given a marker. Shell blocks
run one command at a time (``\\`` continuations joined, comment lines dropped) with the
venv's ``depguard`` first on PATH and ``DEPGUARD_OFFLINE=1``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from depguard.config import load_config
from depguard.writers import pyproject as pyproject_writer

from repokit import git, init_repo

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, as depguard itself falls back to it
    import tomli as tomllib  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
FEED = REPO / "feed"
BIN = Path(sys.executable).parent
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<lang>[^`\s]*)\s*$")
MARKER = re.compile(r"^\s*<!-- readme-test: (?P<spec>.*?) -->\s*$")
SHELL_LANGUAGES = {"sh", "bash", "shell", "console"}


# --------------------------------------------------------------------------- extraction


@dataclass(frozen=True)
class Block:
    """One fenced block: the README line of its opening fence, its info string, its text
    (the list item's indentation removed) and the marker written above it, if any."""

    line: int
    lang: str
    text: str
    marker: str | None


def readme_blocks(text: str) -> list[Block]:
    """Every fenced block of ``text``, in order; an unclosed fence is an error, not a block."""
    lines = text.splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        end = next(
            (
                j
                for j in range(index + 1, len(lines))
                if lines[j].strip().startswith(fence[0] * len(fence)) and not lines[j].strip().strip(fence[0])
            ),
            None,
        )
        assert end is not None, f"README.md:{index + 1}: the fence opened here is never closed"
        body = "".join(_dedent(raw, indent) + "\n" for raw in lines[index + 1 : end])
        above = MARKER.match(lines[index - 1]) if index else None
        blocks.append(Block(index + 1, opening["lang"].lower(), body, above["spec"].strip() if above else None))
        index = end + 1
    return blocks


def _dedent(line: str, indent: int) -> str:
    """A line of a block indented under a list item, without that item's indentation."""
    return line[indent:] if line[:indent].strip() == "" else line.lstrip()


def shell_commands(text: str) -> list[str]:
    """The commands of a shell block: ``\\``-continued lines joined, blank and comment lines dropped."""
    commands: list[str] = []
    current: list[str] = []
    for line in text.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current.append(line)
        if not line.rstrip().endswith("\\"):
            commands.append("\n".join(current))
            current = []
    assert not current, f"a shell block ends inside a continued line: {current!r}"
    return commands


BLOCKS = readme_blocks(README.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- running


def cli_env() -> dict[str, str]:
    """The environment a reader has after installing: this venv's ``depguard`` on PATH, offline."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEPGUARD_FEED")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["DEPGUARD_OFFLINE"] = "1"
    return env


@dataclass(frozen=True)
class Ran:
    command: str
    returncode: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        return f"$ {self.command}\nexit {self.returncode}\n--- stdout\n{self.stdout[-3000:]}\n--- stderr\n{self.stderr[-3000:]}"


def run_shell(block: Block, cwd: Path, expected: int | list[int] = 0) -> list[Ran]:
    """Run a shell block command by command in ``cwd``; each must exit ``expected``."""
    commands = shell_commands(block.text)
    codes = expected if isinstance(expected, list) else [expected] * len(commands)
    assert len(codes) == len(commands), f"README.md:{block.line}: {len(commands)} commands, expected {len(codes)}"
    results: list[Ran] = []
    for command, code in zip(commands, codes):
        done = subprocess.run(
            ["bash", "-o", "pipefail", "-c", command],
            check=False,
            cwd=cwd,
            env=cli_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        ran = Ran(command, done.returncode, done.stdout, done.stderr)
        assert ran.returncode == code, f"README.md:{block.line}: expected exit {code}\n{ran.describe()}"
        results.append(ran)
    return results


def run_python(block: Block, cwd: Path) -> Ran:
    done = subprocess.run(
        [sys.executable, "-c", block.text],
        check=False,
        cwd=cwd,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    ran = Ran("python <README block>", done.returncode, done.stdout, done.stderr)
    assert ran.returncode == 0, f"README.md:{block.line}: the python block failed\n{ran.describe()}"
    return ran


def project_repo(root: Path, extra: dict[str, str] | None = None) -> Path:
    """A git repo holding one uv project whose feed is this checkout's ``feed/``."""
    pyproject = (
        '[project]\nname = "demo"\nversion = "0.1.0"\ndependencies = ["litellm"]\n\n'
        f"[tool.depguard]\nfeed = {json.dumps(FEED.as_posix())}\n"
    )
    return init_repo(root, {"pyproject.toml": pyproject, **(extra or {})})


def feed_repo(root: Path, *, history: bool = True) -> Path:
    """A git repo holding a copy of this checkout's ``feed/``; with ``history``, committed and
    with ``origin/main`` at that commit (for ``--changed-since``), else left untracked."""
    root.mkdir(parents=True)
    init_repo(root, {"README.md": "a fork of the feed\n"})
    shutil.copytree(FEED, root / "feed")
    if history:
        git(root, "add", "feed")
        git(root, "commit", "-q", "-m", "the feed")
        git(root, "update-ref", "refs/remotes/origin/main", "HEAD")
    return root


def sync(cwd: Path, *args: str) -> Ran:
    done = subprocess.run(
        [str(BIN / "depguard"), "sync", "--feed", str(FEED), *args],
        check=False,
        cwd=cwd,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Ran("depguard sync " + " ".join(args), done.returncode, done.stdout, done.stderr)


def section(title: str) -> str:
    """The README text from heading ``title`` to the next heading of any level."""
    text = README.read_text(encoding="utf-8")
    start = text.index(title)
    following = re.search(r"^#{1,6} ", text[start + len(title) :], flags=re.MULTILINE)
    return text[start : start + len(title) + following.start()] if following else text[start:]


# --------------------------------------------------------------------------- checkers


def check_toml(block: Block, tmp_path: Path) -> None:
    """A TOML block parses."""
    tomllib.loads(block.text)


def check_json(block: Block, tmp_path: Path) -> None:
    """A JSON block parses."""
    json.loads(block.text)


def check_yaml(block: Block, tmp_path: Path) -> None:
    """A YAML block parses (the workflows are linted further in tests/test_integrations.py)."""
    assert yaml.safe_load(block.text) is not None


def check_shell(block: Block, tmp_path: Path) -> None:
    """Each command exits 0 in a repo holding a uv project synced from this checkout's feed."""
    run_shell(block, project_repo(tmp_path / "repo"))


def check_python(block: Block, tmp_path: Path) -> None:
    """The block runs (exit 0) from the root of a repo holding a uv project."""
    run_python(block, project_repo(tmp_path / "repo"))


def check_library(block: Block, tmp_path: Path) -> None:
    """The library example prints the change sync would make to a project that has no block yet."""
    ran = run_python(block, project_repo(tmp_path / "repo"))
    assert '+    "litellm!=1.82.7,!=1.82.8",  # x_DEPGUARD-2026-0001' in ran.stdout, ran.describe()
    assert ran.stdout.startswith("--- a/pyproject.toml"), ran.describe()


def check_sync_excerpt(block: Block, tmp_path: Path) -> None:
    """The block is what ``depguard sync`` writes for this checkout's feed, shortened only by
    leaving out other packages' lines of the managed block: the user's lines (the block with
    depguard's lines removed) are synced, and every line shown must come out in that order."""
    shown = block.text if "[tool.uv]" in block.text else "[tool.uv]\n" + block.text
    assert pyproject_writer.read_block(shown), f"README.md:{block.line}: no managed block in the example"
    users = pyproject_writer.remove(shown)
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": users})
    ran = sync(repo)
    assert ran.returncode == 0, ran.describe()
    written = (repo / "pyproject.toml").read_text(encoding="utf-8")
    left_out: list[str] = []
    expected = iter(shown.splitlines())
    wanted = next(expected, None)
    inside = False
    for line in written.splitlines():
        if line == wanted:
            wanted = next(expected, None)
        else:
            assert inside and line.strip().startswith('"'), (
                f"README.md:{block.line}: sync writes {line!r} where the README shows {wanted!r}\n{written}"
            )
            left_out.append(line)
        if "# >>> depguard" in line:
            inside = True
        if "# <<< depguard" in line:
            inside = False
    assert wanted is None, f"README.md:{block.line}: sync does not write {wanted!r}\n{written}"
    assert left_out, "the excerpt leaves out other advisories' lines (drop this if the feed ever has only these)"
    assert pyproject_writer.remove(written) == users  # withdrawing everything gives the user's text back


def check_summary_line(block: Block, tmp_path: Path) -> None:
    """``depguard sync`` ends with exactly this line in a repo built to match it: two uv
    projects, one pip/pip-tools project, a poetry service and 96 projects under tests/fixtures."""
    files: dict[str, str | bytes] = {
        "a/pyproject.toml": '[project]\nname = "a"\nversion = "0"\n',
        "b/pyproject.toml": '[project]\nname = "b"\nversion = "0"\n',
        "c/pyproject.toml": "[tool.black]\nline-length = 100\n",
        "c/constraints.txt": "",
        "c/requirements.in": "litellm\n",
        "services/api/pyproject.toml": (
            '[tool.poetry]\nname = "api"\nversion = "0"\n\n[build-system]\n'
            'requires = ["poetry-core"]\nbuild-backend = "poetry.core.masonry.api"\n'
        ),
        "services/api/poetry.lock": "# This file is automatically @generated by Poetry\n",
    }
    files.update(
        {f"tests/fixtures/p{n}/pyproject.toml": f'[project]\nname = "p{n}"\nversion = "0"\n' for n in range(96)}
    )
    ran = sync(init_repo(tmp_path / "repo", files))
    assert ran.returncode == 0, ran.describe()
    assert ran.stdout.splitlines()[-1] == block.text.strip(), ran.describe()


def check_config(block: Block, tmp_path: Path) -> None:
    """The ``[tool.depguard]`` example is accepted by the strict config loader, every key of it."""
    path = tmp_path / "pyproject.toml"
    path.write_text(block.text, encoding="utf-8")
    config = load_config(path)
    table = tomllib.loads(block.text)["tool"]["depguard"]
    assert config.source == path and table


def check_lockfiles(block: Block, tmp_path: Path) -> None:
    """``depguard check``: a repo whose uv.lock, requirements.txt and .venv hold litellm 1.82.7,
    and whose workflow runs tj-actions/changed-files@v44 (which the workflow check finds).
    Every command finds it (exit 1, as the README's exit-code table says); the SARIF file
    written by the redirect holds the finding; the inspected environment's python is never
    started (it would leave a file behind)."""
    site = ".venv/lib/python3.11/site-packages/litellm-1.82.7.dist-info"
    repo = project_repo(
        tmp_path / "repo",
        {
            ".gitignore": ".venv/\n",
            "uv.lock": (
                'version = 1\nrequires-python = ">=3.9"\n\n[[package]]\nname = "litellm"\n'
                'version = "1.82.7"\nsource = { registry = "https://pypi.org/simple" }\n'
            ),
            "requirements.txt": "litellm==1.82.7\n",
            ".venv/pyvenv.cfg": "home = /usr/bin\nversion = 3.11.7\n",
            ".venv/bin/python": '#!/bin/sh\ntouch "$0.started"\n',
            f"{site}/METADATA": "Metadata-Version: 2.1\nName: litellm\nVersion: 1.82.7\n",
            f"{site}/RECORD": "",
            ".github/workflows/ci.yml": (
                "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n"
                "      - uses: tj-actions/changed-files@v44\n"
            ),
        },
    )
    (repo / ".venv/bin/python").chmod(0o755)
    results = run_shell(block, repo, expected=1)
    assert not (repo / ".venv/bin/python.started").exists(), "the inspected interpreter was started"
    for ran in results:
        if ".github/workflows" in ran.command:
            assert "tj-actions/changed-files" in ran.stdout and "v44" in ran.stdout, ran.describe()
        elif ">" not in ran.command:
            assert "litellm" in ran.stdout and "1.82.7" in ran.stdout, ran.describe()
    sarif = json.loads((repo / "depguard.sarif").read_text(encoding="utf-8"))
    assert sarif["runs"][0]["results"], "the SARIF report holds the finding"


def check_add_advisory(block: Block, tmp_path: Path) -> None:
    """ "Add an advisory" in a fork of this checkout's feed: ``feed new`` prints a path shaped
    like the one the README shows, then ``feed fmt``, ``feed validate`` and ``feed validate
    --changed-since origin/main`` (the commands of steps 3 and 4) all pass."""
    repo = feed_repo(tmp_path / "fork")
    (new,) = run_shell(block, repo)
    steps = " ".join(section("## Add an advisory").split())
    example = re.search(r"It prints the path, e\.g\. `([^`]+)`", steps)
    assert example, "the README shows the path feed new prints"
    path = new.stdout.strip().splitlines()[-1]
    folder, _, name = example[1].rpartition("/")
    assert re.fullmatch(r"x_DEPGUARD-\d{4}-\d{4}\.json", name), example[1]
    assert re.fullmatch(re.escape(folder) + r"/x_DEPGUARD-\d{4}-\d{4}\.json", path), (
        f"feed new printed {path!r}; the README shows {example[1]!r}"
    )
    assert (repo / path).is_file()
    for command in (
        "depguard feed fmt",
        "depguard feed validate",
        "depguard feed validate --changed-since origin/main",
    ):
        assert f"`{command}`" in steps, f"the README no longer names `{command}`"
        run_shell(Block(block.line, "sh", command + "\n", None), repo)


# Upstream files the import examples name, as they sit in the upstream corpus.
# The CSV is cut to its header and first rows: importing all 795 spends seconds in fsync.
CSV_ROWS = 10
IMPORT_SEEDS = {
    "malicious-packages/osv/malicious/pypi/num2words/MAL-2025-6794.json": "incidents/ossf-malicious-packages/osv/malicious/pypi/num2words/MAL-2025-6794.json",
    "advisory-database/vulns/num2words/PYSEC-2025-72.yaml": "incidents/pypa-advisory-database/vulns/num2words/PYSEC-2025-72.yaml",
    "path/to/records/PYSEC-2026-586.yaml": "incidents/pypa-advisory-database/vulns/tlask/PYSEC-2026-586.yaml",
    "consolidated_iocs.csv": "incidents/datadog-indicators-of-compromise/shai-hulud-2.0/consolidated_iocs.csv",
}


def check_import(block: Block, tmp_path: Path, upstream: Path) -> None:
    """``feed import`` in a fork of this checkout's feed, the files it names copied from the
    upstream corpus to those paths: every command exits 0, ``--format json`` prints JSON,
    the others name the record files they wrote or extended."""
    repo = feed_repo(tmp_path / "fork", history=False)
    for rel, source in IMPORT_SEEDS.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        data = (upstream / source).read_bytes()
        if rel.endswith(".csv"):
            data = b"".join(data.splitlines(keepends=True)[: CSV_ROWS + 1])
        (repo / rel).write_bytes(data)
    for ran in run_shell(block, repo):
        if "--format json" in ran.command:
            json.loads(ran.stdout)
        else:
            assert "feed/" in ran.stdout, ran.describe()


CHECKERS: dict[str, Callable[..., None]] = {
    "sync-excerpt": check_sync_excerpt,
    "summary-line": check_summary_line,
    "config": check_config,
    "check": check_lockfiles,
    "add-advisory": check_add_advisory,
    "import": check_import,
    "library": check_library,
}
DEFAULT_BY_LANGUAGE: dict[str, Callable[..., None]] = {
    "toml": check_toml,
    "json": check_json,
    "yaml": check_yaml,
    "yml": check_yaml,
    **{lang: check_shell for lang in SHELL_LANGUAGES},
    "python": check_python,
}


# --------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("block", BLOCKS, ids=[f"L{b.line}-{b.lang or 'plain'}" for b in BLOCKS])
def test_readme_block(block: Block, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Each block runs as its marker (or, without one, its language) says, or is skipped with a reason."""
    if block.marker is not None and block.marker.startswith("skip"):
        reason = block.marker.removeprefix("skip").lstrip(":").strip()
        assert len(reason) >= 10, f"README.md:{block.line}: a skip marker needs a reason: {block.marker!r}"
        pytest.skip(f"README.md:{block.line}: {reason}")
    if block.marker is not None:
        checker = CHECKERS.get(block.marker)
        assert checker, (
            f"README.md:{block.line}: unknown marker {block.marker!r}; known: {sorted(CHECKERS)} or 'skip: REASON'"
        )
    else:
        checker = DEFAULT_BY_LANGUAGE.get(block.lang)
        assert checker, (
            f"README.md:{block.line}: a ```{block.lang} block has no rule; run it or put "
            "<!-- readme-test: skip: REASON --> (or another marker of tests/test_readme.py) on the line before its fence"
        )
    if checker is check_import:
        checker(block, tmp_path, request.getfixturevalue("upstream_corpus"))
    else:
        checker(block, tmp_path)


def test_every_block_is_found() -> None:
    """The extractor sees every fence: a block it missed would go unchecked."""
    fences = [line for line in README.read_text(encoding="utf-8").splitlines() if FENCE.match(line)]
    assert len(fences) == 2 * len(BLOCKS)
    assert any(b.lang == "sh" and b.text.startswith("depguard feed new") for b in BLOCKS), "the list item's block"


def test_extraction_and_markers() -> None:
    """Indented fences, markers and languages are read as GitHub renders them."""
    text = (
        "intro\n<!-- readme-test: skip: needs the network -->\n```sh\ncurl x\n```\n\n"
        "1. item:\n   ```python\n   print(1)\n   ```\n~~~\nplain\n~~~\n"
    )
    blocks = readme_blocks(text)
    assert [(b.line, b.lang, b.text, b.marker) for b in blocks] == [
        (3, "sh", "curl x\n", "skip: needs the network"),
        (8, "python", "print(1)\n", None),
        (11, "", "plain\n", None),
    ]
    assert shell_commands("# c\na \\\n  b  # x\n\nc\n") == ["a \\\n  b  # x", "c"]
    with pytest.raises(AssertionError, match="never closed"):
        readme_blocks("```sh\nx\n")


def test_unmarked_failing_block_fails(tmp_path: Path) -> None:
    """The default rule for a shell block really runs it: a command that fails fails the test."""
    with pytest.raises(AssertionError, match="expected exit 0"):
        check_shell(Block(1, "sh", "depguard no-such-command\n", None), tmp_path)
    check_shell(Block(1, "sh", "test -f pyproject.toml\n", None), tmp_path / "ok")  # a good one passes


def test_quickstart_sync_check_passes_in_this_checkout() -> None:
    """The quickstart ends with ``.venv/bin/depguard sync --check`` in this checkout: it must pass."""
    quickstart = next(b for b in BLOCKS if "python3 -m venv" in b.text)
    last = quickstart.text.strip().split("&&")[-1].strip()
    assert last == ".venv/bin/depguard sync --check", last
    done = subprocess.run(
        [str(BIN / "depguard"), "sync", "--check"],
        check=False,
        cwd=REPO,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_sync_options_sentence_names_every_option() -> None:
    """ "`depguard sync --help` lists every option: ..." names exactly the options --help shows."""
    done = subprocess.run(
        [str(BIN / "depguard"), "sync", "--help"],
        check=False,
        env={**cli_env(), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    options = done.stdout.split("Options:", 1)[1]
    shown = set(re.findall(r"^\s+(?:-[a-zA-Z], )?(--[a-z][a-z-]*)", options, flags=re.MULTILINE)) - {"--help"}
    text = " ".join(README.read_text(encoding="utf-8").split())
    sentence = re.search(r"`depguard sync --help` lists every option: (.*?\(see below\)\.)", text)
    assert sentence, "the README's sentence listing sync's options"
    named = set(re.findall(r"`(--[a-z][a-z-]*)", sentence[1]))
    assert named == shown, f"missing from the README: {sorted(shown - named)}; not an option: {sorted(named - shown)}"
    choices = re.findall(r"^\s+(--[a-z-]+) <(?:list\[)?([a-z|-]+\|[a-z|-]+)\]?>", options, flags=re.MULTILINE)
    assert {"--format", "--target"} <= {option for option, _ in choices}, options
    for option, values in choices:
        assert f"`{option} {values}`" in sentence[1], f"the README should show {option}'s choices as {values}"
