"""Reading labelled face crops from a folder laid out as DIR/<label>/<image>.

Used by `eval face` and by the training recipe in models/face/, so both see the same pixels.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from overlay.errors import DataError
from overlay.face_input import face_to_model_input
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
