"""The ``depguard`` command line: parse, call the library, render, pick an exit code.

This is the only module that imports typer, and it holds no logic of its own: every command
is a few lines over a library function another tool could call directly. Heavy modules are
imported inside the commands so ``depguard --help`` stays fast.

Exit codes, for CI: 0 clean or done, 1 findings (feed errors, stale blocks, compromised
versions found), 2 usage or runtime errors (bad input, no usable feed, unsafe file).
"""

from __future__ import annotations

import datetime as _dt
import enum
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from depguard import __version__
from depguard.display import printable, printable_text
from depguard.errors import DepguardError
from depguard.redact import redact_text, redact_url
from depguard.resources import bundled_feed_dir

if TYPE_CHECKING:
    from depguard.reports.sync import Line

__all__ = ["app", "main"]

EXIT_OK, EXIT_FOUND, EXIT_ERROR = 0, 1, 2

app = typer.Typer(
    name="depguard",
    help=(
        "Keep every project in a repo from resolving compromised releases.\n\n"
        "depguard compiles a curated OSV feed of hijacked releases (litellm 1.82.7, ultralytics "
        "8.3.41, ...) into resolver constraints that uv and pip obey, and finds bad versions "
        "already locked or installed."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
feed_app = typer.Typer(
    help="Work on a feed: validate records, add a new advisory, format files.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(feed_app, name="feed")


class OutputFormat(str, enum.Enum):
    text = "text"
    json = "json"


# --- output: every character the CLI prints goes through these functions ------------------
#
# Text is escaped (depguard.display): paths, package names and feed text may hold terminal
# escape sequences. JSON and SARIF are printed as they are: they must stay exact, and their
# encoders escape control characters themselves. Diagnostics are one line each, prefixed
# "depguard: warning: " or "depguard: error: ", on stderr.


#: ``--feed`` and ``--offline`` as sync and check take them: one spelling, one help text.
FeedOption = Annotated[
    str | None,
    typer.Option(
        "--feed",
        help="Feed source: an https URL of a published feed, a built tree or a feed directory. Default: $DEPGUARD_FEED, [tool.depguard] feed, else the published feed (cached; falls back to the cache, then the bundled snapshot).",
    ),
]
OfflineOption = Annotated[
    bool,
    typer.Option(
        "--offline",
        help="Do not download: use the cached copy of the feed (else the bundled snapshot). Also $DEPGUARD_OFFLINE=1.",
    ),
]


def _say(text: str, *, err: bool = False) -> None:
    """One line of text output, escaped whole (a newline in a path cannot start a fake line)."""
    typer.echo(printable(text), err=err)


def _say_block(text: str, *, nl: bool = True) -> None:
    """Multi-line text output (a report, a diff): escaped, its line breaks and tabs kept."""
    typer.echo(printable_text(text), nl=nl)


def _say_exact(text: str, *, nl: bool = True) -> None:
    """Machine output (JSON, SARIF) exactly as rendered."""
    typer.echo(text, nl=nl)


def _say_json(data: Any) -> None:
    _say_exact(json.dumps(data, indent=2))


def _warn(message: str) -> None:
    """A warning: the command goes on (and its exit code does not change for it). Feed URLs
    in it are redacted (:mod:`depguard.redact`), as everywhere a URL is printed."""
    _say(f"depguard: warning: {redact_text(message)}", err=True)


def _error(message: str) -> None:
    """An error: something was refused or failed; the caller picks the exit code. Feed URLs
    in it are redacted."""
    _say(f"depguard: error: {redact_text(message)}", err=True)


def _fail(message: str, code: int = EXIT_ERROR) -> typer.Exit:
    """Report ``message`` as an error and return the exit to raise."""
    _error(message)
    return typer.Exit(code)


def _say_lines(lines: Sequence[Line]) -> None:
    """A report rendered as tagged lines (:mod:`depguard.reports.sync`), in order."""
    for line in lines:
        if line.kind == "warning":
            _warn(line.text)
        elif line.kind == "error":
            _error(line.text)
        elif line.block:
            _say_block(line.text, nl=line.newline)
        else:
            _say(line.text)


def _version_callback(value: bool) -> None:
    if value:
        _say(f"depguard {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Root options."""


def _default_feed_dir() -> Path:
    """``./feed`` in a checkout of the feed, else the snapshot bundled with depguard."""
    local = Path("feed")
    if local.is_dir():
        return local
    return bundled_feed_dir()


# --- depguard feed ... ---------------------------------------------------------------------


@feed_app.command("validate")
def feed_validate(
    path: Annotated[
        Path | None, typer.Argument(help="Feed directory. Default: ./feed if present, else the bundled feed.")
    ] = None,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="text for people, json for tools.")
    ] = OutputFormat.text,
    changed_since: Annotated[
        str | None,
        typer.Option(
            "--changed-since",
            metavar="REF",
            help="Only the records that differ from git REF (e.g. origin/main; cross-record rules still see the whole feed), plus history rules: an id at REF never disappears (withdraw instead), published never changes, changed content needs a later modified, a new id never reuses a number REF's history used.",
        ),
    ] = None,
) -> None:
    """Check every record: OSV schema, depguard's profile, layout, versions, overlaps, format.

    Every problem in the feed is reported in one run, each with its file and JSON pointer.
    Exit 0 when the feed is clean, 1 when it has errors, 2 when it cannot be read (or, with
    --changed-since, REF or the git repository cannot be read).
    """
    from depguard import feed as feed_mod  # lazy: the feed loader and the schemas, for feed commands only

    root = path or _default_feed_dir()
    since = None
    try:
        if changed_since is not None:
            from depguard.history import validate_changed_since  # lazy: git history, only with --changed-since

            since = _keep(validate_changed_since(root, changed_since))
            issues = since.issues
            count = len(since.feed.entries) + sum(1 for i in since.feed.load_issues if i.rule in {"json", "readable"})
        else:
            validation = feed_mod.validate_feed(root)
            count, issues = validation.records, validation.issues
    except DepguardError as exc:
        raise _fail(str(exc)) from None
    if output is OutputFormat.json:
        report = {"feed": str(root), "records": count, "errors": [i.to_json() for i in issues]}
        if since is not None:
            report["changed_since"] = {
                "ref": since.ref,
                "commit": since.commit,
                "changed": [str(p) for p in since.changed],
                "removed": [str(p) for p in since.removed],
            }
        _say_json(report)
    else:
        for issue in issues:
            _say(str(issue))
        files = len({i.path for i in issues})
        verdict = f"{len(issues)} error(s) in {files} file(s)" if issues else "no errors"
        scope = (
            f", {len(since.changed)} changed and {len(since.removed)} removed since {since.ref} ({since.commit[:12]})"
            if since
            else ""
        )
        _say(f"{root}: {count} record(s){scope}, {verdict}")
    raise typer.Exit(EXIT_FOUND if issues else EXIT_OK)


@feed_app.command("new")
def feed_new(
    package: Annotated[str, typer.Option("--package", "-p", help="Package name as the index spells it.")],
    versions: Annotated[list[str], typer.Option("--version", "-v", help="A compromised version; repeat for each.")],
    summary: Annotated[str, typer.Option("--summary", "-s", help="One line: what happened.")],
    ecosystem: Annotated[str, typer.Option("--ecosystem", "-e", help="PyPI or npm.")] = "PyPI",
    aliases: Annotated[
        list[str] | None,
        typer.Option("--alias", help="A public id of the same incident (MAL-, PYSEC-, GHSA-, CVE-); repeatable."),
    ] = None,
    references: Annotated[
        list[str] | None,
        typer.Option("--reference", help="An https URL that documents it; repeatable, primary source first."),
    ] = None,
    root: Annotated[Path, typer.Option("--feed", help="Feed directory to add the record to.")] = Path("feed"),
) -> None:
    """Add an advisory for compromised versions under the next free id of this year.

    Writes a canonical, valid record and prints its path; edit its details before you open a
    pull request, then run `depguard feed validate`.

    Example: depguard feed new --package litellm --version 1.82.7 --version 1.82.8
    --summary "Compromised litellm releases steal credentials" --alias MAL-2026-2144
    --reference https://github.com/BerriAI/litellm/issues/24512
    """
    from depguard.feed import create_record  # lazy: the feed loader and the schemas, for feed commands only

    try:
        target = create_record(
            root,
            ecosystem=ecosystem,
            package=package,
            versions=versions,
            summary=summary,
            aliases=aliases or [],
            references=references or [],
        )
    except DepguardError as exc:
        raise _fail(str(exc)) from None
    _say(str(target))


@feed_app.command("import")
def feed_import(
    paths: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="PATH...",
            help="Upstream OSV records: files (.json, .yaml), folders (searched recursively) or - for stdin.",
        ),
    ] = None,
    root: Annotated[Path, typer.Option("--feed", help="Feed directory to write drafts into.")] = Path("feed"),
    csv_file: Annotated[
        Path | None,
        typer.Option(
            "--csv",
            metavar="FILE",
            help="A CSV list of compromised packages instead of OSV records: one record per package.",
        ),
    ] = None,
    references: Annotated[
        list[str] | None,
        typer.Option(
            "--reference",
            metavar="URL",
            help="With --csv: the https page that publishes the list (required); repeat for the campaign's analyses, which follow it as references.",
        ),
    ] = None,
    published: Annotated[
        str | None,
        typer.Option(
            "--published", metavar="DATE", help="With --csv: when the campaign was disclosed, ISO date (required)."
        ),
    ] = None,
    campaign: Annotated[
        str | None,
        typer.Option(
            "--campaign", metavar="TEXT", help="With --csv: the campaign's name, used in the generated text (required)."
        ),
    ] = None,
    ecosystem: Annotated[
        str, typer.Option("--ecosystem", "-e", help="With --csv: ecosystem of rows that do not say (npm or PyPI).")
    ] = "npm",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would be written; write nothing.")] = False,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="text for people, json for tools.")
    ] = OutputFormat.text,
) -> None:
    """Draft feed records from upstream OSV records (MAL-, GHSA-, PYSEC-) or a CSV IOC list.

    Records that share an id or alias are one incident and become one draft (next free id of
    the year it was published); a package a live record already covers is added to that
    record instead (versions, aliases and references merged, its text kept). Only explicit
    versions are copied: a range without listed versions becomes a TODO(depguard import) line
    that `depguard feed validate` refuses until you resolve it. Rewrite each draft's summary
    and details, then run `depguard feed validate`. Exit 0 when done, 2 on bad input (then
    nothing is written).

    Example: depguard feed import MAL-2026-2144.json PYSEC-2026-2.yaml

    Example: depguard feed import --dry-run --format json malicious-packages/osv/malicious/

    Example: depguard feed import --csv iocs.csv --reference https://example.org/iocs
    --published 2025-11-24 --campaign "Shai-Hulud 2.0"
    """
    from depguard import importer  # lazy: the upstream readers, for feed import only

    now = _dt.datetime.now(_dt.timezone.utc)
    references = references or []
    try:
        if not root.is_dir():
            raise _fail(f"feed directory not found: {root}")
        if csv_file is not None:
            if paths:
                raise _fail("give either PATH... or --csv, not both")
            missing = [
                flag
                for flag, value in (("--reference", references), ("--published", published), ("--campaign", campaign))
                if not value
            ]
            if missing:
                raise _fail(f"--csv needs {', '.join(missing)}")
            when = _iso_date(published or "")
            notes: list = []
            packages = importer.read_csv(
                importer.read_bounded(csv_file), str(csv_file), ecosystem=ecosystem, notes=notes
            )
            plan = importer.plan_csv(
                packages, root, references=references, published=when, campaign=campaign or "", now=now, notes=notes
            )
        else:
            if not paths:
                raise _fail("nothing to import: give PATH... (files, folders or -) or --csv FILE")
            records = importer.read_upstream(paths)
            plan = importer.plan_import(records, root, now=now)
        if not dry_run:
            importer.write_plan(plan, root)
    except DepguardError as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        raise _fail(f"{getattr(exc, 'filename', None) or ''}: {exc.strerror or exc}") from None
    if output is OutputFormat.json:
        _say_json({"feed": str(root), "dry_run": dry_run, **plan.to_json()})
    else:
        for line in importer.iter_lines(plan, root, dry_run=dry_run):
            _say(line)
    raise typer.Exit(EXIT_OK)


def _iso_date(text: str) -> _dt.datetime:
    """``2025-11-24`` or a full RFC 3339 timestamp, as an aware UTC datetime."""
    try:
        value = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _fail(f"--published must be an ISO date such as 2025-11-24: {text!r}") from None
    return value.replace(tzinfo=_dt.timezone.utc) if value.tzinfo is None else value.astimezone(_dt.timezone.utc)


@feed_app.command("fmt")
def feed_fmt(
    path: Annotated[
        Path | None, typer.Argument(help="Feed directory. Default: ./feed if present, else the bundled feed.")
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Only report files that are not canonical; exit 1 if any.")
    ] = False,
) -> None:
    """Rewrite records in canonical form (OSV key order, 2-space indent, UTF-8, final newline)."""
    from depguard import feed as feed_mod  # lazy: the feed loader and the schemas, for feed commands only

    root = path or _default_feed_dir()
    try:
        changed = feed_mod.format_feed(root, check=check)
    except DepguardError as exc:
        raise _fail(str(exc)) from None
    for rel in changed:
        _say(f"{'would reformat' if check else 'reformatted'} {root / rel}")
    if not changed:
        _say(f"{root}: all records canonical")
    raise typer.Exit(EXIT_FOUND if (check and changed) else EXIT_OK)


class _BuildProgress:
    """A progress bar on stderr for large feeds, only when stderr is a terminal."""

    THRESHOLD = 500

    def __init__(self) -> None:
        self._bar: Any = None  # typer's ProgressBar once shown
        self._done = 0

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            if total < self.THRESHOLD or not sys.stderr.isatty():
                return
            self._bar = typer.progressbar(length=total, label="building the feed", file=sys.stderr)
            self._bar.__enter__()
        self._bar.update(done - self._done)
        self._done = done

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)


@feed_app.command("build")
def feed_build(
    path: Annotated[
        Path | None, typer.Argument(help="Feed directory. Default: ./feed if present, else the bundled feed.")
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Directory to write the static tree to (replaced whole).")
    ] = Path("public"),
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            help="URL the tree will be served from, for links in the Atom feed, the page and constraints/pypi.txt. Default: the project's published feed.",
        ),
    ] = None,
) -> None:
    """Validate the feed, then write it as static files for any web host (GitHub Pages).

    Writes index.json + all.json (what `depguard sync` downloads), the osv.dev layout
    (<Ecosystem>/<ID>.json, all.zip, modified_id.csv, ecosystems.txt), constraints/pypi.txt
    (for pip install -c URL and UV_CONSTRAINT=URL), feed.atom and index.html. The output is
    byte-identical for the same feed. An invalid feed is not published: exit 1.
    """
    from depguard.feed import load_feed  # lazy: the feed loader and the schemas, for feed commands only
    from depguard.publish import DEFAULT_SITE_URL, FeedNotPublishable, build_site  # lazy: for feed build only

    root = path or _default_feed_dir()
    progress = _BuildProgress()
    try:
        feed = _keep(load_feed(root, lint=True))  # linted while loading: build_site's lint takes that
        result = build_site(feed, out, base_url=base_url or DEFAULT_SITE_URL, progress=progress)
    except FeedNotPublishable as exc:
        progress.close()
        for issue in exc.issues:
            _say(str(issue), err=True)
        raise _fail(f"{root}: {len(exc.issues)} error(s); nothing was published", EXIT_FOUND) from None
    except DepguardError as exc:
        progress.close()
        raise _fail(str(exc)) from None
    progress.close()
    _say(
        f"{result.out}: {result.records} record(s), {len(result.files)} file(s), feed modified {result.newest_modified or 'never'}"
    )


class StatsFormat(str, enum.Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


@feed_app.command("stats")
def feed_stats(
    path: Annotated[
        Path | None,
        typer.Argument(help="Feed directory or built tree. Default: ./feed if present, else the bundled feed."),
    ] = None,
    output: Annotated[
        StatsFormat,
        typer.Option("--format", help="text for people, json for tools, markdown for the README's headline block."),
    ] = StatsFormat.text,
) -> None:
    """Count a feed's records in force per ecosystem and per year: records, packages,
    package@version pairs, whole-package blocks; withdrawn records apart.

    The records are checked as every consumer checks them; a feed with an invalid record is
    refused (exit 2). --format markdown prints the block between the feed-stats markers of
    README.md.
    """
    from depguard import feedstats  # lazy: pydantic models of the records, not needed by --help
    from depguard.sources import source_for  # lazy: pydantic and the schemas, not needed by --help

    root = path or _default_feed_dir()
    try:
        stats = feedstats.compute(source_for(str(root)).load().records)
    except DepguardError as exc:
        raise _fail(str(exc)) from None
    rendered = feedstats.render(stats, output.value)
    if output is StatsFormat.json:
        _say_exact(rendered, nl=False)
    else:
        _say_block(rendered, nl=False)
    raise typer.Exit(EXIT_OK)


@feed_app.command("status")
def feed_status(
    feed: Annotated[
        str | None,
        typer.Option(
            "--feed",
            help="Feed source, as for sync. Default: $DEPGUARD_FEED, [tool.depguard] feed, else the published feed.",
        ),
    ] = None,
    offline: Annotated[bool, typer.Option("--offline", help="Do not download; report the cached copy.")] = False,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="text for people, json for tools.")
    ] = OutputFormat.text,
) -> None:
    """Show which feed sync would use: its source, age, size and cache location.

    Resolves the feed exactly as sync does (one conditional request for a URL source), then
    counts its records in force per ecosystem and per year and lists the 10 newest incidents.
    """
    from depguard.feedstatus import status  # lazy: pydantic and the feed sources, not needed by --help
    from depguard.gitops import find_root  # lazy: git's subprocess helpers, not needed by --help

    try:
        report = status(feed, root=find_root(Path.cwd()), offline=offline)
    except DepguardError as exc:
        raise _fail(str(exc)) from None
    if output is OutputFormat.json:
        _say_json(report.to_json())
        raise typer.Exit(EXIT_OK)
    _say_block(report.render_text(), nl=False)
    for warning in report.warnings:
        _warn(warning)
    raise typer.Exit(EXIT_OK)


#: What a command built that would take long to free (a loaded feed: millions of objects),
#: kept until :func:`main` ends the process, which leaves it to the OS (see :func:`_end`).
_KEPT: list[object] = []


def _keep(value: Any) -> Any:
    """Hold ``value`` until the process ends, and return it."""
    _KEPT.append(value)
    return value


def main() -> None:
    """Console-script entry point: runs one command and ends the process with its exit code."""
    import gc

    # depguard allocates many small objects in bulk (records, versions) and few cycles: the
    # default thresholds spent more time collecting than a 20k-record check spent working.
    gc.set_threshold(10_000, 50, 100)
    try:
        app()
    except DepguardError as exc:  # a library refusal that a command did not translate
        _error(str(exc))
        _end(EXIT_ERROR)
    except SystemExit as exc:
        _end(exc.code)
    _end(EXIT_OK)


def _end(code: str | int | None) -> NoReturn:
    """End the process with ``code`` (as ``sys.exit`` reads it), without the interpreter's teardown.

    The command is done, and the teardown would only free memory the OS takes back anyway:
    a full collection over every object alive (45 ms of a 270 ms warm sync), then every
    module's objects one by one (a 20,000-record feed: 0.1 s after ``feed validate``, 0.15 s
    after ``feed build``; mypy ends the same way). What the teardown does that matters is
    done here: ``atexit`` handlers run, then the standard streams are flushed; every file
    depguard writes is closed explicitly (:mod:`depguard.atomic`). With another thread
    running, the teardown that waits for it runs as usual, only without the collection.
    """
    import atexit
    import gc
    import os
    import threading

    gc.freeze()  # what is alive now is never collected: no walk over it at exit either
    if threading.active_count() > 1:
        sys.exit(code)
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # sys.exit("message"): printed, exit 1
        print(code, file=sys.stderr)
        status = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        if stream is None or stream.closed:
            continue
        try:
            stream.flush()
        except OSError:  # a reader that went away (`depguard check | head`): exit 120, as the teardown does
            status = 120
    os._exit(status)


# --- depguard sync -------------------------------------------------------------------------


class Target(str, enum.Enum):
    uv = "uv"
    pip = "pip"
    pip_tools = "pip-tools"


@app.command("sync")
def sync_command(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Projects (directories or pyproject.toml files). Default: every project git sees in the repo (tracked, or untracked and not ignored)."
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Change nothing; print a diff and exit 1 if any block is stale (for CI and pre-commit)."
        ),
    ] = False,
    diff: Annotated[
        bool,
        typer.Option(
            "--diff",
            help="Preview: print a unified diff of each change and write nothing; exit 1 when something would change (as black --diff and ruff --diff do).",
        ),
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would change; write nothing; exit 0.")] = False,
    feed: FeedOption = None,
    offline: OfflineOption = False,
    allow_rollback: Annotated[
        bool,
        typer.Option(
            "--allow-rollback",
            help="Accept a downloaded feed older than the copy verified before (normally refused: a replayed feed could lift constraints).",
        ),
    ] = False,
    allow_shrink: Annotated[
        bool,
        typer.Option(
            "--allow-shrink",
            help="Accept a downloaded feed that dropped more than half of the records verified before, or lifts more than half of the exclusions in force (deleted, withdrawn or trimmed records).",
        ),
    ] = False,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="text for people, json for tools.")
    ] = OutputFormat.text,
    targets: Annotated[
        list[Target] | None,
        typer.Option(
            "--target",
            help="Write only these targets (repeatable): uv = [tool.uv] constraint-dependencies, pip = constraints file, pip-tools = -c line in requirements*.in and requirements/*.in.",
        ),
    ] = None,
    relock: Annotated[
        bool, typer.Option("--relock", help="After writing, run `uv lock` in each changed uv project.")
    ] = False,
    commit: Annotated[
        bool,
        typer.Option(
            "--commit",
            help="Commit exactly the files sync changed (and uv.lock files --relock refreshed) on the checked-out branch; other staged or unstaged changes stay out of the commit and stay as they were. Refused (exit 2, nothing written) outside a git repo, on a detached HEAD, during a merge/rebase/cherry-pick/revert, or when a file sync must change has uncommitted changes. No commit when nothing changed.",
        ),
    ] = False,
    branch: Annotated[
        str | None,
        typer.Option(
            "--branch",
            help="With --commit (implied): create or reset branch NAME from HEAD with the sync commit, for a bot's pull request. Sync runs in a temporary checkout of HEAD: your checked-out branch, index and work tree are left exactly as they were.",
        ),
    ] = None,
    message_file: Annotated[
        Path | None,
        typer.Option(
            "--message-file",
            help="With --commit: also WRITE the generated commit message (advisories added or lifted, versions, links, the reproducing command) to this file, e.g. as a pull request body. Written only when a commit is made.",
        ),
    ] = None,
) -> None:
    """Write managed constraint blocks so no resolver in this repo can pick a compromised release.

    For each project: uv projects get a block in [tool.uv] constraint-dependencies (workspace
    roots only: uv ignores members' constraints), pip users a constraints file, pip-tools users
    a -c line in every requirements*.in and requirements/*.in. Everything outside the marked
    block stays byte-identical.

    poetry, pdm and hatch projects (told apart by their lockfiles and [tool.*] tables) have no
    subtractive constraint mechanism sync can write: they are listed with the `depguard check`
    command to gate CI with, not written. Projects under fixtures/, testdata/, templates/ and
    similar folders are skipped unless [tool.depguard] include names them. The last line
    counts projects protected, not protectable and skipped.

    Exit 0 when up to date or written, 1 when --check or --diff finds a stale block (or, with
    [tool.depguard] unprotected = "fail", a project sync cannot protect), 2 on errors (a file
    that cannot be edited safely is reported and left untouched).
    """
    from depguard import sync as sync_mod  # lazy: the compiler and writers, not needed by --help
    from depguard.config import load_config  # lazy: tomllib and the config model, not needed by --help
    from depguard.gitops import find_root  # lazy: git's subprocess helpers, not needed by --help
    from depguard.sources import FetchOptions, resolve  # lazy: pydantic and the schemas, not needed by --help

    root = find_root(Path.cwd())
    commit = commit or branch is not None
    # --diff previews, as black and ruff do (exit 1 when stale); --dry-run keeps its exit 0, --commit shows what it commits
    check = check or (diff and not commit and not dry_run)
    if commit and (check or dry_run):
        raise _fail("--commit/--branch cannot be combined with --check or --dry-run")
    if message_file is not None and not commit:
        raise _fail("--message-file needs --commit or --branch")
    try:  # one sync per repo at a time (shared for read-only runs); released when the command ends
        from depguard.locking import sync_lock  # lazy: file locks, for sync only

        ctx.with_resource(sync_lock(root, shared=check or dry_run, on_wait=lambda m: _say(f"depguard: {m}", err=True)))
    except DepguardError as exc:
        raise _fail(str(exc)) from None
    try:
        if commit:
            from depguard.gitsync import preflight  # lazy: git plumbing, only with --commit/--branch

            preflight(root, branch=branch)
        config = load_config(root / "pyproject.toml")
        options = FetchOptions.from_env(offline=offline, allow_rollback=allow_rollback, allow_shrink=allow_shrink)
        snapshot = _keep(resolve(feed, config_feed=config.feed, config_dir=root, options=options).load())
        if commit:
            _sync_commit(
                root,
                snapshot,
                paths or [],
                targets=[t.value for t in targets or []] or None,
                relock=relock,
                branch=branch,
                message_file=message_file,
                output=output,
                show_diff=diff,
                feed=feed,
            )
        projects = sync_mod.load_projects(root, paths or (), exclude=config.exclude, include=config.include)
        plan = sync_mod.plan(root, projects, snapshot, config, targets=[t.value for t in targets or []] or None)
    except DepguardError as exc:
        raise _fail(str(exc)) from None
    written = [] if (check or dry_run) else sync_mod.apply(plan)
    relocked = sync_mod.relock(written) if relock and written else []
    from depguard.reports import sync as sync_report  # lazy: the sync renderers, for sync only

    if output is OutputFormat.json:
        _say_json(sync_report.to_json(plan, written, relocked, check or dry_run))
    else:
        _say_lines(
            sync_report.text_lines(
                plan,
                written,
                relocked,
                show_diff=diff or check,
                preview=check or dry_run,
                fail_unprotected=check and config.unprotected == "fail",
            )
        )
    if plan.refusals or any(not r.ok for r in relocked):
        raise typer.Exit(EXIT_ERROR)
    unprotected_fails = check and config.unprotected == "fail" and bool(plan.unprotected)
    raise typer.Exit(EXIT_FOUND if (check and plan.stale) or unprotected_fails else EXIT_OK)


def _sync_commit(
    root: Path,
    snapshot,
    paths: list[Path],
    *,
    targets: list[str] | None,
    relock: bool,
    branch: str | None,
    message_file: Path | None,
    output: OutputFormat,
    show_diff: bool,
    feed: str | None,
) -> None:
    """``sync --commit [--branch]``: library call, then report; always ends in typer.Exit."""
    from depguard.atomic import write_bytes  # lazy: for --message-file only
    from depguard.gitsync import commit_sync  # lazy: git plumbing, only with --commit/--branch
    from depguard.reports import sync as sync_report  # lazy: the sync renderers, for sync only

    reproduce = " ".join(
        [
            "depguard sync",
            *(["--feed", redact_url(feed)] if feed else []),
            *(f"--target {t}" for t in targets or []),
            *(["--relock"] if relock else []),
            *(sync_report.rel(p.resolve(), root) for p in paths),
        ]
    )
    result = commit_sync(
        root, snapshot, paths=paths, targets=targets, relock=relock, branch=branch, reproduce=reproduce
    )
    if result.commit_sha and message_file is not None:
        write_bytes(message_file, result.message.encode("utf-8"))
    if output is OutputFormat.json:
        _say_json(sync_report.commit_json(result))
    else:
        _say_lines(sync_report.commit_lines(result, show_diff=show_diff))
    failed = result.blocked or result.plan.refusals or any(not r.ok for r in result.relocked)
    raise typer.Exit(EXIT_ERROR if failed else EXIT_OK)


# --- depguard check ------------------------------------------------------------------------


class CheckFormat(str, enum.Enum):
    text = "text"
    json = "json"
    sarif = "sarif"


@app.command("check")
def check_command(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Lockfiles or directories; with --env also interpreters or virtualenvs. Default: every lockfile git sees in the repo (tracked, or untracked and not ignored)."
        ),
    ] = None,
    env: Annotated[
        bool,
        typer.Option(
            "--env",
            help="Check installed distributions: of each interpreter or virtualenv among PATHS (then only those, unless lockfiles are named too), else of the Python running depguard as well as the repo's lockfiles. Their metadata (*.dist-info, *.egg-info) is read as files: the inspected interpreter is never started and nothing in it runs (a hostile pyvenv.cfg or .pth file cannot act).",
        ),
    ] = False,
    feed: FeedOption = None,
    offline: OfflineOption = False,
    output: Annotated[
        CheckFormat, typer.Option("--format", help="text for people, json for tools, sarif for GitHub code scanning.")
    ] = CheckFormat.text,
) -> None:
    """Find compromised releases already locked or installed: constraints only stop the next resolve.

    Reads uv.lock, pylock.toml, poetry.lock, pdm.lock, requirements*.txt, *constraints*.txt and
    requirements/*.txt (following -r/-c inside the repo), Pipfile.lock, and for npm
    package-lock.json, npm-shrinkwrap.json, pnpm-lock.yaml, yarn.lock (classic and berry) and
    bun.lock (npm: aliases count as the real package), and the uses: references of GitHub
    workflows (.github/workflows/*.yml, *.yaml) and action.yml/action.yaml (a listed tag, exact
    and case-sensitive, or a known-bad full commit SHA; any other full SHA is clean), and
    reports each entry a live advisory names, at its file and line. [tool.depguard] ignore entries are listed with their reason,
    not failed. Outside a git repo the current folder is searched, never inside nested
    repositories, virtualenvs or node_modules.

    Exit 0 when clean, 1 when a compromised package is found (even if another file could not
    be read: a finding is never reported as a mere error), 2 when something could not be read
    and nothing compromised was found. Findings are printed first; the summary line names both.
    """
    from depguard import check as check_mod  # lazy: lockfile readers and matching, for check only
    from depguard.config import load_config  # lazy: tomllib and the config model, not needed by --help
    from depguard.gitops import find_root  # lazy: git's subprocess helpers, not needed by --help
    from depguard.reports import render  # lazy: report renderers, for check only
    from depguard.sources import FetchOptions, resolve  # lazy: pydantic and the schemas, not needed by --help

    root = find_root(Path.cwd())
    lockfile_paths, environments = check_mod.split_environments(paths or [], env=env)
    try:
        config = load_config(root / "pyproject.toml")
        options = FetchOptions.from_env(offline=offline)
        snapshot = _keep(resolve(feed, config_feed=config.feed, config_dir=root, options=options).load())
    except DepguardError as exc:
        raise _fail(str(exc)) from None
    only_envs = (
        env and bool(paths) and not lockfile_paths
    )  # `check --env .venv`: that environment, not the folder around it
    report = check_mod.run(
        root, snapshot, config, paths=lockfile_paths, environments=environments, lockfiles=not only_envs
    )
    rendered = render(report, output.value)
    if output is CheckFormat.text:
        _say_block(rendered, nl=False)
    else:
        _say_exact(rendered, nl=False)
    for warning in report.warnings:
        _warn(warning)
    for error in report.errors:
        _error(error)
    raise typer.Exit(EXIT_FOUND if report.findings else EXIT_ERROR if report.errors else EXIT_OK)


# --- depguard serve ------------------------------------------------------------------------


@app.command("serve")
def serve_command(
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on. Only loopback addresses unless --allow-remote.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port; 0 picks a free one (the URL is printed).")] = 8000,
    feed: Annotated[
        str | None,
        typer.Option(
            "--feed",
            help="Feed source: a feed directory (watched for changes), a built tree or an https URL (fetched again every 5 minutes). Default: $DEPGUARD_FEED, [tool.depguard] feed, else the published feed.",
        ),
    ] = None,
    allow_remote: Annotated[
        bool,
        typer.Option(
            "--allow-remote",
            help="Allow a non-loopback --host. Anyone who reaches it can query the feed: no TLS, no auth (read-only).",
        ),
    ] = False,
    poll: Annotated[
        float, typer.Option("--poll", help="Seconds between checks of the feed for changes; 0 checks only on SIGHUP.")
    ] = 2.0,
) -> None:
    """Serve the feed over the OSV API (read-only), for uv audit, pip-audit and other OSV clients.

    Endpoints as on osv.dev: POST /v1/query, POST /v1/querybatch, GET /v1/vulns/ID. Withdrawn
    records never match a query but are still served by id. The feed is reloaded when its
    files change (or on SIGHUP); a broken edit keeps the last good feed serving.

    Use it with: uv audit --service-url URL, or pip-audit -s osv --osv-url URL/v1/query.
    Listens on 127.0.0.1 only, unless --allow-remote. Stop with Ctrl-C.
    """
    import signal

    from depguard.config import load_config  # lazy: tomllib and the config model, not needed by --help
    from depguard.gitops import find_root  # lazy: git's subprocess helpers, not needed by --help
    from depguard.serve import start_server  # lazy: the HTTP server, for serve only
    from depguard.sources import resolve  # lazy: pydantic and the schemas, not needed by --help

    def report(event) -> None:
        for warning in event.warnings:
            _warn(warning)
        if event.ok:
            _say(f"reloaded {event.source}: {event.records} record(s) (generation {event.generation})")
        else:
            _warn(f"reload failed, still serving the previous feed: {event.error}")

    try:
        root = find_root(Path.cwd())
        source = resolve(feed, config_feed=load_config(root / "pyproject.toml").feed, config_dir=root)
        server = start_server(
            source,
            host=host,
            port=port,
            allow_remote=allow_remote,
            poll_interval=poll if poll > 0 else None,
            on_reload=report,
        )
    except DepguardError as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        raise _fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    if hasattr(signal, "SIGHUP"):  # before the URL is printed: a client may signal right away
        signal.signal(signal.SIGHUP, lambda *_: server.request_reload())
    snapshot = server.snapshot
    for warning in snapshot.warnings:
        _warn(warning)
    _say(f"serving {len(snapshot.records)} record(s) from {snapshot.source} ({snapshot.kind}) at {server.url}")
    _say(f"  uv audit --service-url {server.url}")
    _say(f"  pip-audit -s osv --osv-url {server.url}/v1/query")
    try:
        while not server.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
    raise typer.Exit(EXIT_OK)
