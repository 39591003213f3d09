"""`emotion-overlay sessions`, `export` and `review` as a user runs them: output, exit codes, one-line errors."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from overlay.labels import EMOTIONS
from tests import sessions_data
from tests.conftest import REPO_ROOT
from tests.sessions_data import SESSION_ID, run_cli_in, use_sessions_folder, write_session


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = use_sessions_folder(monkeypatch, tmp_path / "sessions")
    write_session(folder)
    return folder


def one_line_error(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("emotion-overlay: error: ")
    return lines[0]


# ---------------------------------------------------------------- sessions list


def test_list_shows_each_session_and_why_a_file_is_unreadable(folder: Path, tmp_path: Path) -> None:
    write_session(folder, "2026-11-26_09-00-00_live", voice=False, text=False)
    sessions_data.write_not_sqlite(folder)
    sessions_data.write_newer_schema(folder)
    result = run_cli_in(["sessions", "list"], tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "STARTED", "LENGTH", "DOMINANT"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert list(rows) == [
        "2026-11-26_09-00-00_live",
        SESSION_ID,
        "2026-11-22_09-00-00_future",
        "2026-11-20_09-00-00_garbage",
    ]
    assert "2026-11-25 20:31:07" in rows[SESSION_ID] and " 1:30 " in rows[SESSION_ID]
    assert "unreadable: not a readable session file" in rows["2026-11-20_09-00-00_garbage"]
    assert "unreadable: written by a newer emotion-overlay" in rows["2026-11-22_09-00-00_future"]
    assert "4 session(s)" in result.stderr


def test_list_json(folder: Path, tmp_path: Path) -> None:
    sessions_data.write_foreign_sqlite(folder)
    result = run_cli_in(["sessions", "list", "--json"], tmp_path)
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert [s["id"] for s in listed] == [SESSION_ID, "2026-11-21_09-00-00_foreign"]
    assert listed[0]["duration_s"] == sessions_data.DURATION_S and listed[0]["problem"] is None
    assert listed[0]["dominant"] in EMOTIONS
    assert "not an emotion-overlay session" in listed[1]["problem"]


def test_list_of_an_empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_sessions_folder(monkeypatch, tmp_path / "none")
    result = run_cli_in(["sessions", "list"], tmp_path)
    assert result.returncode == 0 and result.stdout == ""
    assert "no sessions in" in result.stderr
    assert json.loads(run_cli_in(["sessions", "list", "--json"], tmp_path).stdout) == []


# ---------------------------------------------------------------- sessions delete


def with_side_files(path: Path) -> list[Path]:
    """The session file and the WAL side files a crashed writer leaves."""
    sides = [path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
    for side in sides:
        side.write_bytes(b"")
    return [path, *sides]


def test_delete_with_yes_removes_the_file_and_its_side_files(folder: Path, tmp_path: Path) -> None:
    other = write_session(folder, "2026-11-26_09-00-00_keep")
    files = with_side_files(folder / f"{SESSION_ID}.sqlite")
    result = run_cli_in(["sessions", "delete", SESSION_ID, "--yes"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert not any(f.exists() for f in files)
    assert other.exists()
    assert f"deleted {files[0]}" in result.stdout


def test_delete_removes_an_unreadable_file_too(folder: Path, tmp_path: Path) -> None:
    garbage = sessions_data.write_not_sqlite(folder)
    result = run_cli_in(["sessions", "delete", garbage.stem, "--yes"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert not garbage.exists()


def test_delete_without_yes_and_without_a_terminal_refuses(folder: Path, tmp_path: Path) -> None:
    path = folder / f"{SESSION_ID}.sqlite"
    result = run_cli_in(["sessions", "delete", SESSION_ID], tmp_path)
    assert result.returncode == 2
    assert "pass --yes" in one_line_error(result.stderr)
    assert path.exists()


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
@pytest.mark.parametrize(("answer", "deleted"), [(b"y\n", True), (b"n\n", False), (b"\n", False)])
def test_delete_on_a_terminal_asks_first(folder: Path, tmp_path: Path, answer: bytes, deleted: bool) -> None:
    path = folder / f"{SESSION_ID}.sqlite"
    leader, follower = os.openpty()
    try:
        os.write(leader, answer)
        result = run_cli_in(["sessions", "delete", SESSION_ID], tmp_path, stdin=follower)
    finally:
        os.close(follower)
        os.close(leader)
    assert result.returncode == 0, result.stderr
    assert path.exists() is not deleted
    assert deleted or "nothing deleted" in result.stderr


@pytest.mark.parametrize("reference", ["2020-01-01_00-00-00_nothing", "interview"])
def test_delete_needs_a_full_existing_id(folder: Path, tmp_path: Path, reference: str) -> None:
    result = run_cli_in(["sessions", "delete", reference, "--yes"], tmp_path)
    assert result.returncode == 1
    one_line_error(result.stderr)
    assert (folder / f"{SESSION_ID}.sqlite").exists()


def test_delete_outside_the_folder_only_removes_a_real_session(folder: Path, tmp_path: Path) -> None:
    foreign = sessions_data.write_foreign_sqlite(tmp_path)
    result = run_cli_in(["sessions", "delete", str(foreign), "--yes"], tmp_path)
    assert result.returncode == 1
    assert "not an emotion-overlay session" in one_line_error(result.stderr)
    assert foreign.exists()


def test_sessions_without_an_action_is_a_usage_error(folder: Path, tmp_path: Path) -> None:
    assert run_cli_in(["sessions"], tmp_path).returncode == 2
    assert run_cli_in(["sessions", "delete"], tmp_path).returncode == 2


# ---------------------------------------------------------------- export


def test_export_writes_next_to_the_current_folder_and_refuses_to_overwrite(folder: Path, tmp_path: Path) -> None:
    result = run_cli_in(["export", SESSION_ID, "--format", "csv"], tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / f"{SESSION_ID}.csv"
    assert result.stdout.strip() == out.name
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert {r["table"] for r in rows} >= {"fused", "face", "utterance", "event"}
    out.write_text("mine\n")
    again = run_cli_in(["export", SESSION_ID, "--format", "csv"], tmp_path)
    assert again.returncode == 1
    assert "already exists; pass --force" in one_line_error(again.stderr)
    assert out.read_text() == "mine\n"
    forced = run_cli_in(["export", SESSION_ID, "--format", "csv", "--force"], tmp_path)
    assert forced.returncode == 0 and out.read_text().startswith("table,t,")


def test_export_formats_and_out(folder: Path, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    result = run_cli_in(["export", "latest", "--format", "html", "--out", str(reports)], tmp_path)
    assert result.returncode == 0, result.stderr
    page = (reports / f"{SESSION_ID}.html").read_text(encoding="utf-8")
    assert "data:image/jpeg" in page and "session-data" in page
    named = tmp_path / "session.json"
    result = run_cli_in(["export", SESSION_ID, "--format", "json", "--out", str(named)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(named)
    assert json.loads(named.read_text(encoding="utf-8"))["summary"]["session"] == SESSION_ID
    lean = run_cli_in(["export", SESSION_ID, "--format", "html", "--no-thumbnails", "--out", "lean.html"], tmp_path)
    assert lean.returncode == 0 and "data:image/jpeg" not in (tmp_path / "lean.html").read_text(encoding="utf-8")


def test_export_errors(folder: Path, tmp_path: Path) -> None:
    foreign = sessions_data.write_foreign_sqlite(folder)
    result = run_cli_in(["export", foreign.stem, "--format", "json"], tmp_path)
    assert result.returncode == 1
    assert "not an emotion-overlay session" in one_line_error(result.stderr)
    result = run_cli_in(["export", "2020-01-01_00-00-00_nothing", "--format", "json"], tmp_path)
    assert result.returncode == 1
    assert "no session called" in one_line_error(result.stderr)
    assert run_cli_in(["export", SESSION_ID, "--format", "pdf"], tmp_path).returncode == 2
    assert run_cli_in(["export", SESSION_ID], tmp_path).returncode == 2
    assert list(tmp_path.glob("*.json")) == []


# ---------------------------------------------------------------- review


def test_review_prints_the_address_serves_it_and_stops_on_sigterm(folder: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "overlay", "review", SESSION_ID, "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and "?token=" in url and f"&session={SESSION_ID}" in url
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.status == 200 and b"review.js" in response.read()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.stderr is not None
    assert "Ctrl-C stops" in process.stderr.read()


def test_review_usage_errors(folder: Path, tmp_path: Path) -> None:
    assert run_cli_in(["review", "--port", "70000", "--no-browser"], tmp_path).returncode == 2
    result = run_cli_in(["review", "2020-01-01_00-00-00_nothing", "--no-browser"], tmp_path)
    assert result.returncode == 1
    assert "no session called" in one_line_error(result.stderr)
