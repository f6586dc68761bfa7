"""`depguard feed validate|new|fmt` as a contributor runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from depguard.cli import app

from feedkit import record, write_feed, write_record

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_validate_clean_feed_exits_0(tmp_path: Path) -> None:
    write_feed(tmp_path, [record()])
    code, out, _ = run("feed", "validate", str(tmp_path))
    assert code == 0, out
    assert "1 record(s), no errors" in out


def test_validate_reports_errors_and_exits_1(tmp_path: Path) -> None:
    bad = record()
    bad["references"][0]["url"] = "http://insecure.example/"
    write_feed(tmp_path, [bad])
    code, out, _ = run("feed", "validate", str(tmp_path))
    assert code == 1
    assert "/references/0/url: references must use https" in out


def test_validate_json_format(tmp_path: Path) -> None:
    write_record(tmp_path, record(), raw=b"{nope")
    code, out, _ = run("feed", "validate", str(tmp_path), "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert report["records"] == 1
    assert report["errors"][0]["rule"] == "json"
    assert "line 1, column 2" in report["errors"][0]["message"]


def test_validate_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    code, out, err = run("feed", "validate", str(tmp_path / "nope"))
    assert code == 2
    assert "feed directory not found" in err
    assert "Traceback" not in out + err


def test_usage_error_exits_2() -> None:
    code, _, _ = run("feed", "validate", "--format", "yaml")
    assert code == 2


def test_new_writes_next_id_canonical_and_valid(tmp_path: Path) -> None:
    import datetime as dt

    year = dt.datetime.now(dt.timezone.utc).year
    write_feed(tmp_path, [record(f"x_DEPGUARD-{year}-0003", name="other")])
    code, out, err = run(
        "feed",
        "new",
        "--feed",
        str(tmp_path),
        "--package",
        "Some_Pkg",
        "--version",
        "2.0",
        "--version",
        "1.0-1",
        "--summary",
        "Compromised Some_Pkg releases",
        "--alias",
        "MAL-2026-1",
        "--reference",
        "https://example.org/x",
    )
    assert code == 0, out + err
    path = Path(out.strip())
    assert path == tmp_path / "PyPI" / "some-pkg" / f"x_DEPGUARD-{year}-0004.json"
    data = json.loads(path.read_text())
    assert data["affected"][0]["versions"] == ["1.0.post1", "2.0"]
    assert run("feed", "validate", str(tmp_path))[0] == 0


def test_new_refuses_invalid_versions_and_names(tmp_path: Path) -> None:
    for args in (["--package", "ok", "--version", "1.0; rm -rf /"], ["--package", "bad name]", "--version", "1.0"]):
        code, out, err = run("feed", "new", "--feed", str(tmp_path), *args, "--summary", "x")
        assert code == 2, out
        assert "not a valid" in err or "not valid" in err
    assert not any(tmp_path.rglob("*.json"))


def test_fmt_check_then_fix(tmp_path: Path) -> None:
    data = record()
    path = write_record(tmp_path, data, raw=json.dumps(data).encode())
    code, out, _ = run("feed", "fmt", str(tmp_path), "--check")
    assert code == 1 and "would reformat" in out
    assert run("feed", "fmt", str(tmp_path))[0] == 0
    assert run("feed", "fmt", str(tmp_path), "--check")[0] == 0
    assert json.loads(path.read_text()) == data


def test_module_entry_point_and_version() -> None:
    proc = subprocess.run([sys.executable, "-m", "depguard", "--version"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0
    assert proc.stdout.startswith("depguard ")


def test_create_record_is_the_library_behind_feed_new(tmp_path: Path) -> None:
    import datetime as dt

    from depguard.errors import FeedSourceError, InvalidRecordError
    from depguard.feed import create_record

    when = dt.datetime(2021, 5, 1, tzinfo=dt.timezone.utc)  # a year of its own; the past, as the validator requires
    ref = ["https://example.org/left-pad"]
    first = create_record(
        tmp_path, ecosystem="npm", package="left-pad", versions=["1.3.1"], summary="x", references=ref, now=when
    )
    second = create_record(
        tmp_path, ecosystem="npm", package="left-pad", versions=["1.3.2"], summary="y", references=ref, now=when
    )
    assert (first.name, second.name) == ("x_DEPGUARD-2021-0001.json", "x_DEPGUARD-2021-0002.json")
    assert json.loads(second.read_text())["published"] == "2021-05-01T00:00:00Z"
    assert run("feed", "validate", str(tmp_path))[0] == 0
    try:
        create_record(
            tmp_path,
            ecosystem="npm",
            package="left-pad",
            versions=["1.3.3"],
            summary="z",
            references=["http://insecure.example/"],
            now=when,
        )
    except InvalidRecordError as exc:
        assert str(exc).startswith("the record would not be valid: /references/0/url")
    else:
        raise AssertionError("an http reference was accepted")
    try:
        create_record(tmp_path / "nope", ecosystem="npm", package="a", versions=["1.0.0"], summary="z", now=when)
    except FeedSourceError as exc:
        assert "feed directory not found" in str(exc)
    else:
        raise AssertionError("a missing feed directory was accepted")
    assert len(list(tmp_path.rglob("*.json"))) == 2
