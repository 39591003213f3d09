"""The voice emotion model: 2-second log-mel windows -> probabilities over the 7 labels."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import numpy.typing as npt

from overlay.models.bundled import bundled_model_path
from overlay.models.onnx import OnnxClassifier
from overlay.voice.features import FRAMES, N_MELS, log_mel

logger = logging.getLogger(__name__)

DEFAULT_VOICE_MODEL = ("voice", "voice_emotion.onnx")


class VoiceEmotionModel:
    """The verified voice emotion model in onnxruntime (non-commercial: trained on RAVDESS)."""

    def __init__(self, path: Path | None = None, threads: int = 1) -> None:
        self.path = path if path is not None else bundled_model_path(*DEFAULT_VOICE_MODEL)
        self._classifier = OnnxClassifier(self.path, threads)
        self.card = self._classifier.card
        logger.info("voice model %s %s loaded from %s", self.card.name, self.card.version, self.path)

    def predict(self, inputs: npt.NDArray[np.float32], batch: int = 64) -> npt.NDArray[np.float32]:
        """Probabilities [N, 7] for log-mel windows [N, 1, N_MELS, FRAMES] from overlay.voice.features."""
        expected = (1, N_MELS, FRAMES)
        if inputs.ndim != 4 or inputs.shape[1:] != expected:
            raise ValueError(f"expected inputs of shape [N, {', '.join(map(str, expected))}], got {list(inputs.shape)}")
        return self._classifier.run(inputs, batch)

    def predict_window(self, samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Probabilities [7] for one window of 16 kHz mono audio (fitted to 2 s)."""
        probabilities: npt.NDArray[np.float32] = self.predict(log_mel(samples)[np.newaxis, np.newaxis])[0]
        return probabilities
