"""The face model's preprocessing is one function, used the same way by eval and live code."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from overlay.face_dataset import load_labelled_faces, read_face_image
from overlay.face_input import TRAINING_SHARPNESS, face_to_model_input, sharpness
from overlay.face_model import FaceExpressionModel
from tests.conftest import write_image


def test_output_is_a_48x48_grey_crop_in_unit_range() -> None:
    face = np.full((120, 100, 3), 255, dtype=np.uint8)
    out = face_to_model_input(face)
    assert out.shape == (1, 48, 48)
    assert out.dtype == np.float32
    assert out.min() == pytest.approx(1.0)


def test_colour_and_grey_versions_of_a_face_give_the_same_input() -> None:
    rng = np.random.default_rng(0)
    colour = rng.integers(0, 256, (48, 48, 3)).astype(np.uint8)
    grey = np.asarray(cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
    np.testing.assert_array_equal(face_to_model_input(colour), face_to_model_input(grey))
    bgra = np.asarray(cv2.cvtColor(colour, cv2.COLOR_BGR2BGRA), dtype=np.uint8)
    np.testing.assert_array_equal(face_to_model_input(bgra), face_to_model_input(grey))


def test_bad_crops_are_rejected_with_a_reason() -> None:
    with pytest.raises(ValueError, match="uint8"):
        face_to_model_input(np.zeros((48, 48), dtype=np.float32))
    with pytest.raises(ValueError, match="too small"):
        face_to_model_input(np.zeros((1, 40), dtype=np.uint8))


def test_eval_and_live_paths_give_identical_predictions(tmp_path: Path) -> None:
    """`eval face` reads files into a batch; the live path passes one BGR crop at a time."""
    paths = [write_image(tmp_path / "happy" / f"{i}.png", seed=i, size=40 + 30 * i) for i in range(3)]
    model = FaceExpressionModel()
    batch = model.predict(load_labelled_faces(tmp_path).inputs)
    one_by_one = np.stack([model.predict_face(read_face_image(p)) for p in paths])
    np.testing.assert_allclose(batch, one_by_one, rtol=0, atol=1e-6)


def test_sharp_faces_are_softened_to_the_training_images_sharpness() -> None:
    # A sharp checkerboard-like face stand-in, far sharper than any FER2013 training image.
    rng = np.random.default_rng(1)
    sharp = rng.integers(0, 256, (48, 48)).astype(np.uint8)
    assert sharpness(sharp.astype(np.float32)) > 100 * TRAINING_SHARPNESS
    softened = face_to_model_input(sharp)[0] * 255
    assert sharpness(softened) <= TRAINING_SHARPNESS
    assert abs(float(softened.mean()) - float(sharp.mean())) < 2  # blurring keeps brightness


def test_faces_already_as_soft_as_the_training_images_are_left_alone() -> None:
    ramp = np.tile(np.linspace(0, 255, 48), (48, 1)).astype(np.uint8)  # no detail at all
    np.testing.assert_allclose(face_to_model_input(ramp)[0], ramp / 255.0, atol=1e-6)


def test_soft_faces_keep_their_pixels_and_sharp_val_faces_do_not(fer_val: Path) -> None:
    """A face as soft as the FER2013 training images passes through; a sharp val face is softened."""
    val_face = read_face_image(next((fer_val / "happy").iterdir()))
    grey = cv2.cvtColor(val_face, cv2.COLOR_BGR2GRAY).astype(np.float32)
    soft = cv2.GaussianBlur(grey, (0, 0), 4.0)
    soft_u8 = np.clip(np.rint(soft), 0, 255).astype(np.uint8)
    np.testing.assert_allclose(face_to_model_input(soft_u8)[0], soft_u8 / 255.0, atol=1e-6)
    assert not np.allclose(face_to_model_input(val_face)[0], grey / 255.0, atol=0.01)
