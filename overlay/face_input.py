"""Turning a face image into the face expression model's input.

This is the single implementation of the face model's preprocessing: `eval face`, the
training recipe in models/face/ and the live pipeline all call `face_to_model_input`.

Why the low-pass step: the FER2013 training split we train on is heavily blurred (about a
Gaussian of sigma 3 px at 48x48; its median contrast-normalised Laplacian variance is
0.0045, while the sharp val split's is 0.76). A model trained on it fails on sharp faces
(webcam crops, the val split). So every input is brought to the training images'
sharpness: a face sharper than that is Gaussian-blurred with the smallest sigma that gets
it there, and one already as soft (the training images themselves, a small face
enlarged) is left alone. Per-image brightness/contrast normalisation happens inside the
ONNX graph.
"""

from __future__ import annotations

from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

FACE_INPUT_SIZE: Final[int] = 48
# Median over FER2013 train of var(Laplacian(face)) / var(face), faces as float 0..255.
TRAINING_SHARPNESS: Final[float] = 0.0045
_BLUR_SIGMAS: Final[tuple[float, ...]] = tuple(0.25 * i for i in range(1, 33))  # 0.25 .. 8 px


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


def sharpness(face: npt.NDArray[np.float32]) -> float:
    """Contrast-normalised sharpness: variance of the Laplacian over the variance of the image."""
    laplacian = cv2.Laplacian(face, cv2.CV_32F, borderType=cv2.BORDER_REFLECT)
    return float(laplacian.var() / (face.var() + 1e-6))


def soften_to_training_sharpness(face: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Blur a float face just enough that it is no sharper than the training images."""
    if sharpness(face) <= TRAINING_SHARPNESS:
        return face

    def blur(sigma: float) -> npt.NDArray[np.float32]:
        return np.asarray(cv2.GaussianBlur(face, (0, 0), sigma, borderType=cv2.BORDER_REFLECT), dtype=np.float32)

    # Sharpness falls as sigma grows, so a binary search over the grid finds the smallest
    # sigma that is soft enough (the strongest if none is) in ~5 blurs instead of up to 32.
    low, high = 0, len(_BLUR_SIGMAS) - 1
    tried: dict[int, npt.NDArray[np.float32]] = {}
    while low < high:
        middle = (low + high) // 2
        tried[middle] = blur(_BLUR_SIGMAS[middle])
        if sharpness(tried[middle]) <= TRAINING_SHARPNESS:
            high = middle
        else:
            low = middle + 1
    return tried[low] if low in tried else blur(_BLUR_SIGMAS[low])


def face_to_model_input(face: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """A face crop (any size, grey or colour, uint8) as a float32 [1, 48, 48] array in [0, 1].

    The crop should be the face as FER2013 frames it: roughly from the eyebrows' top to the
    chin, square. Steps: grey (OpenCV's BGR weights); resize to 48x48 (area interpolation
    when shrinking, bilinear when enlarging); soften to the training sharpness; /255.
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
    softened = soften_to_training_sharpness(gray.astype(np.float32))
    return (softened / 255.0)[np.newaxis, :, :]
