"""Fit the 3D mean face and the pitch calibration of overlay.attention.head_pose; measure them person by person.

    python models/head_pose/fit.py [--data LABELS.csv] [--pitch-share 0.5] [--write]

Data: headpose/pointing04_dev (Pointing'04 people 1-7, two series of 93 poses each). Each
photo goes the app's own path (overlay.analysis.head_pose_eval: the face tracker, fresh on
each photo, then the largest face's 68 landmarks), so the shape is fitted to the landmarks
the app computes.

The shape: 68 points in 3D, fitted by alternating least squares under scaled orthographic
projection, p = s * Rz(roll) * R(yaw, pitch) * X + t per photo, with each photo's yaw and
pitch its labels and its scale, roll (no label) and shift free: given the photos' fits,
each point is a 3x3 least-squares solve; given the points, each photo's is a 2D Procrustes
fit. The shape is kept mirror-symmetric (a point and its mirror partner are averaged after
each pass), centred, and scaled to 90 units between the outer eye corners (about
millimetres). Photos with |pitch| <= 60 are used (the +-90 looks are straight up and down).

The pitch: people point their face at a marker partly by turning the head and partly with
their eyes. Sideways the head turns almost all the way; up and down it tilts about half as
far (a shape fitted to the full pitch labels reads +-30 degree looks as +-15). The shape is
fitted to the labels' yaw and `--pitch-share` times their pitch, and the head's pitch is
scaled back by its inverse; an offset makes the median pitch error of the training people
in the webcam range zero. Three numbers are tuned here (the share, and the offset and gain
it implies); the rest is the shape.

Leave one person out: for each of the 7 people, the shape and offset are fitted on the other
six and the person is scored through head_pose() at its default field of view; the figures
are pooled. Then the shape is fitted on all seven; --write writes it to
overlay/attention/face_shape.py.
"""

from __future__ import annotations

import argparse
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from overlay.analysis.head_pose_eval import (
    WEBCAM_PITCH,
    WEBCAM_YAW,
    PosedPhoto,
    PoseResult,
    photo_landmark_sets,
    read_labels,
    scores_of,
)
from overlay.attention.head_pose import FaceShape, head_pose, rotation_matrix
from overlay.face.tracking import FaceTracker

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DEFAULT_DATA = Path(os.environ.get("EMOTION_OVERLAY_DATA", ROOT.parent / "shared" / "data"))
SHAPE_MODULE = ROOT / "overlay" / "attention" / "face_shape.py"
# Each 68-point landmark's mirror partner (iBUG 300-W order).
MIRROR = (
    list(range(16, -1, -1))
    + list(range(26, 16, -1))
    + [27, 28, 29, 30, 35, 34, 33, 32, 31]
    + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]
    + [64, 63, 62, 61, 60, 67, 66, 65]
)
OUTER_EYE_CORNERS = (36, 45)
EYE_CORNER_SPAN = 90.0
MAX_FIT_PITCH = 60.0
PASSES = 30


@dataclass(frozen=True)
class Sample:
    photo: PosedPhoto
    person: str
    size: tuple[int, int]
    landmarks: npt.NDArray[np.float32] | None


def symmetric(points: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    mirrored = points[MIRROR] * np.array([-1.0, 1.0, 1.0])
    return (points + mirrored) / 2


def fit_shape(samples: list[Sample], pitch_share: float) -> npt.NDArray[np.float64]:
    """The mirror-symmetric 3D face that best explains the samples' landmarks under their labelled poses."""
    used = [s for s in samples if s.landmarks is not None and abs(s.photo.pitch) <= MAX_FIT_PITCH]
    seen = [s.landmarks.astype(np.float64) for s in used if s.landmarks is not None]
    poses = [rotation_matrix(math.radians(s.photo.yaw), math.radians(pitch_share * s.photo.pitch)) for s in used]
    frontal = [p - p.mean(axis=0) for s, p in zip(used, seen, strict=True) if s.photo.yaw == 0 and s.photo.pitch == 0]
    points = np.zeros((68, 3))
    points[:, :2] = np.mean([p / np.sqrt((p**2).sum(axis=1).mean()) for p in frontal], axis=0)
    for _ in range(PASSES):
        normal, right = np.zeros((3, 3)), np.zeros((3, 68))
        for pose, landmarks in zip(poses, seen, strict=True):
            projection = _similarity(points @ pose.T, landmarks) @ pose[:2]  # 2x3: pose, then roll and scale
            shift = landmarks.mean(axis=0) - projection @ points.mean(axis=0)
            normal += projection.T @ projection
            right += projection.T @ (landmarks - shift).T
        points = symmetric(np.linalg.solve(normal, right).T)
        points -= points.mean(axis=0)
        left, right_corner = OUTER_EYE_CORNERS
        points *= EYE_CORNER_SPAN / float(np.linalg.norm(points[right_corner] - points[left]))
    return points


def _similarity(model: npt.NDArray[np.float64], seen: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The 2x2 scaled rotation (scale and roll) that best fits the model's x, y to the seen points (Procrustes)."""
    a = model[:, :2] - model[:, :2].mean(axis=0)
    b = seen - seen.mean(axis=0)
    cross = float((a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]).sum())
    dot = float((a * b).sum())
    angle, scale = math.atan2(cross, dot), math.hypot(cross, dot) / float((a**2).sum())
    c, s = math.cos(angle), math.sin(angle)
    return scale * np.array([[c, -s], [s, c]])


def calibrated(points: npt.NDArray[np.float64], samples: list[Sample], pitch_share: float) -> FaceShape:
    """The shape with its pitch gain, and the offset that zeroes the median pitch error in the webcam range."""
    gain = 1.0 / pitch_share
    raw = FaceShape(points, gain, 0.0)
    errors = [
        s.photo.pitch - head_pose(s.landmarks, s.size, shape=raw).pitch
        for s in samples
        if s.landmarks is not None and s.photo.in_webcam_range
    ]
    return FaceShape(points, gain, float(np.median(errors)))


def results(samples: list[Sample], shape: FaceShape) -> list[PoseResult]:
    return [
        PoseResult(s.photo, None if s.landmarks is None else head_pose(s.landmarks, s.size, shape=shape), 0.0)
        for s in samples
    ]


def describe(title: str, scored: list[PoseResult]) -> str:
    webcam = scores_of([r for r in scored if r.photo.in_webcam_range])
    everything = scores_of(scored)
    return (
        f"{title:>10}: webcam range coverage {webcam.coverage:.3f}, MAE yaw {webcam.yaw_mae:.2f} pitch "
        f"{webcam.pitch_mae:.2f} | all coverage {everything.coverage:.3f}, MAE yaw {everything.yaw_mae:.2f} "
        f"pitch {everything.pitch_mae:.2f}"
    )


def write_module(shape: FaceShape, pitch_share: float, figures: str) -> None:
    rows = "\n".join(f"        [{x:.2f}, {y:.2f}, {z:.2f}]," for x, y, z in shape.points)
    SHAPE_MODULE.write_text(
        f'''"""The 3D mean face and pitch calibration of overlay.attention.head_pose (models/head_pose/fit.py wrote it).

Fitted to the 68 landmarks that the app's face tracker finds on Pointing'04 people 1-7
(N. Gourier, D. Hall, J. L. Crowley, "Estimating Face Orientation from Robust Detection of
Salient Facial Features", Pointing 2004, ICPR workshop; usable for any purpose with that
citation), with the head's pitch taken as {pitch_share:g} of the labelled look's (PITCH_GAIN
scales it back). Leave one person out, at head_pose's default field of view:
{figures}
Axes: x to the image's right, y down, z away from the camera (a frontal face); units about
millimetres (90 between the outer eye corners).
"""

from typing import Final

import numpy as np

MEAN_FACE: Final = np.array(
    [
{rows}
    ]
)
PITCH_GAIN: Final = {shape.pitch_gain:.4f}
PITCH_OFFSET_DEG: Final = {shape.pitch_offset_deg:.4f}
''',
        encoding="utf-8",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA / "headpose" / "pointing04_dev" / "labels.csv")
    parser.add_argument("--pitch-share", type=float, default=0.5, help="the head's share of a look's pitch")
    parser.add_argument("--write", action="store_true", help=f"write the shape fitted on everyone to {SHAPE_MODULE}")
    args = parser.parse_args()

    photos = read_labels(args.data)
    samples = [
        Sample(photo, photo.name.split("/")[0], size, landmarks)
        for photo, size, landmarks in photo_landmark_sets(photos, FaceTracker())
    ]
    print(f"{len(samples)} photos, {sum(s.landmarks is not None for s in samples)} with a face found")
    print(f"webcam range: |yaw| <= {WEBCAM_YAW:g}, |pitch| <= {WEBCAM_PITCH:g}; pitch share {args.pitch_share:g}")
    pooled: list[PoseResult] = []
    for person in sorted({s.person for s in samples}):
        training = [s for s in samples if s.person != person]
        shape = calibrated(fit_shape(training, args.pitch_share), training, args.pitch_share)
        scored = results([s for s in samples if s.person == person], shape)
        pooled += scored
        print(describe(person, scored) + f" (offset {shape.pitch_offset_deg:+.2f})")
    figures = describe("LOPO", pooled)
    print(figures)
    shape = calibrated(fit_shape(samples, args.pitch_share), samples, args.pitch_share)
    print(describe("fitted", results(samples, shape)) + " (on the people it was fitted to)")
    print(f"pitch gain {shape.pitch_gain:.3f}, offset {shape.pitch_offset_deg:+.2f} deg")
    if args.write:
        write_module(shape, args.pitch_share, figures.strip())
        print(f"wrote {SHAPE_MODULE}")


if __name__ == "__main__":
    main()
