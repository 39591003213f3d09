"""Head pose per frame: yaw, pitch and roll in degrees from a face's 68 landmarks.

Signs are the person's own, whatever the camera shows (Pointing'04's labels use the same):
- yaw > 0: the head turned to the person's own right (unmirrored, the nose toward the image's
  left edge);
- pitch > 0: the face turned up;
- roll > 0: the head tilted toward the person's own right shoulder.
The angles are taken against the camera's axes: (0, 0, 0) is a face square to the image
plane (to a screen the camera sits on), wherever it is in the picture; Pointing'04's pitch
labels read so (level is 0 for tall and short people alike). `camera_yaw` and
`camera_pitch` say, in the same terms, where the camera is seen from the head: a face
turned to the lens has yaw == camera_yaw and pitch == camera_pitch (`degrees_off_camera`
is then 0). The field of view is what places the camera: with a wide one, a face near the
picture's edge that looks square at the screen is seen partly from the side.

How: OpenCV's SQPnP fits the 3D mean face of overlay.attention.face_shape to the 68 points
seen through a pinhole camera of the given horizontal field of view (principal point at the
frame's centre, square pixels, no distortion). The shape and the pitch's calibration were
fitted to Pointing'04's people (models/head_pose/fit.py): their labels are where people
pointed their face, at markers, and they tilt their head for about half of a look up or
down (the eyes do the rest) but turn it for nearly all of a look sideways, so the head's
pitch is scaled to the look it is part of. A mirrored frame (a selfie view) shows the mirror image's
pose: with `mirrored` set, yaw and roll are turned back to the person's own sides.

`HeadPoseEstimator` follows one face through video and smooths the angles with a one-euro
filter (Casiez et al. 2012): still heads steady, moving heads followed without lag.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from overlay.attention import face_shape


@dataclass(frozen=True, eq=False)
class FaceShape:
    """The 3D face that landmarks are fitted to, and the pitch's calibration."""

    points: npt.NDArray[np.float64]  # [68, 3] in OpenCV's axes (x right, y down, z away from the camera)
    pitch_gain: float  # the look's pitch per degree of the head's
    pitch_offset_deg: float  # added after the gain: the head's pitch that reads as level

    def __post_init__(self) -> None:
        if self.points.shape != (68, 3):
            raise ValueError(f"a face shape has 68 points in 3D, got an array of shape {self.points.shape}")


DEFAULT_FACE_SHAPE = FaceShape(
    np.ascontiguousarray(face_shape.MEAN_FACE, dtype=np.float64), face_shape.PITCH_GAIN, face_shape.PITCH_OFFSET_DEG
)


@dataclass(frozen=True)
class HeadPose:
    """One face's orientation in degrees (signs: the module's docstring)."""

    yaw: float
    pitch: float
    roll: float
    camera_yaw: float  # the pose that faces the camera: > 0 for a head right of the camera's axis (unmirrored)
    camera_pitch: float  # > 0 for a head below the camera's axis

    @property
    def degrees_off_camera(self) -> float:
        """The angle between where the face points and the direction to the camera."""
        facing, camera = _direction(self.yaw, self.pitch), _direction(self.camera_yaw, self.camera_pitch)
        return math.degrees(math.acos(max(-1.0, min(1.0, float(facing @ camera)))))

    def as_array(self) -> npt.NDArray[np.float64]:
        return np.array([self.yaw, self.pitch, self.roll, self.camera_yaw, self.camera_pitch])


@dataclass(frozen=True)
class HeadPoseSettings:
    # The camera's horizontal field of view: webcams are mostly 60-78 degrees (a laptop's
    # 65-70); 10 degrees off here moves yaw and pitch by 1-2 degrees on average, 3 near the edges.
    horizontal_fov_deg: float = 65.0
    mirrored: bool = False  # the frames are mirror images (a selfie view)
    # One-euro smoothing (HeadPoseEstimator only): the cut-off of a still head (0 turns
    # smoothing off) and how fast it opens with the head's speed (per degree a second).
    min_cutoff_hz: float = 1.0
    speed_coefficient: float = 0.02
    reset_after_s: float = 1.0  # a face lost longer than this is smoothed afresh

    def __post_init__(self) -> None:
        if not 10.0 <= self.horizontal_fov_deg <= 170.0:
            raise ValueError(f"horizontal_fov_deg must be 10-170, got {self.horizontal_fov_deg}")
        if self.min_cutoff_hz < 0 or self.speed_coefficient < 0 or self.reset_after_s <= 0:
            raise ValueError("head pose smoothing needs min_cutoff_hz >= 0, speed_coefficient >= 0, reset_after_s > 0")


def head_pose(
    landmarks: npt.NDArray[np.floating],
    frame_size: tuple[int, int],
    settings: HeadPoseSettings | None = None,
    shape: FaceShape = DEFAULT_FACE_SHAPE,
) -> HeadPose:
    """The pose of one face from its 68 landmarks [68, 2] (iBUG 300-W order) in the pixels of a
    frame of frame_size (width, height): those of the whole frame the landmarks are in."""
    settings = settings or HeadPoseSettings()
    width, height = frame_size
    focal = (width / 2) / math.tan(math.radians(settings.horizontal_fov_deg) / 2)
    camera = np.array([[focal, 0.0, width / 2], [0.0, focal, height / 2], [0.0, 0.0, 1.0]])
    points = np.ascontiguousarray(landmarks, dtype=np.float64).reshape(-1, 1, 2)
    _, rotation_vector, translation = cv2.solvePnP(shape.points, points, camera, None, flags=cv2.SOLVEPNP_SQPNP)
    rotation = np.asarray(cv2.Rodrigues(rotation_vector)[0], dtype=np.float64)
    tx, ty, tz = (float(v) for v in translation.ravel())
    camera_yaw, camera_pitch = math.atan2(tx, tz), math.atan2(ty, math.hypot(tx, tz))
    yaw, raw_pitch, roll = _angles(rotation)
    side = -1.0 if settings.mirrored else 1.0
    return HeadPose(
        yaw=side * yaw,
        pitch=shape.pitch_gain * raw_pitch + shape.pitch_offset_deg,
        roll=side * roll,
        camera_yaw=side * math.degrees(camera_yaw),
        camera_pitch=math.degrees(camera_pitch),
    )


def rotation_matrix(yaw: float, pitch: float, roll: float = 0.0) -> npt.NDArray[np.float64]:
    """R = Ry(yaw) Rx(-pitch) Rz(-roll), angles in radians, in OpenCV's axes (x right, y down,
    z away from the camera): the head turns, then nods, then tilts; a model-to-camera rotation."""
    cy, sy, cp, sp, cr, sr = (f(a) for a in (yaw, pitch, roll) for f in (math.cos, math.sin))
    turn = np.array([[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]])
    nod = np.array([[1.0, 0.0, 0.0], [0.0, cp, sp], [0.0, -sp, cp]])
    tilt = np.array([[cr, sr, 0.0], [-sr, cr, 0.0], [0.0, 0.0, 1.0]])
    rotation: npt.NDArray[np.float64] = turn @ nod @ tilt
    return rotation


def _angles(rotation: npt.NDArray[np.float64]) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of a rotation_matrix()."""
    pitch = math.asin(max(-1.0, min(1.0, float(rotation[1, 2]))))
    yaw = math.atan2(float(rotation[0, 2]), float(rotation[2, 2]))
    roll = -math.atan2(float(rotation[1, 0]), float(rotation[1, 1]))
    return math.degrees(yaw), math.degrees(pitch), math.degrees(roll)


def _direction(yaw: float, pitch: float) -> npt.NDArray[np.float64]:
    """The unit vector a face of this yaw and pitch points along (up to a sign shared by all)."""
    y, p = math.radians(yaw), math.radians(pitch)
    return np.array([math.sin(y) * math.cos(p), math.sin(p), math.cos(y) * math.cos(p)])


class HeadPoseEstimator:
    """The user's head pose frame by frame, smoothed; feed every analysed frame in order."""

    def __init__(self, settings: HeadPoseSettings | None = None) -> None:
        self.settings = settings or HeadPoseSettings()
        self._filter = _OneEuroFilter(self.settings.min_cutoff_hz, self.settings.speed_coefficient)
        self._last_seen: float | None = None

    def reset(self) -> None:
        """Forget the poses seen so far (another recording, or another person)."""
        self._filter.reset()
        self._last_seen = None

    def update(
        self, timestamp: float, landmarks: npt.NDArray[np.floating] | None, frame_size: tuple[int, int]
    ) -> HeadPose | None:
        """The smoothed pose of the face with these landmarks at this time; None without a face."""
        if landmarks is None:
            return None
        raw = head_pose(landmarks, frame_size, self.settings)
        if self._last_seen is not None and timestamp - self._last_seen > self.settings.reset_after_s:
            self._filter.reset()  # a face back after a while may have turned: no smoothing across
        self._last_seen = timestamp
        if self.settings.min_cutoff_hz == 0:
            return raw
        return HeadPose(*(float(v) for v in self._filter(timestamp, raw.as_array())))


class _OneEuroFilter:
    """Casiez, Roussel & Vogel's one-euro filter on a vector: a low-pass whose cut-off rises with speed."""

    DERIVATIVE_CUTOFF_HZ = 1.0

    def __init__(self, min_cutoff_hz: float, speed_coefficient: float) -> None:
        self.min_cutoff_hz = min_cutoff_hz
        self.speed_coefficient = speed_coefficient
        self.reset()

    def reset(self) -> None:
        self._time: float | None = None
        self._value = np.zeros(0)
        self._speed = np.zeros(0)

    def __call__(self, timestamp: float, value: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        if self._time is None:
            self._time, self._value, self._speed = timestamp, value.copy(), np.zeros_like(value)
            return value
        dt = timestamp - self._time
        if dt <= 0:  # the same moment again (or clocks out of order): nothing to smooth over
            return self._value
        self._time = timestamp
        speed = (value - self._value) / dt
        self._speed += _alpha(dt, self.DERIVATIVE_CUTOFF_HZ) * (speed - self._speed)
        cutoff = self.min_cutoff_hz + self.speed_coefficient * np.abs(self._speed)
        self._value = self._value + _alpha(dt, cutoff) * (value - self._value)
        return self._value


def _alpha(dt: float, cutoff_hz: npt.NDArray[np.float64] | float) -> npt.NDArray[np.float64]:
    """The smoothing factor of a first-order low-pass at this cut-off for a step of dt seconds."""
    tau = 1.0 / (2 * math.pi * np.asarray(cutoff_hz, dtype=np.float64))
    return np.asarray(1.0 / (1.0 + tau / dt), dtype=np.float64)
