"""Opening one of the project's ONNX models: verify its card, check its labels, start a session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from overlay.errors import ModelError
from overlay.labels import EMOTIONS
from overlay.models.bundled import ModelCard, load_verified_card


class OnnxClassifier:
    """An onnxruntime session over a verified model with these labels (the 7 emotions unless
    said); `run` gives probabilities [N, len(labels)].

    threads: onnxruntime intra-op threads. Live stages run one input at a time on 1 thread.
    """

    def __init__(self, path: Path, threads: int = 1, labels: tuple[str, ...] = EMOTIONS) -> None:
        self.path = path
        self.card: ModelCard = load_verified_card(path)
        if self.card.labels != labels:
            raise ModelError(
                f"{path}: card labels {list(self.card.labels)} differ from the expected {list(labels)}; "
                "re-export the model with the project's label order"
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self._session: Any = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own untyped errors on bad graphs
            raise ModelError(f"{path}: onnxruntime cannot load it ({err}); re-export or reinstall it") from err

    def run_inputs(self, feeds: dict[str, npt.NDArray[np.int64]]) -> npt.NDArray[np.float32]:
        """Probabilities for a model with several named inputs (one batch)."""
        return np.asarray(self._session.run([self.card.output_name], feeds)[0], dtype=np.float32)

    def run(self, inputs: npt.NDArray[np.float32], batch: int = 256) -> npt.NDArray[np.float32]:
        outputs = [
            np.asarray(self._session.run([self.card.output_name], {self.card.input_name: inputs[i : i + batch]})[0])
            for i in range(0, len(inputs), batch)
        ]
        if not outputs:
            return np.zeros((0, len(self.card.labels)), dtype=np.float32)
        return np.concatenate(outputs).astype(np.float32)
