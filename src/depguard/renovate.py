"""The feed as a Renovate preset: package rules that keep Renovate from proposing a compromised release.

An organisation that runs Renovate extends one published file in every repository's config,
and Renovate stops opening pull requests that move a dependency onto a version the feed lists
(or onto any version of a package that was malicious from its first upload). It does nothing
for a version a repository already uses: that is ``depguard check``'s job.

How the rules are written, and why
----------------------------------
One rule per (datasource, package), live records only, sorted, so the file is a pure function of
the feed. Several advisories on one package merge into one rule: Renovate keeps the *last*
matching rule's ``allowedVersions``, so two rules for one package would silently drop the
first one's versions.

``allowedVersions`` is a negated regular expression, ``!/^(?:...)$/``, for both datasources:

* Renovate treats a ``/.../`` value (``!`` negates it) as a regex against the version string
  before it looks at versioning, so the rule means the same whatever ``versioning`` a manager or
  the user's own config picks for the dependency. A PEP 440 range such as ``!=1.82.7,!=1.82.8``
  would be read by the dependency's versioning: poetry, a custom manager or a user override to
  another scheme either reads it differently or fails the whole repository's run with "Invalid
  allowedVersions".
* Renovate compiles it with RE2 when the optional ``re2`` module loads and with JavaScript's
  ``RegExp`` otherwise. RE2 has no lookahead, so the form ``/^(?!1\\.82\\.7$).*$/`` is out; the
  patterns here use only anchors, literals, character classes, ``(?:...)`` groups, ``?``, ``*``,
  ``+`` and ``|``, which both engines read the same way, and no flags.
* A regex sees the version as the index spells it, not normalised. For PyPI each listed
  version becomes a pattern for *every* PEP 440 spelling of that release (``v1.82.7``,
  ``1.82.7.0``, ``1.82.07``, ``0!1.82.7``, ``1.0RC1``/``1.0-rc.1``/``1.0c1``, ``1.0-1`` for
  ``1.0.post1``...) plus any local label (``1.82.7+local``): exactly what the PEP 440 exclusion
  ``!=1.82.7`` that ``depguard sync`` writes refuses. For npm the registry stores versions in
  SemVer's own form, so the version is matched literally, plus any build metadata
  (``1.2.3+build``), which SemVer precedence ignores (npm treats it as the same version).
* Neighbours stay allowed: ``1.82.6``, ``1.82.70``, ``1.82.7.1``, ``1.82.7rc1``,
  ``1.82.7.post1``, ``1.82.7-rc.1``...
* A whole-package block (``introduced: "0"``, kind ``malicious-package``) refuses every
  version: ``!/.*/``.

Package names: ``matchPackageNames`` holds the feed's exact name. Renovate matches it without
regard to case; Renovate's Python managers pass PEP 503 normalised names, and for a PyPI name
with a separator a second entry ``/^deep[-_.]+translator$/i`` also catches a manager that
passes the name as a file spells it (``deep_translator``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from depguard import ecosystems
from depguard.affected import OutsideProfileError, blocks_every_version, require_profile
from depguard.errors import InvalidRecordError
from depguard.records import Affected, Record

__all__ = [
    "DATASOURCES",
    "PRESET_PATH",
    "SCHEMA_URL",
    "PackageBlock",
    "allowed_versions",
    "package_blocks",
    "pep440_pattern",
    "render_preset",
    "semver_pattern",
]

#: Where the preset sits in the published tree: at the top, beside ``index.json``, outside the
#: ``<Ecosystem>/<ID>.json`` folders OSV mirrors read. Renovate fetches a preset named explicitly
#: (a URL, or ``github>owner/repo//path/renovate``) by that name; only its fallback for an
#: unnamed preset (``default.json``, then ``renovate.json``) is deprecated.
PRESET_PATH = "renovate.json"
SCHEMA_URL = "https://docs.renovatebot.com/renovate-schema.json"
#: OSV ecosystem -> Renovate datasource id.
DATASOURCES = {"PyPI": "pypi", "npm": "npm"}
#: ``allowedVersions`` for a package that is blocked whole: no version string passes.
REFUSE_EVERY_VERSION = "!/.*/"

_SEP = "[-_.]"
_json_string = json.encoder.encode_basestring  # a str as json.dumps(ensure_ascii=False) writes it
#: PEP 440's spellings of each pre-release letter, and of post and dev releases.
_PRE_SPELLINGS = {"a": ("alpha", "a"), "b": ("beta", "b"), "rc": ("preview", "pre", "rc", "c")}
_POST_SPELLINGS = ("post", "rev", "r")


@dataclass(frozen=True)
class PackageBlock:
    """What the live feed refuses for one package: some versions, or (``whole``) every version."""

    datasource: str
    name: str
    versions: tuple[str, ...]
    whole: bool
    advisories: tuple[str, ...]


def package_blocks(records: Iterable[Record]) -> list[PackageBlock]:
    """The live records' PyPI and npm entries merged per package, sorted by datasource and name.

    Withdrawn records are left out; other ecosystems have no rule to map to. A range other than
    the whole-package ``introduced: "0"`` is refused (the feed profile allows no other), because
    a regex cannot express "below F" and leaving it out would under-protect without a word.
    """
    merged: dict[tuple[str, str], _Merging] = {}
    for record in records:
        if record.is_withdrawn:
            continue
        for affected in record.affected:
            if affected.package is None or affected.package.ecosystem not in DATASOURCES:
                continue
            eco = ecosystems.ECOSYSTEMS[affected.package.ecosystem]
            name = affected.package.name
            if not eco.name_is_valid(name) or eco.normalize_name(name) != name:
                raise InvalidRecordError(f"{record.id}: {name!r} is not a {eco.name} name in its normal form")
            key = (DATASOURCES[eco.name], name)
            merging = merged.get(key)
            if merging is None:
                merging = merged[key] = _Merging(eco)
            for version in affected.versions:
                if not eco.version_is_valid(version):
                    raise InvalidRecordError(f"{record.id}: {name} {version!r} is not a valid {eco.name} version")
                merging.versions.add(version)
            merging.advisories.add(record.id)
            merging.whole = _is_whole(record, affected) or merging.whole
    return [merging.block(*key) for key, merging in sorted(merged.items())]


@dataclass
class _Merging:
    """One package's rule while the records are read."""

    eco: ecosystems.Ecosystem
    versions: set[str] = field(default_factory=set)
    whole: bool = False
    advisories: set[str] = field(default_factory=set)

    def block(self, datasource: str, name: str) -> PackageBlock:
        key = self.eco.version_key
        ordered = tuple(sorted(self.versions, key=lambda v: (key(v), v)))
        return PackageBlock(datasource, name, ordered, self.whole, tuple(sorted(self.advisories)))


def _is_whole(record: Record, affected: Affected) -> bool:
    """Whether ``affected`` blocks its package whole, as :mod:`depguard.affected` reads the
    profile; any other range is refused (a regex cannot say "below F")."""
    try:
        require_profile(affected)
    except OutsideProfileError as exc:
        raise InvalidRecordError(f"{record.id}: {exc}; it cannot be written as a Renovate rule") from None
    return blocks_every_version(affected)


def allowed_versions(block: PackageBlock) -> str:
    """The rule's ``allowedVersions``: a negated regex that every refused spelling matches."""
    if block.whole:
        return REFUSE_EVERY_VERSION
    pattern = pep440_pattern if block.datasource == "pypi" else semver_pattern
    return "!/" + pattern(block.versions) + "/"


def _ci(word: str) -> str:
    """``word`` matched without regard to case, without a flag (a flag would apply to the whole pattern)."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in word)


def _number(value: int, *, optional: bool = False) -> str:
    """A decimal ``value`` with any leading zeros; an optional zero may also be left out."""
    if value:
        return f"0*{value}"
    return "(?:0+)?" if optional else "0+"


def _pep440_one(version: str) -> str:
    """Every spelling PEP 440 normalises to ``version``, without the ``v`` prefix and the local label."""
    parsed = ecosystems.parse_pep440(version)
    if parsed is None:
        raise InvalidRecordError(f"{version!r} is not a PEP 440 version")
    release = list(parsed.release)
    while len(release) > 1 and release[-1] == 0:
        release.pop()  # 1.0 == 1.0.0 == 1: trailing zeros are optional
    text = "(?:0+!)?" if parsed.epoch == 0 else f"0*{parsed.epoch}!"
    text += r"\.".join(_number(part) for part in release) + r"(?:\.0+)*"
    post = post_word = ""
    if parsed.post is not None:
        spellings = "|".join(_ci(s) for s in _POST_SPELLINGS)
        post_word = f"{_SEP}?(?:{spellings}){_SEP}?{_number(parsed.post, optional=True)}"
        post = f"(?:-{_number(parsed.post)}|{post_word})"
    if parsed.pre is not None:
        letter, number = parsed.pre
        text += f"{_SEP}?(?:{'|'.join(_ci(s) for s in _PRE_SPELLINGS[letter])})"
        if number or not post:
            text += f"{_SEP}?{_number(number, optional=True)}{post}"
        else:
            # "1.0a-1" is 1.0a1, not 1.0a0.post1: right after a bare letter, "-N" is the pre-release's number
            text += f"(?:{_SEP}?0+{post}|{_SEP}{post}|{post_word})"
    else:
        text += post
    if parsed.dev is not None:
        text += f"{_SEP}?{_ci('dev')}{_SEP}?{_number(parsed.dev, optional=True)}"
    if parsed.local is not None:
        text += r"\+" + _SEP.join(_ci(part) for part in parsed.local.split("."))
    else:
        text += r"(?:\+.*)?"  # a local build of the release: PEP 440's != refuses it too
    return text


def pep440_pattern(versions: Iterable[str]) -> str:
    """A regex (RE2 and JavaScript alike) matching exactly the spellings of ``versions``' releases."""
    return "^[vV]?(?:" + "|".join(_pep440_one(v) for v in versions) + ")$"


def _literal(text: str) -> str:
    """``text`` as a regex literal; a SemVer string holds only letters, digits, ``.`` and ``-``."""
    if not all(c.isascii() and (c.isalnum() or c in ".-") for c in text):
        raise InvalidRecordError(f"{text!r} is not a SemVer version without build metadata")
    return text.replace(".", r"\.")


def semver_pattern(versions: Iterable[str]) -> str:
    """A regex matching ``versions`` as the npm registry spells them, with any build metadata."""
    bases = dict.fromkeys(v.partition("+")[0] for v in versions)  # build metadata does not make a version
    return "^(?:" + "|".join(_literal(v) for v in bases) + r")(?:\+.*)?$"


def _name_patterns(block: PackageBlock) -> list[str]:
    """``matchPackageNames``: the exact name, and for PyPI every separator spelling of it."""
    names = [block.name]
    if block.datasource == "pypi" and "-" in block.name:
        names.append("/^" + "[-_.]+".join(block.name.split("-")) + "$/i")
    return names


def _rule(block: PackageBlock) -> str:
    """One package rule as one line of JSON (``json.dumps`` with ``", "`` and ``": "`` separators)."""
    refused = "every version" if block.whole else ", ".join(block.versions)
    names = ", ".join(map(_json_string, _name_patterns(block)))
    return (
        f'{{"description": {_json_string(", ".join(block.advisories) + ": " + block.name + " " + refused)}, '
        f'"matchDatasources": [{_json_string(block.datasource)}], "matchPackageNames": [{names}], '
        f'"allowedVersions": {_json_string(allowed_versions(block))}}}'
    )


def render_preset(records: Iterable[Record], *, feed_url: str, modified: str | None) -> bytes:
    """The preset file: ``$schema``, a ``description`` naming its source, one package rule per line.

    Written by hand rather than with an indenting ``json.dumps`` (pure Python, slow for a large
    feed); every string goes through JSON's own string encoder, so the file is plain JSON.
    """
    blocks = package_blocks(records)
    description = (
        f"depguard: never propose a release the depguard feed lists as compromised ({len(blocks)} package(s); "
        f"feed modified {modified or 'never'}). Generated by `depguard feed build` from the feed at {feed_url}; do not edit."
    )
    head = (
        f'{{\n  "$schema": {json.dumps(SCHEMA_URL)},\n  "description": {json.dumps(description, ensure_ascii=False)},\n'
    )
    rules = [_rule(block) for block in blocks]
    body = '  "packageRules": [' + (("\n    " + ",\n    ".join(rules) + "\n  ") if rules else "") + "]\n}\n"
    return (head + body).encode("utf-8")
