"""Deciding when someone is speaking: WebRTC's voice activity detector behind a level gate.

webrtcvad (the detector from Google's WebRTC, a GMM over sub-band energies) is small and runs
in microseconds a frame. On its own it fires on loud steady noise (fans, hiss, mains hum at
-20 dBFS: 40-100 % of windows), so a frame counts as voiced only when webrtcvad says so AND
it stands out from the audio around it: at least `min_above_floor_db` over the quietest
tenth of the frames analysed together (a 2 s window live). Speech rises and falls by tens
of dB between syllables; steady noise does not. Frames below `min_level_dbfs` are never
voiced, and a window counts as speech when at least `min_speech_fraction` of its frames
are voiced. Figures: `python bench/voice_activity.py` (in models/voice/MODEL_CARD.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import webrtcvad

from overlay.voice.features import SAMPLE_RATE

FRAME_SECONDS = 0.03  # webrtcvad takes 10, 20 or 30 ms frames
FRAME_SAMPLES = int(SAMPLE_RATE * FRAME_SECONDS)


@dataclass(frozen=True)
class VoiceActivitySettings:
    aggressiveness: int = 3  # webrtcvad's 0 (permissive) .. 3 (strict)
    min_level_dbfs: float = -65.0  # frames quieter than this are never speech (RAVDESS speech goes down to -60)
    min_above_floor_db: float = 6.0  # voiced frames stand this far above the quietest tenth
    min_speech_fraction: float = 0.3  # of a window's frames, for the window to be scored


class VoiceActivityDetector:
    """Per-frame speech decisions for 16 kHz mono float audio."""

    def __init__(self, settings: VoiceActivitySettings | None = None) -> None:
        self.settings = settings or VoiceActivitySettings()
        if not 0 <= self.settings.aggressiveness <= 3:
            raise ValueError(f"aggressiveness must be 0..3, not {self.settings.aggressiveness}")
        self._vad = webrtcvad.Vad(self.settings.aggressiveness)

    def speech_frames(self, samples: npt.NDArray[np.float32]) -> npt.NDArray[np.bool_]:
        """One decision per whole 30 ms frame (a trailing partial frame is dropped)."""
        n = len(samples) // FRAME_SAMPLES
        if n == 0:
            return np.zeros(0, dtype=bool)
        frames = np.clip(samples[: n * FRAME_SAMPLES], -1.0, 1.0).reshape(n, FRAME_SAMPLES)
        rms = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1))
        level = 20.0 * np.log10(np.maximum(rms, 1e-10))
        floor = float(np.percentile(level, 10))
        loud = (level >= self.settings.min_level_dbfs) & (level >= floor + self.settings.min_above_floor_db)
        pcm = (frames * 32767.0).astype("<i2")
        decisions = np.zeros(n, dtype=bool)
        for i in np.flatnonzero(loud):
            decisions[i] = self._vad.is_speech(pcm[i].tobytes(), SAMPLE_RATE)
        return decisions

    def speech_fraction(self, samples: npt.NDArray[np.float32]) -> float:
        frames = self.speech_frames(samples)
        return float(frames.mean()) if len(frames) else 0.0

    def is_speech(self, samples: npt.NDArray[np.float32]) -> bool:
        """Whether a window holds enough speech to be given a voice estimate."""
        return self.speech_fraction(samples) >= self.settings.min_speech_fraction

    def speech_span(self, samples: npt.NDArray[np.float32]) -> tuple[int, int] | None:
        """First and one-past-last sample of voiced frames, or None when nothing is voiced."""
        voiced = np.flatnonzero(self.speech_frames(samples))
        if len(voiced) == 0:
            return None
        return int(voiced[0] * FRAME_SAMPLES), int((voiced[-1] + 1) * FRAME_SAMPLES)
