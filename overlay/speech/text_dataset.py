"""Reading labelled text: GoEmotions TSV files, mapped onto the project's 7 labels.

GoEmotions rows are `text<TAB>label ids<TAB>comment id`; ids index emotions.txt (27 is
neutral). Its own Ekman grouping maps the 27 emotions onto anger, disgust, fear, joy,
sadness, surprise (+ neutral), which become angry, disgust, fear, happy, sad, surprise,
neutral. A comment may carry several labels; the single-label subset keeps the comments
whose mapped label set has exactly one class (the subset `eval text` and the targets use).
Used by `eval text` and by the training recipe in models/text/.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from overlay.errors import DataError
from overlay.labels import EMOTIONS, canonical_label

# GoEmotions' 28 labels in id order (emotions.txt), and its Ekman grouping (ekman_mapping.json),
# kept here so that `eval text` needs only the TSV file.
GOEMOTIONS_LABELS: Final = [
    "admiration",
    "amusement",
    "anger",
    "annoyance",
    "approval",
    "caring",
    "confusion",
    "curiosity",
    "desire",
    "disappointment",
    "disapproval",
    "disgust",
    "embarrassment",
    "excitement",
    "fear",
    "gratitude",
    "grief",
    "joy",
    "love",
    "nervousness",
    "optimism",
    "pride",
    "realization",
    "relief",
    "remorse",
    "sadness",
    "surprise",
    "neutral",
]
EKMAN_GROUPS: Final = {
    "anger": ("anger", "annoyance", "disapproval"),
    "disgust": ("disgust",),
    "fear": ("fear", "nervousness"),
    "joy": (
        "joy", "amusement", "approval", "excitement", "gratitude", "love", "optimism", "relief", "pride",
        "admiration", "desire", "caring",
    ),
    "sadness": ("sadness", "disappointment", "embarrassment", "grief", "remorse"),
    "surprise": ("surprise", "realization", "confusion", "curiosity"),
    "neutral": ("neutral",),
}  # fmt: skip
_PROJECT_LABEL: Final = {
    fine: EMOTIONS.index(canonical_label(group) or group) for group, members in EKMAN_GROUPS.items() for fine in members
}


@dataclass(frozen=True)
class LabelledTexts:
    texts: tuple[str, ...]
    labels: npt.NDArray[np.int64]  # project label index; single-label rows only
    rows_read: int
    multi_label_rows: int


def project_labels(goemotions_ids: list[int]) -> set[int]:
    """The project labels a row's GoEmotions ids map to (IndexError for an id outside 0-27)."""
    if any(i < 0 for i in goemotions_ids):  # Python would read -1 as the last label
        raise IndexError(f"GoEmotions label ids are 0-{len(GOEMOTIONS_LABELS) - 1}")
    return {_PROJECT_LABEL[GOEMOTIONS_LABELS[i]] for i in goemotions_ids}


def read_goemotions_rows(path: Path) -> list[tuple[str, list[int]]]:
    """Every row of a GoEmotions TSV file: its text and its GoEmotions label ids (0-27)."""
    if not path.is_file():
        raise DataError(f"{path}: no such file; pass a GoEmotions TSV (text<TAB>label ids<TAB>id)")
    rows: list[tuple[str, list[int]]] = []
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            for line_number, row in enumerate(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE), 1):
                if not row or not row[0].strip():
                    continue
                if len(row) < 2:
                    raise DataError(f"{path}:{line_number}: expected text<TAB>label ids, got {row[0][:40]!r}")
                try:
                    ids = [int(i) for i in row[1].split(",")]
                    project_labels(ids)  # checks every id is 0-27
                except (ValueError, IndexError):
                    raise DataError(
                        f"{path}:{line_number}: label ids must be numbers 0-27 separated by commas, got {row[1]!r}"
                    ) from None
                rows.append((row[0], ids))
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 text ({err}); save it as UTF-8") from err
    return rows


def load_goemotions(path: Path) -> LabelledTexts:
    """The single-label rows of a GoEmotions TSV file, with project label indices."""
    rows = read_goemotions_rows(path)
    texts: list[str] = []
    labels: list[int] = []
    for text, ids in rows:
        mapped = project_labels(ids)
        if len(mapped) == 1:
            texts.append(text)
            labels.append(mapped.pop())
    if not texts:
        raise DataError(f"{path}: no labelled rows found; expected GoEmotions TSV lines (text<TAB>label ids<TAB>id)")
    return LabelledTexts(tuple(texts), np.asarray(labels, dtype=np.int64), len(rows), len(rows) - len(texts))


def as_transcript(text: str) -> str:
    """A comment written the way a speech recognizer writes what was said.

    Recognizers give lower-case words without punctuation, emoji or markup, so "!!" and ":)"
    are gone; GoEmotions' masks "[NAME]" and "[RELIGION]" become plain words. The text model
    trains on some comments in this form and is measured on dev in it too.
    """
    words = re.sub(r"[^a-z0-9']+", " ", text.lower()).split()
    return " ".join(word.strip("'") for word in words if word.strip("'"))


def transcripts_of(texts: Iterable[str]) -> list[str]:
    """`as_transcript` of each text; one that is only punctuation or emoji stays as written."""
    return [as_transcript(text) or text for text in texts]


def check_mapping_file(path: Path) -> None:
    """Fail loudly if a data set's ekman_mapping.json disagrees with the grouping used here."""
    groups = json.loads(path.read_text(encoding="utf-8"))
    for group, members in groups.items():
        if set(members) != set(EKMAN_GROUPS[group]):
            raise DataError(f"{path}: group {group!r} differs from the project's copy of the GoEmotions mapping")
