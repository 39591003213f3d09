"""The face expression model: 48x48 grey face crops -> probabilities over the 7 labels."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import numpy.typing as npt

from overlay.face.preprocess import FACE_INPUT_SIZE, face_to_model_input
from overlay.models.bundled import bundled_model_path
from overlay.models.onnx import OnnxClassifier

logger = logging.getLogger(__name__)

DEFAULT_FACE_MODEL = ("face", "face_expression.onnx")


class FaceExpressionModel:
    """The verified face expression model in onnxruntime.

    threads: onnxruntime intra-op threads. The live pipeline runs one face at a time and
    uses 1 (the model takes ~2 ms on one core); evaluation of many images may use more.
    """

    def __init__(self, path: Path | None = None, threads: int = 1) -> None:
        self.path = path if path is not None else bundled_model_path(*DEFAULT_FACE_MODEL)
        self._classifier = OnnxClassifier(self.path, threads)
        self.card = self._classifier.card
        logger.info("face model %s %s loaded from %s", self.card.name, self.card.version, self.path)

    def predict(self, inputs: npt.NDArray[np.float32], batch: int = 256) -> npt.NDArray[np.float32]:
        """Probabilities [N, 7] for model inputs [N, 1, 48, 48] made by face_to_model_input."""
        expected = (1, FACE_INPUT_SIZE, FACE_INPUT_SIZE)
        if inputs.ndim != 4 or inputs.shape[1:] != expected:
            raise ValueError(f"expected inputs of shape [N, {', '.join(map(str, expected))}], got {list(inputs.shape)}")
        return self._classifier.run(inputs, batch)

    def predict_face(self, face: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """Probabilities [7] for one face crop (BGR or grey uint8, any size)."""
        probabilities: npt.NDArray[np.float32] = self.predict(face_to_model_input(face)[np.newaxis])[0]
        return probabilities
