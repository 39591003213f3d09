"""Eye contact with the camera: the bundled model on real NITEC photos, mirror images, calibration,
looked-away spans, the binary scores and `emotion-overlay eval eye-contact`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from overlay.analysis.eye_contact_eval import photo_landmarks, read_labels, read_photo, score_photos
from overlay.analysis.metrics import binary_scores, roc_auc
from overlay.attention.eye_contact import (
    EyeContactCalibration,
    EyeContactEstimator,
    EyeContactSettings,
    LookAwaySettings,
    LookAwayTracker,
    LookedAway,
)
from overlay.attention.eye_features import FEATURE_NAMES, N_FEATURES, eye_contact_features, mirror_map
from overlay.face.tracking import FaceTracker
from tests.conftest import run_cli, write_image

# Real photos of gaze/nitec_dev and the shipped model's probability for each; the verdict
# matches the label both for the shipped model and out of fold (cross-validation). Two show
# what head pose alone gets wrong: a frontal head whose eyes look away, a turned head whose
# eyes look into the camera. The tolerance leaves room for landmark fits that move a little
# when the face detector changes.
EXPECTED = {
    "images/015518.jpg": 0.05,  # head to the camera, eyes to the side: not looking
    "images/015687.jpg": 0.02,  # head to the camera, eyes down
    "images/015014.jpg": 0.89,  # head and eyes to the camera
    "images/015016.jpg": 0.90,
    "images/015008.jpg": 0.95,  # head turned, eyes to the camera: looking
    "images/015055.jpg": 0.97,
    "images/015012.jpg": 0.02,  # head and eyes turned away
    "images/015054.jpg": 0.01,
}
TOLERANCE = 0.12


@pytest.fixture(scope="module")
def nitec(shared_data: Path) -> Path:
    path = shared_data / "gaze" / "nitec_dev" / "labels.csv"
    if not path.is_file():
        pytest.skip(f"NITEC dev labels not found at {path}")
    return path


@pytest.fixture(scope="module")
def estimator() -> EyeContactEstimator:
    return EyeContactEstimator()


def test_real_photos_give_their_eye_contact(nitec: Path, estimator: EyeContactEstimator) -> None:
    photos = [photo for photo in read_labels(nitec) if photo.name in EXPECTED]
    assert len(photos) == len(EXPECTED)
    for result in score_photos(photos, estimator, FaceTracker()):
        assert result.probability is not None, f"{result.name}: no face found"
        assert result.probability == pytest.approx(EXPECTED[result.name], abs=TOLERANCE), result.name
        assert result.eye_contact == result.label, result.name


def test_a_mirrored_photo_reads_the_same(nitec: Path, estimator: EyeContactEstimator) -> None:
    """The features of a flipped photo are the mirror map of the photo's, and so is the verdict."""
    tracker = FaceTracker()
    matrix, offset = mirror_map()
    for photo in [photo for photo in read_labels(nitec) if photo.name in EXPECTED]:
        image = read_photo(photo)
        flipped = np.ascontiguousarray(image[:, ::-1])
        plain, mirrored = (_features(tracker, frame) for frame in (image, flipped))
        head = [FEATURE_NAMES.index(name) for name in ("head_yaw", "nose_x")]
        # dlib's fit of a strongly turned head is not exactly the mirror of its fit on the flipped photo.
        np.testing.assert_allclose((plain @ matrix + offset)[head], mirrored[head], atol=0.15)
        assert estimator.from_features(plain).probability == pytest.approx(
            estimator.from_features(mirrored).probability, abs=0.1
        )


def test_a_near_face_in_a_large_frame_reads_as_the_small_one(nitec: Path, estimator: EyeContactEstimator) -> None:
    """Features are free of scale: the photo enlarged 6x (eyes ~120 px wide, a face close to a
    1080p camera) with its landmarks scaled gives the same reading."""
    tracker = FaceTracker()
    for photo in [photo for photo in read_labels(nitec) if photo.name in EXPECTED]:
        image = read_photo(photo)
        landmarks = photo_landmarks(tracker, image)
        assert landmarks is not None
        large = np.asarray(cv2.resize(image, None, fx=6, fy=6, interpolation=cv2.INTER_CUBIC), dtype=np.uint8)
        small_reading = estimator.estimate(image, landmarks).probability
        assert estimator.estimate(large, landmarks * 6).probability == pytest.approx(small_reading, abs=0.1)


def _features(tracker: FaceTracker, image: np.ndarray) -> np.ndarray:
    landmarks = photo_landmarks(tracker, image)
    assert landmarks is not None
    return eye_contact_features(image, landmarks)


def test_the_bundled_card_carries_its_threshold_reference_and_figures(estimator: EyeContactEstimator) -> None:
    card = estimator.model.card.raw
    assert card["features"] == list(FEATURE_NAMES)
    assert 0 < estimator.threshold < 1
    cv = card["metrics"]["cross_validation"]
    assert cv["roc_auc"]["mean"] >= 0.85 and cv["mcc_nested_threshold"]["mean"] >= 0.5  # issue 27's targets
    assert estimator.model.reference.shape == (N_FEATURES,)


def _person(estimator: EyeContactEstimator, bias: np.ndarray) -> list[np.ndarray]:
    """Frames of someone looking into the camera whose features sit `bias` off the model's reference."""
    rng = np.random.default_rng(0)
    scale = estimator.model.reference_scale
    return [
        (estimator.model.reference + bias + rng.normal(0, 0.1, N_FEATURES) * scale).astype(np.float32)
        for _ in range(30)
    ]


def test_calibration_moves_a_person_onto_the_reference_look(estimator: EyeContactEstimator) -> None:
    calibrated = EyeContactEstimator(model=estimator.model)
    bias = np.zeros(N_FEATURES, dtype=np.float32)
    bias[FEATURE_NAMES.index("a_iris_x")] = bias[FEATURE_NAMES.index("b_iris_x")] = 0.1  # eyes read as turned
    frames = _person(calibrated, bias)
    before = calibrated.from_features(frames[0])
    calibration = calibrated.calibrate(frames)
    after = calibrated.from_features(frames[0])
    assert not before.calibrated and after.calibrated
    assert calibration.frames == 30 and calibration.probability_after > calibration.probability_before
    assert after.probability > before.probability
    np.testing.assert_allclose(calibration.shift, -bias, atol=0.05)
    calibrated.use_calibration(None)
    assert calibrated.from_features(frames[0]) == before


def test_calibration_is_capped_and_needs_enough_frames(estimator: EyeContactEstimator) -> None:
    settings = EyeContactSettings(calibration_min_frames=10, max_calibration_shift=2.0)
    calibrated = EyeContactEstimator(settings, model=estimator.model)
    far = _person(calibrated, 10 * calibrated.model.reference_scale)  # looking anywhere but the camera
    calibration = calibrated.calibrate(far)
    assert np.all(np.abs(calibration.shift) <= 2.0 * calibrated.model.reference_scale + 1e-6)
    with pytest.raises(ValueError, match="needs 10 frames"):
        calibrated.calibrate(far[:9])


def test_a_saved_calibration_comes_back_and_one_for_other_features_is_refused() -> None:
    calibration = EyeContactCalibration(tuple(float(i) for i in range(N_FEATURES)), 75, 0.3, 0.8)
    assert EyeContactCalibration.from_json(json.loads(json.dumps(calibration.to_json()))) == calibration
    stale = calibration.to_json() | {"features": ["x"] * N_FEATURES}
    with pytest.raises(ValueError, match="calibrate again"):
        EyeContactCalibration.from_json(stale)


def _feed(
    tracker: LookAwayTracker, spans: list[tuple[float, float, float | None]], fps: float = 25.0
) -> list[LookedAway]:
    """Frames at fps over each (start, end, probability) span; the events they produced."""
    events: list[LookedAway] = []
    for start, end, probability in spans:
        for i in range(round((end - start) * fps)):
            events += tracker.update(start + i / fps, probability)
    return events


def test_a_look_away_longer_than_a_second_is_one_event() -> None:
    tracker = LookAwayTracker(threshold=0.5)
    events = _feed(tracker, [(0.0, 1.0, 0.9), (1.0, 2.5, 0.1), (2.5, 4.0, 0.8)])
    assert len(events) == 1
    assert events[0].start == pytest.approx(1.0) and events[0].end == pytest.approx(2.5)
    assert not events[0].face_lost
    state = tracker.state()
    assert state.looking is True and state.away_since is None
    assert state.share == pytest.approx(2.5 / 3.96, abs=0.02)


def test_short_glances_and_single_frame_flickers_are_not_events() -> None:
    tracker = LookAwayTracker(threshold=0.5)
    assert _feed(tracker, [(0.0, 1.0, 0.9), (1.0, 1.8, 0.2), (1.8, 3.0, 0.9)]) == []  # 0.8 s away
    # One frame read as eye contact in the middle of a long look away does not split it.
    events = _feed(tracker, [(3.0, 4.0, 0.2), (4.0, 4.04, 0.7), (4.04, 5.0, 0.2), (5.0, 6.0, 0.9)])
    assert [(round(e.start, 2), round(e.end, 2)) for e in events] == [(3.0, 5.0)]


def test_a_lost_face_counts_as_away_unless_told_otherwise() -> None:
    tracker = LookAwayTracker(threshold=0.5)
    events = _feed(tracker, [(0.0, 1.0, 0.9), (1.0, 3.0, None), (3.0, 4.0, 0.9)])
    assert len(events) == 1 and events[0].face_lost
    ignoring = LookAwayTracker(threshold=0.5, settings=LookAwaySettings(no_face_is_away=False))
    assert _feed(ignoring, [(0.0, 1.0, 0.9), (1.0, 3.0, None), (3.0, 4.0, 0.9)]) == []
    assert ignoring.state().share == pytest.approx(1.0)


def test_finish_closes_the_span_under_way_and_reset_forgets() -> None:
    tracker = LookAwayTracker(threshold=0.5)
    assert _feed(tracker, [(0.0, 1.0, 0.9), (1.0, 3.0, 0.1)]) == []
    assert tracker.state().away_since == pytest.approx(1.0)
    events = tracker.finish(3.0)
    assert [(e.start, e.end) for e in events] == [(1.0, 3.0)]
    tracker.reset()
    assert tracker.state().share is None and tracker.finish(5.0) == []


def test_a_gap_between_frames_is_not_counted() -> None:
    tracker = LookAwayTracker(threshold=0.5)
    tracker.update(0.0, 0.9)
    tracker.update(0.1, 0.9)
    tracker.update(10.0, 0.1)  # paused for ten seconds
    tracker.update(10.1, 0.1)
    assert tracker.state().counted_s == pytest.approx(0.2)
    assert tracker.state().share == pytest.approx(0.5)


def test_binary_scores_match_hand_counts() -> None:
    scores = binary_scores([1, 1, 0, 0, 1], [0.9, 0.4, 0.6, 0.1, 0.7], threshold=0.5)
    # tp 2, fn 1, fp 1, tn 1
    assert (scores.accuracy, scores.precision, scores.recall) == pytest.approx((0.6, 2 / 3, 2 / 3))
    assert scores.mcc == pytest.approx((2 * 1 - 1 * 1) / np.sqrt(3 * 3 * 2 * 2))
    assert scores.roc_auc == pytest.approx(5 / 6)
    assert roc_auc([1, 0], [0.5, 0.5]) == pytest.approx(0.5)  # a tie counts half
    assert roc_auc([1, 1], [0.2, 0.3]) is None


def _labels(tmp_path: Path, nitec: Path, rows: list[tuple[str, int]]) -> Path:
    """A labels CSV in tmp_path whose image column points (relatively) at the given photos."""
    csv_path = tmp_path / "labels.csv"
    lines = ["image,eye_contact"] + [f"{os.path.relpath(path, tmp_path)},{label}" for path, label in rows]
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return csv_path


def test_eval_prints_a_line_per_photo_then_the_summary(tmp_path: Path, nitec: Path) -> None:
    photos = [photo for photo in read_labels(nitec) if photo.name in EXPECTED]
    blank = write_image(tmp_path / "no_face.png", seed=1, size=120)
    rows = [(str(photo.path), int(photo.eye_contact)) for photo in photos] + [(str(blank), 0)]
    result = run_cli(["eval", "eye-contact", "--data", str(_labels(tmp_path, nitec, rows)), "--json"])
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == len(rows) + 1
    for line in lines[:-1]:
        assert set(line) == {"image", "face_found", "eye_contact_prob", "eye_contact"}
    assert lines[-2]["face_found"] is False and lines[-2]["eye_contact_prob"] is None
    for line, photo in zip(lines[: len(photos)], photos, strict=True):
        assert line["face_found"] and line["eye_contact"] == photo.eye_contact
    summary = lines[-1]
    assert summary["summary"] is True and summary["images"] == len(rows)
    assert summary["face_found"] == len(photos) and summary["missed_as_not_looking"]["n"] == len(rows)
    assert {"mcc", "roc_auc", "accuracy", "precision", "recall", "coverage", "ms_per_face"} <= set(summary)


@pytest.mark.parametrize(
    ("content", "expected"),
    [("image,label\nx.jpg,1\n", "eye_contact missing"), ("image,eye_contact\nx.jpg,2\n", "must be 0 or 1")],
)
def test_eval_names_what_is_wrong_with_the_labels(tmp_path: Path, content: str, expected: str) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text(content, encoding="utf-8")
    result = run_cli(["eval", "eye-contact", "--data", str(labels)])
    assert result.returncode == 1 and result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and expected in errors[0] and "Traceback" not in result.stderr
