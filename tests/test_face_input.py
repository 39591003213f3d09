"""The face model's preprocessing is one function, used the same way by eval and live code."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from overlay.face.dataset import load_labelled_faces, read_face_image
from overlay.face.model import FaceExpressionModel
from overlay.face.preprocess import face_to_model_input
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


def test_a_sharp_48px_face_reaches_the_model_unchanged(fer_val: Path) -> None:
    """FER2013 faces are already 48x48 grey: the model sees their pixels as they are (no blur)."""
    val_face = read_face_image(next((fer_val / "happy").iterdir()))
    grey = cv2.cvtColor(val_face, cv2.COLOR_BGR2GRAY)
    np.testing.assert_array_equal(face_to_model_input(val_face)[0], grey / np.float32(255.0))


def test_a_large_face_is_averaged_down_not_aliased() -> None:
    """A 1080p-sized face of fine stripes shrinks to their mean grey (area interpolation)."""
    stripes = np.zeros((480, 480), dtype=np.uint8)
    stripes[:, ::2] = 255
    out = face_to_model_input(stripes)[0]
    assert abs(float(out.mean()) - 0.5) < 0.01
    assert float(out.std()) < 0.02
