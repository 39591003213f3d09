"""A real input device: PulseAudio's virtual microphone, fed in real time (../shared/TESTING.md)."""

import itertools
import subprocess
import time
from pathlib import Path

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
