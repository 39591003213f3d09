"""Cutting a face out of a frame the way FER2013 frames its faces, from 68 landmarks.

The expression model was trained on FER2013 crops, so the live pipeline must hand it faces
framed the same way: upright, the midpoint between the eyes at (0.497, 0.396) of the crop,
the eyes 0.364 of the crop's side apart and the mouth 0.401 below the eye midpoint. Those
figures are medians of dlib's 68-point landmarks on 422 FER2013 val faces, measured by
models/face/fer_geometry.py. Scale uses both distances, so that a turned head
(eyes closer together) is not zoomed in on.
"""

from __future__ import annotations

import math
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

from overlay.face.blinks import LEFT_EYE, RIGHT_EYE

FER_EYE_MIDPOINT: Final[tuple[float, float]] = (0.497, 0.396)
FER_EYE_DISTANCE: Final[float] = 0.364
FER_EYE_TO_MOUTH: Final[float] = 0.401
MOUTH = slice(48, 68)
MIN_CROP_SIDE: Final[int] = 48


def fer_crop_transform(landmarks: npt.NDArray[np.floating]) -> tuple[npt.NDArray[np.float64], int]:
    """The 2x3 affine map from frame to an upright FER-framed crop, and the crop's side in pixels.

    The crop keeps the face's own resolution (no downscaling here), so that the one resize
    in overlay.face.preprocess can use area interpolation and never aliases.
    """
    points = np.asarray(landmarks, dtype=np.float64)
    right_eye = points[RIGHT_EYE].mean(axis=0)
    left_eye = points[LEFT_EYE].mean(axis=0)
    eye_mid = (right_eye + left_eye) / 2
    eye_vector = left_eye - right_eye
    eye_distance = float(np.hypot(*eye_vector))
    mouth_distance = float(np.linalg.norm(points[MOUTH].mean(axis=0) - eye_mid))
    if eye_distance <= 0 or mouth_distance <= 0:
        raise ValueError("degenerate landmarks: eyes or mouth coincide")
    face_side = (eye_distance / FER_EYE_DISTANCE + mouth_distance / FER_EYE_TO_MOUTH) / 2
    side = max(MIN_CROP_SIDE, round(face_side))
    angle = math.atan2(eye_vector[1], eye_vector[0])
    scale = side / face_side
    cos, sin = math.cos(-angle) * scale, math.sin(-angle) * scale
    rotation = np.array([[cos, -sin], [sin, cos]])
    target = np.array([FER_EYE_MIDPOINT[0] * side, FER_EYE_MIDPOINT[1] * side])
    offset = target - rotation @ eye_mid
    return np.hstack([rotation, offset[:, np.newaxis]]), side


def aligned_face_crop(frame: npt.NDArray[np.uint8], landmarks: npt.NDArray[np.floating]) -> npt.NDArray[np.uint8]:
    """The FER-framed, upright square crop of the face with these 68 landmarks."""
    transform, side = fer_crop_transform(landmarks)
    crop = cv2.warpAffine(frame, transform, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return np.asarray(crop, dtype=np.uint8)
