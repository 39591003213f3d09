"""Photos listed in a labels CSV, and their largest face found as live: what the photo evals read.

A labels CSV has a header; its `image` column is each photo's path relative to the CSV's
folder, and the other columns an eval needs are its labels (`eval eye-contact`: eye_contact;
`eval head`: yaw, pitch). Every face is found by the face tracker started afresh on each
photo, as the face stage would find it in a first frame.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from overlay.errors import DataError
from overlay.face.stage import ANALYSIS_MAX_SIDE
from overlay.face.tracking import FaceTracker


def read_label_rows(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """The CSV's rows with their line numbers; a missing or unreadable file, no rows or a
    missing column is a DataError that says what was expected."""
    expected = f"expected a header with {','.join(required)} and rows"
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except FileNotFoundError as err:
        raise DataError(f"{path}: labels file not found") from err
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"{path}: cannot read the labels ({err})") from err
    if not rows:
        raise DataError(f"{path}: no labelled photos ({expected})")
    missing = [column for column in required if column not in rows[0]]
    if missing:
        raise DataError(f"{path}: column(s) {', '.join(missing)} missing; {expected}")
    return [(line, {key: value or "" for key, value in row.items()}) for line, row in enumerate(rows, start=2)]


def read_image(path: Path, name: str) -> npt.NDArray[np.uint8]:
    """The photo's BGR pixels; name: as the labels' image column gives it (for the error)."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DataError(f"{path}: not a readable image (from the labels' image column: {name})")
    return np.asarray(image, dtype=np.uint8)


def photo_landmarks(tracker: FaceTracker, image: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32] | None:
    """The largest face's 68 landmarks in this still photo (in its pixels), or None. A photo
    larger than the face stage tracks is tracked on a copy of that size, as live."""
    tracker.reset()
    scale = min(1.0, ANALYSIS_MAX_SIDE / max(image.shape[:2]))
    small = image if scale == 1.0 else cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    faces = tracker.track(np.asarray(small, dtype=np.uint8))
    return None if not faces else (faces[0].landmarks / scale).astype(np.float32)
