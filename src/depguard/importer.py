"""``depguard feed import``: draft feed records from upstream OSV records and IOC lists.

Upstream databases (OpenSSF malicious packages, GitHub advisories, the PyPA database) already
know most incidents; a contributor should not retype their ids, versions and links. The
importer carries those facts over and nothing else: it never copies upstream prose, and it
never guesses. Anything that needs judgement (a range without its versions, an ``introduced:
"0"`` that contradicts listed versions, a withdrawn upstream record) is reported, and where it
lands in a record it is written as a ``TODO(depguard import)`` line that ``feed validate``
refuses (:data:`depguard.feed.TODO_MARKER`), so a draft cannot be merged before a human answers.

The work is four pure steps and one write, so tools can call any of them:

1. :func:`read_upstream` / :func:`read_csv`: bytes to checked upstream records (bad input raises
   :class:`~depguard.errors.InvalidRecordError` before anything is planned);
2. :func:`group_incidents`: records connected through their ids and aliases are one incident;
3. :func:`plan_import` / :func:`plan_csv`: drafts against the existing feed (new records under
   the next free ids, or live records extended);
4. :func:`write_plan`: every file written atomically, only after everything was planned.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from depguard import ecosystems
from depguard import feed as feed_mod
from depguard.atomic import write_bytes
from depguard.errors import InvalidRecordError
from depguard.jsonio import JSONError, strict_loads
from depguard.records import timestamp_or_none

__all__ = [
    "MAX_DEPTH",
    "MAX_INPUT_BYTES",
    "CsvPackage",
    "Draft",
    "Note",
    "Plan",
    "Upstream",
    "group_incidents",
    "parse_upstream",
    "plan_csv",
    "plan_import",
    "read_bounded",
    "read_csv",
    "read_upstream",
    "write_plan",
]

#: One upstream file larger than this is refused: the biggest OSV record in the corpus is 60 kB,
#: the biggest IOC list 60 kB; a file of many megabytes is a mistake or an attack.
MAX_INPUT_BYTES = 8 << 20
#: Deepest nesting accepted in an upstream document (OSV records nest five levels).
MAX_DEPTH = 32
TODO = feed_mod.TODO_MARKER
_WHOLE_RANGE = [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]
_REFERENCE_TYPES = {
    "ADVISORY",
    "ARTICLE",
    "DETECTION",
    "DISCUSSION",
    "REPORT",
    "FIX",
    "INTRODUCED",
    "GIT",
    "PACKAGE",
    "EVIDENCE",
    "WEB",
}


# --- data ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Upstream:
    """One upstream OSV record that passed the input checks; ``source`` says where it came from."""

    id: str
    source: str
    data: dict[str, Any]

    @property
    def withdrawn(self) -> bool:
        return self.data.get("withdrawn") is not None

    @property
    def ids(self) -> list[str]:
        """The record's own id, then its aliases: every name the incident has upstream."""
        aliases = [a for a in self.data.get("aliases") or () if isinstance(a, str)]
        return [self.id, *aliases]


@dataclass(frozen=True)
class Note:
    """Something a human must look at. ``kind``: todo-range, introduced-0, withdrawn, review-text,
    draft-text, dropped, unchanged, validate, skipped."""

    kind: str
    subject: str
    message: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.subject}: {self.message}"

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "subject": self.subject, "message": self.message}


@dataclass
class Draft:
    """A record to write: a new one (``action="new"``) or a live record extended (``"extend"``)."""

    path: PurePosixPath
    data: dict[str, Any]
    action: str
    sources: list[str] = field(default_factory=list)
    added_versions: int = 0

    @property
    def packages(self) -> list[str]:
        return [f"{a['package']['ecosystem']} {a['package']['name']}" for a in self.data["affected"]]

    @property
    def versions(self) -> int:
        return sum(len(a.get("versions") or ()) for a in self.data["affected"])

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "action": self.action,
            "id": self.data["id"],
            "packages": self.packages,
            "versions": self.versions,
            "added_versions": self.added_versions,
            "upstream": self.sources,
        }


@dataclass
class Plan:
    """What an import would write, and what needs a human."""

    drafts: list[Draft] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"written": [d.to_json() for d in self.drafts], "needs_human": [n.to_json() for n in self.notes]}


# --- reading upstream records --------------------------------------------------------------


def _input_files(path: Path) -> list[Path]:
    """``path`` itself, or every *.json/*.yaml/*.yml below a folder (sorted, dot-entries skipped)."""
    if path.is_dir():
        found = [
            p
            for p in path.rglob("*")
            if p.suffix in {".json", ".yaml", ".yml"}
            and p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
        ]
        return sorted(found)
    if not path.exists():
        raise InvalidRecordError(f"{path}: no such file or folder")
    return [path]


def read_bounded(path: Path) -> bytes:
    """The bytes of one input file, refused when larger than :data:`MAX_INPUT_BYTES`."""
    if path.stat().st_size > MAX_INPUT_BYTES:
        raise InvalidRecordError(f"{path}: larger than {MAX_INPUT_BYTES >> 20} MiB; not an upstream record")
    return path.read_bytes()


def read_upstream(paths: Sequence[str], *, stdin: Any = None) -> list[Upstream]:
    """Every upstream record under ``paths`` (files, folders, ``-`` for ``stdin``), checked.

    Raises :class:`InvalidRecordError` at the first bad document, naming it: one bad file
    refuses the whole import, so a run never writes half of what it was given.
    """
    records: list[Upstream] = []
    for given in paths:
        if given == "-":
            stream = stdin if stdin is not None else sys.stdin.buffer
            raw = stream.read(MAX_INPUT_BYTES + 1)
            if len(raw) > MAX_INPUT_BYTES:
                raise InvalidRecordError(f"<stdin>: larger than {MAX_INPUT_BYTES >> 20} MiB; not an upstream record")
            records.append(parse_upstream(raw, "<stdin>"))
            continue
        for path in _input_files(Path(given)):
            records.append(parse_upstream(read_bounded(path), str(path), yaml=path.suffix in {".yaml", ".yml"}))
    if not records:
        raise InvalidRecordError(f"no *.json, *.yaml or *.yml record found in {', '.join(paths)}")
    return records


def parse_upstream(raw: bytes, source: str, *, yaml: bool | None = None) -> Upstream:
    """One upstream document (JSON, or YAML when ``yaml`` or when it does not start like JSON), checked."""
    if yaml is None:
        yaml = raw.lstrip()[:1] not in (b"{", b"[")
    data = _load_yaml(raw, source) if yaml else _load_json(raw, source)
    if _depth(data) > MAX_DEPTH:
        raise InvalidRecordError(f"{source}: nested deeper than {MAX_DEPTH} levels; not an OSV record")
    return _check_upstream(data, source)


def _load_json(raw: bytes, source: str) -> Any:
    try:
        return strict_loads(raw)
    except JSONError as exc:
        raise InvalidRecordError(f"{source}: not JSON: {exc}") from None


def _load_yaml(raw: bytes, source: str) -> Any:
    """YAML through PyYAML's safe loader, imported only here, with every scalar kept as text.

    OSV YAML (the PyPA database) writes versions and timestamps unquoted: a stock
    ``safe_load`` turns ``1.10`` into the float 1.1 and ``2025-07-31T14:34:47Z`` into a
    datetime, losing the exact string the record means. Anchors and aliases are refused: no
    OSV record needs them, and they are how a small document expands into a huge one.
    """
    try:
        import yaml
    except ImportError:  # pragma: no cover - pyyaml is a runtime dependency
        raise InvalidRecordError(f"{source}: reading YAML needs PyYAML: pip install 'pyyaml>=6'") from None
    loader_cls = _string_loader(yaml)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRecordError(f"{source}: not UTF-8: {exc.reason} at byte {exc.start}") from None
    loader = loader_cls(text)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidRecordError(f"{source}: not JSON or YAML: {first}") from None
    except RecursionError:
        raise InvalidRecordError(f"{source}: nested too deeply; not an OSV record") from None
    finally:
        loader.dispose()


_LOADER: Any = None


def _string_loader(yaml: Any) -> Any:
    """A ``yaml.SafeLoader`` subclass whose plain scalars all stay strings (null excepted)."""
    global _LOADER
    if _LOADER is not None:
        return _LOADER

    class StringSafeLoader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.events.AliasEvent):
                event = self.peek_event()
                raise yaml.composer.ComposerError(None, None, "anchors and aliases are not accepted", event.start_mark)
            return super().compose_node(parent, index)

    StringSafeLoader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag == "tag:yaml.org,2002:null"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    _LOADER = StringSafeLoader
    return _LOADER


def _depth(value: Any) -> int:
    """Nesting depth of parsed data, iteratively (a deep document must not exhaust the stack)."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            if level > MAX_DEPTH:
                return level
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, level + 1) for child in children)
    return deepest


def _check_upstream(data: Any, source: str) -> Upstream:
    """An OSV record with packages depguard carries and versions valid for them, or an error."""
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
        raise InvalidRecordError(f'{source}: not an OSV record (no "id")')
    advisory_id = data["id"]
    where = f"{source} ({advisory_id})"
    if not isinstance(data.get("modified"), str):
        raise InvalidRecordError(f'{where}: not an OSV record (no "modified" timestamp)')
    for key in ("published", "modified", "withdrawn"):
        if data.get(key) is not None and not timestamp_or_none(data[key]):
            raise InvalidRecordError(f"{where}: {key} is not an RFC 3339 timestamp: {data[key]!r}")
    if not isinstance(data.get("aliases", []), list) or not isinstance(data.get("references", []), list):
        raise InvalidRecordError(f"{where}: aliases and references must be lists")
    affected = data.get("affected")
    if data.get("withdrawn") is not None:
        return Upstream(advisory_id, source, data)
    if not isinstance(affected, list) or not affected:
        raise InvalidRecordError(f"{where}: not an OSV record for depguard: no affected packages")
    for index, entry in enumerate(affected):
        package = entry.get("package") if isinstance(entry, dict) else None
        if not isinstance(package, dict) or not isinstance(package.get("name"), str):
            raise InvalidRecordError(f"{where}: affected[{index}] has no package name")
        eco = ecosystems.get(str(package.get("ecosystem")))
        if eco is None:
            raise InvalidRecordError(
                f"{where}: ecosystem {package.get('ecosystem')!r} is not carried by depguard (only {', '.join(ecosystems.ECOSYSTEMS)})"
            )
        if not eco.name_is_valid(package["name"]):
            raise InvalidRecordError(f"{where}: not a valid {eco.name} package name: {package['name']!r}")
        versions = entry.get("versions", [])
        if not isinstance(versions, list) or not isinstance(entry.get("ranges", []), list):
            raise InvalidRecordError(f"{where}: affected[{index}] versions and ranges must be lists")
        for version in versions:
            if not isinstance(version, str) or not eco.version_is_valid(version):
                syntax = "PEP 440" if eco is ecosystems.PYPI else "semver"
                raise InvalidRecordError(f"{where}: {package['name']} {version!r} is not a valid {syntax} version")
    return Upstream(advisory_id, source, data)


# --- incidents -----------------------------------------------------------------------------


def group_incidents(records: Iterable[Upstream]) -> list[list[Upstream]]:
    """Records connected through ``id``/``aliases`` (directly or through others) are one incident.

    Union-find over ids: a MAL record aliasing a GHSA and a PYSEC aliasing the same GHSA land
    together even though neither names the other. Incidents come out in the order of their
    first record; each incident's records sorted by id.
    """
    parent: dict[str, str] = {}

    def find(key: str) -> str:
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    live = [r for r in records if not r.withdrawn]
    for record in live:
        first = find(record.id)
        for other in record.ids[1:]:
            root = find(other)
            if root != first:
                parent[root] = first
    groups: dict[str, list[Upstream]] = {}
    for record in live:
        groups.setdefault(find(record.id), []).append(record)
    seen: set[str] = set()
    result = []
    for group in groups.values():
        unique = []
        for record in sorted(group, key=lambda r: r.id):
            if record.id not in seen:  # the same record given twice counts once
                seen.add(record.id)
                unique.append(record)
        result.append(unique)
    return result


@dataclass
class _Package:
    """What an incident's records say about one package."""

    eco: ecosystems.Ecosystem
    name: str
    versions: set[str] = field(default_factory=set)
    whole: list[str] = field(default_factory=list)  # upstream ids that say introduced "0"
    specific: bool = False  # some record names versions or a bounded range
    #: (upstream id, range text, its bounds in normal form, or None when it has no usable bounds)
    open_ranges: list[tuple[str, str, frozenset[str] | None]] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str]:
        return (self.eco.name, self.name)

    def sorted_versions(self) -> list[str]:
        return sorted(self.versions, key=self.eco.version_key)


def _events_text(events: list[Any]) -> str:
    parts = []
    for event in events:
        if isinstance(event, dict):
            parts += [f"{k} {v!r}" for k, v in event.items()]
    return ", ".join(parts) or "no events"


def _collect_packages(incident: list[Upstream]) -> dict[tuple[str, str], _Package]:
    """Per package: the explicit versions, the ranges that need a human, the introduced-0 claims."""
    packages: dict[tuple[str, str], _Package] = {}
    for record in incident:
        for entry in record.data.get("affected") or ():
            eco = ecosystems.get(entry["package"]["ecosystem"])
            assert eco is not None  # checked by _check_upstream
            name = eco.normalize_name(entry["package"]["name"])
            package = packages.setdefault((eco.name, name), _Package(eco, name))
            if record.id not in package.sources:
                package.sources.append(record.id)
            listed = {eco.normalize_version(v) for v in entry.get("versions") or ()}
            package.versions |= listed
            package.specific |= bool(listed)
            ranges = [r for r in entry.get("ranges") or () if isinstance(r, dict)]
            # The malicious-packages database keeps what each source said; a GHSA-malware
            # "introduced 0" often survives only there (duckdb MAL-2025-46994).
            for origin in _list((record.data.get("database_specific") or {}).get("malicious-packages-origins")):
                if isinstance(origin, dict):
                    ranges += [r for r in _list(origin.get("ranges")) if isinstance(r, dict)]
            for range_ in ranges:
                _classify_range(record.id, eco, range_, listed, package)
    return packages


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _classify_range(
    upstream_id: str, eco: ecosystems.Ecosystem, range_: dict[str, Any], listed: set[str], package: _Package
) -> None:
    """Decide what one upstream range means without guessing.

    ``introduced "0"`` alone claims the whole package; a range whose bounds are versions the
    same record lists is already explained by those versions; any other range is left for a
    human, since only the registry knows which versions lie inside it.
    """
    events = [e for e in _list(range_.get("events")) if isinstance(e, dict)]
    introduced = [str(e["introduced"]) for e in events if "introduced" in e]
    others = [e for e in events if "introduced" not in e and any(v not in ("", None) for v in e.values())]
    if introduced == ["0"] and not others:
        if upstream_id not in package.whole:
            package.whole.append(upstream_id)
        return
    package.specific = True
    bounds = [v for v in introduced if v != "0"] + [str(e["last_affected"]) for e in events if "last_affected" in e]
    normal = set()
    for bound in bounds:
        normal.add(eco.normalize_version(bound) if eco.version_is_valid(bound) else f"\0{bound}")
    if bounds and "0" not in introduced and normal <= listed:
        return
    text = f"{range_.get('type', 'range')} {_events_text(events)}"
    usable = frozenset(normal) if bounds and "0" not in introduced else None
    if (upstream_id, text, usable) not in package.open_ranges:
        package.open_ranges.append((upstream_id, text, usable))


# --- planning ------------------------------------------------------------------------------


@dataclass
class _Live:
    """A live record of the feed, as it will be written if the import extends it."""

    path: PurePosixPath
    data: dict[str, Any]
    original: bytes
    sources: list[str] = field(default_factory=list)
    added: int = 0
    todos: list[str] = field(default_factory=list)


class _Ids:
    """Next free ids per year: the feed's highest number, then counted up for each new draft."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.next: dict[int, int] = {}

    def take(self, year: int) -> str:
        if year not in self.next:
            match = feed_mod.ID_PATTERN.fullmatch(feed_mod.next_id(self.root, year))
            assert match is not None
            self.next[year] = int(match["number"])
        number = self.next[year]
        self.next[year] += 1
        return f"x_DEPGUARD-{year:04d}-{number:04d}"


def _stamp(moment: _dt.datetime) -> str:
    return moment.astimezone(_dt.timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Lives:
    """The feed's live (not withdrawn) records, which an import may extend instead of duplicating,
    indexed by (ecosystem, normalized name) so a bulk import does not scan the feed per package."""

    def __init__(self, root: Path) -> None:
        feed = feed_mod.load_feed(root)
        self.by_package: dict[tuple[str, str], list[_Live]] = {}
        for entry in feed.entries:
            if entry.data.get("withdrawn") is not None or not feed_mod.ID_PATTERN.fullmatch(str(entry.data.get("id"))):
                continue
            live = _Live(entry.path, json.loads(entry.raw), entry.raw)
            for affected in _list(live.data.get("affected")):
                package = affected.get("package") if isinstance(affected, dict) else None
                if not isinstance(package, dict):
                    continue
                eco = ecosystems.get(package.get("ecosystem", ""))
                if eco is not None and isinstance(package.get("name"), str):
                    self.by_package.setdefault((eco.name, eco.normalize_name(package["name"])), []).append(live)


def _live_versions(live: _Live, key: tuple[str, str]) -> tuple[dict[str, Any] | None, set[Any]]:
    for entry in _list(live.data.get("affected")):
        package = entry.get("package") if isinstance(entry, dict) else None
        if not isinstance(package, dict):
            continue
        eco = ecosystems.get(package.get("ecosystem", ""))
        if (
            eco is not None
            and isinstance(package.get("name"), str)
            and (eco.name, eco.normalize_name(package["name"])) == key
        ):
            versions = {
                eco.version_key(v)
                for v in _list(entry.get("versions"))
                if isinstance(v, str) and eco.version_is_valid(v)
            }
            return entry, versions
    return None, set()


def _match(lives: _Lives, package: _Package, aliases: set[str]) -> _Live | None:
    """The live record that already covers ``package``: same package, and a shared alias or version."""
    wanted = {package.eco.version_key(v) for v in package.versions}
    for live in lives.by_package.get(package.key, ()):
        entry, versions = _live_versions(live, package.key)
        if entry is not None and (aliases & set(_list(live.data.get("aliases"))) or wanted & versions):
            return live
    return None


def _aliases(ids: Iterable[str], notes: list[Note], subject: str) -> list[str]:
    """The ids depguard can carry as aliases; others are reported, since the validator refuses them."""
    kept = []
    for alias in ids:
        if any(p.fullmatch(alias) for p in feed_mod.ALIAS_PATTERNS):
            if alias not in kept:
                kept.append(alias)
        else:
            notes.append(
                Note(
                    "dropped",
                    subject,
                    f"alias {alias!r} is not a form depguard carries (MAL-, PYSEC-, GHSA-, CVE-, OSV-, SNYK-)",
                )
            )
    return kept


def _references(incident: list[Upstream], notes: list[Note], subject: str) -> list[dict[str, str]]:
    """Every upstream https reference once, in record order; others reported and left out."""
    refs: list[dict[str, str]] = []
    seen: set[str] = set()
    for record in incident:
        for ref in _list(record.data.get("references")):
            url = ref.get("url") if isinstance(ref, dict) else None
            if not isinstance(url, str) or url in seen:
                continue
            seen.add(url)
            if not url.startswith("https://") or any(c.isspace() or ord(c) < 32 for c in url):
                notes.append(Note("dropped", subject, f"reference {url!r} left out: the feed only carries https links"))
                continue
            kind = ref.get("type") if ref.get("type") in _REFERENCE_TYPES else "WEB"
            refs.append({"type": kind, "url": url})
    if not refs:
        refs = [{"type": "ADVISORY", "url": f"https://osv.dev/vulnerability/{r.id}"} for r in incident]
    return refs


def _published(incident: list[Upstream]) -> str:
    """The earliest publication among the incident's records (``modified`` when none says)."""
    stamps = [timestamp_or_none(r.data.get("published")) or timestamp_or_none(r.data.get("modified")) for r in incident]
    return _stamp(min(s for s in stamps if s is not None))


def plan_import(records: Sequence[Upstream], root: Path | str, *, now: _dt.datetime) -> Plan:
    """Drafts for every incident in ``records`` against the feed at ``root``; nothing is written."""
    root = Path(root)
    plan = Plan()
    for record in records:
        if record.withdrawn:
            plan.notes.append(
                Note(
                    "withdrawn",
                    record.id,
                    f"withdrawn upstream on {record.data['withdrawn']}: not imported ({record.source})",
                )
            )
    lives = _Lives(root)
    ids = _Ids(root)
    touched: list[_Live] = []
    pendings: list[_Pending] = []
    for incident in group_incidents(records):
        _plan_incident(incident, lives, pendings, touched, plan)
    for pending in pendings:
        plan.drafts.append(_new_draft(pending, ids, plan.notes, now))
    _overlap_notes(plan.drafts, plan.notes)
    for live in touched:
        _finish_extension(live, plan, now)
    _check_drafts(plan)
    return plan


@dataclass
class _Pending:
    """A new record assembled from one incident's records (the packages no live record covers)."""

    records: list[Upstream]
    packages: dict[tuple[str, str], _Package]
    aliases: list[str]
    refs: list[dict[str, str]]

    def merge(
        self, incident: list[Upstream], packages: Iterable[_Package], aliases: list[str], refs: list[dict[str, str]]
    ) -> None:
        self.records += [r for r in incident if r not in self.records]
        for package in packages:
            mine = self.packages.setdefault(package.key, _Package(package.eco, package.name))
            mine.versions |= package.versions
            mine.specific |= package.specific
            mine.whole += [w for w in package.whole if w not in mine.whole]
            mine.open_ranges += [o for o in package.open_ranges if o not in mine.open_ranges]
            mine.sources += [s for s in package.sources if s not in mine.sources]
        self.aliases += [a for a in aliases if a not in self.aliases]
        urls = {r["url"] for r in self.refs}
        self.refs += [r for r in refs if r["url"] not in urls]


def _plan_incident(
    incident: list[Upstream], lives: _Lives, pendings: list[_Pending], touched: list[_Live], plan: Plan
) -> None:
    names = ", ".join(r.id for r in incident)
    aliases = _aliases([i for r in incident for i in r.ids], plan.notes, names)
    refs = _references(incident, plan.notes, names)
    rest: list[_Package] = []
    for package in _collect_packages(incident).values():
        live = _match(lives, package, set(aliases))
        if live is not None:
            _answered_by(live, package, plan.notes)
            _extend(
                live,
                package,
                aliases,
                refs,
                _package_todos(package, plan.notes, f"{package.eco.name} {package.name}"),
                names,
            )
            if live not in touched:
                touched.append(live)
        else:
            rest.append(package)
    if rest:
        pending = _Pending([], {}, [], [])
        pending.merge(incident, rest, aliases, refs)
        pendings.append(pending)


def _answered_by(live: _Live, package: _Package, notes: list[Note]) -> None:
    """Drop the open ranges whose bounds the live record already lists: a human answered them.

    The repo's eslint-config-prettier record lists 10.1.6 and 10.1.7; GitHub's range
    ``introduced 10.1.6, fixed 10.1.8`` then asks nothing new, and a TODO in a reviewed record
    would only block it.
    """
    entry, _ = _live_versions(live, package.key)
    assert entry is not None
    eco = package.eco
    have = {
        eco.normalize_version(v) for v in _list(entry.get("versions")) if isinstance(v, str) and eco.version_is_valid(v)
    }
    have |= package.versions
    kept = []
    for upstream_id, text, bounds in package.open_ranges:
        if bounds is not None and bounds <= have:
            notes.append(
                Note(
                    "range-covered",
                    f"{eco.name} {package.name}",
                    f"{upstream_id}: range {text} is answered by the versions {live.data.get('id')} lists; check no version inside it is missing",
                )
            )
        else:
            kept.append((upstream_id, text, bounds))
    package.open_ranges = kept


def _overlap_notes(drafts: Sequence[Draft], notes: list[Note]) -> None:
    """New drafts of this run that claim the same package version: maybe one incident, never merged by guess.

    Two upstream records of one incident do not always name each other (duckdb's MAL record
    and GitHub's advisory list 1.3.3 under unrelated ids), but unrelated advisories of one
    package share versions too; a human decides, and ``feed validate`` refuses the overlap.
    """
    claimed: dict[tuple[str, str, Any], str] = {}
    shared: dict[tuple[str, str, str, str], list[str]] = {}
    for draft in drafts:
        for entry in draft.data["affected"]:
            eco = ecosystems.get(entry["package"]["ecosystem"])
            assert eco is not None
            name = entry["package"]["name"]
            for version in entry.get("versions") or ():
                owner = claimed.setdefault((eco.name, name, eco.version_key(version)), draft.data["id"])
                if owner != draft.data["id"]:
                    shared.setdefault((eco.name, name, owner, draft.data["id"]), []).append(version)
    for (eco_name, name, first, second), versions in shared.items():
        listed = ", ".join(versions[:5]) + (f" and {len(versions) - 5} more" if len(versions) > 5 else "")
        notes.append(
            Note(
                "overlap",
                f"{eco_name} {name}",
                f"{listed} in both {first} and {second}: if they are one incident, "
                f"merge them into one record; otherwise list each version in one only",
            )
        )


def _whole_package(package: _Package) -> bool:
    """Only ``introduced "0"`` is known: a package malicious from its first upload."""
    return bool(package.whole) and not package.specific


def _package_todos(package: _Package, notes: list[Note], subject: str) -> list[str]:
    """The TODO lines a record of ``package`` needs, each also reported as a note."""
    todos = []
    for upstream_id, text, _ in package.open_ranges:
        line = (
            f"{TODO}: {subject}: {upstream_id} gives the range {text} without listing its versions; "
            f"list every affected version explicitly in affected[].versions (check the registry), then delete this line."
        )
        todos.append(line)
        notes.append(
            Note(
                "todo-range",
                subject,
                f"{upstream_id}: range {text} is not turned into versions; the draft carries a TODO",
            )
        )
    if package.whole and not _whole_package(package):
        notes.append(
            Note(
                "introduced-0",
                subject,
                f'{", ".join(package.whole)} also says introduced "0" (every version) next to specific versions: '
                f"not copied (the usual GHSA-malware merge artefact); if the whole package is malicious, "
                f'make it kind malicious-package with the range introduced "0" by hand',
            )
        )
    if _whole_package(package):
        todos.append(
            f"{TODO}: {subject}: upstream blocks every version but names none; add at least one known "
            f"malicious version to affected[].versions, then delete this line."
        )
        notes.append(
            Note("todo-range", subject, "whole-package record without a known version; the draft carries a TODO")
        )
    return todos


def _extend(
    live: _Live, package: _Package, aliases: list[str], refs: list[dict[str, str]], todos: list[str], names: str
) -> None:
    """Union of versions, new aliases, new references appended; summary and details kept."""
    entry, _ = _live_versions(live, package.key)
    assert entry is not None
    eco = package.eco
    have = {eco.version_key(v) for v in _list(entry.get("versions")) if isinstance(v, str) and eco.version_is_valid(v)}
    added = [v for v in package.sorted_versions() if eco.version_key(v) not in have]
    if added:
        entry["versions"] = sorted([*_list(entry.get("versions")), *added], key=eco.version_key)
        live.added += len(added)
    current = _list(live.data.get("aliases"))
    if not set(aliases) <= set(current):
        live.data["aliases"] = sorted(set(current) | set(aliases))
    urls = {r.get("url") for r in _list(live.data.get("references")) if isinstance(r, dict)}
    live.data["references"] = _list(live.data.get("references")) + [r for r in refs if r["url"] not in urls]
    live.todos += [t for t in todos if t not in live.todos]
    live.sources += [n for n in names.split(", ") if n not in live.sources]


def _finish_extension(live: _Live, plan: Plan, now: _dt.datetime) -> None:
    if live.todos:
        found = live.data.get("details")
        details = found if isinstance(found, str) else ""
        live.data["details"] = (
            "\n\n".join([details.rstrip(), *live.todos]) if details.strip() else "\n\n".join(live.todos)
        )
    if json.loads(live.original) == live.data:
        plan.notes.append(
            Note("unchanged", str(live.path), f"{', '.join(live.sources)} adds nothing to {live.data.get('id')}")
        )
        return
    live.data["modified"] = _stamp(now)
    plan.drafts.append(Draft(live.path, live.data, "extend", live.sources, live.added))


def _new_draft(pending: _Pending, ids: _Ids, notes: list[Note], now: _dt.datetime) -> Draft:
    incident = sorted(pending.records, key=lambda r: r.id)
    packages = list(pending.packages.values())
    published = _published(incident)
    advisory_id = ids.take(int(published[:4]))
    whole = all(_whole_package(p) for p in packages)
    affected = []
    todos: list[str] = []
    for package in packages:
        todos += _package_todos(package, notes, f"{package.eco.name} {package.name}")
        entry: dict[str, Any] = {
            "package": {"ecosystem": package.eco.name, "name": package.name, "purl": package.eco.purl(package.name)}
        }
        if whole:
            entry["ranges"] = [dict(r) for r in _WHOLE_RANGE]
        entry["versions"] = package.sorted_versions()
        affected.append(entry)
    names = ", ".join(r.id for r in incident)
    listed = "; ".join(
        f"{a['package']['name']} {', '.join(a['versions']) or '(versions to be listed)'}" for a in affected
    )
    summary = f"{TODO}: rewrite this draft summary of {affected[0]['package']['name']} ({names})"
    if len(summary) > 200:
        summary = f"{TODO}: rewrite this draft summary ({incident[0].id})"
    details = "\n\n".join(
        [
            f"{TODO}: this is a draft generated from {names}. Rewrite the summary and these details in your own "
            f"words (what happened, what the payload did, who published it), then delete every {TODO} line.",
            *todos,
            f"Affected: {listed}.",
            "**What to do:** remove the affected versions from lockfiles and environments and install a release "
            "outside this list; rotate any credential a machine that installed one of them could reach.",
        ]
    )
    data = {
        "schema_version": "1.7.5",
        "id": advisory_id,
        "modified": _stamp(now),
        "published": published,
        "aliases": sorted(pending.aliases),
        "summary": summary,
        "details": details,
        "affected": affected,
        "references": pending.refs,
        "database_specific": {"depguard": {"kind": "malicious-package" if whole else "compromised-release"}},
    }
    notes.append(
        Note("draft-text", advisory_id, "summary and details are a draft marked TODO: rewrite them in your own words")
    )
    first = affected[0]["package"]
    return Draft(
        feed_mod.record_relpath(first["ecosystem"], first["name"], advisory_id), data, "new", [r.id for r in incident]
    )


def _check_drafts(plan: Plan) -> None:
    """Report what ``feed validate`` will still say about each draft, TODO lines apart."""
    for draft in plan.drafts:
        empty = {f"/affected/{i}/versions" for i, a in enumerate(draft.data["affected"]) if not a.get("versions")}
        for issue in feed_mod.check_record(draft.path, draft.data):
            if issue.rule == "todo" or issue.pointer in empty:
                continue  # answered by the draft's TODO lines
            plan.notes.append(Note("validate", str(draft.path), f"{issue.pointer or '/'}: {issue.message}"))


# --- CSV lists of indicators ---------------------------------------------------------------

_NAME_COLUMNS = ("package_name", "name", "package")
_VERSION_COLUMNS = ("package_versions", "package_version", "affected_versions", "versions", "version")
_TYPE_COLUMN = "artifact_type"
_ARTIFACT_ECOSYSTEMS = {"npm package": "npm", "pypi package": "PyPI"}


@dataclass
class CsvPackage:
    """One package of an IOC list: its ecosystem, normalized name and versions (rows merged)."""

    eco: ecosystems.Ecosystem
    name: str
    versions: set[str] = field(default_factory=set)

    def sorted_versions(self) -> list[str]:
        return sorted(self.versions, key=self.eco.version_key)


def read_csv(raw: bytes, source: str, *, ecosystem: str = "npm", notes: list[Note] | None = None) -> list[CsvPackage]:
    """The packages of a CSV IOC list, columns found by header name, rows of a package merged.

    Three shapes are known: ``package_name,package_versions,...`` (versions comma-joined in
    one cell), ``package_name,package_version`` (one row per version) and
    ``artifact_type,name,affected_versions`` (rows of several kinds; only npm and PyPI
    packages are kept, the others reported in ``notes``).
    """
    notes = notes if notes is not None else []
    default = ecosystems.get(ecosystem)
    if default is None:
        raise InvalidRecordError(f"unsupported ecosystem {ecosystem!r}: use one of {', '.join(ecosystems.ECOSYSTEMS)}")
    if len(raw) > MAX_INPUT_BYTES:
        raise InvalidRecordError(f"{source}: larger than {MAX_INPUT_BYTES >> 20} MiB")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidRecordError(f"{source}: not UTF-8: {exc.reason} at byte {exc.start}") from None
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise InvalidRecordError(f"{source}: not CSV: {exc}") from None
    if not rows:
        raise InvalidRecordError(f"{source}: empty CSV")
    header = [h.strip().lower() for h in rows[0]]
    name_col = next((header.index(c) for c in _NAME_COLUMNS if c in header), None)
    version_col = next((header.index(c) for c in _VERSION_COLUMNS if c in header), None)
    if name_col is None or version_col is None:
        raise InvalidRecordError(
            f"{source}: no package name and version columns in the header {rows[0]!r} "
            f"(expected one of {', '.join(_NAME_COLUMNS)} and one of {', '.join(_VERSION_COLUMNS)})"
        )
    type_col = header.index(_TYPE_COLUMN) if _TYPE_COLUMN in header else None
    packages: dict[tuple[str, str], CsvPackage] = {}
    skipped: dict[str, int] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(name_col, version_col, type_col or 0):
            raise InvalidRecordError(f"{source}: line {line}: too few columns")
        eco = default
        if type_col is not None:
            kind = row[type_col].strip().lower()
            found = ecosystems.get(_ARTIFACT_ECOSYSTEMS.get(kind, ""))
            if found is None:
                skipped[kind] = skipped.get(kind, 0) + 1
                continue
            eco = found
        name = row[name_col].strip()
        if not eco.name_is_valid(name):
            raise InvalidRecordError(f"{source}: line {line}: not a valid {eco.name} package name: {name!r}")
        versions = [v.strip() for v in row[version_col].split(",") if v.strip()]
        if not versions:
            raise InvalidRecordError(f"{source}: line {line}: {name} has no version")
        for version in versions:
            if not eco.version_is_valid(version):
                syntax = "PEP 440" if eco is ecosystems.PYPI else "semver"
                raise InvalidRecordError(f"{source}: line {line}: {name} {version!r} is not a valid {syntax} version")
        normal = eco.normalize_name(name)
        package = packages.setdefault((eco.name, normal), CsvPackage(eco, normal))
        package.versions |= {eco.normalize_version(v) for v in versions}
    for kind, count in sorted(skipped.items()):
        notes.append(
            Note(
                "skipped",
                source,
                f"{count} row(s) of type {kind!r} skipped: depguard carries npm and PyPI packages only",
            )
        )
    if not packages:
        raise InvalidRecordError(f"{source}: no npm or PyPI package rows")
    return list(packages.values())


def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _csv_text(package: CsvPackage, campaign: str, reference: str) -> tuple[str, str]:
    """A summary and details good enough to publish for one package of a bulk IOC import."""
    versions = package.sorted_versions()
    label = "version" if len(versions) == 1 else "versions"
    summary = f"{package.name} {_join(versions)}: compromised {package.eco.name} {label} from the {campaign} campaign"
    if len(summary) > 200:
        summary = (
            f"{package.name}: {len(versions)} compromised {package.eco.name} versions from the {campaign} campaign"
        )
    if len(summary) > 200:
        summary = f"{package.name}: compromised {package.eco.name} versions from a supply-chain campaign"[:200]
    details = (
        f"{package.eco.name} {label} {_join(versions)} of `{package.name}` "
        f"{'belongs' if len(versions) == 1 else 'belong'} to the {campaign} campaign: "
        f"{'it was' if len(versions) == 1 else 'they were'} published with malicious code by someone other than the "
        f"package's maintainers, and {'it is' if len(versions) == 1 else 'they are'} listed among the campaign's "
        f"indicators of compromise at {reference}. Releases of `{package.name}` outside this list are not known to be affected.\n\n"
        f"**What to do:** remove {'this version' if len(versions) == 1 else 'these versions'} from lockfiles and "
        f"environments and install a release outside the list. On any machine or CI runner that installed "
        f"{'it' if len(versions) == 1 else 'one of them'}, treat the credentials it could reach (registry and "
        f"source-hosting tokens, cloud keys, SSH keys) as exposed: rotate them, and review recent publishes of "
        f"packages you maintain."
    )
    return summary, details


def plan_csv(
    packages: Sequence[CsvPackage],
    root: Path | str,
    *,
    references: Sequence[str],
    published: _dt.datetime,
    campaign: str,
    now: _dt.datetime,
    notes: Sequence[Note] = (),
) -> Plan:
    """One record per package of an IOC list, or the live record that covers it extended.

    ``references[0]`` is the list itself (named in the generated text); the others are the
    campaign's analyses, carried as ARTICLE references after it.
    """
    if not references:
        raise InvalidRecordError("--reference is required: the https page that publishes the list")
    for url in references:
        if not url.startswith("https://") or any(c.isspace() or ord(c) < 32 for c in url):
            raise InvalidRecordError(f"--reference must be an https URL: {url!r}")
    reference = references[0]
    if not campaign.strip() or any(ord(c) < 32 for c in campaign) or len(campaign) > 80:
        raise InvalidRecordError("--campaign must be a short one-line name (at most 80 characters)")
    root = Path(root)
    plan = Plan(notes=list(notes))
    lives = _Lives(root)
    ids = _Ids(root)
    touched: list[_Live] = []
    ref = [{"type": "REPORT", "url": reference}] + [
        {"type": "ARTICLE", "url": url} for url in dict.fromkeys(references[1:])
    ]
    for item in packages:
        package = _Package(item.eco, item.name, set(item.versions), sources=[reference])
        live = _match(lives, package, set())
        if live is not None:
            _extend(live, package, [], ref, [], reference)
            if live not in touched:
                touched.append(live)
            continue
        advisory_id = ids.take(published.year)
        summary, details = _csv_text(item, campaign.strip(), reference)
        data = {
            "schema_version": "1.7.5",
            "id": advisory_id,
            "modified": _stamp(max(now, published)),
            "published": _stamp(published),
            "aliases": [],
            "summary": summary,
            "details": details,
            "affected": [
                {
                    "package": {"ecosystem": item.eco.name, "name": item.name, "purl": item.eco.purl(item.name)},
                    "versions": item.sorted_versions(),
                }
            ],
            "references": ref,
            "database_specific": {"depguard": {"kind": "compromised-release"}},
        }
        plan.drafts.append(
            Draft(feed_mod.record_relpath(item.eco.name, item.name, advisory_id), data, "new", [reference])
        )
    for live in touched:
        _finish_extension(live, plan, now)
    new = sum(1 for d in plan.drafts if d.action == "new")
    if new:
        plan.notes.append(
            Note(
                "review-text",
                campaign.strip(),
                f"{new} record(s) with generated summary and details: read a few before proposing them",
            )
        )
    _check_drafts(plan)
    return plan


# --- writing -------------------------------------------------------------------------------


def write_plan(plan: Plan, root: Path | str) -> list[Path]:
    """Write every draft canonically and atomically; returns the paths written."""
    root = Path(root)
    written = []
    for draft in plan.drafts:
        target = root / draft.path
        target.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(target, feed_mod.canonical_bytes(draft.data))
        written.append(target)
    return written


def iter_lines(plan: Plan, root: Path | str, *, dry_run: bool) -> Iterator[str]:
    """The text report: one line per record, then what needs a human."""
    verb = {"new": "would write" if dry_run else "wrote", "extend": "would extend" if dry_run else "extended"}
    for draft in plan.drafts:
        added = f", +{draft.added_versions} new" if draft.action == "extend" else ""
        yield (
            f"{verb[draft.action]} {Path(root) / draft.path} ({'; '.join(draft.packages)}: "
            f"{draft.versions} version(s){added}; from {', '.join(draft.sources)})"
        )
    if not plan.drafts:
        yield "nothing to write"
    if plan.notes:
        yield "needs a human:"
        for note in plan.notes:
            yield f"  {note}"
