"""Head pose on Pointing'04, and what it and the face detector's turned-face rule cost at 720p.

    python bench/head_pose.py [--data LABELS.csv] [--clip CLIP] [--empty-clip CLIP] [--frames 120] [--json]

Accuracy: `eval head`'s figures (the product's face tracker, fresh on each photo; head pose
at its default field of view): the share of photos with a face found and the mean absolute
yaw and pitch errors, in the webcam range (|yaw| <= 45, |pitch| <= 30) and over all. Beside
them, the same with the detector as it was before (dlib's frontal detector alone, a face
where it scores 0 or more: the coverage baseline).

Cost at 720p: --clip (a talking face) and --empty-clip (no face) letterboxed into 1280x720
grey frames, fed in order to the tracker with the detector now and before, in alternating
runs so that both see the same load: ms per frame, the CPU time of the thread (median of
the runs' means) and the wall time (mean, and p95: the frames that detect). Then one detection alone on a frame shrunk
as a search shrinks it, with and without a face; and head_pose() and
HeadPoseEstimator.update() per face.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import dlib
import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from overlay.analysis.head_pose_eval import read_labels, score_photos, summarize
from overlay.attention.head_pose import HeadPoseEstimator, HeadPoseSettings, head_pose
from overlay.face.dlib import DlibDetector
from overlay.face.tracking import FaceTracker
from overlay.sources.video_file import VideoFileSource

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("EMOTION_OVERLAY_DATA", ROOT.parent / "shared" / "data"))
SIZE = (1280, 720)
Frames = list[npt.NDArray[np.uint8]]


class FrontalOnly:
    """The detector before: dlib's frontal detector, a face where it scores 0 or more."""

    min_face_px = DlibDetector.min_face_px

    def __init__(self) -> None:
        self._detector = dlib.get_frontal_face_detector()

    def detect(self, gray: npt.NDArray[np.uint8]) -> list[tuple[float, float, float]]:
        return [
            ((d.left() + d.right()) / 2, (d.top() + d.bottom()) / 2, (d.width() + d.height()) / 2)
            for d in self._detector(gray, 0)
        ]


def tracker(before: bool) -> FaceTracker:
    made = FaceTracker()
    if before:
        made._detector = FrontalOnly()  # the one seam the tracker has for its detector is its name
    return made


def letterboxed(clip: Path, count: int) -> Frames:
    """The clip's first `count` frames, grey, fitted into SIZE with black bars."""
    frames: Frames = []
    width, height = SIZE
    with VideoFileSource(clip, paced=False) as source:
        while len(frames) < count and (frame := source.read()) is not None:
            grey = cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY)
            scale = min(width / grey.shape[1], height / grey.shape[0])
            small = cv2.resize(grey, (round(grey.shape[1] * scale), round(grey.shape[0] * scale)))
            canvas = np.zeros((height, width), dtype=np.uint8)
            top, left = (height - small.shape[0]) // 2, (width - small.shape[1]) // 2
            canvas[top : top + small.shape[0], left : left + small.shape[1]] = small
            frames.append(canvas)
    return frames


def accuracy(labels: Path) -> dict[str, Any]:
    photos = read_labels(labels)
    settings = HeadPoseSettings()
    return {
        name: summarize(list(score_photos(photos, tracker(before), settings)), settings).to_json()
        for name, before in (("now", False), ("before", True))
    }


def tracking_cost(frames: Frames, rounds: int = 5) -> dict[str, dict[str, float]]:
    """ms per frame of track() over the frames in order, now and before, runs alternating: the
    CPU time of this thread (what the face stage pays, whatever else the machine runs; the
    median over the runs of each run's mean) and the wall time (mean, and p95: the frames that
    detect)."""
    cpu: dict[str, list[float]] = {"now": [], "before": []}
    wall: dict[str, list[float]] = {"now": [], "before": []}
    for _ in range(rounds):
        for name in cpu:
            followed = tracker(name == "before")
            run_cpu = 0.0
            for frame in frames:
                start, start_cpu = time.perf_counter(), time.thread_time()
                followed.track(frame)
                run_cpu += time.thread_time() - start_cpu
                wall[name].append(1000 * (time.perf_counter() - start))
            cpu[name].append(1000 * run_cpu / len(frames))
    return {
        name: {
            "cpu_ms": statistics.median(cpu[name]),
            "wall_mean_ms": statistics.fmean(wall[name]),
            "wall_p95_ms": float(np.percentile(wall[name], 95)),
        }
        for name in cpu
    }


def median_ms(work: Callable[[], object], repeats: int = 15) -> float:
    work()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def detection_cost(face: npt.NDArray[np.uint8], empty: npt.NDArray[np.uint8]) -> dict[str, float]:
    """One detection on a frame shrunk as a search of a 720p frame shrinks it (faces from a tenth of its width)."""
    now, before = DlibDetector(dlib), FrontalOnly()
    scale = DlibDetector.min_face_px / (FaceTracker().settings.search_face_fraction * SIZE[0])

    def shrunk(frame: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        size = (round(SIZE[0] * scale), round(SIZE[1] * scale))
        return np.asarray(cv2.resize(frame, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)

    small_face, small_empty = shrunk(face), shrunk(empty)
    return {
        "face_now_ms": median_ms(lambda: now.detect(small_face)),
        "face_before_ms": median_ms(lambda: before.detect(small_face)),
        "empty_now_ms": median_ms(lambda: now.detect(small_empty)),
        "empty_before_ms": median_ms(lambda: before.detect(small_empty)),
    }


def pose_cost(frames: Frames) -> dict[str, float]:
    """ms per face of head_pose() and of the estimator's update (pose and smoothing), median over the clip."""
    followed = tracker(False)
    faces = [(i, faces[0].landmarks) for i, frame in enumerate(frames) if (faces := followed.track(frame))]
    estimator = HeadPoseEstimator()
    raw, smoothed = [], []
    for index, landmarks in faces:
        start = time.perf_counter()
        head_pose(landmarks, SIZE)
        middle = time.perf_counter()
        estimator.update(index / 30, landmarks, SIZE)
        raw.append(1000 * (middle - start))
        smoothed.append(1000 * (time.perf_counter() - middle))
    return {
        "faces": len(faces),
        "head_pose_ms": statistics.median(raw),
        "estimator_update_ms": statistics.median(smoothed),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA / "headpose" / "pointing04_dev" / "labels.csv")
    parser.add_argument("--clip", type=Path, default=DATA / "video" / "talking" / "1.mp4")
    parser.add_argument("--empty-clip", type=Path, default=DATA / "video" / "face_presence" / "no_face.mp4")
    parser.add_argument("--frames", type=int, default=120, help="frames of each clip")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    with_face, empty = letterboxed(args.clip, args.frames), letterboxed(args.empty_clip, args.frames)
    report = {
        "accuracy": accuracy(args.data),
        "tracking_720p_face": tracking_cost(with_face),
        "tracking_720p_empty": tracking_cost(empty),
        "detection_720p_search": detection_cost(with_face[0], empty[0]),
        "pose_720p": pose_cost(with_face),
    }
    if args.json:
        print(json.dumps(report))
        return
    for name, figures in report["accuracy"].items():
        webcam = figures["webcam_range"]
        print(
            f"detector {name:>6}: webcam range coverage {webcam['coverage']:.3f}, MAE yaw {webcam['yaw_mae']:.2f} "
            f"pitch {webcam['pitch_mae']:.2f} | all coverage {figures['coverage']:.3f}, MAE yaw "
            f"{figures['yaw_mae']:.2f} pitch {figures['pitch_mae']:.2f}"
        )
    for clip in ("face", "empty"):
        for name, cost in report[f"tracking_720p_{clip}"].items():
            print(
                f"tracking at 720p, {clip} clip, detector {name:>6}: CPU {cost['cpu_ms']:.2f} ms a frame, "
                f"wall {cost['wall_mean_ms']:.2f} (p95 {cost['wall_p95_ms']:.2f})"
            )
    detection = report["detection_720p_search"]
    print(
        f"one search detection at 720p: face {detection['face_now_ms']:.1f} ms (before "
        f"{detection['face_before_ms']:.1f}), no face {detection['empty_now_ms']:.1f} ms (before "
        f"{detection['empty_before_ms']:.1f})"
    )
    pose = report["pose_720p"]
    print(
        f"head pose at 720p: head_pose() {pose['head_pose_ms']:.3f} ms a face, estimator update "
        f"{pose['estimator_update_ms']:.3f} ms ({pose['faces']} faces)"
    )


if __name__ == "__main__":
    main()
