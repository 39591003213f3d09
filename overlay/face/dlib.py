"""The dlib face detector backend: HOG face detection and the 68-point shape predictor.

The only module that imports dlib. The landmark file is Debian's (`libdlib-data`) or the one
`emotion-overlay models pull dlib-landmarks-68` fetched. Contract: overlay.face.detect.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from overlay.errors import ModelError

DEFAULT_LANDMARKS_PATH: Final[Path] = Path("/usr/share/dlib/shape_predictor_68_face_landmarks.dat")
LANDMARKS_HINT = (
    "install it with `sudo apt-get install libdlib-data` (Debian/Ubuntu) or `emotion-overlay models pull "
    "dlib-landmarks-68`, or point --landmarks at a copy of shape_predictor_68_face_landmarks.dat"
)


def default_landmarks_path() -> Path:
    """Debian's copy when installed, else the one `emotion-overlay models pull` fetched (or Debian's path)."""
    if DEFAULT_LANDMARKS_PATH.is_file():
        return DEFAULT_LANDMARKS_PATH
    from overlay.models.store import find_spec, installed_path

    return installed_path(find_spec("dlib-landmarks-68")) or DEFAULT_LANDMARKS_PATH


class DlibDetector:
    """dlib's frontal HOG detector, without upsampling (the tracker shrinks frames less instead)."""

    min_face_px = 80  # its sliding window: smaller faces are found only now and then

    def __init__(self, dlib: Any) -> None:
        self._detector = dlib.get_frontal_face_detector()

    def detect(self, gray: npt.NDArray[np.uint8]) -> list[tuple[float, float, float]]:
        return [
            ((d.left() + d.right()) / 2, (d.top() + d.bottom()) / 2, (d.width() + d.height()) / 2)
            for d in self._detector(gray, 0)
        ]


class DlibLandmarks:
    """dlib's 68-point shape predictor (~1 ms a face)."""

    def __init__(self, dlib: Any, path: Path) -> None:
        if not path.is_file():
            raise ModelError(f"face landmark model {path} not found; {LANDMARKS_HINT}")
        try:
            self._predictor = dlib.shape_predictor(str(path))
        except RuntimeError as err:
            raise ModelError(f"face landmark model {path} is unreadable ({err}); {LANDMARKS_HINT}") from err
        self._rectangle = dlib.rectangle

    def fit(self, gray: npt.NDArray[np.uint8], cx: float, cy: float, side: float) -> npt.NDArray[np.float32]:
        half = side / 2
        box = self._rectangle(int(cx - half), int(cy - half), int(cx + half), int(cy + half))
        shape = self._predictor(gray, box)
        return np.array([[shape.part(i).x, shape.part(i).y] for i in range(68)], dtype=np.float32)


def open_backend(landmarks_path: Path | None) -> tuple[DlibDetector, DlibLandmarks]:
    import dlib  # heavy; imported only when faces are tracked

    return DlibDetector(dlib), DlibLandmarks(dlib, landmarks_path or default_landmarks_path())
