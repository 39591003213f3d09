"""The text emotion model: an utterance -> probabilities over the 7 labels.

The tokenizer (all-MiniLM-L6-v2's WordPiece, `text_tokenizer.json`) ships beside the .onnx
and is read with the `tokenizers` library; its sha256 is in the model card and checked.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from overlay.errors import ModelError
from overlay.models.bundled import REINSTALL_HINT, bundled_model_path, sha256_of
from overlay.models.onnx import OnnxClassifier

logger = logging.getLogger(__name__)

DEFAULT_TEXT_MODEL = ("text", "text_emotion.onnx")


class TextEmotionModel:
    """The verified text emotion model in onnxruntime."""

    def __init__(self, path: Path | None = None, threads: int = 1) -> None:
        self.path = path if path is not None else bundled_model_path(*DEFAULT_TEXT_MODEL)
        self._classifier = OnnxClassifier(self.path, threads)
        self.card = self._classifier.card
        spec = self.card.raw.get("tokenizer", {})
        tokenizer_path = self.path.parent / str(spec.get("file", "text_tokenizer.json"))
        if not tokenizer_path.is_file() or sha256_of(tokenizer_path) != spec.get("sha256"):
            raise ModelError(f"{tokenizer_path}: tokenizer missing or not the one the card names; {REINSTALL_HINT}")
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        # The file asks for padding to 128 tokens; batches are padded here, to their longest text.
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(int(spec.get("max_tokens", 128)))
        logger.info("text model %s %s loaded from %s", self.card.name, self.card.version, self.path)

    def encode(self, texts: Sequence[str]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Token ids and attention mask [N, T], padded to the longest text."""
        encodings = self._tokenizer.encode_batch(list(texts))
        width = max(1, *(len(e.ids) for e in encodings)) if encodings else 1
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        return ids, mask

    def predict(self, texts: Sequence[str], batch: int = 64) -> npt.NDArray[np.float32]:
        """Probabilities [N, 7], one row per text (similar lengths are batched together)."""
        order = np.argsort([len(t) for t in texts], kind="stable")
        out = np.zeros((len(texts), 7), dtype=np.float32)
        for start in range(0, len(order), batch):
            rows = order[start : start + batch]
            ids, mask = self.encode([texts[i] for i in rows])
            out[rows] = self._classifier.run_inputs({"input_ids": ids, "attention_mask": mask})
        return out
