"""Sessions a running or killed process left: never deleted from under it, never changed by reading."""

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import run_cli


def _start_run(clip: Path, out: Path) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "overlay", "run", "--camera", str(clip), "--loop", "--sink", "file"]
    return subprocess.Popen(
        [*command, "--out", str(out), "--mic", "off"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _session_appears(folder: Path, seconds: float = 60.0) -> Path:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = list(folder.glob("*.sqlite"))
        if found:
            time.sleep(2.5)  # a couple of commits in
            return found[0]
        time.sleep(0.2)
    raise AssertionError(f"no session appeared in {folder}")


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def test_a_session_being_recorded_cannot_be_deleted_and_the_recorder_is_named(
    shared_data: Path, tmp_path: Path, isolated_sessions: Path
) -> None:
    run = _start_run(shared_data / "video" / "talking" / "1.mp4", tmp_path / "out.mp4")
    try:
        session = _session_appears(isolated_sessions)
        refused = run_cli(["sessions", "delete", session.stem, "--yes"])
        assert refused.returncode == 1
        assert f"being recorded by process {run.pid}" in refused.stderr and "Traceback" not in refused.stderr
        assert session.exists()
    finally:
        run.send_signal(signal.SIGTERM)
        _, stderr = run.communicate(timeout=30)
    assert run.returncode == 0, stderr
    assert f"session recorded in {session}" in stderr and session.exists()
    deleted = run_cli(["sessions", "delete", session.stem, "--yes"])
    assert deleted.returncode == 0, deleted.stderr
    assert not any(isolated_sessions.iterdir())


def test_listing_and_reading_a_killed_session_change_no_file(
    shared_data: Path, tmp_path: Path, isolated_sessions: Path
) -> None:
    run = _start_run(shared_data / "video" / "talking" / "1.mp4", tmp_path / "out.mp4")
    session = _session_appears(isolated_sessions)
    os.kill(run.pid, signal.SIGKILL)
    run.communicate(timeout=10)
    wal = session.with_name(session.name + "-wal")
    assert wal.exists() and wal.stat().st_size > 0  # the killed run's last rows are only there
    before = _digests(isolated_sessions)
    listed = run_cli(["sessions", "list", "--json"])
    assert listed.returncode == 0, listed.stderr
    assert session.stem in listed.stdout
    exported = run_cli(["export", session.stem, "--format", "csv", "--out", str(tmp_path / "rows.csv")])
    assert exported.returncode == 0, exported.stderr
    assert _digests(isolated_sessions) == before  # the same files, byte for byte
    assert wal.exists()
