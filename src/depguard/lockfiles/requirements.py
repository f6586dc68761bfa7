"""``requirements*.txt``: pip's requirements format, as pip-compile and ``uv export`` write it.

A requirements file is only as locked as its ``==`` pins, so only a pinned line gives a
version; an unpinned name still counts, because an advisory that blocks every version of a
package matches it. ``--hash`` options are kept, so a known-bad file is caught under any
name.

``-r``/``-c`` includes are followed the way pip follows them (relative to the including
file), but only inside the repository: a lockfile is input from whoever wrote the branch,
and ``-r ../../../home/me/.netrc`` must not make depguard read, or report on, files outside
the repo. A file included twice (or in a cycle) is read once. An include that cannot be
followed is an error, not a skip: what it would have pinned is unknown.

A constraints file (included with ``-c``, or named ``*constraints*.txt``) installs nothing by
itself: only its pinned (or hashed) lines say what gets installed, so an unpinned line there
(``evilpkg<0``, depguard's own whole-package exclusion) is not a package.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from depguard.errors import LockfileError
from depguard.lockfiles import Location, Package
from depguard.lockfiles._common import read_text, sha256_of

__all__ = ["logical_lines", "parse"]

_COMMENT = re.compile(r"(^|\s+)#.*$")
_COMMENT_ONLY = re.compile(r"^\s*#")
_INCLUDE = {"-r": "requirement", "--requirement": "requirement", "-c": "constraint", "--constraint": "constraint"}
_EDITABLE = {"-e", "--editable"}
#: Options pip accepts on a line of their own; they select indexes or builds, not packages.
_GLOBAL = {
    "-i",
    "--index-url",
    "--extra-index-url",
    "--no-index",
    "-f",
    "--find-links",
    "--no-binary",
    "--only-binary",
    "--prefer-binary",
    "--require-hashes",
    "--pre",
    "--trusted-host",
    "--use-feature",
}
_GLOBAL_FLAGS = {"--no-index", "--prefer-binary", "--require-hashes", "--pre"}
#: Options pip accepts after a requirement on the same line.
_PER_REQUIREMENT = {"--hash", "--global-option", "--config-settings"}
#: How deep ``-r``/``-c`` includes may nest. Real projects use two or three levels; the
#: bound keeps a hostile chain from exhausting the stack or reading thousands of files.
MAX_INCLUDE_DEPTH = 64
_ARCHIVE = re.compile(r"\.(whl|tar\.gz|zip|tar\.bz2|tgz)$", re.IGNORECASE)


@dataclass(frozen=True)
class _Line:
    number: int
    text: str


def parse(path: Path, root: Path) -> list[Package]:
    """Packages of ``path`` and of every file it includes, each at its own file and line."""
    resolved = path.resolve()
    boundary = root.resolve() if resolved.is_relative_to(root.resolve()) else resolved.parent
    packages: list[Package] = []
    _read(path, boundary, visited=set(), out=packages, constraints="constraints" in path.name)
    return packages


def logical_lines(text: str) -> Iterator[_Line]:
    """Lines with ``\\`` continuations joined and comments removed, numbered by first line."""
    buffer: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not buffer:
            start = number
        if raw.endswith("\\") and not _COMMENT_ONLY.match(raw):
            buffer.append(raw[:-1])
            continue
        buffer.append(" " + raw if _COMMENT_ONLY.match(raw) else raw)
        joined = _COMMENT.sub("", "".join(buffer)).strip()
        buffer = []
        if joined:
            yield _Line(start, joined)
    if buffer:
        joined = _COMMENT.sub("", "".join(buffer)).strip()
        if joined:
            yield _Line(start, joined)


def _read(path: Path, boundary: Path, *, visited: set[Path], out: list[Package], constraints: bool = False) -> None:
    """Depth-first through the includes, with an explicit stack: a 3,000-file ``-r`` chain is
    one error line at :data:`MAX_INCLUDE_DEPTH`, not a RecursionError. In a constraints file
    (named so, or included with ``-c``) an unpinned line names no installed package."""
    stack: list[tuple[Path, Iterator[_Line], bool]] = []

    def enter(target: Path, where: str, as_constraints: bool) -> None:
        resolved = target.resolve()
        if resolved in visited:
            return
        if len(stack) >= MAX_INCLUDE_DEPTH:
            raise LockfileError(
                f"{where}: -r/-c includes nest more than {MAX_INCLUDE_DEPTH} files deep; not following further"
            )
        visited.add(resolved)
        stack.append((target, logical_lines(read_text(target)), as_constraints))

    enter(path, str(path), constraints)
    while stack:
        current, lines, in_constraints = stack[-1]
        line = next(lines, None)
        if line is None:
            stack.pop()
            continue
        where = f"{current}:{line.number}"
        if line.text.startswith("-"):
            include = _option_line(line.text, where)
            if include is not None:
                enter(_include_path(current, include, boundary, where), where, _is_constraint_option(line.text))
            continue
        package = _requirement(line.text, Location(current, line.number), where)
        if package is not None and not (in_constraints and package.version is None and not package.hashes):
            out.append(package)


def _is_constraint_option(text: str) -> bool:
    return text.startswith(("-c", "--constraint"))


def _option_line(text: str, where: str) -> str | None:
    """The file a ``-r``/``-c`` line includes; None for other valid option lines."""
    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        raise LockfileError(f"{where}: cannot split the line: {exc}") from None
    option, _, attached = tokens[0].partition("=")
    if tokens[0][:2] in {"-r", "-c", "-e", "-i", "-f"} and len(tokens[0]) > 2 and not tokens[0].startswith("--"):
        option, attached = tokens[0][:2], tokens[0][2:]
    value = attached or (tokens[1] if len(tokens) > 1 else "")
    if option in _INCLUDE:
        if not value:
            raise LockfileError(f"{where}: {option} needs a file name")
        return value
    if option in _EDITABLE:
        return None  # the user's own source tree, not a release
    if option in _GLOBAL:
        if option not in _GLOBAL_FLAGS and not value:
            raise LockfileError(f"{where}: {option} needs a value")
        return None
    raise LockfileError(f"{where}: unknown option {option!r}")


def _include_path(current: Path, target: str, boundary: Path, where: str) -> Path:
    if "://" in target:
        raise LockfileError(f"{where}: cannot follow the remote include {target!r}; check that file on its own")
    candidate = (current.parent / target).resolve()
    if not candidate.is_relative_to(boundary):
        raise LockfileError(f"{where}: include {target!r} leaves the repository ({boundary}); not followed")
    if not candidate.is_file():
        raise LockfileError(f"{where}: included file {target!r} not found")
    return candidate


def _requirement(text: str, location: Location, where: str) -> Package | None:
    requirement, options = _split_options(text)
    hashes = _hashes(options, where)
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        parsed = Requirement(requirement)
    except InvalidRequirement as exc:
        return _path_or_url(requirement, hashes, location, where, exc)
    version = _pinned(parsed)
    if version is None and parsed.url:
        name_version = _from_filename(parsed.url)
        version = name_version[1] if name_version else None
    return Package("PyPI", parsed.name, version, hashes, location)


def _split_options(text: str) -> tuple[str, str]:
    """pip's rule: the requirement ends at the first space-separated token starting with ``-``."""
    tokens = text.split(" ")
    for index, token in enumerate(tokens):
        if token.startswith("-") and index > 0:
            return " ".join(tokens[:index]).strip(), " ".join(tokens[index:]).strip()
    return text.strip(), ""


def _hashes(options: str, where: str) -> tuple[str, ...]:
    if not options:
        return ()
    try:
        tokens = shlex.split(options)
    except ValueError as exc:
        raise LockfileError(f"{where}: cannot split the options: {exc}") from None
    values: list[str] = []
    index = 0
    while index < len(tokens):
        option, sep, value = tokens[index].partition("=")
        if option not in _PER_REQUIREMENT:
            raise LockfileError(f"{where}: unknown option {option!r} after a requirement")
        if not sep:
            index += 1
            if index >= len(tokens):
                raise LockfileError(f"{where}: {option} needs a value")
            value = tokens[index]
        if option == "--hash":
            if ":" not in value:
                raise LockfileError(f"{where}: --hash must look like sha256:HEX, not {value!r}")
            values.append(value)
        index += 1
    return sha256_of(values)


def _pinned(requirement: object) -> str | None:
    for spec in getattr(requirement, "specifier", ()):
        if spec.operator == "===" or (spec.operator == "==" and not spec.version.endswith(".*")):
            return str(spec.version)
    return None


def _path_or_url(
    text: str, hashes: tuple[str, ...], location: Location, where: str, error: Exception
) -> Package | None:
    """A bare archive path or URL names its package in the file name; a directory is local code."""
    looks_like_path = "/" in text or "\\" in text or text.startswith(".") or "://" in text or _ARCHIVE.search(text)
    if not looks_like_path:
        raise LockfileError(
            f"{where}: not a valid requirement: {str(error).splitlines()[0]}"
        )  # one line: packaging adds a caret diagram
    name_version = _from_filename(text)
    if name_version is None:
        return None
    return Package("PyPI", name_version[0], name_version[1], hashes, location)


def _from_filename(url: str) -> tuple[str, str] | None:
    from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename

    filename = url.split("#", 1)[0].split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    try:
        if filename.endswith(".whl"):
            name, version, _build, _tags = parse_wheel_filename(filename)
            return str(name), str(version)
        if filename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(filename)
            return str(name), str(version)
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return None
