"""A video file played as the camera: its sound arrives on the same clock as its pictures."""

import itertools
import threading
from pathlib import Path

import numpy as np
import pytest

from overlay.media.audio_file import read_audio
from overlay.records import AudioBlock
from overlay.sources.file_audio import FileAudioSource
from overlay.sources.video_file import VideoFileSource, video_start_seconds
from tests.media import write_flash_and_beep


def play(path: Path) -> tuple[list[tuple[float, float]], list[AudioBlock]]:
    """(timestamp, brightness) of every frame and every audio block, as the live pipeline gets them."""
    video = VideoFileSource(path)
    audio = FileAudioSource(read_audio(path), lambda: video.origin, video_start_seconds(path))
    blocks: list[AudioBlock] = []
    done = threading.Event()

    def listen() -> None:
        while not done.is_set():
            block = audio.read(timeout=0.05)
            if block is not None:
                blocks.append(block)

    listener = threading.Thread(target=listen)
    listener.start()
    frames = []
    while (frame := video.read()) is not None:
        frames.append((frame.timestamp, float(frame.image.mean())))
    done.set()
    listener.join()
    return frames, blocks


def onset(blocks: list[AudioBlock]) -> float:
    for block in blocks:
        loud = np.flatnonzero(np.abs(block.samples) > 0.1)
        if len(loud):
            return float(block.timestamp + loud[0] / block.sample_rate)
    raise AssertionError("no beep heard")


@pytest.mark.parametrize("audio_delay", [0.0, 0.3])
def test_flash_and_beep_line_up_within_50_ms(tmp_path: Path, audio_delay: float) -> None:
    path = write_flash_and_beep(tmp_path / "fb.mp4", event_at=1.6, audio_delay=audio_delay)
    frames, blocks = play(path)
    flash = next(t for t, brightness in frames if brightness > 128)
    assert abs(onset(blocks) - flash) < 0.05
    # The beep is also heard about when it plays: blocks are handed over in real time.
    assert blocks[-1].end == pytest.approx(frames[-1][0] + 1 / 25, abs=0.15)


def test_a_talking_clip_delivers_all_its_sound_in_real_time(shared_data: Path) -> None:
    path = shared_data / "video" / "talking" / "1.mp4"  # its video starts 33 ms after its audio
    frames, blocks = play(path)
    origin = frames[0][0]
    assert blocks[0].timestamp == pytest.approx(origin - video_start_seconds(path), abs=1e-6)
    heard = sum(len(b.samples) for b in blocks) / 16000
    assert heard == pytest.approx(read_audio(path).duration_seconds, abs=0.15)
    gaps = [b.timestamp - a.end for a, b in itertools.pairwise(blocks)]
    assert max(abs(g) for g in gaps) < 1e-6  # contiguous, nothing lost or repeated
