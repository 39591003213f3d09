"""The dlib face detector backend: HOG face detection and the 68-point shape predictor.

The only module that imports dlib. The landmark file is Debian's (`libdlib-data`) or the one
`emotion-overlay models pull dlib-landmarks-68` fetched. Contract: overlay.face.detect.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import cv2
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
    """dlib's frontal HOG detector, without upsampling (the tracker shrinks frames less instead).

    It is five HOG filters: frontal, turned left, turned right, and frontal tilted either way.
    A face is what scores 0 or more on any of them. When nothing does, the best match of a
    turned-face filter from TURNED_THRESHOLD up is taken: heads turned 30-45 degrees score
    just below 0 there, while the near misses of the frontal filters on backgrounds and
    cartoons do not count. A near miss whose box sticks out of the frame's top may be a face
    cut off by the top edge (sitting close, looking up), which lacks the context above the
    brows that the window needs: its surroundings are searched again with rows added on top.
    Faces found at once are found exactly as before, at the same cost. Pointing'04 people 1-7
    in the webcam range (|yaw| <= 45, |pitch| <= 30): found in 92 % of the photos by the
    frontal rule alone, 99 % with both (bench/head_pose.py).
    """

    min_face_px = 80  # its sliding window: smaller faces are found only now and then
    TURNED_FILTERS: Final = frozenset({1, 2})
    TURNED_THRESHOLD: Final = -0.75  # no background scored this high on the face_presence and talking clips

    def __init__(self, dlib: Any) -> None:
        self._detector = dlib.get_frontal_face_detector()

    def detect(self, gray: npt.NDArray[np.uint8]) -> list[tuple[float, float, float]]:
        boxes, scores, filters = self._detector.run(gray, 0, self.TURNED_THRESHOLD)
        found = self._faces(boxes, scores, filters)
        cut_off = [(score, box) for box, score in zip(boxes, scores, strict=True) if box.top() < 0.1 * box.height()]
        if not found and cut_off:
            found = self._below_top_edge(gray, max(cut_off, key=lambda pair: pair[0])[1])
        return found

    def _faces(
        self, boxes: Any, scores: list[float], filters: list[int], shift: tuple[int, int] = (0, 0)
    ) -> list[tuple[float, float, float]]:
        """The boxes scoring 0 or more, else the best turned face from TURNED_THRESHOLD up, as
        (centre x, centre y, side) moved by shift (x, y)."""
        found = [box for box, score in zip(boxes, scores, strict=True) if score >= 0]
        if not found:
            turned = [
                (score, box)
                for box, score, kind in zip(boxes, scores, filters, strict=True)
                if kind in self.TURNED_FILTERS
            ]
            found = [max(turned, key=lambda pair: pair[0])[1]] if turned else []
        dx, dy = shift
        return [
            ((d.left() + d.right()) / 2 + dx, (d.top() + d.bottom()) / 2 + dy, (d.width() + d.height()) / 2)
            for d in found
        ]

    def _below_top_edge(self, gray: npt.NDArray[np.uint8], near: Any) -> list[tuple[float, float, float]]:
        """Faces around the box `near`, searched again with half a face of rows copied above the frame."""
        side = near.height()
        left, right = max(0, near.left() - side // 2), min(gray.shape[1], near.right() + side // 2)
        crop = gray[: min(gray.shape[0], near.bottom() + side // 2), left:right]
        if crop.size == 0:  # a box wholly outside the frame: nothing around it to search
            return []
        margin = side // 2
        padded = cv2.copyMakeBorder(crop, margin, 0, 0, 0, cv2.BORDER_REPLICATE)
        boxes, scores, filters = self._detector.run(padded, 0, self.TURNED_THRESHOLD)
        return self._faces(boxes, scores, filters, shift=(left, -margin))


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
