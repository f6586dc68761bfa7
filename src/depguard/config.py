"""``[tool.depguard]``: a repo's own settings, checked strictly.

A typo in a security tool's config must not silently turn protection off, so unknown keys,
wrong types and an ``ignore`` entry without a reason are errors, and an expired ignore entry
stops applying on its date and says so.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from depguard.display import is_plain, printable
from depguard.errors import ConfigError, ProjectError
from depguard.tomlread import TOMLReadError, loads

__all__ = ["MAX_PROJECT_FILE_BYTES", "TARGETS", "Config", "IgnoreEntry", "load_config", "parse_config", "read_toml"]

TARGETS = ("uv", "pip", "pip-tools")
#: The largest project file depguard reads or edits (pyproject.toml, constraints and
#: requirements files). Real ones are kilobytes; a 20 MB pyproject.toml full of comments
#: would take tomlkit half a minute per parse, so anything above this is refused up front
#: (before it is even read) instead of stalling every CI run of the repo.
MAX_PROJECT_FILE_BYTES = 4 * 1024 * 1024
_KEYS = {"feed", "targets", "constraints-file", "ignore", "ecosystems", "exclude", "include", "unprotected"}
#: What ``sync --check`` does about a project whose resolver sync cannot reach (poetry, pdm).
UNPROTECTED_POLICIES = ("warn", "fail")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class IgnoreEntry:
    """An advisory a repo has decided not to apply, with its reason and optional expiry date."""

    id: str
    reason: str
    until: _dt.date | None = None

    def active(self, today: _dt.date) -> bool:
        return self.until is None or today <= self.until


@dataclass(frozen=True)
class Config:
    feed: str | None = None
    targets: tuple[str, ...] | None = None
    constraints_file: str = "constraints.txt"
    ignore: tuple[IgnoreEntry, ...] = ()
    ecosystems: tuple[str, ...] = ("PyPI",)
    exclude: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    unprotected: str = "warn"
    source: Path | None = field(default=None, compare=False)

    def ignored_ids(self, today: _dt.date) -> frozenset[str]:
        return frozenset(entry.id for entry in self.ignore if entry.active(today))

    def expired(self, today: _dt.date) -> tuple[IgnoreEntry, ...]:
        return tuple(entry for entry in self.ignore if not entry.active(today))


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file (:mod:`depguard.tomlread`: bounded depth); errors name the file, line and column."""

    try:
        size = path.stat().st_size
        if size > MAX_PROJECT_FILE_BYTES:
            raise ProjectError(
                f"{path}: {size} bytes is more than the {MAX_PROJECT_FILE_BYTES} bytes depguard reads from a project file; refusing it"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise ProjectError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ProjectError(f"{path}: not UTF-8 (byte {exc.start})") from None
    except TOMLReadError as exc:
        raise ProjectError(f"{path}: invalid TOML: {exc}") from None


def load_config(pyproject: Path) -> Config:
    """The ``[tool.depguard]`` table of ``pyproject`` (defaults when absent or no file)."""
    if not pyproject.is_file():
        return Config()
    tool = read_toml(pyproject).get("tool")
    table = tool.get("depguard") if isinstance(tool, dict) else None
    if table is None:
        return Config(source=pyproject)
    return parse_config(table, source=pyproject)


def parse_config(table: Any, *, source: Path | None = None) -> Config:
    where = f"{source}: [tool.depguard]" if source else "[tool.depguard]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_KEYS))}")
    targets = table.get("targets")
    if targets is not None:
        targets = tuple(_strings(targets, f"{where} targets"))
        bad = [t for t in targets if t not in TARGETS]
        if bad:
            raise ConfigError(f"{where} targets: unknown {', '.join(bad)}; choose from {', '.join(TARGETS)}")
    ecosystems = tuple(_strings(table.get("ecosystems", ["PyPI"]), f"{where} ecosystems"))
    constraints_file = table.get("constraints-file", "constraints.txt")
    if (
        not isinstance(constraints_file, str)
        or not constraints_file
        or Path(constraints_file).is_absolute()
        or ".." in Path(constraints_file).parts
    ):
        raise ConfigError(f"{where} constraints-file must be a relative path inside the project")
    if not is_plain(constraints_file) or constraints_file != constraints_file.strip():
        raise ConfigError(
            f"{where} constraints-file {printable(constraints_file)!r} holds a control, bidi or surrounding space character"
        )
    feed = table.get("feed")
    if feed is not None and (not isinstance(feed, str) or not is_plain(feed)):
        raise ConfigError(f"{where} feed must be a URL or path string without control or bidi characters")
    unprotected = table.get("unprotected", "warn")
    if unprotected not in UNPROTECTED_POLICIES:
        raise ConfigError(
            f"{where} unprotected must be one of {', '.join(map(repr, UNPROTECTED_POLICIES))}, not {printable(str(unprotected))!r}"
        )
    include = tuple(_strings(table.get("include", []), f"{where} include"))
    for pattern in include:
        if not pattern or pattern.startswith("/") or ".." in pattern.split("/"):
            raise ConfigError(
                f"{where} include: {pattern!r} must be a non-empty glob relative to the repo, without '..'"
            )
    return Config(
        feed=feed,
        targets=targets,
        constraints_file=constraints_file,
        ignore=tuple(_ignore_entry(item, f"{where} ignore[{i}]") for i, item in enumerate(table.get("ignore", []))),
        ecosystems=ecosystems,
        exclude=tuple(_strings(table.get("exclude", []), f"{where} exclude")),
        include=include,
        unprotected=unprotected,
        source=source,
    )


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of strings")
    for item in value:
        if not is_plain(item):
            raise ConfigError(f"{where}: {printable(item)!r} holds a control or bidi character")
    return list(value)


def _ignore_entry(item: Any, where: str) -> IgnoreEntry:
    if not isinstance(item, dict):
        raise ConfigError(f'{where} must be a table like {{id = "...", reason = "..."}}')
    unknown = sorted(set(item) - {"id", "reason", "until"})
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
    advisory, reason, until = item.get("id"), item.get("reason"), item.get("until")
    if not isinstance(advisory, str) or not advisory:
        raise ConfigError(f"{where}: id is required")
    if not isinstance(reason, str) or not reason.strip():
        raise ConfigError(f"{where}: a reason is required to ignore {advisory}")
    if isinstance(until, _dt.date) and not isinstance(until, _dt.datetime):
        return IgnoreEntry(advisory, reason.strip(), until)
    if isinstance(until, str) and _DATE.fullmatch(until):
        try:
            return IgnoreEntry(advisory, reason.strip(), _dt.date.fromisoformat(until))
        except ValueError:
            pass
    if until is not None:
        raise ConfigError(f"{where}: until must be a date, YYYY-MM-DD")
    return IgnoreEntry(advisory, reason.strip())
