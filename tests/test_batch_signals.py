"""Stopping `analyze` from outside: SIGTERM stops the batch as Ctrl-C does (workers end, the last
line says what finished); after kill -9 of the parent its workers notice and exit within a second."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.processes import alive, descendants


def start_batch(shared_data: Path, tmp_path: Path) -> subprocess.Popen[str]:
    for i in range(6):
        shutil.copy(shared_data / "video" / "talking" / f"{i % 5 + 1}.mp4", tmp_path / f"clip{i}.mp4")
    command = [sys.executable, "-m", "overlay", "analyze", str(tmp_path), "--jobs", "2", "--json"]
    return subprocess.Popen(
        [*command, "--recognizer", "pocketsphinx"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_for_workers(batch: subprocess.Popen[str], count: int = 2, timeout_s: float = 60.0) -> set[int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        below = descendants(batch.pid)
        if len(below) >= count:
            return below
        time.sleep(0.2)
    pytest.fail(f"the batch did not start {count} worker processes in {timeout_s} s")


def test_sigterm_stops_the_batch_as_ctrl_c_does(shared_data: Path, tmp_path: Path) -> None:
    batch = start_batch(shared_data, tmp_path)
    assert batch.stdout is not None
    first = json.loads(batch.stdout.readline())  # one file done: the batch is well under way
    assert first["status"] == "ok"
    workers = descendants(batch.pid)
    assert workers
    batch.send_signal(signal.SIGTERM)
    rest, stderr = batch.communicate(timeout=30)
    assert batch.returncode == 128 + signal.SIGTERM, stderr
    assert "interrupted after" in stderr and "--skip-existing" in stderr and "Traceback" not in stderr
    assert all(json.loads(line)["status"] == "ok" for line in rest.splitlines())  # finished files, whole lines
    deadline = time.monotonic() + 2.0
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if alive(pid)]


def test_after_kill_9_of_the_parent_its_workers_exit_within_a_second(shared_data: Path, tmp_path: Path) -> None:
    batch = start_batch(shared_data, tmp_path)
    workers = wait_for_workers(batch)
    time.sleep(2.0)  # loading models or analysing
    workers |= descendants(batch.pid)
    os.kill(batch.pid, signal.SIGKILL)
    batch.wait(timeout=10)
    killed = time.monotonic()
    while any(alive(pid) for pid in workers) and time.monotonic() - killed < 1.5:
        time.sleep(0.05)
    assert not [pid for pid in workers if alive(pid)], "workers outlived their parent"
