"""The face stage: one analysed frame in, faces, smoothed expression and blinks out.

For each frame it is given: find and follow faces (overlay.face.tracking), cut the user's
face as FER2013 frames it (overlay.face.align), read its expression with the project's
model (the same preprocessing as `eval face`), smooth it over time, and update the blink
detector from the eye landmarks. Results carry the capture timestamp of their frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

from overlay.face.align import aligned_face_crop
from overlay.face.blinks import BlinkDetector, BlinkEvent, BlinkSettings, BlinkState
from overlay.face.model import FaceExpressionModel
from overlay.face.tracking import FaceTracker, FaceTrackingSettings, TrackedFace
from overlay.records import VideoFrame
from overlay.smoothing import ProbabilitySmoother


@dataclass(frozen=True)
class FaceStageSettings:
    tracking: FaceTrackingSettings = field(default_factory=FaceTrackingSettings)
    blinks: BlinkSettings = field(default_factory=BlinkSettings)
    smoothing_half_life_s: float = 0.5  # 0 turns smoothing off


@dataclass(frozen=True)
class FaceAnalysis:
    """What the face stage found in the frame captured at `timestamp`."""

    timestamp: float
    frame_index: int
    faces: tuple[TrackedFace, ...]
    expression: npt.NDArray[np.float32] | None  # smoothed, the user's face; None without a face
    raw_expression: npt.NDArray[np.float32] | None
    blink: BlinkState
    blink_events: tuple[BlinkEvent, ...]


ANALYSIS_MAX_SIDE = 1280  # frames larger than this (4K, 1440p) are tracked on a copy this size


class FaceStage:
    def __init__(self, settings: FaceStageSettings | None = None, model: FaceExpressionModel | None = None) -> None:
        self.settings = settings or FaceStageSettings()
        self._tracker = FaceTracker(self.settings.tracking)
        self._model = model or FaceExpressionModel(threads=1)
        self._smoother = ProbabilitySmoother(half_life_s=self.settings.smoothing_half_life_s)
        self._blinks = BlinkDetector(self.settings.blinks)

    def reset(self) -> None:
        """Forget the faces, smoothing and blinks seen so far (a new recording starts); the
        models stay loaded, which is what analysing many files one after another needs."""
        self._tracker.reset()
        self._smoother = ProbabilitySmoother(half_life_s=self.settings.smoothing_half_life_s)
        self._blinks = BlinkDetector(self.settings.blinks)

    def analyze(self, frame: VideoFrame) -> FaceAnalysis:
        faces = self._track(frame.image)
        user = faces[0] if faces else None
        raw = smoothed = None
        if user is not None:
            raw = self._model.predict_face(aligned_face_crop(frame.image, user.landmarks))
            smoothed = self._smoother.update(frame.timestamp, raw)
        events = self._blinks.update(frame.timestamp, None if user is None else user.landmarks)
        return FaceAnalysis(
            timestamp=frame.timestamp,
            frame_index=frame.index,
            faces=faces,
            expression=smoothed,
            raw_expression=raw,
            blink=self._blinks.state(),
            blink_events=tuple(events),
        )

    def _track(self, image: npt.NDArray[np.uint8]) -> tuple[TrackedFace, ...]:
        """Faces in frame pixels. A 4K frame is tracked on a copy scaled to ANALYSIS_MAX_SIDE
        (landmarks need no more; the expression crop is still cut from the full frame)."""
        side = max(image.shape[:2])
        if side <= ANALYSIS_MAX_SIDE:
            return tuple(self._tracker.track(image))
        scale = ANALYSIS_MAX_SIDE / side
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        return tuple(
            TrackedFace(
                box=tuple(round(v / scale) for v in face.box),
                landmarks=(face.landmarks / scale).astype(np.float32),
                primary=face.primary,
            )
            for face in self._tracker.track(np.asarray(small, dtype=np.uint8))
        )
