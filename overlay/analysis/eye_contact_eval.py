"""Scoring eye contact on labelled photos (the `eval eye-contact` command's work).

The labels are a CSV with a header: `image` (the photo's path, relative to the CSV's folder)
and `eye_contact` (1: looks into the camera, 0: does not), as in gaze/nitec_dev's
labels.csv; other columns are ignored. Each photo goes the live path: the face tracker
(started afresh on each photo) finds the faces and fits their landmarks, and the largest
face is read by the EyeContactEstimator. Scores are given on the photos with a face found,
and again with the others counted as "not looking" (probability 0), as a user meets them.
The models/eye_contact training recipe reads its photos through the same functions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

# photo_landmarks is re-exported: overlay.analysis.head_pose_eval imports it from here.
from overlay.analysis.labelled_photos import photo_landmarks as photo_landmarks
from overlay.analysis.labelled_photos import read_image, read_label_rows
from overlay.analysis.metrics import BinaryScores, binary_scores
from overlay.attention.eye_contact import EyeContactEstimator
from overlay.errors import DataError
from overlay.face.tracking import FaceTracker

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("image", "eye_contact")


@dataclass(frozen=True)
class LabelledPhoto:
    path: Path
    name: str  # as written in the CSV
    eye_contact: bool


@dataclass(frozen=True)
class PhotoResult:
    name: str
    label: bool
    probability: float | None  # None: no face found
    eye_contact: bool | None
    seconds: float  # reading the face (features and model), not finding it

    def to_json(self) -> dict[str, Any]:
        return {
            "image": self.name,
            "face_found": self.probability is not None,
            "eye_contact_prob": self.probability,
            "eye_contact": self.eye_contact,
        }


@dataclass(frozen=True)
class EyeContactReport:
    images: int
    faces_found: int
    threshold: float
    found: BinaryScores  # on the photos with a face found
    everything: BinaryScores  # every photo, no face counted as "not looking"
    ms_per_face: float

    def to_json(self) -> dict[str, Any]:
        return {
            "summary": True,
            "images": self.images,
            "face_found": self.faces_found,
            "coverage": self.faces_found / self.images if self.images else 0.0,
            "threshold": self.threshold,
            **self.found.to_json(),
            "missed_as_not_looking": self.everything.to_json(),
            "ms_per_face": self.ms_per_face,
        }


def read_labels(path: Path) -> list[LabelledPhoto]:
    """The photos and labels of a labels CSV; a missing file, column or photo, or a label not 0/1, is a DataError."""
    photos = []
    for line, row in read_label_rows(path, REQUIRED_COLUMNS):
        if row["eye_contact"].strip() not in ("0", "1"):
            raise DataError(f"{path}:{line}: eye_contact must be 0 or 1, got {row['eye_contact']!r}")
        photo = LabelledPhoto(path.parent / row["image"], row["image"], row["eye_contact"].strip() == "1")
        if not photo.path.is_file():  # before any photo is scored: a long run does not end on it
            raise DataError(f"{path}:{line}: image {photo.name!r} not found (looked for {photo.path})")
        photos.append(photo)
    return photos


def read_photo(photo: LabelledPhoto) -> npt.NDArray[np.uint8]:
    return read_image(photo.path, photo.name)


def photo_faces(
    photos: Iterable[LabelledPhoto], tracker: FaceTracker
) -> Iterator[tuple[LabelledPhoto, npt.NDArray[np.uint8], npt.NDArray[np.float32] | None]]:
    """Each photo, its pixels and its largest face's landmarks (None: no face found)."""
    for photo in photos:
        image = read_photo(photo)
        yield photo, image, photo_landmarks(tracker, image)


def score_photos(
    photos: Iterable[LabelledPhoto], estimator: EyeContactEstimator, tracker: FaceTracker
) -> Iterator[PhotoResult]:
    """Each photo's eye contact, in order."""
    for photo, image, landmarks in photo_faces(photos, tracker):
        if landmarks is None:
            yield PhotoResult(photo.name, photo.eye_contact, None, None, 0.0)
            continue
        start = time.perf_counter()
        contact = estimator.estimate(image, landmarks)
        seconds = time.perf_counter() - start
        yield PhotoResult(photo.name, photo.eye_contact, contact.probability, contact.eye_contact, seconds)


def ms_per_face(estimator: EyeContactEstimator, photos: Iterable[LabelledPhoto], repeats: int = 5) -> float:
    """Median ms of features + model on one face, each face read `repeats` times in a row as
    live reads a face frame after frame (warm caches; the per-photo figure of `summarize` is cold)."""
    times = []
    for _, image, landmarks in photo_faces(photos, FaceTracker()):
        if landmarks is None:
            continue
        for _ in range(repeats):
            start = time.perf_counter()
            estimator.estimate(image, landmarks)
            times.append(time.perf_counter() - start)
    return 1000.0 * float(np.median(times)) if times else 0.0


def summarize(results: list[PhotoResult], threshold: float) -> EyeContactReport:
    if not results:
        raise DataError("no photos to score")
    found = [r for r in results if r.probability is not None]
    found_probabilities = [r.probability for r in found if r.probability is not None]
    labels = np.array([r.label for r in results])
    everything = np.array([0.0 if r.probability is None else r.probability for r in results])
    if not found:
        logger.warning("no face found in any of the %d photos", len(results))
    return EyeContactReport(
        images=len(results),
        faces_found=len(found),
        threshold=threshold,
        found=binary_scores([r.label for r in found], found_probabilities, threshold),
        everything=binary_scores(labels, everything, threshold),
        ms_per_face=1000.0 * float(np.median([r.seconds for r in found])) if found else 0.0,
    )


def format_eye_contact_report(report: EyeContactReport) -> str:
    """The report as a few readable lines."""

    def line(title: str, scores: BinaryScores) -> str:
        auc = "-" if scores.roc_auc is None else f"{scores.roc_auc:.3f}"
        return (
            f"{title}: n={scores.n}  MCC {scores.mcc:.3f}  ROC-AUC {auc}  accuracy {scores.accuracy:.3f} "
            f"(always yes {scores.always_yes_accuracy:.3f})  precision {scores.precision:.3f}  "
            f"recall {scores.recall:.3f}"
        )

    return "\n".join(
        [
            f"faces found in {report.faces_found} of {report.images} photos "
            f"({report.faces_found / report.images:.1%}); threshold {report.threshold:.3f}; "
            f"{report.ms_per_face:.2f} ms a face (median)",
            line("faces found", report.found),
            line("every photo (no face = not looking)", report.everything),
        ]
    )
