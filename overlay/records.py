"""Typed records that flow between the pipeline's stages.

Every record carries a capture timestamp in seconds from one clock, time.monotonic(), so
that stages can be lined up by when things happened rather than when they arrived.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np
import numpy.typing as npt

from asr.contract import Word


@dataclass(frozen=True)
class VideoFrame:
    """One captured frame: BGR uint8 pixels, capture time (time.monotonic()), running index."""

    image: npt.NDArray[np.uint8]
    timestamp: float
    index: int

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])


@dataclass(frozen=True)
class AudioBlock:
    """Consecutive 16 kHz mono samples in [-1, 1]; `timestamp` is when the first was captured."""

    samples: npt.NDArray[np.float32]
    timestamp: float
    sample_rate: int = 16_000

    @property
    def end(self) -> float:
        return self.timestamp + len(self.samples) / self.sample_rate


@dataclass(frozen=True)
class VoiceEstimate:
    """The voice's reading of one window [start, end): probabilities over the 7 labels, or
    None when the window held too little speech (then fusion gives the voice no weight)."""

    start: float
    end: float
    probabilities: npt.NDArray[np.float32] | None
    speech_fraction: float


@dataclass(frozen=True)
class TextEstimate:
    """A final utterance [start, end) and the text model's reading of it."""

    start: float
    end: float
    text: str
    probabilities: npt.NDArray[np.float32]
    recognizer: str  # which backend transcribed it, e.g. "pocketsphinx:en-us"
    words: tuple[Word, ...] = ()  # with their times, where the recognizer gives them


class Event(str, Enum):
    """The kinds of event a run records (the timeline's events table, `status`, the review
    page): one name each, here; stored and shown as the value."""

    DISAGREEMENT = "disagreement"  # face, voice and words read different emotions
    LONG_PAUSE = "long_pause"  # a silence of 2 s or more inside speech (overlay.delivery)
    LOOKED_AWAY = "looked_away"  # no eye contact with the camera for over a second (overlay.attention)
    EYE_CONTACT_CALIBRATED = "eye_contact_calibrated"  # run --calibrate: the user looked into the camera
    PAUSED = "paused"  # the privacy switch
    RESUMED = "resumed"
    CAMERA_LOST = "camera_lost"
    CAMERA_BACK = "camera_back"
    MICROPHONE_LOST = "microphone_lost"
    MICROPHONE_BACK = "microphone_back"
    OBS_LOST = "obs_lost"
    OBS_BACK = "obs_back"
    OBS_FAILED = "obs_failed"
    SINK_FAILED = "sink_failed"
    STAGE_RESTARTED = "stage_restarted"
    TIMELINE_INCOMPLETE = "timeline_incomplete"  # rows lost (a full disk)

    def __str__(self) -> str:
        return self.value
