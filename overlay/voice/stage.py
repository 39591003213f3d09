"""The live voice stage: audio blocks in, one voice estimate every hop while someone speaks.

It keeps the last WINDOW_SECONDS of audio. Each time HOP_SECONDS of new audio has arrived it
scores the window that ends there: the voice activity detector decides whether it holds
speech, and only then the voice model runs. Each estimate carries the capture-time span it
covers. A gap in the audio (a reconnected microphone) empties the window rather than
stitching unrelated sound together.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from overlay.records import AudioBlock, VoiceEstimate
from overlay.voice.activity import VoiceActivityDetector, VoiceActivitySettings
from overlay.voice.features import HOP_SAMPLES, SAMPLE_RATE, WINDOW_SAMPLES
from overlay.voice.model import VoiceEmotionModel

logger = logging.getLogger(__name__)

MAX_GAP_S = 0.1  # larger jumps between consecutive blocks' timestamps restart the window


@dataclass(frozen=True)
class VoiceStageSettings:
    vad: VoiceActivitySettings = field(default_factory=VoiceActivitySettings)


class VoiceStage:
    def __init__(self, settings: VoiceStageSettings | None = None, model: VoiceEmotionModel | None = None) -> None:
        self.settings = settings or VoiceStageSettings()
        self.model = model or VoiceEmotionModel()
        self.vad = VoiceActivityDetector(self.settings.vad)
        self._window = np.zeros(0, dtype=np.float32)
        self._window_end = 0.0  # capture time just after the window's last sample
        self._since_last = 0  # samples received since the last scored window

    def feed(self, block: AudioBlock) -> list[VoiceEstimate]:
        """Add a block; the estimates of every window completed by it (usually none or one)."""
        if block.sample_rate != SAMPLE_RATE:
            raise ValueError(f"voice stage needs {SAMPLE_RATE} Hz audio, got {block.sample_rate}")
        if len(self._window) and abs(block.timestamp - self._window_end) > MAX_GAP_S:
            logger.info("audio gap of %.2f s; starting a new window", block.timestamp - self._window_end)
            self._window, self._since_last = np.zeros(0, dtype=np.float32), 0
        estimates = []
        samples = block.samples
        while len(samples):
            take = min(len(samples), HOP_SAMPLES - self._since_last)
            self._window = np.concatenate([self._window, samples[:take]])[-WINDOW_SAMPLES:]
            self._since_last += take
            self._window_end = block.timestamp + (len(block.samples) - len(samples) + take) / SAMPLE_RATE
            samples = samples[take:]
            # Score every hop once a full window is there (the first one 2 s after audio starts).
            if self._since_last >= HOP_SAMPLES and len(self._window) == WINDOW_SAMPLES:
                estimates.append(self._score())
            if self._since_last >= HOP_SAMPLES:
                self._since_last = 0
        return estimates

    def _score(self) -> VoiceEstimate:
        window: npt.NDArray[np.float32] = self._window
        start = self._window_end - len(window) / SAMPLE_RATE
        fraction = self.vad.speech_fraction(window)
        if fraction < self.settings.vad.min_speech_fraction:
            return VoiceEstimate(start, self._window_end, None, fraction)
        return VoiceEstimate(start, self._window_end, self.model.predict_window(window), fraction)
