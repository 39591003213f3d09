"""Reading labelled face crops from a folder laid out as DIR/<label>/<image>, and FER+ votes.

Used by `eval face`, bench/face_models.py and the training recipe in models/face/, so all
see the same pixels and the same labels.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from overlay.errors import DataError
from overlay.face.preprocess import face_to_model_input
from overlay.labels import EMOTIONS, canonical_label

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabelledFaces:
    """Model-ready inputs [N, 1, 48, 48], label indices [N] and the file each came from."""

    inputs: npt.NDArray[np.float32]
    labels: npt.NDArray[np.int64]
    paths: tuple[Path, ...]
    skipped_folders: tuple[str, ...]


def read_face_image(path: Path) -> npt.NDArray[np.uint8]:
    """Decode an image file as BGR uint8, or raise DataError naming the file."""
    try:
        encoded = np.fromfile(path, dtype=np.uint8)
    except OSError as err:
        raise DataError(f"{path}: cannot be read ({err.strerror}); check its permissions") from err
    image = cv2.imdecode(encoded, cv2.IMREAD_COLOR) if encoded.size else None
    if image is None:
        raise DataError(f"{path}: not a readable image; remove it or replace it with a JPEG or PNG face crop")
    return np.asarray(image, dtype=np.uint8)


def load_labelled_faces(root: Path) -> LabelledFaces:
    """All images under root/<label>/, labels taken from the folder names.

    Folder names may be the project's labels or common synonyms (see overlay.labels); other
    folders are skipped with a warning. Hidden files are ignored; any other file that is not
    a decodable image is an error, so a broken data set is never scored silently.
    """
    if not root.is_dir():
        raise DataError(f"{root}: no such folder; pass a folder laid out as DIR/<label>/*.jpg")
    inputs: list[npt.NDArray[np.float32]] = []
    labels: list[int] = []
    paths: list[Path] = []
    skipped: list[str] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        label = canonical_label(folder.name)
        if label is None:
            logger.warning("skipping folder %s: %r is not one of %s", folder, folder.name, ", ".join(EMOTIONS))
            skipped.append(folder.name)
            continue
        for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
            inputs.append(face_to_model_input(read_face_image(path)))
            labels.append(EMOTIONS.index(label))
            paths.append(path)
    if not inputs:
        raise DataError(
            f"{root}: no face images found; expected sub-folders named after emotions "
            f"({', '.join(EMOTIONS)}) holding JPEG or PNG files"
        )
    return LabelledFaces(
        inputs=np.stack(inputs),
        labels=np.asarray(labels, dtype=np.int64),
        paths=tuple(paths),
        skipped_folders=tuple(skipped),
    )


# FER+ vote columns (ferplus_votes.csv) in the file's order; the first seven are emotions.
FERPLUS_COLUMNS: tuple[str, ...] = (
    "neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown", "NF",
)  # fmt: skip
# Where each FER+ emotion column goes in the project's label order.
_FERPLUS_TO_EMOTION: dict[str, int] = {
    name: EMOTIONS.index(label) for name in FERPLUS_COLUMNS[:7] if (label := canonical_label(name)) is not None
}


@dataclass(frozen=True)
class FerPlusVotes:
    """Per image (in the order of the paths asked for): 10 annotators' votes in the project's
    7 labels ([N, 7]; contempt, unknown and not-a-face dropped), the FER+ majority label or
    -1 where it is not one of the 7 (a tie for the top, contempt, unknown, not a face, or no
    FER+ row for the file)."""

    votes: npt.NDArray[np.float32]
    majority: npt.NDArray[np.int64]


def _majority_label(counts: list[int]) -> int:
    """The FER+ majority over all 10 columns, as a project label index, or -1."""
    top = max(counts)
    if top == 0 or counts.count(top) > 1:
        return -1
    return _FERPLUS_TO_EMOTION.get(FERPLUS_COLUMNS[counts.index(top)], -1)


def load_ferplus_votes(csv_path: Path, paths: tuple[Path, ...]) -> FerPlusVotes:
    """FER+ votes for face files laid out as in FER2013 (`<split>/<label>/<file>`).

    Rows are matched on the last three path parts (split/label/file), so a copy of the
    FER2013 folders anywhere on disk is found in the CSV.
    """
    try:
        with csv_path.open(newline="", encoding="utf-8") as handle:
            rows = {f"{row['split']}/{row['file']}": row for row in csv.DictReader(handle)}
    except (OSError, KeyError, csv.Error) as err:
        raise DataError(f"{csv_path}: not a readable FER+ votes file ({err}); pass fer2013/ferplus_votes.csv") from err
    votes = np.zeros((len(paths), len(EMOTIONS)), dtype=np.float32)
    majority = np.full(len(paths), -1, dtype=np.int64)
    for i, path in enumerate(paths):
        row = rows.get("/".join(path.parts[-3:]))
        if row is None:
            continue
        try:
            counts = [int(row[name]) for name in FERPLUS_COLUMNS]
        except (KeyError, ValueError) as err:
            raise DataError(f"{csv_path}: bad vote counts for {path.name} ({err})") from err
        for name, count in zip(FERPLUS_COLUMNS[:7], counts[:7], strict=True):
            votes[i, _FERPLUS_TO_EMOTION[name]] = count
        majority[i] = _majority_label(counts)
    return FerPlusVotes(votes=votes, majority=majority)
