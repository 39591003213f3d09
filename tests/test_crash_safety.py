"""A run that dies (kill -9, a crash, a power cut) leaves no process behind and loses nothing already written."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest

from overlay.session.reading import read_session
from tests.processes import alive, descendants


def _playable_sound_seconds(path: Path) -> float:
    samples, rate = 0, 1
    with av.open(str(path)) as played:
        rate = int(played.streams.audio[0].rate)
        try:
            for frame in played.decode(audio=0):
                samples += frame.samples
        except av.error.InvalidDataError:
            pass
    return samples / rate


def _wait_for(condition: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc (Linux)")
@pytest.mark.parametrize("attempt", range(5))
def test_kill_9_of_run_leaves_no_process_a_readable_timeline_and_a_playable_video(
    shared_data: Path, tmp_path: Path, isolated_sessions: Path, attempt: int
) -> None:
    clip = shared_data / "video" / "talking" / "1.mp4"
    out = tmp_path / "annotated.mp4"
    command = [sys.executable, "-m", "overlay", "run", "--camera", str(clip), "--loop", "--sink", "file"]
    run = subprocess.Popen(
        [*command, "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        # Running for real: the speech child is up and the first fragment (a second of video) is on disk.
        assert _wait_for(lambda: len(descendants(run.pid)) >= 1 and out.exists() and out.stat().st_size > 20_000, 90)
        writing_since = time.monotonic()
        time.sleep(3.0 + attempt * 0.7)  # die at a different moment each time
        children = descendants(run.pid)
        ran_s = time.monotonic() - writing_since
        os.kill(run.pid, signal.SIGKILL)
        run.wait(timeout=10)
        gone = _wait_for(lambda: not any(alive(pid) for pid in children), 2.0)
        assert gone, f"left running after kill -9: {[pid for pid in children if alive(pid)]}"
    finally:
        if run.poll() is None:
            run.kill()

    with av.open(str(clip)) as original:
        fps = float(original.streams.video[0].average_rate or 25)
    frames = 0
    with av.open(str(out)) as played:
        try:
            for _ in played.decode(video=0):
                frames += 1
        except av.error.InvalidDataError:
            pass  # the fragment being written when the process died is torn: players stop before it
    # Playable up to about its last second: the first fragment held a second, and one more
    # came each second after it (a loaded machine runs a bit slower than the clip's rate).
    assert frames >= 0.7 * fps * ran_s, f"{frames} frames of a run killed {ran_s:.1f} s after the first fragment"
    sound_s = _playable_sound_seconds(out)  # the sound goes in as it comes: it survives too
    assert sound_s >= frames / fps - 1.5, (sound_s, frames / fps)

    [timeline] = list(isolated_sessions.glob("*.sqlite"))
    session = read_session(timeline)
    assert len(session.estimates["face"]) > 10
    assert len(session.fused) > 10


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc (Linux)")
def test_sigterm_ends_run_even_when_the_speech_child_has_stopped_reading(
    shared_data: Path, tmp_path: Path, isolated_sessions: Path
) -> None:
    """Shutdown must not wait on a child that no longer reads its pipe (it fills, the feeder blocks)."""
    clip = shared_data / "video" / "talking" / "1.mp4"
    command = [sys.executable, "-m", "overlay", "run", "--camera", str(clip), "--loop", "--sink", "file"]
    run = subprocess.Popen(
        [*command, "--out", str(tmp_path / "o.mp4")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        assert _wait_for(lambda: len(descendants(run.pid)) >= 2, 90)  # the speech child and the resource tracker
        time.sleep(3)
        children = descendants(run.pid)
        for pid in children:
            os.kill(pid, signal.SIGSTOP)  # frozen: reads nothing more
        time.sleep(3)  # seconds of audio blocks fill the pipe
        run.send_signal(signal.SIGTERM)
        run.wait(timeout=20)
    finally:
        if run.poll() is None:
            run.kill()
        for pid in descendants(run.pid) | children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert run.returncode == 0
    assert _wait_for(lambda: not any(alive(pid) for pid in children), 3.0)
