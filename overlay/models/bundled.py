"""Model files that ship with the package, and the JSON card that describes each one.

Every model is an .onnx file with a card beside it (same name, .json): labels, input spec,
sha256, training data, measured metrics, licence. The checksum is verified before a model
is loaded, so a truncated or corrupted file is reported instead of giving wrong answers.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from overlay.errors import ModelError

_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # overlay/
# A wheel carries the models inside the package (pyproject's force-include); a source
# checkout keeps them in the top-level models/ folder beside their training recipes.
_MODEL_ROOTS = (_PACKAGE_DIR / "_models", _PACKAGE_DIR.parent / "models")

REINSTALL_HINT = "reinstall emotion-overlay (pip install --force-reinstall emotion-overlay)"


def bundled_model_path(model: str, filename: str) -> Path:
    """Path of a model file shipped with the package, e.g. ("face", "face_expression.onnx")."""
    for root in _MODEL_ROOTS:
        candidate = root / model / filename
        if candidate.is_file():
            return candidate
    raise ModelError(f"bundled model file {model}/{filename} is missing; {REINSTALL_HINT}")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class ModelCard:
    """The machine-readable card of one .onnx model."""

    name: str
    version: str
    sha256: str
    labels: tuple[str, ...]
    input_name: str
    input_shape: tuple[int | str, ...]
    output_name: str
    raw: dict[str, Any]

    @classmethod
    def load(cls, path: Path) -> ModelCard:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                name=str(data["name"]),
                version=str(data["version"]),
                sha256=str(data["sha256"]),
                labels=tuple(str(label) for label in data["labels"]),
                input_name=str(data["input"]["name"]),
                input_shape=tuple(data["input"]["shape"]),
                output_name=str(data["output"]["name"]),
                raw=data,
            )
        except FileNotFoundError as err:
            raise ModelError(f"{path}: model card missing; every .onnx needs its .json card beside it") from err
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ModelError(f"{path}: model card unreadable ({type(err).__name__}: {err}); {REINSTALL_HINT}") from err


def load_verified_card(onnx_path: Path) -> ModelCard:
    """The card of onnx_path, after checking that the file exists and matches the card's sha256."""
    if not onnx_path.is_file():
        raise ModelError(f"{onnx_path}: model file not found; {REINSTALL_HINT} or pass the right path")
    card = ModelCard.load(onnx_path.with_suffix(".json"))
    actual = sha256_of(onnx_path)
    if actual != card.sha256:
        raise ModelError(
            f"{onnx_path}: checksum mismatch (file is corrupt or was changed: sha256 {actual[:12]}..., "
            f"card says {card.sha256[:12]}...); {REINSTALL_HINT}"
        )
    return card
