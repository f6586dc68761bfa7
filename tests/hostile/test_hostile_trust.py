"""Trust boundaries (issue 14): what a signing feed host, a contributor or a feed URL must not
be able to do, whatever the schemas allow.

* a **future-dated** record would anchor every client's rollback check in 2999: refused by
  ``feed validate``, ``feed build``, every client's consumer gate and ``serve``; a cached copy
  dated in the future (an older depguard accepted it) is no rollback anchor;
* **withdrawing** (or version-trimming) most of a feed lifts exclusions as surely as deleting
  records: more than half of the exclusions in force lifted in one update needs
  ``--allow-shrink``, whatever the mechanism;
* **credentials** in a feed URL (userinfo, token-like query parameters) never reach stdout,
  stderr, the commit message, ``--message-file`` or the cache's state file;
* a whole-package block of a **protected** package (``requests<0``) is refused by every client
  unless the record carries a reviewed ``protected_override``.

Real CLI in a subprocess (or in-process through ``run_cli`` for variants), real HTTP on
127.0.0.1, real git; the project tree is hashed before and after.
"""

from __future__ import annotations

import copy
import datetime as _dt
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from feedkit import record, write_feed
from hostilekit import (
    LITELLM,
    Site,
    cache_states,
    fell_back,
    good_records,
    refused,
    run_cli,
    sync_url,
    tree_digest,
    warning_lines,
)
from repokit import depguard, git
from support.httpserver import free_port

FUTURE = "2999-01-01T00:00:00Z"
LATER = "2026-06-01T00:00:00Z"  # an honest update after the good feed's 2026-03-25


def _withdrawn_all(records: list[dict[str, Any]], stamp: str) -> list[dict[str, Any]]:
    out = copy.deepcopy(records)
    for item in out:
        item["modified"] = item["withdrawn"] = stamp
    return out


# --------------------------------------------------------------------------- 1. future-dated feeds


def test_future_dated_feed_is_refused_by_the_client_and_the_cache_kept(
    site: Site, repo: Path, primed: dict[str, str]
) -> None:
    site.hostile(_withdrawn_all(good_records(), FUTURE))
    warning = fell_back(sync_url(repo, site.url), "refused the feed", "'2999-01-01T00:00:00Z' is in the future")
    assert "/modified" in warning
    assert tree_digest(repo) == primed, "no exclusion was lifted"
    later = good_records()
    later[1]["modified"] = LATER
    site.publish(later)
    honest = sync_url(repo, site.url, inproc=True)
    assert honest.returncode == 0 and warning_lines(honest) == [], honest.stderr  # no rollback refusal afterwards


@pytest.mark.parametrize("field", ["modified", "published", "withdrawn"])
def test_future_dated_record_fails_feed_validate_and_build(tmp_path: Path, field: str) -> None:
    data = record(LITELLM)
    data["modified"] = FUTURE  # modified >= published >= ... keeps only the rule under test
    data[field] = FUTURE
    source = write_feed(tmp_path / "feed", [data])
    validate = depguard(tmp_path, "feed", "validate", str(source))
    assert validate.returncode == 1 and f"/{field}: '2999-01-01T00:00:00Z' is in the future" in validate.stdout, (
        validate.stdout
    )
    assert "[future]" in validate.stdout or "future" in validate.stdout
    build = run_cli("feed", "build", str(source), "--out", str(tmp_path / "site"))
    assert build.returncode == 1 and "is in the future" in build.stdout + build.stderr, build.stdout + build.stderr
    assert not (tmp_path / "site" / "index.json").exists()


def test_future_skew_is_one_documented_constant() -> None:
    from depguard.clock import MAX_FUTURE_SKEW
    from depguard.validation.safety import future_issues, record_issues

    at = _dt.datetime(2026, 12, 6, 12, 0, tzinfo=_dt.timezone.utc)
    data = record(LITELLM)
    data["modified"] = (at + MAX_FUTURE_SKEW).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert future_issues(data, at) == [] and record_issues(data, now=at) == []
    data["modified"] = (at + MAX_FUTURE_SKEW + _dt.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert [i.pointer for i in future_issues(data, at)] == ["/modified"]
    assert [i.pointer for i in record_issues(data, now=at)] == ["/modified"]
    assert _dt.timedelta(hours=24) == MAX_FUTURE_SKEW


def test_future_dated_cache_is_no_rollback_anchor(site: Site, repo: Path) -> None:
    """A copy an older depguard accepted (before this gate) froze its clients: every honest
    feed was "older". It is written straight into the cache, as that depguard did."""
    from depguard.sources.cache import Blobs, cache_for
    from depguard.sources.options import FetchOptions
    from depguard.sources.remote import feed_base
    from depguard.sources.verify import parse_index, verify_records

    site.hostile(_withdrawn_all(good_records(), FUTURE))
    index = parse_index((site.www / "index.json").read_bytes(), "test")
    all_bytes = (site.www / "all.json").read_bytes()
    records = verify_records(index, all_bytes, "test", check_schema=False)
    moment = _dt.datetime(2026, 11, 1, tzinfo=_dt.timezone.utc)
    cache_for(feed_base(site.url), FetchOptions.from_env()).commit(
        Blobs.of(index, all_bytes, records), etag=None, last_modified=None, fetched_at=moment, checked_at=moment
    )
    site.publish(good_records())
    proc = sync_url(repo, site.url)
    assert proc.returncode == 0, proc.stderr
    (warning,) = warning_lines(proc)
    assert (
        "dated in the future (2999-01-01T00:00:00Z)" in warning
        and "not used as the anchor of the rollback check" in warning
    )
    assert "litellm!=1.82.7,!=1.82.8" in (repo / "pyproject.toml").read_text()


def test_serve_refuses_a_future_dated_feed(tmp_path: Path, repo: Path) -> None:
    source = write_feed(tmp_path / "feed", _withdrawn_all(good_records(), FUTURE))
    before = tree_digest(repo)
    proc = subprocess.run(
        [sys.executable, "-m", "depguard", "serve", "--feed", str(source), "--port", "0"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    refused(proc, "invalid records", "is in the future")
    assert "serving" not in proc.stdout
    assert tree_digest(repo) == before


# --------------------------------------------------------------------------- 2. lifting most exclusions


def test_withdrawing_every_record_needs_allow_shrink(site: Site, repo: Path, primed: dict[str, str]) -> None:
    site.publish(_withdrawn_all(good_records(), LATER))  # lint-clean: withdrawal is honest syntax
    warning = fell_back(sync_url(repo, site.url), "lifts 6 of the 6 exclusions in force", "--allow-shrink")
    assert "refusing it" in warning
    assert tree_digest(repo) == primed
    allowed = sync_url(repo, site.url, "--allow-shrink", inproc=True)
    assert allowed.returncode == 0, allowed.stderr
    (loud,) = warning_lines(allowed)
    assert loud.startswith("depguard: warning: SHRUNK FEED") and "those exclusions are lifted" in loud
    assert "litellm!=" not in (repo / "pyproject.toml").read_text()


def test_removing_most_versions_needs_allow_shrink(site: Site, repo: Path) -> None:
    many = ("1.82.1", "1.82.2", "1.82.3", "1.82.4", "1.82.5", "1.82.6")
    site.publish([record(LITELLM, versions=many)])
    assert sync_url(repo, site.url, inproc=True).returncode == 0
    full = tree_digest(repo)
    site.publish([record(LITELLM, versions=("1.82.1",), modified=LATER)])
    fell_back(sync_url(repo, site.url, inproc=True), "lifts 5 of the 6 exclusions in force", "--allow-shrink")
    assert tree_digest(repo) == full


def test_withdrawing_a_minority_is_an_ordinary_update(site: Site, repo: Path, primed: dict[str, str]) -> None:
    later = good_records()
    later[0]["modified"] = later[0]["withdrawn"] = LATER  # litellm: 2 of the 5 exclusions
    site.publish(later)
    proc = sync_url(repo, site.url, inproc=True)
    assert proc.returncode == 0 and warning_lines(proc) == [], proc.stderr
    assert "litellm!=" not in (repo / "pyproject.toml").read_text()


# --------------------------------------------------------------------------- 3. credentials in the feed URL

SECRETS = ("s3cr3t-pass", "t0ken-value", "sig-value", "amz-value")


def _secret_url(site: Site) -> str:
    return (
        site.url.replace("http://", "http://deploy:s3cr3t-pass@")
        + "?token=t0ken-value&Sig=sig-value&X-Amz-Signature=amz-value&page=1"
    )


def _no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, (secret, text)


def test_feed_url_credentials_never_shown_or_written(site: Site, repo: Path, tmp_path: Path) -> None:
    site.publish(good_records())
    url = _secret_url(site)
    message_file = tmp_path / "pr-body.md"
    synced = sync_url(repo, url, "--commit", "--message-file", str(message_file))
    assert synced.returncode == 0, synced.stderr
    commit_message = git(repo, "log", "-1", "--format=%B")
    body = message_file.read_text()
    assert "deploy:***" not in body and "http://***@127.0.0.1" in body and "token=***" in body and "page=1" in body
    status = depguard(repo, "feed", "status", "--feed", url, env={"DEPGUARD_OFFLINE": "0"})
    status_json = depguard(repo, "feed", "status", "--feed", url, "--format", "json", env={"DEPGUARD_OFFLINE": "0"})
    assert status.returncode == 0 and "***@127.0.0.1" in status.stdout, status.stderr
    check = depguard(repo, "check", "--feed", url, env={"DEPGUARD_OFFLINE": "0"})
    port = urllib.parse.urlsplit(site.url).port
    dead = url.replace(f":{port}/", f":{free_port()}/")  # nothing listens: a connection error quotes the URL
    failed = sync_url(repo, dead, env={"DEPGUARD_CACHE_DIR": str(tmp_path / "empty-cache")})
    assert "***@127.0.0.1" in failed.stderr, failed.stderr
    states = b"".join(p.read_bytes() for p in cache_states())
    _no_secret(
        synced.stdout,
        synced.stderr,
        commit_message,
        body,
        status.stdout,
        status.stderr,
        status_json.stdout,
        check.stdout,
        check.stderr,
        failed.stdout,
        failed.stderr,
        states.decode(),
    )


def test_serve_shows_the_feed_url_redacted(site: Site, repo: Path) -> None:
    site.publish(good_records())
    env = {**os.environ, "DEPGUARD_OFFLINE": "0"}
    env.pop("DEPGUARD_FEED", None)
    with subprocess.Popen(
        [sys.executable, "-m", "depguard", "serve", "--feed", _secret_url(site), "--port", "0"],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as server:
        first = server.stdout.readline() if server.stdout else ""
        server.terminate()  # the process this test started, by its handle
        rest, errors = server.communicate(timeout=30)
    assert first.startswith("serving 4 record(s) from http://***@127.0.0.1"), (first, errors)
    _no_secret(first, rest, errors)


def test_refusal_messages_redact_the_feed_url(site: Site, repo: Path) -> None:
    """An error from the transport (a 404) quotes the URL it fetched: redacted."""
    proc = sync_url(repo, _secret_url(site))  # nothing published: index.json is a 404
    assert proc.returncode in (0, 2) and "***@127.0.0.1" in proc.stderr, proc.stderr
    _no_secret(proc.stdout, proc.stderr)


def test_redaction_rules() -> None:
    from depguard.redact import redact_text, redact_url

    assert redact_url("https://u:p@host:8443/f/?access_token=a&API_KEY=b&X-Goog-Credential=c&v=2#x") == (
        "https://***@host:8443/f/?access_token=***&API_KEY=***&X-Goog-Credential=***&v=2#x"
    )
    assert redact_url("https://host/feed/") == "https://host/feed/"
    assert (
        redact_text("refusing 'https://a:b@h:bad/?password=p': bad port")
        == "refusing 'https://***@h:bad/?password=***': bad port"
    )


# --------------------------------------------------------------------------- 10. protected packages


def _protected_block(name: str, *, override: bool = False) -> dict[str, Any]:
    data = record("x_DEPGUARD-2026-0099", name=name, versions=("2.32.3",), whole_package=True)
    if override:
        data["database_specific"]["depguard"]["protected_override"] = {
            "reviewed_by": "a maintainer",
            "reason": "taken over whole",
        }
    return data


@pytest.mark.parametrize("name", ["requests", "pip"])
def test_whole_package_block_of_a_protected_package_is_refused_by_the_client(site: Site, repo: Path, name: str) -> None:
    before = tree_digest(repo)
    site.hostile([*good_records(), _protected_block(name)])
    refused(
        sync_url(repo, site.url, inproc=name != "requests"),
        "invalid records",
        f"protected package '{name}'",
        "protected_override",
    )
    assert tree_digest(repo) == before and cache_states() == []


def test_protected_block_with_override_is_accepted(site: Site, repo: Path) -> None:
    site.hostile([*good_records(), _protected_block("requests", override=True)])
    proc = sync_url(repo, site.url, inproc=True)
    assert proc.returncode == 0, proc.stderr
    assert "requests<0" in (repo / "constraints.txt").read_text() + (repo / "pyproject.toml").read_text()


def test_check_refuses_a_feed_directory_blocking_a_protected_package(tmp_path: Path, repo: Path) -> None:
    source = write_feed(tmp_path / "feed", [*good_records()])
    (source / "PyPI" / "requests").mkdir(parents=True)
    import json

    (source / "PyPI" / "requests" / "x_DEPGUARD-2026-0099.json").write_text(json.dumps(_protected_block("requests")))
    (repo / "requirements.txt").write_text("requests==2.32.3\n")
    before = tree_digest(repo)
    proc = depguard(repo, "check", "--feed", str(source), "requirements.txt")
    refused(proc, "invalid records", "protected package 'requests'")
    assert tree_digest(repo) == before
