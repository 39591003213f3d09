"""Which 2-second windows of a recording get a voice estimate, and their model inputs.

The same rule as live: windows every HOP_SECONDS, scored only when the voice activity
detector hears enough speech in them. `eval voice`, `analyze` and training's validation use it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from overlay.voice.activity import VoiceActivityDetector
from overlay.voice.features import WINDOW_SAMPLES, log_mel, window_starts


@dataclass(frozen=True)
class SpeechWindows:
    """Start sample of each scored window and its model input [N, 1, N_MELS, FRAMES]."""

    starts: tuple[int, ...]
    inputs: npt.NDArray[np.float32]


def speech_windows(
    samples: npt.NDArray[np.float32], vad: VoiceActivityDetector, *, fall_back_to_all: bool = False
) -> SpeechWindows:
    """The windows of a clip that hold speech (possibly none).

    With `fall_back_to_all`, a clip where the detector hears no speech gets all its windows
    instead (evaluation scores every labelled file; live, no speech means no estimate).
    """
    every = window_starts(len(samples))
    starts = tuple(s for s in every if vad.is_speech(samples[s : s + WINDOW_SAMPLES]))
    if not starts and fall_back_to_all:
        starts = tuple(every)
    if not starts:
        return SpeechWindows((), np.zeros((0, 1, 1, 1), dtype=np.float32))
    inputs = np.stack([log_mel(samples[s : s + WINDOW_SAMPLES])[None] for s in starts])
    return SpeechWindows(starts, inputs)


def clip_probabilities(window_probabilities: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """One estimate for a whole clip: the mean of its windows' probabilities."""
    return np.asarray(window_probabilities.mean(axis=0), dtype=np.float32)
