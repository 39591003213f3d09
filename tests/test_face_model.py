"""The shipped face expression model: found, verified, and sensible on real faces."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from overlay.errors import ModelError
from overlay.face.dataset import load_ferplus_votes, load_labelled_faces, read_face_image
from overlay.face.model import FaceExpressionModel
from overlay.labels import EMOTIONS
from overlay.models.bundled import bundled_model_path, sha256_of


def test_bundled_model_loads_and_matches_its_card() -> None:
    model = FaceExpressionModel()
    assert model.card.labels == EMOTIONS
    assert model.card.sha256 == sha256_of(model.path)
    assert model.path.stat().st_size <= 10 * 1024 * 1024  # the size limit


def test_probabilities_are_a_distribution_over_the_seven_labels() -> None:
    rng = np.random.default_rng(0)
    probs = FaceExpressionModel().predict(rng.random((5, 1, 48, 48), dtype=np.float32))
    assert probs.shape == (5, 7)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def _copy_model(tmp_path: Path) -> Path:
    onnx = bundled_model_path("face", "face_expression.onnx")
    shutil.copy(onnx, tmp_path / onnx.name)
    shutil.copy(onnx.with_suffix(".json"), tmp_path / onnx.with_suffix(".json").name)
    return tmp_path / onnx.name


def test_corrupted_model_is_refused_before_use(tmp_path: Path) -> None:
    copy = _copy_model(tmp_path)
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="checksum mismatch"):
        FaceExpressionModel(copy)


def test_truncated_model_is_refused(tmp_path: Path) -> None:
    copy = _copy_model(tmp_path)
    copy.write_bytes(copy.read_bytes()[:1000])
    with pytest.raises(ModelError, match="checksum mismatch"):
        FaceExpressionModel(copy)


def test_missing_model_or_card_says_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        FaceExpressionModel(tmp_path / "absent.onnx")
    copy = _copy_model(tmp_path)
    copy.with_suffix(".json").unlink()
    with pytest.raises(ModelError, match="card missing"):
        FaceExpressionModel(copy)


def _clear_val_faces(shared_data: Path, per_class: int) -> tuple[list[Path], list[int]]:
    """The first val faces (by file name) of each class on which at least 8 of the 10 FER+
    annotators agree (6 for disgust, which FER+ rarely agrees on): faces a person reads at once."""
    votes_csv = shared_data / "fer2013" / "ferplus_votes.csv"
    paths = tuple(sorted((shared_data / "fer2013" / "val").glob("*/*.jpg")))
    votes = load_ferplus_votes(votes_csv, paths).votes
    chosen: list[Path] = []
    labels: list[int] = []
    for label, name in enumerate(EMOTIONS):
        needed = 6 if name == "disgust" else 8
        clear = [p for p, v in zip(paths, votes, strict=True) if v[label] >= needed][:per_class]
        chosen += clear
        labels += [label] * len(clear)
    return chosen, labels


def test_clear_real_val_faces_of_every_class_come_out_right(shared_data: Path) -> None:
    paths, labels = _clear_val_faces(shared_data, per_class=6)
    model = FaceExpressionModel()
    predicted = np.array([int(model.predict_face(read_face_image(p)).argmax()) for p in paths])
    truth = np.array(labels)
    assert float(np.mean(predicted == truth)) >= 0.8, f"{np.sum(predicted == truth)} of {len(paths)} right"
    for label, name in enumerate(EMOTIONS):
        right = int(np.sum((predicted == label) & (truth == label)))
        assert right >= 3, f"{name}: {right} of {int(np.sum(truth == label))} clear faces right"


def test_real_val_faces_are_read_far_above_chance_against_ferplus(shared_data: Path) -> None:
    val = shared_data / "fer2013" / "val"
    faces = load_labelled_faces(val)
    majority = load_ferplus_votes(shared_data / "fer2013" / "ferplus_votes.csv", faces.paths).majority
    sample = np.flatnonzero(majority >= 0)[::10]  # every 10th scored face: ~340 of them
    predicted = FaceExpressionModel().predict(faces.inputs[sample]).argmax(axis=1)
    accuracy = float(np.mean(predicted == majority[sample]))
    assert accuracy >= 0.75, f"accuracy {accuracy:.2f} on {len(sample)} val faces (the card says 0.8+)"
    assert len(set(predicted.tolist())) >= 6  # no class is dead (disgust is rare in FER+)
