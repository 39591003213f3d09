"""What the eye-contact model reads of a face: its eyes' pixels and its head's turn, from 68 landmarks.

Every feature is free of the picture's scale, so a 178 px photo and a 1080p frame give the
same numbers for the same look:
- Each eye is cut out upright into a small grey patch with its corners at fixed places
  (`EYE_PATCH`). The iris is the darkest disk of an iris' size inside the lids: GazeTracking
  thresholds the eye and takes the darkest blob's centroid, which wanders on eyes 20 px
  wide; a disk template averages over the whole iris. Per eye: the iris' place between the
  corners and off the lids' midline, how much brighter the white is on one side of it than
  the other, how much of the eye shows on each side, the eye's opening, the iris' contrast.
- The head's turn from the landmarks alone (weak perspective, so no camera matrix is
  needed and the angle is taken against the line from the camera, not its axis): the nose's
  distance to each side of the jaw, its drop toward the mouth, its offset along the eyes'
  line, the eyes' tilt and the ratio of the two eyes' widths.
Mirroring a face changes the features by a fixed linear map (`mirror_map`): the model reads
both the face and its mirror image and averages, so a selfie-mirrored camera reads the same.
"""

from __future__ import annotations

import math
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

from overlay.face.blinks import LEFT_EYE, RIGHT_EYE
from overlay.face.preprocess import to_gray

EYE_PATCH: Final[tuple[int, int]] = (32, 16)  # width, height of each eye's patch
EYE_SPAN: Final[float] = 0.7  # share of the patch's width between the eye's corners
IRIS_RADIUS: Final[float] = 0.2  # of the eye's width (corner to corner)
PER_EYE: Final[tuple[str, ...]] = ("iris_x", "iris_y", "sclera_balance", "visible_balance", "opening", "iris_contrast")
HEAD: Final[tuple[str, ...]] = ("head_yaw", "head_pitch", "nose_x", "eye_tilt", "eye_width_ratio")
# "a" is the eye on the image's left (landmarks 36-41), "b" the one on its right (42-47).
FEATURE_NAMES: Final[tuple[str, ...]] = (
    *(f"a_{name}" for name in PER_EYE),
    *(f"b_{name}" for name in PER_EYE),
    *HEAD,
)
N_FEATURES: Final[int] = len(FEATURE_NAMES)
NOSE_TIP, JAW_LEFT, JAW_RIGHT = 30, 0, 16
MOUTH = slice(48, 68)
# Per-eye features that change sign when the eye is mirrored (the rest keep their value;
# iris_x becomes 1 - iris_x), and head features that change sign.
_EYE_SIGN: Final[dict[str, float]] = {"sclera_balance": -1.0, "visible_balance": -1.0}
_HEAD_SIGN: Final[dict[str, float]] = {"head_yaw": -1.0, "nose_x": -1.0, "eye_tilt": -1.0, "eye_width_ratio": -1.0}

_WIDTH, _HEIGHT = EYE_PATCH
_CORNER_LEFT = (1 - EYE_SPAN) / 2 * _WIDTH
_EYE_WIDTH_PX = EYE_SPAN * _WIDTH
_ROWS, _COLUMNS = np.mgrid[:_HEIGHT, :_WIDTH].astype(np.float32)
_DISK_RADIUS = IRIS_RADIUS * _EYE_WIDTH_PX
_SUBPIXEL = 4  # fillPoly's fractional bits: lids placed to 1/16 px


def _disk(radius: float) -> npt.NDArray[np.float32]:
    """A filled disk of this radius in a square kernel."""
    reach = math.ceil(radius)
    offsets = np.mgrid[-reach : reach + 1, -reach : reach + 1]
    return np.asarray(np.hypot(offsets[0], offsets[1]) <= radius, dtype=np.float32)


_DISK: Final = _disk(_DISK_RADIUS)


def mirror_map() -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """(A, b) such that the features of the mirrored face are `features @ A + b`."""
    a = np.zeros((N_FEATURES, N_FEATURES), dtype=np.float32)
    b = np.zeros(N_FEATURES, dtype=np.float32)
    index = {name: i for i, name in enumerate(FEATURE_NAMES)}
    for source, target in (("a", "b"), ("b", "a")):  # the eyes swap sides
        for name in PER_EYE:
            i, j = index[f"{source}_{name}"], index[f"{target}_{name}"]
            if name == "iris_x":
                a[i, j], b[j] = -1.0, 1.0
            else:
                a[i, j] = _EYE_SIGN.get(name, 1.0)
    for name in HEAD:
        a[index[name], index[name]] = _HEAD_SIGN.get(name, 1.0)
    return a, b


def _eye_patch(
    gray: npt.NDArray[np.uint8], eye: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float64]]:
    """The eye's upright grey patch and its six lid points in the patch's pixels."""
    corner0, corner3 = eye[0], eye[3]
    vector = corner3 - corner0
    width = float(np.hypot(*vector))
    if width < 1.0:
        raise ValueError("degenerate eye landmarks: the corners coincide")
    scale = _EYE_WIDTH_PX / width
    source, origin = gray, np.zeros(2)
    if scale < 0.8:
        # A large eye (a near face, 1080p) is averaged down first: warpAffine's bilinear
        # sampling would alias it. Only a box around the eye is resized (cheap).
        half = width
        x0, y0 = (max(0, int(v - half)) for v in (corner0 + corner3) / 2)
        x1, y1 = min(gray.shape[1], x0 + int(2 * half) + 1), min(gray.shape[0], y0 + int(2 * half) + 1)
        factor = scale / 0.8
        box = gray[y0:y1, x0:x1]
        size = (max(1, round(box.shape[1] * factor)), max(1, round(box.shape[0] * factor)))
        source = np.asarray(cv2.resize(box, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
        origin = np.array([x0, y0], dtype=np.float64)
        eye = (eye - origin) * np.array([size[0] / box.shape[1], size[1] / box.shape[0]])
        corner0, corner3, vector = eye[0], eye[3], eye[3] - eye[0]
        scale = _EYE_WIDTH_PX / float(np.hypot(*vector))
    angle = math.atan2(vector[1], vector[0])
    cos, sin = math.cos(-angle) * scale, math.sin(-angle) * scale
    rotation = np.array([[cos, -sin], [sin, cos]])
    offset = np.array([_WIDTH / 2, _HEIGHT / 2]) - rotation @ ((corner0 + corner3) / 2)
    transform = np.hstack([rotation, offset[:, np.newaxis]])
    patch = cv2.warpAffine(source, transform, EYE_PATCH, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return np.asarray(patch, dtype=np.float32), eye @ rotation.T + offset


def _iris_features(patch: npt.NDArray[np.float32], lids: npt.NDArray[np.float64]) -> list[float]:
    """The six per-eye features (PER_EYE) of one eye patch."""
    mask8 = np.zeros((_HEIGHT, _WIDTH), dtype=np.uint8)
    cv2.fillPoly(mask8, [np.round(lids * (1 << _SUBPIXEL)).astype(np.int32)], 1, shift=_SUBPIXEL)
    mask = mask8.astype(np.float32)
    top = (lids[1, 1] + lids[2, 1]) / 2
    bottom = (lids[4, 1] + lids[5, 1]) / 2
    opening = float((bottom - top) / _EYE_WIDTH_PX)
    if mask.sum() < 5:  # a closed eye: no iris to find
        return [0.5, 0.0, 0.0, 0.0, opening, 0.0]
    inside = patch[mask8 > 0]
    low, high = np.percentile(inside, (5, 95))
    contrast = float(high - low) + 1e-3
    darkness = np.clip((high - patch) / contrast, 0.0, 1.0) * mask
    # Mean darkness under a disk centred on each pixel, favouring disks that lie inside the eye.
    dark_sum = cv2.filter2D(darkness, -1, _DISK, borderType=cv2.BORDER_CONSTANT)
    covered = cv2.filter2D(mask, -1, _DISK, borderType=cv2.BORDER_CONSTANT) + 1e-3
    score = dark_sum / covered * np.sqrt(covered / _DISK.sum())
    score[mask8 == 0] = -1.0
    peak = float(score.max())
    # Soft arg-max: a sub-pixel centre from the scores near the peak.
    weight = np.exp((score - peak) * 20.0) * (score > 0)
    total = float(weight.sum()) or 1.0
    cx = float((weight * _COLUMNS).sum()) / total
    cy = float((weight * _ROWS).sum()) / total
    left = mask * np.less(_COLUMNS, cx - _DISK_RADIUS)
    right = mask * np.greater(_COLUMNS, cx + _DISK_RADIUS)
    bright_left = float((patch * left).sum()) / (float(left.sum()) + 1e-3)
    bright_right = float((patch * right).sum()) / (float(right.sum()) + 1e-3)
    area = float(mask.sum())
    return [
        (cx - _CORNER_LEFT) / _EYE_WIDTH_PX,
        (cy - (top + bottom) / 2) / _EYE_WIDTH_PX,
        (bright_right - bright_left) / contrast,
        (float(left.sum()) - float(right.sum())) / area,
        opening,
        peak,
    ]


def _head_features(points: npt.NDArray[np.float64]) -> list[float]:
    """The head's turn, nod and tilt from the landmarks (HEAD)."""
    eye_a, eye_b = points[RIGHT_EYE].mean(axis=0), points[LEFT_EYE].mean(axis=0)
    middle = (eye_a + eye_b) / 2
    across = eye_b - eye_a
    distance = float(np.hypot(*across))
    if distance <= 0:
        raise ValueError("degenerate landmarks: the eyes coincide")
    along = across / distance
    down = np.array([-along[1], along[0]])
    nose = points[NOSE_TIP]
    to_left = float(np.hypot(*(nose - points[JAW_LEFT])))
    to_right = float(np.hypot(*(nose - points[JAW_RIGHT])))
    mouth_drop = float((points[MOUTH].mean(axis=0) - middle) @ down)
    width_a = float(np.hypot(*(points[39] - points[36])))
    width_b = float(np.hypot(*(points[45] - points[42])))
    return [
        (to_left - to_right) / (to_left + to_right + 1e-6),
        float((nose - middle) @ down) / mouth_drop if mouth_drop > 0 else 0.0,
        float((nose - middle) @ along) / distance,
        math.atan2(across[1], across[0]),
        math.log(max(width_a, 1e-3) / max(width_b, 1e-3)),
    ]


def eye_contact_features(image: npt.NDArray[np.uint8], landmarks: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
    """The N_FEATURES features (FEATURE_NAMES) of the face with these 68 landmarks in this BGR or grey frame.

    Only a box around the eyes is turned grey and read, so the cost does not grow with the frame.
    """
    points = np.asarray(landmarks, dtype=np.float64)
    eyes = points[RIGHT_EYE.start : LEFT_EYE.stop]
    # Each eye's patch reaches about 0.8 of an eye's width beyond its landmarks (more when
    # tilted): a margin of one width keeps every sampled pixel inside the box.
    margin = max(float(np.hypot(*(points[39] - points[36]))), float(np.hypot(*(points[45] - points[42])))) + 2
    low = np.maximum(np.floor(eyes.min(axis=0) - margin), 0).astype(int)
    high = np.ceil(eyes.max(axis=0) + margin).astype(int)
    box = image[low[1] : high[1], low[0] : high[0]]
    if box.shape[0] < 2 or box.shape[1] < 2:
        raise ValueError("the eyes' landmarks lie outside the frame")
    gray = to_gray(np.ascontiguousarray(box))
    local = points - low
    features: list[float] = []
    for eye in (RIGHT_EYE, LEFT_EYE):
        patch, lids = _eye_patch(gray, local[eye])
        features += _iris_features(patch, lids)
    features += _head_features(local)
    return np.asarray(features, dtype=np.float32)
