"""The consumer-side security floor, and everything a client refuses a record for.

The schemas describe the format; :func:`unsafe_text_issues` is the floor under them, checked
on every record a consumer accepts (a feed directory, a built tree, a download; the cache only
ever holds downloads that passed it) and by ``feed validate``, which runs the same function:
one rule set, so nothing that validates is refused by a client later.
:func:`record_issues` is the whole consumer gate: the profile schemas, then this floor.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from typing import Any

from depguard import ecosystems
from depguard.clock import MAX_FUTURE_SKEW, is_future
from depguard.clock import now as _now
from depguard.display import printable
from depguard.protected import is_protected
from depguard.validation.profile import profile_issues, profile_vouched
from depguard.validation.schema import SchemaIssue

__all__ = ["future_issues", "protected_issues", "record_issues", "unsafe_text_issues"]


#: Characters no feed value may hold: C0 and C1 controls (ESC starts terminal escape
#: sequences, NUL and lone CR confuse editors and diffs), line and paragraph separators, and
#: the invisible bidi controls that make text display differently from what it says
#: ("Trojan Source"). Free-text fields (``details``) may still hold tabs and line breaks.
_UNSAFE_RAW = "\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"  # never escaped by json.dumps
_UNSAFE_ANYWHERE = "\x00-\x08\x0b\x0c\x0e-\x1f" + _UNSAFE_RAW
_UNSAFE_LINE = re.compile(f"[\t\n\r{_UNSAFE_ANYWHERE}]")
_UNSAFE_TEXT = re.compile(f"[{_UNSAFE_ANYWHERE}]")
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
#: Free-text fields that may span lines (Markdown); every other string is a single line.
_MULTILINE = frozenset({"/details"})
_MAX_ISSUES = 20


#: The profile's whole-package block (``name<0`` when compiled), as raw data.
_WHOLE_PACKAGE_RANGES = [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]
_TIMESTAMPS = ("published", "modified", "withdrawn")


def record_issues(data: Any, *, now: _dt.datetime | None = None, raw: bytes | None = None) -> list[SchemaIssue]:
    """Everything that refuses a record on the consuming side: the schemas, :func:`unsafe_text_issues`,
    :func:`future_issues` (against ``now``, default the current time) and :func:`protected_issues`.

    ``raw``, when given, must be the bytes ``data`` was parsed from (see :func:`unsafe_text_issues`).
    """
    found = [] if profile_vouched(data) else profile_issues(data)
    found += unsafe_text_issues(data, raw=raw)
    found += future_issues(data, now if now is not None else _now())
    found += protected_issues(data)
    return sorted(set(found)) if found else found


def future_issues(data: Any, now: _dt.datetime) -> list[SchemaIssue]:
    """Timestamps more than :data:`~depguard.clock.MAX_FUTURE_SKEW` after ``now``.

    A record dated in the future would anchor every client's rollback check there: each honest
    feed after it would look older and be refused as a replay. ``feed validate``, ``feed
    build`` and every client refuse it, with the same rule.
    """
    if not isinstance(data, dict):
        return []
    issues = []
    for key in _TIMESTAMPS:
        value = data.get(key)
        if not isinstance(value, str):
            continue
        try:
            moment = _parse(value)
        except ValueError:
            continue  # the schemas report it
        if is_future(moment, now):
            hours = int(MAX_FUTURE_SKEW.total_seconds() // 3600)
            issues.append(
                SchemaIssue(
                    f"/{key}", f"{_shown(value)} is in the future (more than {hours} h after {now:%Y-%m-%dT%H:%M:%SZ})"
                )
            )
    return issues


def protected_issues(data: Any) -> list[SchemaIssue]:
    """A whole-package block of a protected package (:mod:`depguard.protected`) without a reviewed
    ``database_specific.depguard.protected_override``.

    ``feed validate`` refuses such a record at review time; a client refuses it as well, so a
    compromised feed host cannot write ``requests<0`` into every consumer's project.
    """
    if not isinstance(data, dict) or _has_override(data):
        return []
    issues = []
    affected = data.get("affected")
    for index, entry in enumerate(affected if isinstance(affected, list) else []):
        if not isinstance(entry, dict) or entry.get("ranges") != _WHOLE_PACKAGE_RANGES:
            continue
        package = entry.get("package")
        if not isinstance(package, dict) or not isinstance(package.get("ecosystem"), str):
            continue
        eco, name = ecosystems.get(package["ecosystem"]), package.get("name")
        if eco is not None and isinstance(name, str) and is_protected(eco.name, eco.normalize_name(name)):
            issues.append(
                SchemaIssue(
                    f"/affected/{index}/package/name",
                    f"blocks every version of the protected package {_shown(name)} without "
                    "database_specific.depguard.protected_override",
                )
            )
    return issues


def _has_override(data: dict[str, Any]) -> bool:
    specific = data.get("database_specific")
    depguard = specific.get("depguard") if isinstance(specific, dict) else None
    return isinstance(depguard, dict) and isinstance(depguard.get("protected_override"), dict)


def _parse(text: str) -> _dt.datetime:
    """An RFC 3339 timestamp, always aware (the rule of :func:`depguard.records.parse_timestamp`)."""
    value = _dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=_dt.timezone.utc)


def unsafe_text_issues(data: Any, *, raw: bytes | None = None) -> list[SchemaIssue]:
    """Values a feed must never carry, whatever the schemas allow.

    The schemas describe the format; this is the security floor under it, checked with them
    on every record a consumer accepts (a feed directory, a built tree, a download; the cache
    only ever holds downloads that passed it):

    * no control characters (``ESC`` starts terminal escape sequences in ``depguard check``
      output, ``NUL``/``CR`` confuse editors and diff tools) and no bidi controls (text that
      displays differently from what it says), anywhere: keys and values; ``details`` may
      hold tabs and line breaks;
    * every version of a package in a known ecosystem is a valid version of that ecosystem
      (PEP 440, semver), written without surrounding space. The schemas only forbid
      whitespace, so ``"1.0;python_version<'3'"``, ``"==1.0"``, ``'1.0"]'`` or
      ``"1.0@https://..."`` would otherwise reach the compiler, which drops such a value
      with a warning: a hostile feed must not be able to lift one exclusion that way, so
      the whole feed is refused instead and the last verified copy stays in force;
    * every package name is valid in its ecosystem (ASCII only: no confusable letters).

    ``raw``, the UTF-8 bytes ``data`` was parsed from with :func:`depguard.jsonio.strict_loads`
    (a feed file), only makes the common verdict "no unsafe character" cheaper to reach
    (:func:`_raw_looks_clean`); the issues found never depend on it.
    """
    issues: list[SchemaIssue] = []
    try:
        clean = _raw_looks_clean(data, raw) if raw is not None else _looks_clean(data)
        if not clean:
            _walk_text(data, "", issues)
    except RecursionError:
        issues.append(SchemaIssue("", "nested too deeply to check"))
    if isinstance(data, dict):
        affected = data.get("affected")
        for index, entry in enumerate(affected if isinstance(affected, list) else []):
            if isinstance(entry, dict):
                _affected_issues(entry, f"/affected/{index}", issues)
    return sorted(set(issues))[:_MAX_ISSUES]


#: In ``json.dumps(..., ensure_ascii=False)`` output: an escaped C0 control (``\\n``,
#: ``\\u001b``, ...) or a raw C1, separator or bidi character. It may also match an escaped
#: backslash followed by ``n``; that only sends the record through the exact walk.
_DUMPED_UNSAFE = re.compile(r"\\[btnfr]|\\u00[01][0-9a-fA-F]|[" + _UNSAFE_RAW + "]")


def _looks_clean(data: Any) -> bool:
    """A fast, conservative pre-check: True only when no string in ``data`` can be unsafe.

    One C-speed ``json.dumps`` and one regex search per record instead of a Python walk over
    every string (about 15 us instead of 30 us per record of a 20,000-record feed).
    """
    if not isinstance(data, dict):
        return False
    details = data.get("details")
    if details is not None and (not isinstance(details, str) or _UNSAFE_TEXT.search(details)):
        return False
    try:
        text = json.dumps({k: v for k, v in data.items() if k != "details"}, ensure_ascii=False)
    except (TypeError, ValueError):
        return False
    return _DUMPED_UNSAFE.search(text) is None


#: Every other unsafe character, escaped (``\\u202e``, either case) or raw in UTF-8.
_RAW_OTHER_UNSAFE = re.compile(
    rb"\\u(?:007[fF]|00[89][0-9a-fA-F]|061[cC]|200[eEfF]|202[89a-eA-E]|206[6-9])"
    rb"|\x7f|\xc2[\x80-\x9f]|\xd8\x9c|\xe2\x80[\x8e\x8f\xa8-\xae]|\xe2\x81[\xa6-\xa9]"
)
#: In the UTF-8 bytes of a strict JSON document: a JSON escape that may stand for a C0
#: control (``\\n``, ``\\u001b``, ...; an escaped backslash followed by ``n`` also matches, so
#: the count can only be too high). Strict JSON has no raw control character inside a string.
_RAW_C0_ESCAPE = re.compile(rb"\\[btnfr]|\\u00[01][0-9a-fA-F]")
#: What every match of :data:`_RAW_OTHER_UNSAFE` in ASCII bytes starts with, found by a fast
#: literal search: a file without one needs no scan with the long pattern.
_RAW_U_ESCAPE = re.compile(rb"\\u")
_DETAILS_BREAKS = ("\t", "\n", "\r")


def _raw_looks_clean(data: Any, raw: bytes) -> bool:
    """:func:`_looks_clean` from the file's own bytes: True only when no string can be unsafe.

    A few scans of the bytes instead of re-serialising the record (about 1.5 us instead of
    20 us a record; the long pattern runs only on a file with ``\\u`` escapes or non-ASCII text).
    ``details`` may hold tabs and line breaks, which the file must escape; every other C0
    control, anywhere, is one more escape in the file. So when the file holds no more such
    escapes than ``details`` holds tabs and breaks, nothing else holds a control (the count
    errs only high). The other unsafe characters are refused wherever they are.
    """
    if not isinstance(data, dict):
        return False
    plain = raw.isascii() and b"\x7f" not in raw and not _RAW_U_ESCAPE.search(raw)
    if not plain and _RAW_OTHER_UNSAFE.search(raw):  # outside a \u escape, only DEL and non-ASCII bytes match
        return False
    escapes = len(_RAW_C0_ESCAPE.findall(raw))
    if not escapes:
        return True
    details = data.get("details")
    return isinstance(details, str) and escapes == sum(details.count(c) for c in _DETAILS_BREAKS)


def _walk_text(value: Any, pointer: str, issues: list[SchemaIssue]) -> None:
    if len(issues) >= _MAX_ISSUES:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{pointer}/{_escape(str(key))}"
            if isinstance(key, str) and _bad_char(key, multiline=False):
                issues.append(
                    SchemaIssue(_short(child), f"key {_shown(key)} contains {_bad_char(key, multiline=False)}")
                )
            _walk_text(item, child, issues)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk_text(item, f"{pointer}/{index}", issues)
    elif isinstance(value, str):
        problem = _bad_char(value, multiline=pointer in _MULTILINE)
        if problem:
            issues.append(SchemaIssue(_short(pointer), f"{_shown(value)} contains {problem}"))


def _bad_char(text: str, *, multiline: bool) -> str | None:
    """What makes ``text`` unsafe to display, or None (a regex scan: feeds are large)."""
    found = (_UNSAFE_TEXT if multiline else _UNSAFE_LINE).search(text)
    if found is None:
        return None
    char = found.group()
    kind = "bidi control" if char in _BIDI else "control character"
    return f"the {kind} U+{ord(char):04X}"


def _affected_issues(entry: dict[str, Any], base: str, issues: list[SchemaIssue]) -> None:
    package = entry.get("package")
    if not isinstance(package, dict):
        return
    ecosystem = package.get("ecosystem")
    eco = ecosystems.get(ecosystem) if isinstance(ecosystem, str) else None
    if eco is None:
        return
    name = package.get("name")
    if isinstance(name, str) and not (name.isascii() and eco.name_is_valid(name)):
        issues.append(SchemaIssue(f"{base}/package/name", f"{_shown(name)} is not a valid {eco.name} package name"))
    versions = entry.get("versions")
    syntax = "PEP 440" if eco is ecosystems.PYPI else "semver"
    for index, version in enumerate(versions if isinstance(versions, list) else []):
        if not isinstance(version, str):
            continue
        if not (version.isascii() and version == version.strip() and eco.version_is_valid(version)):
            issues.append(
                SchemaIssue(
                    f"{base}/versions/{index}",
                    f"{_shown(version)} is not a valid {syntax} version; refusing requirement syntax from a feed",
                )
            )


def _short(pointer: str, limit: int = 120) -> str:
    return pointer if len(pointer) <= limit else pointer[: limit - 3] + "..."


def _shown(text: str, limit: int = 80) -> str:
    """``text`` as a Python literal (control characters escaped), shortened: safe on one line."""
    shown = repr(text if len(text) <= limit else text[:limit] + "...")
    return shown.encode("ascii", "backslashreplace").decode("ascii")


def _escape(part: str) -> str:
    """One JSON-pointer token, with unprintable characters escaped (pointers are printed)."""
    return printable(part.replace("~", "~0").replace("/", "~1"))
