"""The face stage: one analysed frame in, faces, smoothed expression and blinks out.

For each frame it is given: find and follow faces (overlay.face.tracking), cut the user's
face as FER2013 frames it (overlay.face.align), read its expression with the project's
model (the same preprocessing as `eval face`), smooth it over time, update the blink
detector from the eye landmarks, and read where the user's head points and whether they
look into the camera (overlay.attention), with the looked-away spans that ended. Results
carry the capture timestamp of their frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

from overlay.attention.eye_contact import (
    EyeContact,
    EyeContactCalibration,
    EyeContactEstimator,
    EyeContactSettings,
    LookAwaySettings,
    LookAwayState,
    LookAwayTracker,
    LookedAway,
)
from overlay.attention.head_pose import HeadPose, HeadPoseEstimator, HeadPoseSettings
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
    head_pose: HeadPoseSettings = field(default_factory=HeadPoseSettings)
    eye_contact: EyeContactSettings = field(default_factory=EyeContactSettings)
    look_away: LookAwaySettings = field(default_factory=LookAwaySettings)
    # Eye contact is read this often (about 1 ms a face), the last reading held in between: a
    # look away counts from a second, so 10 a second follows it; 0 reads every frame.
    eye_contact_hz: float = 10.0


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
    head: HeadPose | None = None  # the user's, smoothed; None without a face
    eye_contact: EyeContact | None = None
    attention: LookAwayState | None = None
    looked_away: tuple[LookedAway, ...] = ()  # spans (> LookAwaySettings.min_away_s) that ended on this frame
    calibrating: bool = False  # the user is asked to look into the camera
    calibration: EyeContactCalibration | None = None  # made on this frame (the calibration just ended)
    calibration_failed: str = ""  # why the calibration that just ended could not be made


CALIBRATION_S = 3.0  # how long the user looks into the camera for `run --calibrate`


@dataclass
class _Calibrating:
    """An eye-contact calibration under way: the features of the frames seen since it began."""

    seconds: float
    started: float | None = None
    features: list[npt.NDArray[np.float32]] = field(default_factory=list)


ANALYSIS_MAX_SIDE = 1280  # frames larger than this (4K, 1440p) are tracked on a copy this size


class FaceStage:
    def __init__(self, settings: FaceStageSettings | None = None, model: FaceExpressionModel | None = None) -> None:
        self.settings = settings or FaceStageSettings()
        self._tracker = FaceTracker(self.settings.tracking)
        self._model = model or FaceExpressionModel(threads=1)
        self._smoother = ProbabilitySmoother(half_life_s=self.settings.smoothing_half_life_s)
        self._blinks = BlinkDetector(self.settings.blinks)
        self._head = HeadPoseEstimator(self.settings.head_pose)
        self._eyes = EyeContactEstimator(self.settings.eye_contact)
        self._away = LookAwayTracker(self._eyes.threshold, self.settings.look_away)
        self._last_timestamp: float | None = None
        self._calibrating: _Calibrating | None = None
        self._last_contact: tuple[float, EyeContact] | None = None  # when eye contact was last read, and what

    def _eye_contact_due(self, timestamp: float) -> bool:
        hz = self.settings.eye_contact_hz
        if self._calibrating is not None or self._last_contact is None or hz <= 0:
            return True
        return timestamp - self._last_contact[0] >= 1.0 / hz - 1e-3

    def start_calibration(self, seconds: float = CALIBRATION_S) -> None:
        """Calibrate eye contact on the next `seconds` of frames (the user looks into the camera)."""
        self._calibrating = _Calibrating(seconds)

    @property
    def eye_contact(self) -> EyeContactEstimator:
        """The eye-contact reader (its calibration belongs to the person: kept across reset())."""
        return self._eyes

    def reset(self) -> None:
        """Forget the faces, smoothing, blinks and looks seen so far (a new recording starts);
        the models stay loaded, which is what analysing many files one after another needs."""
        self._tracker.reset()
        self._smoother = ProbabilitySmoother(half_life_s=self.settings.smoothing_half_life_s)
        self._blinks = BlinkDetector(self.settings.blinks)
        self._head.reset()
        self._away.reset()
        self._last_timestamp = None
        self._last_contact = None

    def finish(self) -> tuple[LookedAway, ...]:
        """The end of a recording: a looked-away span still under way ends at the last frame."""
        if self._last_timestamp is None:
            return ()
        return tuple(self._away.finish(self._last_timestamp))

    def analyze(self, frame: VideoFrame) -> FaceAnalysis:
        faces = self._track(frame.image)
        user = faces[0] if faces else None
        raw = smoothed = None
        if user is not None:
            raw = self._model.predict_face(aligned_face_crop(frame.image, user.landmarks))
            smoothed = self._smoother.update(frame.timestamp, raw)
        events = self._blinks.update(frame.timestamp, None if user is None else user.landmarks)
        landmarks = None if user is None else user.landmarks
        height, width = frame.image.shape[:2]
        head = self._head.update(frame.timestamp, landmarks, (width, height))
        calibrating, calibration, failed = self._calibrating is not None, None, ""
        contact = None
        if landmarks is not None and self._eye_contact_due(frame.timestamp):
            features = self._eyes.features(frame.image, landmarks)
            if self._calibrating is not None:
                self._calibrating.features.append(features)
            contact = self._eyes.from_features(features)
            self._last_contact = (frame.timestamp, contact)
        elif landmarks is not None and self._last_contact is not None:
            contact = self._last_contact[1]
        else:
            self._last_contact = None
        if self._calibrating is not None:
            calibration, failed = self._calibration_step(frame.timestamp)
        looked_away = self._away.update(frame.timestamp, None if contact is None else contact.probability)
        self._last_timestamp = frame.timestamp
        return FaceAnalysis(
            timestamp=frame.timestamp,
            frame_index=frame.index,
            faces=faces,
            expression=smoothed,
            raw_expression=raw,
            blink=self._blinks.state(),
            blink_events=tuple(events),
            head=head,
            eye_contact=contact,
            attention=self._away.state(),
            looked_away=tuple(looked_away),
            calibrating=calibrating,
            calibration=calibration,
            calibration_failed=failed,
        )

    def _calibration_step(self, timestamp: float) -> tuple[EyeContactCalibration | None, str]:
        """Ends the calibration once its time is up: the calibration made, or why none could be."""
        calibrating = self._calibrating
        assert calibrating is not None
        if calibrating.started is None:
            calibrating.started = timestamp
        if timestamp - calibrating.started < calibrating.seconds:
            return None, ""
        self._calibrating = None
        try:
            return self._eyes.calibrate(calibrating.features), ""
        except ValueError as err:  # too few frames with a face
            return None, f"{err}: keep your face in view and run --calibrate again"

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
