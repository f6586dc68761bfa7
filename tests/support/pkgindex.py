"""A local package index that the tests own: minimal, valid, deterministic wheels.

``build_wheel`` writes one pure-Python wheel with only ``zipfile``/``hashlib``;
``build_index`` writes many of them into a directory usable as ``--find-links``;
``build_simple_index`` adds a PEP 503 "simple" HTML tree over such a directory so the
same wheels can be served over HTTP (``--index-url http://127.0.0.1:PORT/simple``).

The bytes of a wheel depend only on (name, version, requires): zip entries carry a
fixed timestamp and mode and are written in a fixed order.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Union

__all__ = [
    "DEFAULT_PACKAGES",
    "PackageSpec",
    "build_index",
    "build_simple_index",
    "build_wheel",
    "normalize_name",
    "wheel_filename",
]

#: Fixed zip timestamp: the earliest date a zip file can hold.
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)

#: (name, version, requires) — one distribution of an index.
PackageSpec = tuple[str, str, Sequence[str]]

#: A ``build_index`` specification: ``{name: [version | (version, requires), ...]}`` or
#: an iterable of ``(name, version)`` / ``(name, version, requires)`` tuples.
IndexSpec = Union[
    Mapping[str, Iterable[str | tuple[str, Sequence[str]]]],
    Iterable[tuple[str, str] | PackageSpec],
]

#: The default index of the ``local_index`` fixture.
DEFAULT_PACKAGES: dict[str, list] = {
    "litellm": ["1.82.6", "1.82.7", "1.82.8", "1.82.9"],
    "ultralytics": ["8.3.40", "8.3.41", "8.3.42", "8.3.45", "8.3.46", "8.3.47"],
    "evilpkg": ["0.1.0", "0.2.0"],
    "goodpkg": [("1.0.0", ["litellm>=1.82"])],
    "tinylib": ["1.0", "2.0"],
}

_NAME_RE = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)


def normalize_name(name: str) -> str:
    """PEP 503 normalized project name (``Foo_Bar`` -> ``foo-bar``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _wheel_name_part(name: str) -> str:
    """Name as it appears in a wheel filename / dist-info directory (``foo_bar``)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def wheel_filename(name: str, version: str) -> str:
    return f"{_wheel_name_part(name)}-{version}-py3-none-any.whl"


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _metadata(name: str, version: str, requires: Sequence[str], summary: str | None) -> str:
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        f"Summary: {summary or f'{name} {version}, a depguard test package'}",
    ]
    lines += [f"Requires-Dist: {req}" for req in requires]
    return "\n".join(lines) + "\n"


def _zip_entry(zf: zipfile.ZipFile, arcname: str, data: bytes) -> None:
    info = zipfile.ZipInfo(arcname, date_time=ZIP_DATE_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (0o100644 & 0xFFFF) << 16  # regular file, rw-r--r--
    info.create_system = 3  # unix, so external_attr is honoured the same everywhere
    zf.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=6)


def build_wheel(
    dest_dir: str | Path,
    name: str,
    version: str,
    requires: Iterable[str] = (),
    *,
    summary: str | None = None,
    extra_files: Mapping[str, bytes | str] | None = None,
) -> Path:
    """Write ``{name}-{version}-py3-none-any.whl`` into *dest_dir* and return its path.

    The wheel holds ``{pkg}/__init__.py`` (with ``__version__``), and a ``.dist-info``
    with ``METADATA`` (Metadata-Version 2.1, one ``Requires-Dist`` per *requires*),
    ``WHEEL`` and a ``RECORD`` with correct sha256/size entries. *extra_files* maps more
    archive paths to contents. Deterministic: same arguments, same bytes.
    """
    if not _NAME_RE.match(name):
        raise ValueError(f"invalid project name: {name!r}")
    requires = list(requires)
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    part = _wheel_name_part(name)
    dist_info = f"{part}-{version}.dist-info"

    files: list[tuple[str, bytes]] = [
        (f"{part}/__init__.py", f'__version__ = "{version}"\n'.encode()),
    ]
    for arcname, content in sorted((extra_files or {}).items()):
        files.append((arcname, content.encode() if isinstance(content, str) else content))
    files.append((f"{dist_info}/METADATA", _metadata(name, version, requires, summary).encode()))
    files.append(
        (
            f"{dist_info}/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: depguard-tests (1.0)\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
    )
    record_lines = [f"{arc},{_record_hash(data)},{len(data)}" for arc, data in files]
    record_lines.append(f"{dist_info}/RECORD,,")
    files.append((f"{dist_info}/RECORD", ("\n".join(record_lines) + "\n").encode()))

    path = dest / wheel_filename(name, version)
    tmp = path.with_name(path.name + ".part")
    with zipfile.ZipFile(tmp, "w") as zf:
        for arcname, data in files:
            _zip_entry(zf, arcname, data)
    tmp.replace(path)
    return path


def _iter_specs(packages: IndexSpec) -> Iterable[PackageSpec]:
    if isinstance(packages, Mapping):
        for name, versions in packages.items():
            if isinstance(versions, str):
                raise TypeError(f"versions of {name!r} must be a list, not a string")
            for item in versions:
                if isinstance(item, str):
                    yield name, item, ()
                else:
                    version, requires = item
                    yield name, version, tuple(requires)
    else:
        for item in packages:
            if len(item) == 2:
                yield item[0], item[1], ()
            else:
                name, version, requires = item
                yield name, version, tuple(requires)


def build_index(dest_dir: str | Path, packages: IndexSpec = DEFAULT_PACKAGES) -> Path:
    """Build wheels for *packages* into *dest_dir* (created) and return it (a find-links dir).

    *packages* is ``{"name": ["1.0", ("2.0", ["dep>=1"]), ...]}`` or an iterable of
    ``(name, version)`` / ``(name, version, requires)``. Calling it again on the same
    directory adds (or rewrites, identically) wheels.
    """
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    for name, version, requires in _iter_specs(packages):
        build_wheel(dest, name, version, requires)
    return dest


def build_simple_index(find_links_dir: str | Path, dest_dir: str | Path | None = None) -> Path:
    """Write a PEP 503 simple index over the wheels of *find_links_dir*; return its root.

    Layout: ``<root>/index.html`` and ``<root>/<project>/index.html`` whose links point
    to ``../../files/<wheel>#sha256=...``; the wheels are copied to ``<root>/../files``.
    Default *dest_dir*: ``<find_links_dir>/../simple``. Serve ``<root>/..`` over HTTP
    and use ``--index-url http://HOST:PORT/simple``.
    """
    src = Path(find_links_dir)
    root = Path(dest_dir) if dest_dir is not None else src.parent / "simple"
    files_dir = root.parent / "files"
    files_dir.mkdir(parents=True, exist_ok=True)
    projects: dict[str, list[tuple[str, str]]] = {}
    for wheel in sorted(src.glob("*.whl")):
        data = wheel.read_bytes()
        (files_dir / wheel.name).write_bytes(data)
        project = normalize_name(wheel.name.split("-", 1)[0])
        projects.setdefault(project, []).append((wheel.name, hashlib.sha256(data).hexdigest()))
    root.mkdir(parents=True, exist_ok=True)
    links = "".join(f'<a href="{p}/">{p}</a>\n' for p in sorted(projects))
    (root / "index.html").write_text(f"<!DOCTYPE html>\n<html><body>\n{links}</body></html>\n")
    for project, wheels in projects.items():
        pdir = root / project
        pdir.mkdir(exist_ok=True)
        body = "".join(
            f'<a href="../../files/{html.escape(fn)}#sha256={digest}">{html.escape(fn)}</a>\n' for fn, digest in wheels
        )
        (pdir / "index.html").write_text(f"<!DOCTYPE html>\n<html><body>\n{body}</body></html>\n")
    return root
