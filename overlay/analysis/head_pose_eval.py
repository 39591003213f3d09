"""Scoring head pose on labelled photos (the `eval head` command's work).

The labels are a CSV with a header: `image` (the photo's path, relative to the CSV's folder),
`yaw` and `pitch` in degrees with HeadPose's signs (yaw > 0: the person turned to their own
right; pitch > 0: face up), as in headpose/pointing04_dev's labels.csv; other columns are
ignored. Each photo goes the live path (overlay.analysis.labelled_photos: the face tracker
started afresh on each photo), and the largest face's pose is read by
overlay.attention.head_pose. Reported: the share of photos with a face found, and the mean
absolute error of yaw and pitch on those, in the webcam range (|yaw| <= 45, |pitch| <= 30:
what a user at a webcam does) and over all; and what the pose costs a face.
The models/head_pose recipe reads its photos through the same functions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from overlay.analysis.labelled_photos import photo_landmarks, read_image, read_label_rows
from overlay.attention.head_pose import HeadPose, HeadPoseSettings, head_pose
from overlay.errors import DataError
from overlay.face.tracking import FaceTracker

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS: Final = ("image", "yaw", "pitch")
WEBCAM_YAW: Final[float] = 45.0
WEBCAM_PITCH: Final[float] = 30.0


@dataclass(frozen=True)
class PosedPhoto:
    path: Path
    name: str  # as written in the CSV
    yaw: float
    pitch: float

    @property
    def in_webcam_range(self) -> bool:
        return abs(self.yaw) <= WEBCAM_YAW and abs(self.pitch) <= WEBCAM_PITCH


@dataclass(frozen=True)
class PoseResult:
    photo: PosedPhoto
    pose: HeadPose | None  # None: no face found
    seconds: float  # the pose alone, not finding the face

    def to_json(self) -> dict[str, Any]:
        pose = self.pose
        return {
            "image": self.photo.name,
            "face_found": pose is not None,
            "yaw": None if pose is None else round(pose.yaw, 2),
            "pitch": None if pose is None else round(pose.pitch, 2),
            "roll": None if pose is None else round(pose.roll, 2),
        }


@dataclass(frozen=True)
class PoseScores:
    """Coverage and mean absolute errors (degrees) over one set of photos; errors on the faces found."""

    images: int
    faces_found: int
    yaw_mae: float | None  # None: no face found
    pitch_mae: float | None

    @property
    def coverage(self) -> float:
        return self.faces_found / self.images if self.images else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "images": self.images,
            "face_found": self.faces_found,
            "coverage": round(self.coverage, 4),
            "yaw_mae": None if self.yaw_mae is None else round(self.yaw_mae, 2),
            "pitch_mae": None if self.pitch_mae is None else round(self.pitch_mae, 2),
        }


@dataclass(frozen=True)
class HeadPoseReport:
    webcam: PoseScores  # |yaw| <= 45, |pitch| <= 30
    everything: PoseScores
    horizontal_fov_deg: float
    ms_per_face: float  # median

    def to_json(self) -> dict[str, Any]:
        return {
            "summary": True,
            **self.everything.to_json(),
            "webcam_range": self.webcam.to_json(),
            "horizontal_fov_deg": self.horizontal_fov_deg,
            "ms_per_face": round(self.ms_per_face, 4),
        }


def read_labels(path: Path) -> list[PosedPhoto]:
    """The photos and poses of a labels CSV; a missing file or column, or a pose not in degrees, is a DataError."""
    photos = []
    for line, row in read_label_rows(path, REQUIRED_COLUMNS):
        try:
            yaw, pitch = float(row["yaw"]), float(row["pitch"])
        except ValueError as err:
            got = f"{row['yaw']!r}, {row['pitch']!r}"
            raise DataError(f"{path}:{line}: yaw and pitch must be numbers of degrees, got {got}") from err
        photos.append(PosedPhoto(path.parent / row["image"], row["image"], yaw, pitch))
    return photos


def photo_landmark_sets(
    photos: Iterable[PosedPhoto], tracker: FaceTracker
) -> Iterator[tuple[PosedPhoto, tuple[int, int], npt.NDArray[np.float32] | None]]:
    """Each photo, its size (width, height) and its largest face's landmarks (None: no face found)."""
    for photo in photos:
        image = read_image(photo.path, photo.name)
        yield photo, (image.shape[1], image.shape[0]), photo_landmarks(tracker, image)


def score_photos(
    photos: Iterable[PosedPhoto], tracker: FaceTracker, settings: HeadPoseSettings | None = None
) -> Iterator[PoseResult]:
    """Each photo's head pose, in order."""
    for photo, size, landmarks in photo_landmark_sets(photos, tracker):
        if landmarks is None:
            yield PoseResult(photo, None, 0.0)
            continue
        start = time.perf_counter()
        pose = head_pose(landmarks, size, settings)
        yield PoseResult(photo, pose, time.perf_counter() - start)


def scores_of(results: list[PoseResult]) -> PoseScores:
    found = [r for r in results if r.pose is not None]
    yaw = [abs(r.pose.yaw - r.photo.yaw) for r in found if r.pose is not None]
    pitch = [abs(r.pose.pitch - r.photo.pitch) for r in found if r.pose is not None]
    return PoseScores(
        images=len(results),
        faces_found=len(found),
        yaw_mae=float(np.mean(yaw)) if yaw else None,
        pitch_mae=float(np.mean(pitch)) if pitch else None,
    )


def summarize(results: list[PoseResult], settings: HeadPoseSettings | None = None) -> HeadPoseReport:
    if not results:
        raise DataError("no photos to score")
    found = [r.seconds for r in results if r.pose is not None]
    if not found:
        logger.warning("no face found in any of the %d photos", len(results))
    return HeadPoseReport(
        webcam=scores_of([r for r in results if r.photo.in_webcam_range]),
        everything=scores_of(results),
        horizontal_fov_deg=(settings or HeadPoseSettings()).horizontal_fov_deg,
        ms_per_face=1000.0 * float(np.median(found)) if found else 0.0,
    )


def format_head_pose_report(report: HeadPoseReport) -> str:
    """The report as a few readable lines."""

    def line(title: str, scores: PoseScores) -> str:
        errors = (
            "no face found"
            if scores.yaw_mae is None or scores.pitch_mae is None
            else f"MAE yaw {scores.yaw_mae:.2f} deg, pitch {scores.pitch_mae:.2f} deg"
        )
        return (
            f"{title}: faces found in {scores.faces_found} of {scores.images} photos ({scores.coverage:.1%}); {errors}"
        )

    return "\n".join(
        [
            line(f"webcam range (|yaw| <= {WEBCAM_YAW:g}, |pitch| <= {WEBCAM_PITCH:g})", report.webcam),
            line("all", report.everything),
            f"horizontal field of view {report.horizontal_fov_deg:g} deg; {report.ms_per_face:.3f} ms a face (median)",
        ]
    )
