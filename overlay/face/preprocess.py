"""Turning a face image into the face expression model's input.

This is the single implementation of the face model's preprocessing: `eval face`, the
training recipe in models/face/, `analyze` and the live pipeline all call
`face_to_model_input`. Per-image brightness/contrast normalisation happens inside the ONNX
graph, so nothing here depends on the lighting of the picture.
"""

from __future__ import annotations

from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

FACE_INPUT_SIZE: Final[int] = 48


def to_gray(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Grey version of a BGR, BGRA or already grey uint8 image."""
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    if image.ndim == 3 and image.shape[2] == 3:
        return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
    if image.ndim == 3 and image.shape[2] == 4:
        return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY), dtype=np.uint8)
    raise ValueError(f"expected a grey, BGR or BGRA image, got an array of shape {image.shape}")


def face_to_model_input(face: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """A face crop (any size, grey or colour, uint8) as a float32 [1, 48, 48] array in [0, 1].

    The crop should be the face as FER2013 frames it: roughly from the eyebrows' top to the
    chin, square (overlay.face.align cuts it so from the landmarks). Steps: grey (OpenCV's
    BGR weights); resize to 48x48 (area interpolation when shrinking, so a 1080p face is
    averaged rather than aliased; bilinear when enlarging); /255.
    """
    if face.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {face.dtype}")
    gray = to_gray(face)
    if gray.shape[0] < 2 or gray.shape[1] < 2:
        raise ValueError(f"face crop too small: {gray.shape[1]}x{gray.shape[0]}")
    if gray.shape != (FACE_INPUT_SIZE, FACE_INPUT_SIZE):
        shrinking = gray.shape[0] > FACE_INPUT_SIZE or gray.shape[1] > FACE_INPUT_SIZE
        interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
        gray = np.asarray(
            cv2.resize(gray, (FACE_INPUT_SIZE, FACE_INPUT_SIZE), interpolation=interpolation), dtype=np.uint8
        )
    return (gray.astype(np.float32) / 255.0)[np.newaxis, :, :]
