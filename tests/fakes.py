"""Stand-ins shared by the tests: a clip maker, and a fake face stage, sink, microphone and speech path.

Each follows the contract it stands in for (overlay.sources.base, overlay.sinks.base, the
stage protocols of overlay.runtime.pipeline), so a test can make one part slow, broken or
counting and watch what the real parts around it do.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from overlay.attention.eye_contact import LookedAway
from overlay.face.blinks import BlinkState
from overlay.face.stage import FaceAnalysis
from overlay.records import AudioBlock, VideoFrame, VoiceEstimate
from overlay.speech.stage import SpeechEvents

NO_BLINKS = BlinkState(ear=None, baseline=None, eyes_closed=False, blink_count=0, blinks_per_minute=None)
HAPPY = np.array([0, 0, 0, 1, 0, 0, 0], dtype=np.float32)


def make_clip(path: Path, frames: int = 20, fps: float = 25.0, size: tuple[int, int] = (64, 48)) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
    assert writer.isOpened()
    for i in range(frames):
        image = np.full((size[1], size[0], 3), i * 10 % 256, dtype=np.uint8)
        writer.write(image)
    writer.release()
    return path


class SlowAnalyzer:
    """Takes `seconds` per frame, like a heavy model on a busy machine."""

    def __init__(self, seconds: float, fail_first: bool = False) -> None:
        self.seconds = seconds
        self.fail_first = fail_first
        self.calls = 0

    def analyze(self, frame: VideoFrame) -> FaceAnalysis:
        self.calls += 1
        if self.fail_first and self.calls == 1:
            raise RuntimeError("simulated crash")
        time.sleep(self.seconds)
        return FaceAnalysis(frame.timestamp, frame.index, (), HAPPY, HAPPY, NO_BLINKS, ())

    def finish(self) -> tuple[LookedAway, ...]:
        return ()


class ListSink:
    def __init__(self, fail_after: int | None = None) -> None:
        self.frames: list[npt.NDArray[np.uint8]] = []
        self.fail_after = fail_after
        self.closed = False

    def send(self, image: npt.NDArray[np.uint8]) -> None:
        if self.fail_after is not None and len(self.frames) >= self.fail_after:
            raise OSError("device gone")
        self.frames.append(image)

    def close(self) -> None:
        self.closed = True


class QueueAudio:
    """Audio blocks handed over as a microphone would, then nothing."""

    def __init__(self, blocks: int) -> None:
        self.overflows = 0
        self.sample_rate = 16_000
        self._blocks = [
            AudioBlock(np.zeros(1600, np.float32), timestamp=time.monotonic() + 0.1 * i) for i in range(blocks)
        ]

    def read(self, timeout: float) -> AudioBlock | None:
        if self._blocks:
            return self._blocks.pop(0)
        time.sleep(timeout)
        return None

    def close(self) -> None:
        pass


class BrokenVoice:
    def feed(self, block: AudioBlock) -> list[VoiceEstimate]:
        raise RuntimeError("voice model gone")


class CountingSpeech:
    recognizer_name = "counting"

    def __init__(self) -> None:
        self.blocks = 0

    def feed(self, block: AudioBlock) -> SpeechEvents:
        self.blocks += 1
        return SpeechEvents(None, [])

    def finish(self) -> SpeechEvents:
        return SpeechEvents(None, [])
