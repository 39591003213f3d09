"""Face detector backends: the contract each one follows, and the registry that names them.

A backend is one module in this package with a `open_backend(landmarks_path)` function that
returns a (FaceDetector, LandmarkFitter) pair; DETECTORS maps its name (the
`FaceTrackingSettings.detector` value) to that module, so adding one is one file plus one
line here. FaceTracker (overlay.face.tracking) decides when each is called.

FaceDetector.min_face_px
    The smallest face side, in pixels of the image it is given, that it finds reliably. The
    tracker shrinks each frame so that the faces it looks for are about this size: larger
    wastes time, smaller is missed.
FaceDetector.detect(gray)
    Called on a grey frame already shrunk that way, every few frames: it may take ~20 ms.
    Returns the faces' square boxes as (centre x, centre y, side) in that frame's pixels, in
    any order; an empty list when there is none. Raising is a fault of the stage (logged,
    recorded, the stage rebuilt).
LandmarkFitter.fit(gray, cx, cy, side)
    Called on the full-size grey frame for every held face on every analysed frame, so it
    must be cheap (~1 ms). Returns the 68 points (iBUG 300-W order) as a float32 [68, 2]
    array in frame pixels, fitted inside the square box given.
open_backend(landmarks_path)
    Loads the models once (a missing or unreadable file is a ModelError whose message says
    how to get it). The objects are used from one thread and need no close().
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Final, Protocol

import numpy as np
import numpy.typing as npt


class FaceDetector(Protocol):
    min_face_px: int

    def detect(self, gray: npt.NDArray[np.uint8]) -> list[tuple[float, float, float]]: ...


class LandmarkFitter(Protocol):
    def fit(self, gray: npt.NDArray[np.uint8], cx: float, cy: float, side: float) -> npt.NDArray[np.float32]: ...


DETECTORS: Final = {
    "dlib": "overlay.face.dlib",  # HOG detector + 68-point shape predictor
}


def open_detector(name: str, landmarks_path: Path | None) -> tuple[FaceDetector, LandmarkFitter]:
    """The named backend's detector and landmark fitter, loaded."""
    if name not in DETECTORS:
        raise ValueError(f"unknown face detector {name!r}; detectors are {', '.join(DETECTORS)}")
    backend = importlib.import_module(DETECTORS[name])
    pair: tuple[FaceDetector, LandmarkFitter] = backend.open_backend(landmarks_path)
    return pair
