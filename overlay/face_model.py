"""The face expression model: 48x48 grey face crops -> probabilities over the 7 labels."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from overlay.errors import ModelError
from overlay.face_input import FACE_INPUT_SIZE, face_to_model_input
from overlay.labels import EMOTIONS
from overlay.model_files import bundled_model_path, load_verified_card

logger = logging.getLogger(__name__)

DEFAULT_FACE_MODEL = ("face", "face_expression.onnx")


class FaceExpressionModel:
    """An onnxruntime session over a verified face expression model.

    threads: onnxruntime intra-op threads. The live pipeline runs one face at a time and
    uses 1 (the model takes ~2 ms on one core); evaluation of many images may use more.
    """

    def __init__(self, path: Path | None = None, threads: int = 1) -> None:
        self.path = path if path is not None else bundled_model_path(*DEFAULT_FACE_MODEL)
        self.card = load_verified_card(self.path)
        if self.card.labels != EMOTIONS:
            raise ModelError(
                f"{self.path}: card labels {list(self.card.labels)} differ from the project's {list(EMOTIONS)}; "
                "re-export the model with the project's label order"
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own untyped errors on bad graphs
            raise ModelError(f"{self.path}: onnxruntime cannot load it ({err}); re-export or reinstall it") from err
        logger.info("face model %s %s loaded from %s", self.card.name, self.card.version, self.path)

    def predict(self, inputs: npt.NDArray[np.float32], batch: int = 256) -> npt.NDArray[np.float32]:
        """Probabilities [N, 7] for model inputs [N, 1, 48, 48] made by face_to_model_input."""
        expected = (1, FACE_INPUT_SIZE, FACE_INPUT_SIZE)
        if inputs.ndim != 4 or inputs.shape[1:] != expected:
            raise ValueError(f"expected inputs of shape [N, {', '.join(map(str, expected))}], got {list(inputs.shape)}")
        outputs = [
            np.asarray(self._session.run([self.card.output_name], {self.card.input_name: inputs[i : i + batch]})[0])
            for i in range(0, len(inputs), batch)
        ]
        if not outputs:
            return np.zeros((0, len(EMOTIONS)), dtype=np.float32)
        return np.concatenate(outputs).astype(np.float32)

    def predict_face(self, face: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """Probabilities [7] for one face crop (BGR or grey uint8, any size)."""
        probabilities: npt.NDArray[np.float32] = self.predict(face_to_model_input(face)[np.newaxis])[0]
        return probabilities
