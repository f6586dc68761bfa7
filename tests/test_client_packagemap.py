"""The warm-cache fast path of ``check``: the package map and records typed on demand.

Held to the slow path it replaces: an index built from the records the map selects answers
every lookup exactly as an index of the whole feed (generated feeds and lockfiles, name
spellings, several affected packages, withdrawn records, artifact digests), the records
typed on demand are the verified records, and a cache whose map is missing, damaged or
from another depguard is verified in full as before and gets a new map. Also: a plain-http
mirror on the loopback sets up no TLS, and https checks certificates (a real TLS server on
127.0.0.1 with self-signed certificates).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import http.server
import json
import re
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import depguard
from depguard.advisoryindex import AdvisoryIndex
from depguard.check import index_for, match
from depguard.errors import FeedSourceError
from depguard.lockfiles import Location, Package
from depguard.packagemap import MappedRecords, PackageMap, record_spans
from depguard.publish import build_site
from depguard.records import Record
from depguard.sources import FetchOptions, open_url
from depguard.sources.cache import FeedCache
from depguard.sources.interface import FeedSnapshot

from feedkit import record, write_feed

INDEX_SHA = "0" * 64

# --------------------------------------------------------------------------- spans

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    items=st.lists(st.dictionaries(st.text(max_size=4), _JSON, max_size=4), max_size=6),
    indent=st.sampled_from([None, 0, 1, 2]),
    ascii_only=st.booleans(),
    tail=st.sampled_from(["", "\n", " \r\n\t"]),
)
def test_record_spans_locate_every_element(
    items: list[dict[str, Any]], indent: int | None, ascii_only: bool, tail: str
) -> None:
    data = (json.dumps(items, indent=indent, ensure_ascii=ascii_only) + tail).encode("utf-8")
    spans = record_spans(data)
    assert [json.loads(data[start:end]) for start, end in spans] == items


@pytest.mark.parametrize("text", ['{"a": 1}', '"x"', "", "[1 2]"])
def test_record_spans_refuse_what_is_not_an_array(text: str) -> None:
    with pytest.raises(ValueError):
        record_spans(text.encode())


# --------------------------------------------------------------------------- selection == whole feed

_PYPI_NAMES = ["litellm", "LiteLLM", "lite_llm", "Foo.Bar", "foo-bar", "tinylib"]
_NPM_NAMES = ["debug", "@ctrl/tinycolor", "chalk"]
_VERSIONS = ["1.0", "1.0.0", "2.0", "1.82.7", "1.82.7.0", "3.3.1", "not a version"]
_DIGESTS = ["a" * 64, "b" * 64, "C" * 64, "d" * 64]


@st.composite
def feed_records(draw: st.DrawFn) -> list[dict[str, Any]]:
    records = []
    for number in range(draw(st.integers(min_value=0, max_value=8))):
        ecosystem = draw(st.sampled_from(["PyPI", "npm", "Go"]))
        names = _NPM_NAMES if ecosystem == "npm" else _PYPI_NAMES
        data = record(
            f"x_DEPGUARD-2026-{number:04d}",
            name=draw(st.sampled_from(names)),
            ecosystem=ecosystem,
            versions=tuple(draw(st.lists(st.sampled_from(_VERSIONS), min_size=1, max_size=3))),
            whole_package=draw(st.booleans()),
            withdrawn=draw(st.sampled_from([None, "2026-03-26T00:00:00Z"])),
        )
        if draw(st.booleans()):  # a second affected package, possibly another spelling of the first
            other = copy.deepcopy(data["affected"][0])
            other["package"]["name"] = draw(st.sampled_from(names))
            other["versions"] = draw(st.lists(st.sampled_from(_VERSIONS), max_size=2))
            data["affected"].append(other)
        digests = draw(st.lists(st.sampled_from(_DIGESTS), max_size=2))
        if digests:
            data["database_specific"]["depguard"]["artifacts"] = [
                {"filename": f"f{i}.whl", "sha256": d} for i, d in enumerate(digests)
            ]
        records.append(data)
    return records


@st.composite
def lock_packages(draw: st.DrawFn) -> list[Package]:
    packages = []
    for line in range(1, draw(st.integers(min_value=0, max_value=8)) + 1):
        ecosystem = draw(st.sampled_from(["PyPI", "npm", "Go"]))
        name = draw(st.sampled_from(_NPM_NAMES if ecosystem == "npm" else _PYPI_NAMES))
        version = draw(st.sampled_from([None, *_VERSIONS]))
        hashes = tuple(d.lower() for d in draw(st.lists(st.sampled_from(_DIGESTS), max_size=2, unique=True)))
        packages.append(Package(ecosystem, name, version, hashes, Location(Path("uv.lock"), line)))
    return packages


def stored_map(data: list[dict[str, Any]]) -> tuple[bytes, PackageMap, tuple[Record, ...]]:
    """``all.json`` of ``data``, its map as the cache keeps it (stored and read back), and the typed records."""
    all_bytes = (json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
    records = tuple(Record.model_validate(item) for item in data)
    digest = hashlib.sha256(all_bytes).hexdigest()
    built = PackageMap.build(INDEX_SHA, digest, all_bytes, records, None)
    stored = PackageMap.from_bytes(built.to_bytes(), index_sha256=INDEX_SHA, all_sha256=digest, all_size=len(all_bytes))
    assert stored is not None
    return all_bytes, stored, records


def mapped_snapshot(data: list[dict[str, Any]]) -> tuple[FeedSnapshot, tuple[Record, ...]]:
    """A snapshot over ``data`` as the cache keeps it (map stored and read back), and the typed records."""
    all_bytes, stored, records = stored_map(data)
    return FeedSnapshot(MappedRecords(all_bytes, stored, "cache"), "https://feed.example/", "url"), records


@settings(max_examples=300, deadline=None)
@given(data=feed_records(), packages=lock_packages())
def test_selected_records_match_exactly_like_the_whole_feed(
    data: list[dict[str, Any]], packages: list[Package]
) -> None:
    snapshot, records = mapped_snapshot(data)
    assert match(packages, index_for(snapshot, packages)) == match(packages, AdvisoryIndex.from_records(records))


def test_selection_finds_other_spellings_uppercase_digests_and_second_packages() -> None:
    first = record("x_DEPGUARD-2026-0001", name="Foo.Bar", versions=("1.0",))
    first["affected"].append(copy.deepcopy(first["affected"][0]) | {"package": {"ecosystem": "npm", "name": "debug"}})
    second = record("x_DEPGUARD-2026-0002", name="elsewhere", versions=("9.9",))
    second["database_specific"]["depguard"]["artifacts"] = [{"filename": "x.whl", "sha256": "C" * 64}]
    snapshot, _ = mapped_snapshot([first, second, record("x_DEPGUARD-2026-0003", name="unrelated")])
    found = snapshot.select({("PyPI", "foo-bar"), ("npm", "debug")}, {"c" * 64})
    assert [r.id for r in found] == ["x_DEPGUARD-2026-0001", "x_DEPGUARD-2026-0002"]
    assert [r.id for r in snapshot.select({("npm", "debug")}, set())] == ["x_DEPGUARD-2026-0001"]
    assert snapshot.select({("PyPI", "nothing")}, {"e" * 64}) == []


def test_records_are_counted_without_typing_and_selected_typing_only_those(monkeypatch: pytest.MonkeyPatch) -> None:
    data = [record(f"x_DEPGUARD-2026-{n:04d}", name=f"pkg{n}") for n in range(50)]
    snapshot, records = mapped_snapshot(data)
    typed: list[Any] = []
    validate = Record.model_validate
    monkeypatch.setattr(Record, "model_validate", lambda item: typed.append(item) or validate(item))
    assert len(snapshot.records) == 50 and typed == []
    assert [r.id for r in snapshot.select({("PyPI", "pkg7")}, set())] == ["x_DEPGUARD-2026-0007"]
    assert len(typed) == 1
    assert tuple(snapshot.records) == records and snapshot.records[7] == records[7]
    assert len(typed) == 51


@pytest.mark.parametrize(
    "tables",
    [
        {"PyPI": '{"pkg1":[0,999999999]}'},
        {"PyPI": '{"pkg1":[5]}'},
        {"PyPI": '{"pkg1":[3,2]}'},
        {"PyPI": '{"pkg1":["0","9"]}'},
        {"PyPI": '{"pkg1":[1,9]}'},
        {"PyPI": "not json"},
        {"PyPI": "[]"},
    ],
)
def test_a_map_that_does_not_point_at_records_is_damage_not_an_answer(tables: dict[str, str]) -> None:
    all_bytes, stored, _ = stored_map([record(f"x_DEPGUARD-2026-{n:04d}", name=f"pkg{n}") for n in range(3)])
    bogus = PackageMap(stored.index_sha256, stored.all_sha256, stored.all_size, stored.count, None, tables, {})
    broken = MappedRecords(all_bytes, bogus, "the cache /the/cache")
    with pytest.raises(FeedSourceError, match="the cache /the/cache is damaged"):
        broken.select({("PyPI", "pkg1")}, set())


def test_a_map_is_used_only_for_the_files_and_the_depguard_it_was_built_for(monkeypatch: pytest.MonkeyPatch) -> None:
    all_bytes = json.dumps([record()]).encode()
    digest = hashlib.sha256(all_bytes).hexdigest()
    raw = PackageMap.build(INDEX_SHA, digest, all_bytes, [Record.model_validate(record())], None).to_bytes()
    assert PackageMap.from_bytes(raw, index_sha256=INDEX_SHA, all_sha256=digest, all_size=len(all_bytes)) is not None
    assert PackageMap.from_bytes(raw, index_sha256="1" * 64, all_sha256=digest, all_size=len(all_bytes)) is None
    assert PackageMap.from_bytes(raw, index_sha256=INDEX_SHA, all_sha256="2" * 64, all_size=len(all_bytes)) is None
    assert PackageMap.from_bytes(raw, index_sha256=INDEX_SHA, all_sha256=digest, all_size=len(all_bytes) + 1) is None
    assert PackageMap.from_bytes(b"[]", index_sha256=INDEX_SHA, all_sha256=digest, all_size=len(all_bytes)) is None
    assert PackageMap.from_bytes(b"{", index_sha256=INDEX_SHA, all_sha256=digest, all_size=len(all_bytes)) is None
    monkeypatch.setattr(depguard, "__version__", "0.0.0+other")
    assert PackageMap.from_bytes(raw, index_sha256=INDEX_SHA, all_sha256=digest, all_size=len(all_bytes)) is None


# --------------------------------------------------------------------------- through the cache


def feed_records_on_disk() -> list[dict[str, Any]]:
    renamed = record("x_DEPGUARD-2026-0002", name="tinylib-evil", versions=("6.6.6",))
    renamed["database_specific"]["depguard"]["artifacts"] = [{"filename": "t.whl", "sha256": "ab" * 32}]
    return [
        record("x_DEPGUARD-2026-0001", name="litellm", versions=("1.82.7", "1.82.8")),
        renamed,
        record("x_DEPGUARD-2026-0003", name="evilpkg", versions=("0.1.0",), whole_package=True),
        record("x_DEPGUARD-2026-0004", name="debug", versions=("4.4.2",), ecosystem="npm"),
        record("x_DEPGUARD-2026-0005", name="tinylib", versions=("2.0",), withdrawn="2026-03-26T00:00:00Z"),
    ]


LOCKED = [
    Package("PyPI", "LiteLLM", "1.82.7.0", (), Location(Path("uv.lock"), 1)),
    Package("PyPI", "tinylib", "2.0", ("ab" * 32,), Location(Path("uv.lock"), 2)),
    Package("PyPI", "EvilPkg", "9", (), Location(Path("uv.lock"), 3)),
    Package("npm", "debug", "4.4.2", (), Location(Path("uv.lock"), 4)),
    Package("PyPI", "requests", "2.0", (), Location(Path("uv.lock"), 5)),
]


@pytest.fixture
def served(tmp_path: Path, http_server: Any) -> tuple[str, FetchOptions]:
    build_site(write_feed(tmp_path / "feed", feed_records_on_disk()), http_server.root)
    return http_server.url("/"), FetchOptions(cache_dir=tmp_path / "cache", attempts=1)


def cache_dir(options: FetchOptions) -> Path:
    (state,) = Path(options.cache_dir or "").rglob("state.json")
    return state.parent


def findings(snapshot: FeedSnapshot) -> Any:
    return match(LOCKED, index_for(snapshot, LOCKED))


def test_a_verified_download_stores_a_map_and_a_warm_run_uses_it(served: tuple[str, FetchOptions]) -> None:
    url, options = served
    cold = open_url(url, options)
    assert isinstance(cold.records, tuple)
    state = json.loads((cache_dir(options) / "state.json").read_text())
    assert (cache_dir(options) / f"packages-{state['packages_sha256']}.json").is_file()

    warm = open_url(url, options)
    assert isinstance(warm.records, MappedRecords) and warm.kind == "url" and not warm.warnings
    assert len(warm.records) == len(cold.records) == 5
    assert findings(warm) == findings(cold) == match(LOCKED, AdvisoryIndex.from_records(cold.records))
    assert [f.advisory.id for f in findings(warm)[0]] == [
        "x_DEPGUARD-2026-0001",
        "x_DEPGUARD-2026-0002",
        "x_DEPGUARD-2026-0003",
        "x_DEPGUARD-2026-0004",
    ]
    assert tuple(warm.records) == cold.records


@pytest.mark.parametrize("damage", ["missing", "edited", "state-points-elsewhere", "other-depguard"])
def test_without_a_usable_map_the_cache_is_verified_in_full_and_gets_a_new_one(
    served: tuple[str, FetchOptions], damage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, options = served
    cold = open_url(url, options)
    directory = cache_dir(options)
    state_path = directory / "state.json"
    (blob,) = directory.glob("packages-*.json")
    if damage == "missing":
        blob.unlink()
    elif damage == "edited":
        blob.write_bytes(blob.read_bytes().replace(b"litellm", b"litellx"))
    elif damage == "state-points-elsewhere":
        state = json.loads(state_path.read_text())
        state["packages_sha256"] = "f" * 64
        state_path.write_text(json.dumps(state))
    else:
        monkeypatch.setattr(depguard, "__version__", "0.0.0+other")

    rebuilt = open_url(url, options)  # a 304: verified in full, then the map is stored again
    assert isinstance(rebuilt.records, tuple) and rebuilt.records == cold.records and not rebuilt.warnings
    assert findings(rebuilt) == findings(cold)
    warm = open_url(url, options)
    assert isinstance(warm.records, MappedRecords) and findings(warm) == findings(cold)


def test_an_edited_all_json_still_makes_the_whole_cache_damaged(served: tuple[str, FetchOptions]) -> None:
    url, options = served
    open_url(url, options)
    (blob,) = cache_dir(options).glob("all-*.json")
    blob.write_bytes(blob.read_bytes().replace(b'"1.82.7"', b'"1.82.1"'))
    with pytest.raises(FeedSourceError, match="is damaged"):
        FeedCache(Path(options.cache_dir or ""), url).load()


def test_a_damaged_blob_is_rewritten_by_the_next_good_download(served: tuple[str, FetchOptions]) -> None:
    """The edit keeps the blob's name and size: only a write that does not trust either repairs it."""
    url, options = served
    cold = open_url(url, options)
    (blob,) = cache_dir(options).glob("all-*.json")
    good = blob.read_bytes()
    blob.write_bytes(good.replace(b'"1.82.7"', b'"1.82.1"'))
    again = open_url(url, options)  # the cache is damaged: a full download
    assert again.records == cold.records and not again.warnings
    assert blob.read_bytes() == good
    assert isinstance(open_url(url, options).records, MappedRecords)


def test_offline_and_fallback_use_the_map_and_name_the_newest_record(
    served: tuple[str, FetchOptions], http_server: Any
) -> None:
    url, options = served
    open_url(url, options)
    offline = open_url(url, FetchOptions(cache_dir=options.cache_dir, offline=True))
    assert isinstance(offline.records, MappedRecords) and offline.kind == "cache"
    http_server.stop()
    down = open_url(url, options)
    assert down.fallback and isinstance(down.records, MappedRecords)
    (warning,) = down.warnings
    assert "(5 records, newest 2026-03-25T12:00:00Z; cache " in warning
    assert findings(down) == findings(offline)


# --------------------------------------------------------------------------- TLS only when needed


@contextlib.contextmanager
def tls_contexts() -> Iterator[list[ssl.SSLContext]]:
    """Every TLS context made meanwhile, whoever makes it (a spy on ``ssl.SSLContext`` itself)."""
    made: list[ssl.SSLContext] = []
    real = ssl.SSLContext.__new__

    def new(cls: type[ssl.SSLContext], *args: Any, **kwargs: Any) -> ssl.SSLContext:
        context = real(cls, *args, **kwargs)
        made.append(context)
        return context

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ssl.SSLContext, "__new__", staticmethod(new))
        yield made


def self_signed(folder: Path, ip: str) -> tuple[Path, Path]:
    """A self-signed certificate (and its key) for the IP address ``ip``, made by openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not on PATH: no certificate for a local TLS server")
    cert, key = folder / f"{ip}.pem", folder / f"{ip}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={ip}"]
        + ["-addext", f"subjectAltName=IP:{ip}", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def tls_server(root: Path, cert: Path, key: Path) -> Iterator[str]:
    """``root`` served over https on 127.0.0.1 with ``cert``; yields the base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietFiles, directory=str(root)))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def refused_because(snapshot: FeedSnapshot) -> str:
    """Why the server's certificate was refused, from the warning of the fallback that follows."""
    (warning,) = snapshot.warnings
    assert snapshot.fallback and snapshot.kind != "url", warning
    found = re.search(r"\[SSL: CERTIFICATE_VERIFY_FAILED\] certificate verify failed: ([^(]*?) \(_ssl", warning)
    assert found, warning
    return found[1]


@pytest.fixture
def tls_feed(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    build_site(write_feed(tmp_path / "feed", feed_records_on_disk()), site)
    return site


def test_https_checks_the_certificate_and_the_address_against_a_real_tls_server(
    tls_feed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = self_signed(tmp_path, "127.0.0.1")
    wrong_cert, wrong_key = self_signed(tmp_path, "127.0.0.2")
    with tls_server(tls_feed, cert, key) as url:
        options = FetchOptions(cache_dir=tmp_path / "cache", attempts=1)
        because = refused_because(open_url(url, options))
        assert "self" in because and "signed" in because, because
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the same server, now trusted: it was the certificate
        trusted = open_url(url, options)
        assert not trusted.fallback and len(trusted.records) == len(feed_records_on_disk())
    monkeypatch.setenv("SSL_CERT_FILE", str(wrong_cert))
    with tls_server(tls_feed, wrong_cert, wrong_key) as url:  # trusted, but issued to another address
        because = refused_because(open_url(url, FetchOptions(cache_dir=tmp_path / "other", attempts=1)))
        assert because.startswith("IP address mismatch"), because


def test_a_plain_http_mirror_sets_up_no_tls_and_https_loads_the_ca_bundle(
    served: tuple[str, FetchOptions], tls_feed: Path, tmp_path: Path
) -> None:
    url, options = served
    with tls_contexts() as made:
        assert len(open_url(url, options).records) == len(feed_records_on_disk())
    for context in made:  # none trusts any certificate: it could never complete a TLS handshake
        assert context.cert_store_stats()["x509_ca"] == 0 and not context.get_ca_certs()
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    with tls_server(tls_feed, *self_signed(tmp_path, "127.0.0.1")) as secure, tls_contexts() as made:
        assert refused_because(open_url(secure, FetchOptions(cache_dir=tmp_path / "tls-cache", attempts=1)))
    assert any(context.cert_store_stats()["x509_ca"] > 0 for context in made), "the spy sees the https client's"
