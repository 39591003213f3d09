"""The one label space used by every model, metric and record in the project."""

from __future__ import annotations

from typing import Final

# Order matters: model outputs, confusion matrices and timelines all use it.
EMOTIONS: Final[tuple[str, ...]] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

# The readings that are fused, in the order timelines, exports and the review page list them.
MODALITIES: Final[tuple[str, ...]] = ("face", "voice", "text")

# Names that data sets and people use for the same classes (folder names in `eval face`).
_SYNONYMS: Final[dict[str, str]] = {
    "anger": "angry",
    "mad": "angry",
    "disgusted": "disgust",
    "fearful": "fear",
    "afraid": "fear",
    "scared": "fear",
    "happiness": "happy",
    "joy": "happy",
    "sadness": "sad",
    "surprised": "surprise",
    "calm": "neutral",
}


def canonical_label(name: str) -> str | None:
    """Map a class name or synonym (any case) to the project's label, or None if unknown."""
    key = name.strip().lower()
    if key in EMOTIONS:
        return key
    return _SYNONYMS.get(key)
