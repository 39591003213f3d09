"""Finding faces and their 68 landmarks in video frames, cheaply enough for every frame.

The detector and landmark fitter are a backend (overlay.face.detect; dlib by default).
Detection is the expensive part (dlib's HOG: ~6 ms on a 320 px wide frame, ~30 ms on 800),
so it runs only every few frames, on the frame shrunk just enough that the faces looked for
stay above the detector's smallest size (a fixed 320 px width lost every face under a
quarter of the frame's width). In between, each face
is followed through its own landmarks: the box for the next frame is the previous
landmarks' box scaled as the detector's box was, and the landmark fitter (~1 ms a face)
re-fits the 68 points. The largest face is the user's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

from overlay.face.detect import DETECTORS, open_detector
from overlay.face.preprocess import to_gray

logger = logging.getLogger(__name__)

# Between two analysed frames a real face changes size little; more means the fit slipped.
MAX_SIZE_CHANGE: Final[float] = 1.2
MAX_MOVE: Final[float] = 0.25  # of the face's size
# A held face is looked for again as if it were this much smaller: it may have moved away meanwhile.
TRACKED_SHRINK_MARGIN: Final[float] = 1.5


@dataclass(frozen=True)
class FaceTrackingSettings:
    landmarks_path: Path | None = None  # None: the backend's default (dlib: default_landmarks_path())
    detector: str = "dlib"  # a name in overlay.face.detect.DETECTORS
    # Frames between full detections while faces are held (a face that jumps or shrinks is
    # looked for at once: see track()). 20 instead of 10 saved 7-12 % of a core at 720p.
    redetect_every: int = 20
    search_every: int = 6  # frames between detections while none is held (after one is lost: the next frame)
    search_face_fraction: float = 0.1  # a search finds faces at least this share of the frame's width
    min_face_fraction: float = 0.06  # faces narrower than this share of the frame are ignored

    def __post_init__(self) -> None:
        if self.redetect_every < 1 or self.search_every < 1:
            raise ValueError(
                f"redetect_every and search_every must be 1 or more, got {self.redetect_every}, {self.search_every}"
            )
        if not 0 < self.min_face_fraction <= self.search_face_fraction <= 1:
            raise ValueError(
                "need 0 < min_face_fraction <= search_face_fraction <= 1, got "
                f"{self.min_face_fraction} and {self.search_face_fraction}"
            )
        if self.detector not in DETECTORS:
            raise ValueError(f"unknown face detector {self.detector!r}; detectors are {', '.join(DETECTORS)}")


@dataclass(frozen=True)
class TrackedFace:
    """A face in frame pixels: box (x, y, width, height), 68 landmarks [68, 2], and whether it is the user's."""

    box: tuple[int, int, int, int]
    landmarks: npt.NDArray[np.float32]
    primary: bool


@dataclass
class _Track:
    box: tuple[float, float, float]  # centre x, centre y, side of the detector-style box
    box_per_landmark_span: float  # detector box side / landmark bounding-box side, at detection


class FaceTracker:
    """Detect-then-track faces frame by frame; feed every analysed frame in order."""

    def __init__(self, settings: FaceTrackingSettings | None = None) -> None:
        self.settings = settings or FaceTrackingSettings()
        self._detector, self._fitter = open_detector(self.settings.detector, self.settings.landmarks_path)
        self._tracks: list[_Track] = []
        self._frames_since_detection = self.settings.search_every  # the first frame is searched

    def reset(self) -> None:
        """Drop the faces being followed (the next frame is from another recording)."""
        self._tracks = []
        self._frames_since_detection = self.settings.search_every

    def track(self, frame: npt.NDArray[np.uint8]) -> list[TrackedFace]:
        """Faces in this BGR or grey frame, largest (the user's) first."""
        gray = to_gray(frame)
        self._frames_since_detection += 1
        every = self.settings.redetect_every if self._tracks else self.settings.search_every
        detected = self._frames_since_detection >= every
        if detected:
            self._tracks = self._detect(gray)
            self._frames_since_detection = 0
        faces, consistent = self._follow(gray)
        if not consistent and not detected:
            # A face jumped or shrank (fast motion, occlusion): landmarks alone would drift
            # off it, so look again with the detector on this same frame.
            self._tracks = self._detect(gray)
            self._frames_since_detection = 0
            faces, _ = self._follow(gray)
        order = sorted(range(len(faces)), key=lambda i: faces[i].box[2] * faces[i].box[3], reverse=True)
        return [TrackedFace(faces[i].box, faces[i].landmarks, primary=(rank == 0)) for rank, i in enumerate(order)]

    def _follow(self, gray: npt.NDArray[np.uint8]) -> tuple[list[TrackedFace], bool]:
        """Fit landmarks in each track's box; False if any face was lost, jumped or changed size abruptly."""
        height, width = gray.shape
        faces: list[TrackedFace] = []
        kept: list[_Track] = []
        consistent = True
        for track in self._tracks:
            cx, cy, side = track.box
            points = self._landmarks(gray, cx, cy, side)
            low, high = points.min(axis=0), points.max(axis=0)
            span = float(max(high - low))
            centre = (low + high) / 2
            next_side = span * track.box_per_landmark_span
            inside = 0 <= centre[0] < width and 0 <= centre[1] < height
            steady = MAX_SIZE_CHANGE**-1 <= next_side / side <= MAX_SIZE_CHANGE
            if not inside or not steady or span < self.settings.min_face_fraction * width:
                consistent = False
                continue
            kept.append(_Track((float(centre[0]), float(centre[1]), next_side), track.box_per_landmark_span))
            box = (int(low[0]), int(low[1]), int(high[0] - low[0]), int(high[1] - low[1]))
            faces.append(TrackedFace(box, points, primary=False))
        if self._tracks and not faces:
            self._frames_since_detection = self.settings.search_every  # just lost: look again next frame
        self._tracks = kept
        return faces, consistent

    def _detection_scale(self, width: int) -> float:
        """How much to shrink the frame so that the faces looked for come out at the detector's
        smallest size: faces from search_face_fraction of the width up, and, while faces are
        held, those (with room to have shrunk) if they are larger. HOG's cost goes with the
        pixels it scans: on a 720p frame a search scans 800 px wide (~30 ms), a re-detection of
        a face a fifth of the width about 650 px (~20 ms), once every redetect_every frames."""
        sought = self.settings.search_face_fraction * width
        if self._tracks:
            sought = max(sought, min(track.box[2] for track in self._tracks) / TRACKED_SHRINK_MARGIN)
        return min(1.0, self._detector.min_face_px / sought)

    def _landmarks(self, gray: npt.NDArray[np.uint8], cx: float, cy: float, side: float) -> npt.NDArray[np.float32]:
        """The 68 points fitted in the square box of this centre and side."""
        return self._fitter.fit(gray, cx, cy, side)

    def _detect(self, gray: npt.NDArray[np.uint8]) -> list[_Track]:
        height, width = gray.shape
        scale = self._detection_scale(width)
        small: npt.NDArray[np.uint8] = (
            gray
            if scale == 1.0
            else np.asarray(
                cv2.resize(gray, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA),
                dtype=np.uint8,
            )
        )
        tracks = []
        for small_cx, small_cy, small_side in self._detector.detect(small):
            cx, cy, side = small_cx / scale, small_cy / scale, small_side / scale
            if side < self.settings.min_face_fraction * width:
                continue
            points = self._landmarks(gray, cx, cy, side)
            span = float(max(points.max(axis=0) - points.min(axis=0)))
            tracks.append(_Track((cx, cy, side), side / span if span > 0 else 1.0))
        return tracks
