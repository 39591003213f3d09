"""Head pose: its signs on a face of known pose, real Pointing'04 photos, mirrored frames, smoothing, `eval head`."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import cv2
import dlib
import numpy as np
import numpy.typing as npt
import pytest

from overlay.analysis.head_pose_eval import read_labels
from overlay.analysis.labelled_photos import photo_landmarks
from overlay.attention.head_pose import (
    DEFAULT_FACE_SHAPE,
    HeadPose,
    HeadPoseEstimator,
    HeadPoseSettings,
    head_pose,
    rotation_matrix,
)
from overlay.errors import DataError
from overlay.face.dlib import DEFAULT_LANDMARKS_PATH, DlibDetector
from overlay.face.tracking import FaceTracker
from tests.conftest import run_cli

needs_landmarks = pytest.mark.skipif(
    not DEFAULT_LANDMARKS_PATH.is_file(), reason=f"{DEFAULT_LANDMARKS_PATH} absent (Debian package libdlib-data)"
)
SIZE = (1280, 720)
NOSE_TIP = 30


def seen(
    yaw: float, pitch: float, roll: float = 0.0, at: tuple[float, float, float] = (0.0, 0.0, 600.0)
) -> npt.NDArray[np.float64]:
    """The mean face's 68 points as a 65-degree camera sees them with this pose (pitch as head_pose reports it)."""
    shape = DEFAULT_FACE_SHAPE
    head_pitch = (pitch - shape.pitch_offset_deg) / shape.pitch_gain
    rotation = rotation_matrix(*(math.radians(a) for a in (yaw, head_pitch, roll)))
    focal = (SIZE[0] / 2) / math.tan(math.radians(65.0) / 2)
    camera = np.array([[focal, 0.0, SIZE[0] / 2], [0.0, focal, SIZE[1] / 2], [0.0, 0.0, 1.0]])
    points, _ = cv2.projectPoints(shape.points, cv2.Rodrigues(rotation)[0], np.array(at), camera, None)
    return np.asarray(points.reshape(68, 2), dtype=np.float64)


@pytest.mark.parametrize(("yaw", "pitch", "roll"), [(0, 0, 0), (30, 0, 0), (-40, 20, 0), (15, -25, 10), (0, 0, -15)])
def test_a_face_of_known_pose_reads_back(yaw: float, pitch: float, roll: float) -> None:
    pose = head_pose(seen(yaw, pitch, roll), SIZE)
    assert (pose.yaw, pose.pitch, pose.roll) == pytest.approx((yaw, pitch, roll), abs=0.5)


def test_signs_are_the_persons_own() -> None:
    """Yaw > 0: turned to the person's right (nose toward the image's left); pitch > 0: up; roll > 0: right shoulder."""
    frontal = seen(0, 0)
    turned, raised, tilted = seen(30, 0), seen(0, 25), seen(0, 0, 15)
    assert turned[NOSE_TIP, 0] - turned[:, 0].mean() < frontal[NOSE_TIP, 0] - frontal[:, 0].mean() - 10
    assert raised[NOSE_TIP, 1] - raised[:, 1].mean() < frontal[NOSE_TIP, 1] - frontal[:, 1].mean() - 5
    brow_to_chin = tilted[8] - tilted[27]  # chin below the brows' middle, swung toward the image's right
    assert brow_to_chin[0] > 0.1 * brow_to_chin[1]
    assert head_pose(turned, SIZE).yaw > 25 and head_pose(raised, SIZE).pitch > 20 and head_pose(tilted, SIZE).roll > 10


def test_the_camera_is_placed_by_the_field_of_view() -> None:
    """A face right of the camera's axis, square to the screen: yaw 0, the camera off to one side; facing it: 0 off."""
    at = (300.0, 0.0, 600.0)
    square = head_pose(seen(0, 0, at=at), SIZE)
    towards = math.degrees(math.atan2(at[0], at[2]))
    assert square.yaw == pytest.approx(0, abs=0.5)
    assert square.camera_yaw == pytest.approx(towards, abs=0.5)
    assert square.degrees_off_camera == pytest.approx(towards, abs=0.5)
    facing = head_pose(seen(towards, 0, at=at), SIZE)
    assert facing.degrees_off_camera == pytest.approx(0, abs=0.5)
    narrow = head_pose(seen(0, 0, at=at), SIZE, HeadPoseSettings(horizontal_fov_deg=40))
    assert narrow.camera_yaw < square.camera_yaw - 5  # the same pixels, a narrower view: nearer the axis
    with pytest.raises(ValueError, match="horizontal_fov_deg"):
        HeadPoseSettings(horizontal_fov_deg=5)


def test_the_estimator_smooths_a_still_head_and_follows_a_turn() -> None:
    rng = np.random.default_rng(1)
    estimator = HeadPoseEstimator()
    raw, smoothed = [], []
    for frame in range(60):
        landmarks = seen(0, 0) + rng.normal(0, 1.5, (68, 2))
        raw.append(head_pose(landmarks, SIZE).yaw)
        pose = estimator.update(frame / 30, landmarks, SIZE)
        assert pose is not None
        smoothed.append(pose.yaw)
    assert np.std(smoothed[10:]) < 0.5 * np.std(raw[10:])
    turned = [estimator.update((60 + frame) / 30, seen(30, 0), SIZE) for frame in range(15)]
    assert turned[-1] is not None and turned[-1].yaw == pytest.approx(30, abs=2)  # within half a second
    assert estimator.update(3.0, None, SIZE) is None
    after_gap = estimator.update(10.0, seen(-20, 0), SIZE)  # back after seconds: not smoothed toward the old pose
    assert after_gap is not None and after_gap.yaw == pytest.approx(-20, abs=0.5)
    unsmoothed = HeadPoseEstimator(HeadPoseSettings(min_cutoff_hz=0))
    noisy = seen(0, 0) + rng.normal(0, 1.5, (68, 2))
    unsmoothed.update(0.0, seen(30, 0), SIZE)
    assert unsmoothed.update(0.04, noisy, SIZE) == head_pose(noisy, SIZE)


@pytest.fixture(scope="module")
def pointing(shared_data: Path) -> Path:
    labels = shared_data / "headpose" / "pointing04_dev" / "labels.csv"
    if not labels.is_file():
        pytest.skip(f"Pointing'04 labels not found at {labels}")
    return labels


def photo(path: Path, flags: int = cv2.IMREAD_COLOR) -> npt.NDArray[np.uint8]:
    image = cv2.imread(str(path), flags)
    assert image is not None, path
    return np.asarray(image, dtype=np.uint8)


def mirror(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    return np.ascontiguousarray(image[:, ::-1])


def pose_of(image: npt.NDArray[np.uint8], settings: HeadPoseSettings | None = None) -> HeadPose:
    landmarks = photo_landmarks(FaceTracker(), image)
    assert landmarks is not None, "no face found"
    return head_pose(landmarks, (image.shape[1], image.shape[0]), settings)


# Five people, five poses of the webcam range.
PHOTOS = [
    ("Person02/person02146+0+0.jpg", 0, 0),
    ("Person03/person03131-15-30.jpg", -30, -15),
    ("Person04/person04161+15+30.jpg", 30, 15),
    ("Person05/person05143+0-45.jpg", -45, 0),
    ("Person06/person06120-30+0.jpg", 0, -30),
]


@needs_landmarks
@pytest.mark.parametrize(("name", "yaw", "pitch"), PHOTOS)
def test_real_photos_give_their_pose(pointing: Path, name: str, yaw: float, pitch: float) -> None:
    pose = pose_of(photo(pointing.parent / name))
    assert pose.yaw == pytest.approx(yaw, abs=12)
    assert pose.pitch == pytest.approx(pitch, abs=12)


@needs_landmarks
def test_a_mirrored_frame_reverses_yaw(pointing: Path) -> None:
    image = photo(pointing.parent / "Person05/person05143+0-45.jpg")  # turned 45 degrees to the person's left
    pose = pose_of(image)
    mirrored = pose_of(mirror(image))
    assert pose.yaw < -30 and mirrored.yaw > 30
    assert mirrored.yaw == pytest.approx(-pose.yaw, abs=5)
    assert mirrored.pitch == pytest.approx(pose.pitch, abs=5)
    told = pose_of(mirror(image), HeadPoseSettings(mirrored=True))  # a selfie view, said so: the person's sides
    assert told.yaw == pytest.approx(pose.yaw, abs=5)


@needs_landmarks
@pytest.mark.parametrize(
    "name",
    [
        "Person04/person04149+0+45.jpg",  # turned 45 degrees: only the turned-face filter finds it
        "Person06/person06272+30+0.jpg",  # looking up, the forehead cut off by the top edge
    ],
)
def test_faces_the_frontal_filter_misses_are_found(pointing: Path, name: str) -> None:
    with pointing.open(newline="") as handle:
        (row,) = [row for row in csv.DictReader(handle) if row["image"] == name]
    cx, cy, width = float(row["face_cx"]), float(row["face_cy"]), float(row["face_w"])
    gray = photo(pointing.parent / name, cv2.IMREAD_GRAYSCALE)
    assert not dlib.get_frontal_face_detector()(gray, 0)
    (found,) = DlibDetector(dlib).detect(gray)
    assert math.hypot(found[0] - cx, found[1] - cy) < 0.35 * width


@needs_landmarks
def test_eval_head_scores_a_person(pointing: Path, tmp_path: Path) -> None:
    """One person's webcam-range photos through the command: a line per photo, then the summary."""
    with pointing.open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["image"].startswith("Person02/")]
    chosen = [row for row in rows if abs(float(row["yaw"])) <= 45 and abs(float(row["pitch"])) <= 30]
    labels = tmp_path / "labels.csv"  # elsewhere: the image column may hold whole paths
    lines = [f"{pointing.parent / row['image']},{row['yaw']},{row['pitch']}\n" for row in chosen]
    labels.write_text("image,yaw,pitch\n" + "".join(lines))
    result = run_cli(["eval", "head", "--data", str(labels), "--json"])
    assert result.returncode == 0, result.stderr
    printed = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(printed) == len(chosen) + 1 == 71
    assert set(printed[0]) == {"image", "face_found", "yaw", "pitch", "roll"}
    summary = printed[-1]
    assert summary["summary"] is True and summary["webcam_range"]["images"] == 70
    assert summary["webcam_range"]["coverage"] >= 0.95
    assert summary["webcam_range"]["yaw_mae"] <= 10 and summary["webcam_range"]["pitch_mae"] <= 12


def test_eval_head_refuses_labels_without_pitch(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("image,yaw\na.jpg,0\n")
    with pytest.raises(DataError, match="pitch"):
        read_labels(labels)
    labels.write_text("image,yaw,pitch\na.jpg,left,0\n")
    with pytest.raises(DataError, match="degrees"):
        read_labels(labels)
