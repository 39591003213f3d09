"""Face crops framed other ways than FER2013 frames them: the face model's robustness checks.

A face reaches the model cut by the live path (overlay.face.align, from dlib's 68
landmarks) or by whatever tool made a data set, at any resolution and in any light. Each
framing here turns a 48x48 FER2013 face into the crop another framing would give (tighter,
looser, off-centre, tilted, far smaller or far larger, darker), and `live_path_crop` cuts
the face again exactly as the live pipeline would. `eval`-style scoring of these
(models/face/export.py, bench/face_models.py) shows whether the model falls apart on crops
it was not trained on. The network never trains on these functions' outputs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]


def _zoom(face: Image, factor: float, dx: float = 0.0, dy: float = 0.0) -> Image:
    """The crop `factor` times as wide (>1: looser), moved by (dx, dy) of its side; border replicated."""
    side = face.shape[0]
    centre = (side / 2 + dx * side, side / 2 + dy * side)
    matrix = cv2.getRotationMatrix2D(centre, 0.0, 1.0 / factor)
    matrix[:, 2] += (side / 2 - centre[0], side / 2 - centre[1])
    return np.asarray(cv2.warpAffine(face, matrix, (side, side), borderMode=cv2.BORDER_REPLICATE), dtype=np.uint8)


def _tilted(face: Image, degrees: float) -> Image:
    side = face.shape[0]
    matrix = cv2.getRotationMatrix2D((side / 2, side / 2), degrees, 1.0)
    return np.asarray(cv2.warpAffine(face, matrix, (side, side), borderMode=cv2.BORDER_REPLICATE), dtype=np.uint8)


def _resampled(face: Image, side: int) -> Image:
    """The face seen at `side` pixels (a far face or a 1080p one), handed over at that size."""
    interpolation = cv2.INTER_AREA if side < face.shape[0] else cv2.INTER_CUBIC
    return np.asarray(cv2.resize(face, (side, side), interpolation=interpolation), dtype=np.uint8)


def _dim(face: Image) -> Image:
    """A dim room: a third of the light, gamma-darkened, with sensor noise (seeded per face)."""
    rng = np.random.default_rng(int(face.sum()))
    dark = 255.0 * (face / 255.0) ** 1.8 / 3.0 + rng.normal(0.0, 3.0, face.shape)
    return np.clip(np.rint(dark), 0, 255).astype(np.uint8)


FRAMINGS: Final[dict[str, Callable[[Image], Image]]] = {
    "as_given": lambda face: face,
    "tight_0.8": lambda face: _zoom(face, 0.8),
    "loose_1.3": lambda face: _zoom(face, 1.3),
    "off_centre_10pct": lambda face: _zoom(face, 1.0, 0.1, -0.1),
    "tilted_20deg": lambda face: _tilted(face, 20.0),
    "small_20px": lambda face: _resampled(face, 20),
    "large_480px": lambda face: _resampled(face, 480),
    "dim_noisy": _dim,
}


class LivePathCropper:
    """Cuts a small face crop again the way the live pipeline cuts faces from a frame.

    The 48 px face is enlarged 4x (dlib's detector needs larger faces) and set in a frame
    twice its size (border replicated), then detected, fitted with the 68 landmarks and
    cut by overlay.face.align.aligned_face_crop, as `run` and `analyze` do.
    """

    ENLARGE: Final[int] = 4

    def __init__(self) -> None:
        from overlay.face.tracking import FaceTracker, FaceTrackingSettings

        self._tracker = FaceTracker(FaceTrackingSettings(redetect_every=1, search_every=1))

    def __call__(self, face: Image) -> Image | None:
        """The re-cut face, or None when the live path finds no face in it."""
        from overlay.face.align import aligned_face_crop

        side = face.shape[0] * self.ENLARGE
        big = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
        pad = side // 2
        frame = np.asarray(cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_REPLICATE), dtype=np.uint8)
        faces = self._tracker.track(frame)
        if not faces:
            return None
        return aligned_face_crop(frame, faces[0].landmarks)
