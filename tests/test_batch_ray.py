"""`analyze --engine ray` against a real Ray cluster started by the test (`ray start --head`,
2 CPUs), stopped after: the same outcomes, sessions and summary as the local engine."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from overlay.analysis.batch import read_summary_csv
from tests.conftest import run_cli
from tests.media import write_silent_clip

pytest.importorskip("ray", reason="Ray is not installed (pip install 'emotion-overlay[ray]')")

RAY = Path(sys.executable).with_name("ray")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[str]:
    """A one-node Ray cluster of 2 CPUs; its address. Stopped by its own pid, then whatever is
    left of its process group (never `ray stop`, which ends every Ray of the machine)."""
    port = _free_port()
    temp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))  # Ray's socket paths must stay short
    log = (temp / "head.log").open("w")
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    head = subprocess.Popen(
        [str(RAY), "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", str(port),
         "--num-cpus", "2", "--include-dashboard", "false", "--disable-usage-stats", "--temp-dir", str(temp)],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )  # fmt: skip
    try:
        address = _wait_for_head(temp / "head.log", port, head)
        yield address
    finally:
        head.send_signal(signal.SIGTERM)  # ray start drains and stops its own processes
        with contextlib.suppress(subprocess.TimeoutExpired):
            head.wait(timeout=60)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(head.pid, signal.SIGKILL)  # anything of this cluster still running
        log.close()
        shutil.rmtree(temp, ignore_errors=True)


def _wait_for_head(log: Path, port: int, head: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if head.poll() is not None:
            raise RuntimeError(f"ray start exited: {log.read_text()[-2000:]}")
        text = log.read_text()
        for line in text.splitlines():
            if "ray start --address=" in line:  # printed once the head is up, with the address it chose
                return line.split("--address=")[1].strip().strip("'\"")
        time.sleep(0.5)
    raise RuntimeError(f"the Ray head did not come up on port {port}")


def _comparable(row: dict[str, Any]) -> dict[str, Any]:
    """An outcome line less what differs between runs (where and when, how long)."""
    return {k: v for k, v in row.items() if k not in ("timeline", "started", "timings", "worker")}


def test_ray_engine_gives_what_the_local_engine_gives(ray_cluster: str, shared_data: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(shared_data / "video" / "talking" / "1.mp4", inputs / "talk.mp4")
    shutil.copy(shared_data / "video" / "talking" / "5.mp4", inputs / "talk-2.mp4")
    write_silent_clip(inputs / "silent.mp4")
    (inputs / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    results = {}
    for engine in ("local", "ray"):
        args = ["analyze", str(inputs), "--json", "--jobs", "2", "--engine", engine]
        args += ["--sessions", str(tmp_path / engine), "--summary", str(tmp_path / f"{engine}.csv")]
        if engine == "ray":
            args += ["--address", ray_cluster]
        result = run_cli(args)
        assert result.returncode == 1, result.stderr  # broken.mp4
        assert "Traceback" not in result.stderr
        lines = [json.loads(line) for line in result.stdout.splitlines()]  # only JSON on stdout
        results[engine] = lines
    local, ray = results["local"], results["ray"]
    assert local[-1] == ray[-1] == {"files": 4, "ok": 3, "failed": 1, "skipped": 0}
    by_file = {engine: {row["file"]: _comparable(row) for row in rows[:-1]} for engine, rows in results.items()}
    assert by_file["ray"] == by_file["local"]
    assert sorted(p.name for p in (tmp_path / "ray").glob("*.sqlite")) == sorted(
        p.name for p in (tmp_path / "local").glob("*.sqlite")
    )
    ray_rows = {row["file"]: row for row in read_summary_csv(tmp_path / "ray.csv")}
    local_rows = {row["file"]: row for row in read_summary_csv(tmp_path / "local.csv")}
    columns = ("status", "session", "dominant_emotion", "duration_s", "blinks", "words", "face", "voice", "text")
    assert {f: [r[c] for c in columns] for f, r in ray_rows.items()} == {
        f: [r[c] for c in columns] for f, r in local_rows.items()
    }
    assert all(row["worker"] for row in ray[:-1] if row["status"] == "ok")  # Ray actors, not this process
    assert {row["worker"] for row in ray[:-1]}.isdisjoint({row["worker"] for row in local[:-1]})


def test_ray_engine_refuses_a_sessions_folder_its_workers_cannot_write(
    ray_cluster: str, shared_data: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    clip = shared_data / "video" / "talking" / "1.mp4"
    args = ["analyze", str(clip), "--engine", "ray", "--address", ray_cluster, "--sessions", str(blocker / "s")]
    result = run_cli(args)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("emotion-overlay: error:")]
    assert len(errors) == 1 and "sessions folder" in errors[0], result.stderr
    assert "Traceback" not in result.stderr


def test_on_ray_identical_copies_in_different_places_of_the_batch_read_the_same(
    ray_cluster: str, shared_data: Path, tmp_path: Path
) -> None:
    talking = shared_data / "video" / "talking"
    for name, source in (("a.mp4", "3.mp4"), ("b.mp4", "1.mp4"), ("c.mp4", "3.mp4"), ("d.mp4", "3.mp4")):
        shutil.copy(talking / source, tmp_path / name)
    args = ["analyze", *(str(tmp_path / n) for n in ("a.mp4", "b.mp4", "c.mp4", "d.mp4")), "--json"]
    result = run_cli([*args, "--engine", "ray", "--address", ray_cluster, "--jobs", "2"])
    assert result.returncode == 0, result.stderr
    rows = {Path(row["file"]).name: row for row in map(json.loads, result.stdout.splitlines()[:-1])}

    def found(row: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in _comparable(row).items() if k not in ("file", "session")}

    assert found(rows["a.mp4"]) == found(rows["c.mp4"]) == found(rows["d.mp4"])  # whichever actor, after whatever
    alone = run_cli(["analyze", str(tmp_path / "c.mp4"), "--json"])
    assert found(json.loads(alone.stdout.splitlines()[0])) == found(rows["c.mp4"])  # and as the local engine reads it
