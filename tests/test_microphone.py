"""A real input device: PulseAudio's virtual microphone, fed in real time (../shared/TESTING.md)."""

import contextlib
import itertools
import subprocess
import threading
import time
from pathlib import Path
from typing import IO

import numpy as np
import pytest

from overlay.sources.microphone import MicrophoneSource
from overlay.sources.microphone_devices import list_microphones, resolve_microphone
from tests.conftest import run_cli
from tests.media import tone
from tests.pulse import VirtualMicrophone


def wait_for_audio(source: MicrophoneSource) -> None:
    """PulseAudio takes up to ~2 s to deliver the first block of a new stream."""
    deadline = time.monotonic() + 10
    while source.read(0.1) is None:
        assert time.monotonic() < deadline, "no audio from the virtual microphone"
    drain(source, 0.5)


def drain(source: MicrophoneSource, seconds: float) -> list:  # type: ignore[type-arg]
    blocks, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        block = source.read(0.05)
        if block is not None:
            blocks.append(block)
    return blocks


def test_what_is_played_is_heard_at_the_time_it_was_played(virtual_mic: VirtualMicrophone) -> None:
    source = MicrophoneSource(resolve_microphone("pulse"))
    # pacat streams what we write at once (20 ms buffer): the sound's start time is known.
    pacat = ["pacat", "--playback", "--device=vmic_sink", "--format=s16le", "--rate=16000", "--channels=1"]
    player = subprocess.Popen([*pacat, "--latency-msec=20"], stdin=subprocess.PIPE)
    assert player.stdin is not None
    try:
        wait_for_audio(source)
        sound = np.concatenate([np.zeros(8000, np.float32), tone(1.0)])
        written = time.monotonic()
        player.stdin.write((sound * 32767).astype("<i2").tobytes())
        player.stdin.flush()
        blocks = drain(source, 2.0)
    finally:
        player.stdin.close()
        player.wait(timeout=10)
        source.close()
    loud = [b for b in blocks if np.abs(b.samples).max() > 0.1]
    onset = loud[0].timestamp + np.flatnonzero(np.abs(loud[0].samples) > 0.1)[0] / 16000
    assert abs(onset - (written + 0.5)) < 0.1  # the live target; measured 1-3 ms here
    heard = np.concatenate([b.samples for b in blocks])
    assert np.abs(heard).max() == pytest.approx(0.3, abs=0.02)  # the tone's level, nothing clipped
    assert all(b2.timestamp == pytest.approx(b1.end, abs=2e-3) for b1, b2 in itertools.pairwise(blocks))
    assert source.overflows == 0


def test_devices_lists_the_microphone(virtual_mic: VirtualMicrophone) -> None:
    names = [m.name for m in list_microphones()]
    assert "pulse" in names
    result = run_cli(["devices"])
    assert result.returncode == 0 and "pulse" in result.stdout


def test_a_microphone_that_goes_away_comes_back(virtual_mic: VirtualMicrophone) -> None:
    events: list[tuple[str, str]] = []
    source = MicrophoneSource(resolve_microphone("pulse"), on_event=lambda kind, detail: events.append((kind, detail)))
    try:
        wait_for_audio(source)
        virtual_mic.stop()
        deadline = time.monotonic() + 10
        while not any(kind == "microphone_lost" for kind, _ in events) and time.monotonic() < deadline:
            drain(source, 0.2)
        assert ("microphone_lost", "pulse") in events
        virtual_mic.start()
        deadline = time.monotonic() + 20
        while not any(kind == "microphone_back" for kind, _ in events) and time.monotonic() < deadline:
            drain(source, 0.2)
        assert ("microphone_back", "pulse") in events
        assert drain(source, 2.0)  # and audio flows again
    finally:
        source.close()


def test_a_microphone_name_that_matches_nothing_is_one_line(virtual_mic: VirtualMicrophone, tmp_path: Path) -> None:
    clip = tmp_path / "none.mp4"
    result = run_cli(["run", "--camera", str(clip), "--mic", "No Such Microphone", "--sink", "file"])
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr


def test_run_to_a_file_puts_the_microphone_under_the_video(virtual_mic: VirtualMicrophone, tmp_path: Path) -> None:
    """`run --sink file` with a real microphone: what it heard is under the MP4, as long as the picture."""
    import av

    from tests.fakes import make_clip

    clip = make_clip(tmp_path / "camera.mp4", frames=60, fps=15.0, size=(320, 240))
    out = tmp_path / "annotated.mp4"
    pacat = ["pacat", "--playback", "--device=vmic_sink", "--format=s16le", "--rate=16000", "--channels=1"]
    player = subprocess.Popen([*pacat, "--latency-msec=20"], stdin=subprocess.PIPE)
    assert player.stdin is not None
    played = (tone(15.0, level=0.3) * 32767).astype("<i2").tobytes()  # plays for the whole run
    # pacat takes it as fast as it plays it: written from a thread, so the run starts at once.
    feeder = threading.Thread(target=_write_quietly, args=(player.stdin, played), daemon=True)
    feeder.start()
    try:
        command = ["run", "--camera", str(clip), "--loop", "--mic", "pulse", "--sink", "file", "--out", str(out)]
        result = run_cli([*command, "--seconds", "4"])
    finally:
        player.kill()
        player.wait(timeout=10)
        feeder.join(timeout=10)
    assert result.returncode == 0, result.stderr
    with av.open(str(out)) as container:
        assert container.streams.audio, "the microphone is not under the video"
        video_s = float(container.streams.video[0].duration * container.streams.video[0].time_base)
        sound = np.concatenate([f.to_ndarray()[0] for f in container.decode(audio=0)]).astype(np.float32)
        rate = container.streams.audio[0].rate
    audio_s = len(sound) / rate
    assert abs(audio_s - video_s) < 0.3, (audio_s, video_s)
    late = sound[int(1.5 * rate) :]  # PulseAudio takes a moment to deliver a new stream's first block
    level = float(np.sqrt(np.mean(late**2)))  # the tone's 0.21 RMS
    assert 0.15 < level < 0.25, level
    assert sorted(path.name for path in tmp_path.iterdir()) == ["annotated.mp4", "camera.mp4"]  # nothing left beside


def _write_quietly(pipe: IO[bytes], data: bytes) -> None:
    with contextlib.suppress(OSError, ValueError):  # the player is killed before it has played it all
        pipe.write(data)
        pipe.flush()
