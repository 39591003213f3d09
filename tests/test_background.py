"""The background process: start / status / pause / resume / stop, one at a time, surviving a kill -9."""

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from overlay.control.lock import read_state
from overlay.control.server import ControlActions, ControlServer
from overlay.session.reading import read_session
from tests.conftest import run_cli
from tests.test_cli_run import needs_landmarks


def status_json() -> dict[str, object]:
    result = run_cli(["status", "--json"])
    answer: dict[str, object] = json.loads(result.stdout)
    return answer


def stop_for_sure() -> subprocess.CompletedProcess[str]:
    """`stop`; and if that fails, end the process anyway, so no overlay outlives its test."""
    result = run_cli(["stop"])
    if result.returncode != 0:
        state = read_state()
        if state is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(state["pid"]), signal.SIGKILL)
    return result


def wait_for_frames(minimum: int, timeout: float = 20.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = status_json()
        if int(str(status.get("frames_out", 0))) >= minimum:
            return status
        time.sleep(0.3)
    raise AssertionError(f"no {minimum} frames within {timeout} s: {status}")


@needs_landmarks
def test_start_status_pause_resume_stop(shared_data: Path, tmp_path: Path) -> None:
    clip = shared_data / "video" / "talking" / "1.mp4"
    flags = ["--camera", str(clip), "--loop", "--sink", "file", "--out", str(tmp_path / "o.mp4")]
    started = run_cli(["start", *flags])
    assert started.returncode == 0, started.stderr
    try:
        assert "started (pid" in started.stdout
        again = run_cli(["start", *flags])  # a second start reports the running one
        assert again.returncode == 0 and "already running" in again.stdout
        running = run_cli(["run", *flags])  # and so does a second foreground run
        assert running.returncode == 1 and "already running" in running.stderr
        status = wait_for_frames(60)
        assert status["running"] is True and status["paused"] is False and status["sinks"] == ["file"]  # as --sink
        assert 15 < float(str(status["output_fps"])) < 30 and status["camera"] == str(clip)
        human = run_cli(["status"])
        assert human.returncode == 0 and "fps out" in human.stdout and "session:" in human.stdout
        assert run_cli(["pause"]).returncode == 0
        paused = status_json()
        assert paused["paused"] is True and paused["fused"] is None
        said = run_cli(["status"]).stdout  # nothing is analysed while paused: none is said to be active
        assert "active: nothing (analysis paused)" in said and "words" not in said
        frames_then = int(str(paused["frames_out"]))
        time.sleep(1.0)
        assert int(str(status_json()["frames_out"])) > frames_then + 10  # the video goes on while paused
        assert run_cli(["resume"]).returncode == 0
        assert status_json()["paused"] is False
    finally:
        stopped = stop_for_sure()
    assert stopped.returncode == 0 and "stopped" in stopped.stdout, stopped.stderr
    assert status_json() == {"running": False}
    session = read_session(Path(str(status["session"])))
    assert [e.kind for e in session.events if e.kind in ("paused", "resumed")] == ["paused", "resumed"]
    assert session.ended is not None  # stop closes the session properly


@needs_landmarks
def test_a_kill_9_leaves_no_lock_behind(shared_data: Path, tmp_path: Path, isolated_runtime: Path) -> None:
    clip = shared_data / "video" / "talking" / "2.mp4"
    flags = ["--camera", str(clip), "--loop", "--sink", "file", "--out", str(tmp_path / "o.mp4"), "--mic", "off"]
    assert run_cli(["start", *flags]).returncode == 0
    state = read_state(isolated_runtime)
    assert state is not None
    os.kill(int(state["pid"]), signal.SIGKILL)
    time.sleep(0.5)
    assert run_cli(["status"]).returncode == 1  # not running: the kernel dropped the dead process's lock
    restarted = run_cli(["start", *flags, "--force"])  # the killed run's video is replaced on purpose
    try:
        assert restarted.returncode == 0, restarted.stderr
        assert f"pid {state['pid']})" not in restarted.stdout
        assert (isolated_runtime / "overlay.json").stat().st_mode & 0o777 == 0o600
    finally:
        assert stop_for_sure().returncode == 0


def test_start_with_a_bad_camera_says_why_in_one_line(tmp_path: Path) -> None:
    result = run_cli(["start", "--camera", str(tmp_path / "missing.mp4"), "--sink", "file"])
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "no such video file" in lines[0] and "Traceback" not in result.stderr


def test_controls_without_a_running_process() -> None:
    for command in (["status"], ["stop"], ["pause"], ["resume"]):
        result = run_cli(command)
        assert result.returncode == 1 and "not running" in result.stdout + result.stderr


def test_the_control_server_answers_only_with_its_token(isolated_runtime: Path) -> None:
    calls: list[str] = []
    actions = ControlActions(
        status=lambda: {"running": True},
        pause=lambda: calls.append("pause"),
        resume=lambda: calls.append("resume"),
        stop=lambda: calls.append("stop"),
    )
    server = ControlServer(actions, isolated_runtime)
    try:
        url = f"http://127.0.0.1:{server.port}"
        for token in ("", "Bearer wrong"):
            request = urllib.request.Request(f"{url}/pause", method="POST", data=b"", headers={"Authorization": token})
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=5)
            assert refused.value.code == 403
        assert calls == []
        good = {"Authorization": f"Bearer {server.token}"}
        urllib.request.urlopen(urllib.request.Request(f"{url}/pause", method="POST", data=b"", headers=good))
        assert calls == ["pause"]
        assert server.port == read_state(isolated_runtime)["port"]  # type: ignore[index]
    finally:
        server.close()
    assert read_state(isolated_runtime) is None  # its address goes when it does
