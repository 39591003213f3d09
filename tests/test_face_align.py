"""Aligned crops frame a face as FER2013 does, whatever its size, position and tilt."""

import math

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from overlay.face.align import (
    FER_EYE_DISTANCE,
    FER_EYE_MIDPOINT,
    FER_EYE_TO_MOUTH,
    aligned_face_crop,
    fer_crop_transform,
)


def canonical_landmarks(side: float) -> npt.NDArray[np.float64]:
    """68 points placed where FER2013 puts eyes and mouth in a crop of this side."""
    points = np.zeros((68, 2))
    mx, my = FER_EYE_MIDPOINT[0] * side, FER_EYE_MIDPOINT[1] * side
    half = FER_EYE_DISTANCE * side / 2
    points[36:42] = (mx - half, my)
    points[42:48] = (mx + half, my)
    points[48:68] = (mx, my + FER_EYE_TO_MOUTH * side)
    return points


def textured_face(side: int) -> npt.NDArray[np.uint8]:
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (12, 12, 3)).astype(np.uint8)
    return np.asarray(cv2.resize(small, (side, side), interpolation=cv2.INTER_CUBIC), dtype=np.uint8)


def test_an_already_framed_face_is_returned_unchanged() -> None:
    face = textured_face(120)
    crop = aligned_face_crop(face, canonical_landmarks(120))
    assert crop.shape == (120, 120, 3)
    assert np.abs(crop.astype(int) - face.astype(int)).max() <= 1


@pytest.mark.parametrize(
    ("angle_deg", "scale", "shift"), [(20, 1.5, (300, 80)), (-35, 0.8, (40, 200)), (0, 3.0, (500, 150))]
)
def test_tilted_scaled_moved_face_comes_back_upright_and_framed(
    angle_deg: float, scale: float, shift: tuple[int, int]
) -> None:
    side = 120
    face = textured_face(side)
    # Put the face into a large frame: rotate about its centre, scale, move.
    matrix = cv2.getRotationMatrix2D((side / 2, side / 2), angle_deg, scale)
    matrix[:, 2] += shift
    frame = cv2.warpAffine(face, matrix, (1280, 720), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    points = canonical_landmarks(side)
    moved = points @ matrix[:, :2].T + matrix[:, 2]

    crop = aligned_face_crop(np.asarray(frame, dtype=np.uint8), moved)
    assert crop.shape[0] == pytest.approx(side * scale, abs=1)
    back = cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)
    inner = slice(20, 100)  # away from the replicated border
    error = np.abs(back[inner, inner].astype(int) - face[inner, inner].astype(int)).mean()
    assert error < 6, f"mean abs error {error:.1f}"


def test_transform_levels_the_eyes() -> None:
    points = canonical_landmarks(100)
    tilt = math.radians(30)
    rotation = np.array([[math.cos(tilt), -math.sin(tilt)], [math.sin(tilt), math.cos(tilt)]])
    transform, _side = fer_crop_transform(points @ rotation.T)
    eyes = np.array([points[36:42].mean(0), points[42:48].mean(0)]) @ rotation.T
    mapped = eyes @ transform[:, :2].T + transform[:, 2]
    assert mapped[0, 1] == pytest.approx(mapped[1, 1], abs=1e-6)


def test_degenerate_landmarks_are_rejected() -> None:
    with pytest.raises(ValueError, match="degenerate"):
        fer_crop_transform(np.zeros((68, 2)))
