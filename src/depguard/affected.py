"""What a record of depguard's profile affects, and the exclusions that say exactly that.

depguard's profile (``schemas/depguard.schema.json``) admits two shapes of ``affected`` entry,
and every path a consumer reads records from refuses anything else (a feed directory and the
bundled snapshot through the directory source (:mod:`depguard.sources.directory`), a built tree, a download and
the cache through :func:`depguard.sources.verify.verify_records`):

* explicit ``versions`` (a compromised release);
* the whole-package block: the single range ``ECOSYSTEM`` ``introduced: "0"``, with the known
  versions listed as well (a malicious package).

This module is the one place that reads those shapes, and it answers two questions from one
reading, so they cannot drift apart:

* :meth:`Entry.affects` - is this version affected? (``check`` and ``serve``)
* :func:`compile_exclusions` - which PEP 440 exclusions express the records? (``sync`` and
  the constraints file of ``feed build``)

An entry of any other shape (an ``introduced`` above ``"0"``, a ``fixed``/``last_affected``/
``limit`` event, a ``SEMVER`` or ``GIT`` range) is refused with :class:`OutsideProfileError`
rather than approximated: only a library caller that bypasses the sources can hand one in.

PyPI semantics (what a resolver does with the exclusion)
--------------------------------------------------------
A listed ``V`` is written ``!=V``, the whole-package block ``<0``; nothing else is ever written.
``v`` is affected exactly when the written specifiers (with pre-releases allowed) exclude it:

* ``!=V`` also excludes ``V`` with zero padding (``V.0``) and every local build ``V+label``,
  the same release rebuilt, so those are affected too; pre-, post- and dev releases of ``V``
  and other epochs are other releases and are not;
* ``<0`` admits no version at all, so every version of the package is affected, even one that
  is not valid PEP 440, and so is a package named without a version;
* a listed value the exclusion gate refuses (:func:`~depguard.exclusions.safe_version`: a
  local label, which PyPI accepts on no upload; more than 128 characters) is reported as
  :class:`Rejected` by the compiler and affects nothing here, so ``check`` never claims a
  protection ``sync`` did not write.

npm (matched by ``check`` and ``serve``; nothing is written): SemVer precedence, so build
metadata is ignored (``1.0.0+b`` is ``1.0.0``) and a pre-release is only itself.

GitHub Actions (matched by ``check`` and ``serve``; nothing is written): a ``uses:`` ref is a
tag or a commit. A tag is affected when it equals a listed version exactly (git refs are
case-sensitive: ``V1`` is another tag than ``v1``). A full 40-hex commit is affected only when
the entry lists it under ``database_specific.depguard.bad_commits`` (case-insensitive, as git
reads hex); any other full commit is what the workflow reviewed and is clean, even if a listed
tag once pointed at it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Hashable, Iterable
from dataclasses import dataclass, field
from functools import cached_property

from depguard import ecosystems
from depguard.errors import InvalidRecordError, UnsafeValueError
from depguard.exclusions import ADVISORY_ID, Exclusion, make_exclusion, safe_name, safe_version
from depguard.jsonio import gc_paused
from depguard.records import Affected, Range, Record

__all__ = [
    "BLOCK",
    "Compiled",
    "Entry",
    "OutsideProfileError",
    "Rejected",
    "compile_exclusions",
    "read_entry",
    "release",
    "require_profile",
]

#: The exclusion of a whole package: no version is ``< 0``, so it admits nothing.
BLOCK = "<0"
WHOLE_PACKAGE = "every version (whole-package block)"
LISTED = "listed version"
LISTED_TAG = "listed tag"
BAD_COMMIT = "known-bad commit"
#: The key kinds :func:`release` gives a GitHub Actions ref.
_TAG, _COMMIT = "tag", "commit"
_PLAIN = re.compile(r"[A-Za-z0-9._:-]{1,200}")
#: Belt and braces in front of ``safe_name``/``ADVISORY_ID``, whose ``^...$`` patterns accept a
#: trailing newline under ``re.match``; checked with ``fullmatch`` here.
_NAME_CHARS = re.compile(r"[A-Za-z0-9._-]{1,200}")


class OutsideProfileError(InvalidRecordError):
    """An ``affected`` entry depguard's profile refuses (a range other than the whole-package block)."""


# --------------------------------------------------------------------------- reading an entry


@dataclass(frozen=True)
class Entry:
    """One ``affected`` entry of a profile record: a package, its listed versions, whole or not."""

    ecosystem: ecosystems.Ecosystem
    name: str
    versions: tuple[str, ...]
    whole_package: bool
    #: GitHub Actions: full commit ids known to be malicious (lowercase hex).
    bad_commits: tuple[str, ...] = ()

    @cached_property
    def releases(self) -> frozenset[Hashable]:
        """The releases the listed versions name, as :func:`release` keys (parsed on first use:
        a check asks about a few hundred of a large feed's packages)."""
        keys = [_listed_release(self.ecosystem, v) for v in self.versions]
        keys += [(_COMMIT, sha.lower()) for sha in self.bad_commits]
        return frozenset(k for k in keys if k is not None)

    def how(self, version: str | None) -> str | None:
        """Why ``version`` is affected (for a finding), or None when it is not."""
        return self.how_release(release(self.ecosystem, version) if version is not None else None)

    def how_release(self, key: Hashable | None) -> str | None:
        """:meth:`how` for a version already reduced to its :func:`release` (None: no valid
        version), so an index parses a looked-up version once, not once per entry."""
        if self.whole_package:
            return WHOLE_PACKAGE
        if key is None or key not in self.releases:
            return None
        if self.ecosystem is ecosystems.GITHUB_ACTIONS:
            return BAD_COMMIT if key[0] == _COMMIT else LISTED_TAG  # type: ignore[index]
        return LISTED

    def affects(self, version: str | None) -> bool:
        """Whether ``version`` (None: no version known) is affected; see the module docstring."""
        return self.how(version) is not None


def read_entry(affected: Affected) -> Entry | None:
    """The entry as the profile admits it; None for a package in no ecosystem depguard covers.

    Raises :class:`OutsideProfileError` for any range but the whole-package block.
    """
    require_profile(affected)
    package = affected.package
    eco = ecosystems.get(package.ecosystem) if package is not None else None
    if package is None or eco is None:
        return None
    commits = bad_commits(affected) if eco is ecosystems.GITHUB_ACTIONS else ()
    return Entry(eco, eco.normalize_name(package.name), affected.versions, bool(affected.ranges), commits)


def bad_commits(affected: Affected) -> tuple[str, ...]:
    """The full commit ids ``affected[].database_specific.depguard.bad_commits`` lists, lowercase.

    The profile admits only ``[{"sha": <40 hex>, "tags": [...]}]``; anything else there (only
    a library caller bypassing the sources can hand it in) contributes nothing, so a malformed
    entry can never make every commit match.
    """
    info = (affected.database_specific or {}).get("depguard")
    listed = info.get("bad_commits") if isinstance(info, dict) else None
    if not isinstance(listed, list):
        return ()
    shas = (item.get("sha") for item in listed if isinstance(item, dict))
    return tuple(sha.lower() for sha in shas if isinstance(sha, str) and ecosystems.is_full_sha(sha))


def require_profile(affected: Affected) -> None:
    """Raise :class:`OutsideProfileError` unless ``affected`` has no range or only the block.

    Apart from :func:`read_entry` so an index can refuse a feed when it is built and still
    read each entry only when a lookup needs it.
    """
    if affected.ranges and not _is_whole_package(affected.ranges):
        raise OutsideProfileError(f"ranges {_shown_ranges(affected.ranges)} are outside depguard's profile")


def blocks_every_version(affected: Affected) -> bool:
    """Whether the entry is the profile's whole-package block (``name<0`` when compiled): the
    one definition behind "every version" in sync, check, serve, the page and the stats."""
    return _is_whole_package(affected.ranges)


def _is_whole_package(ranges: tuple[Range, ...]) -> bool:
    """``[{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]`` and nothing more."""
    if len(ranges) != 1:
        return False
    (rng,) = ranges
    if rng.type != "ECOSYSTEM" or rng.repo is not None or rng.model_extra or len(rng.events) != 1:
        return False
    (event,) = rng.events
    return (
        event.introduced == "0"
        and event.fixed is None
        and event.last_affected is None
        and event.limit is None
        and not event.model_extra
    )


def _shown_ranges(ranges: tuple[Range, ...]) -> str:
    return json.dumps([r.model_dump(exclude_none=True) for r in ranges], ensure_ascii=True)[:200]


def release(eco: ecosystems.Ecosystem, version: str) -> Hashable | None:
    """The release ``version`` belongs to, as a comparable key; None when it is not valid.

    PyPI: the parsed public version (``1.0+cu121`` and ``1.0.0`` are release ``1.0``, as for
    ``!=1.0``). npm: the SemVer precedence key (build metadata dropped). GitHub Actions:
    ``("commit", sha)`` for a full commit id (lowercased), else ``("tag", ref)`` exactly.
    """
    if eco is ecosystems.GITHUB_ACTIONS:
        if ecosystems.is_full_sha(version):
            return (_COMMIT, version.lower())
        return (_TAG, version) if eco.version_is_valid(version) else None
    if eco is ecosystems.PYPI:
        parsed = ecosystems.parse_pep440(version)
        if parsed is None or parsed.local is None:
            return parsed
        return ecosystems.parse_pep440(parsed.public)
    return eco.version_key(version) if eco.version_is_valid(version) else None


def _listed_release(eco: ecosystems.Ecosystem, version: str) -> Hashable | None:
    """A listed version's release; for PyPI only what the exclusion gate writes as ``!=V``."""
    if eco is not ecosystems.PYPI:
        return release(eco, version)
    try:
        return ecosystems.parse_pep440(safe_version(version))
    except UnsafeValueError:
        return None


# --------------------------------------------------------------------------- exclusions


@dataclass(frozen=True)
class Rejected:
    """A value (or a whole entry) refused because it is unsafe or invalid; nothing of it was written.

    ``advisory`` and ``package`` are the validated id and PEP 503 name where they are valid;
    a refused id or name appears JSON-escaped (``"pkg\\n"``), as do values in ``reason``
    (``repr``), so printing a report cannot emit control characters from the feed.
    """

    advisory: str
    package: str
    reason: str


@dataclass(frozen=True)
class Compiled:
    """The result of :func:`compile_exclusions`, sorted, so output is reproducible."""

    exclusions: tuple[Exclusion, ...]
    rejected: tuple[Rejected, ...]


@dataclass
class _Package:
    whole: bool = False
    not_equal: set[str] = field(default_factory=set)
    advisories: set[str] = field(default_factory=set)


def compile_exclusions(records: Iterable[Record], *, ignore: Collection[str] = ()) -> Compiled:
    """One PyPI exclusion per package, merged over every live record; what was refused.

    Withdrawn records and records whose ``id`` is in ``ignore`` (exact ids; aliases do not
    match, so one ignored id cannot switch off a different record) are skipped, and so are
    entries of other ecosystems. A package name that is not a plain PEP 508 name, or an id that
    cannot be written in a comment, refuses its whole entry; an unwritable version refuses only
    itself. Raises :class:`OutsideProfileError` (naming the record) for an entry the profile refuses.
    """
    ignored = frozenset(ignore)
    packages: dict[str, _Package] = {}
    rejected: list[Rejected] = []
    with gc_paused():  # one Version per listed version: see jsonio.gc_paused
        for record in records:
            if record.is_withdrawn or record.id in ignored:
                continue
            for number, affected in enumerate(record.affected):
                entry = _read(record, number, affected)
                if entry is not None and entry.ecosystem is ecosystems.PYPI:
                    name = _entry_name(record, affected, rejected)
                    if name is not None:
                        _add(record.id, name, entry, packages.setdefault(name, _Package()), rejected)
        exclusions = [e for name in sorted(packages) if (e := _finish(name, packages[name], rejected)) is not None]
    return Compiled(tuple(exclusions), tuple(sorted(set(rejected), key=lambda r: (r.package, r.advisory, r.reason))))


def _read(record: Record, number: int, affected: Affected) -> Entry | None:
    try:
        return read_entry(affected)
    except OutsideProfileError as exc:
        raise OutsideProfileError(f"{_shown(record.id)} affected[{number}]: {exc}") from None


def _entry_name(record: Record, affected: Affected, rejected: list[Rejected]) -> str | None:
    """The PEP 503 name an entry compiles under, or ``None`` when it is refused."""
    assert affected.package is not None  # read_entry returned an entry
    raw = affected.package.name
    try:
        if not _NAME_CHARS.fullmatch(raw):  # see _NAME_CHARS: safe_name alone lets "pkg\n" through
            raise UnsafeValueError(f"not a valid package name: {raw!r}")
        name = safe_name(raw)
    except UnsafeValueError as exc:
        rejected.append(Rejected(_shown(record.id), _shown(raw), str(exc)))
        return None
    if len(record.id) > 64 or not ADVISORY_ID.fullmatch(record.id):
        rejected.append(
            Rejected(_shown(record.id), name, f"advisory id {record.id!r} cannot be written into a comment")
        )
        return None
    return name


def _add(advisory: str, name: str, entry: Entry, package: _Package, rejected: list[Rejected]) -> None:
    """An entry's ``!=V`` (or the block) into its package; each unwritable version refused alone."""
    if entry.whole_package:
        package.whole = True
        package.advisories.add(advisory)
    for text in entry.versions:
        try:
            package.not_equal.add(safe_version(text))
        except UnsafeValueError as exc:
            rejected.append(Rejected(advisory, name, str(exc)))
            continue
        package.advisories.add(advisory)


def _finish(name: str, package: _Package, rejected: list[Rejected]) -> Exclusion | None:
    if not package.advisories:
        return None
    specifiers = [BLOCK] if package.whole else _distinct_not_equal(package.not_equal)
    try:
        return make_exclusion(name, specifiers, sorted(package.advisories))
    except UnsafeValueError as exc:  # every part was checked already; never drop silently anyway
        rejected.append(Rejected(",".join(sorted(package.advisories)), name, str(exc)))
        return None


def _distinct_not_equal(not_equal: set[str]) -> list[str]:
    """``!=V`` per release, sorted by version; of two spellings of one release (``2.5``,
    ``2.5.0``) the shorter is kept, as ``!=V`` excludes the same versions for both."""
    kept: list[str] = []
    previous: Hashable | None = None
    for version, _, spec in sorted((ecosystems.parse_pep440(v), len(v), f"!={v}") for v in not_equal):
        if version != previous:
            kept.append(spec)
            previous = version
    return kept


def _shown(text: str) -> str:
    """``text`` if it is plain, else its JSON-escaped form: reports are printed to terminals."""
    return text if _PLAIN.fullmatch(text) else json.dumps(text)
