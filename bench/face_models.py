"""Our face expression model beside the peer mini-Xception on the FER2013 val split.

    python bench/face_models.py [--data DIR] [--peer ONNX] [--json]

Prints accuracy, macro-F1 and the median latency per face (batch 1, one onnxruntime thread)
of both models, measured in one run on the same images and the same machine. Each model
gets its own documented preprocessing; latency is the model call alone (our
preprocessing, timed separately, is reported as preprocess_ms_median).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from overlay.face_dataset import load_labelled_faces, read_face_image
from overlay.face_input import face_to_model_input, to_gray
from overlay.face_model import FaceExpressionModel
from overlay.metrics import classification_report

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EMOTION_OVERLAY_DATA", ROOT.parent / "shared" / "data")).parent

Predictor = Callable[[npt.NDArray[np.float32]], npt.NDArray[np.float32]]


def peer_inputs(paths: tuple[Path, ...]) -> npt.NDArray[np.float32]:
    """The peer's own preprocessing of the original files: grey -> 64x64 bilinear, x/255, -0.5, x2."""
    faces = [to_gray(read_face_image(path)) for path in paths]
    resized = np.stack([cv2.resize(face, (64, 64), interpolation=cv2.INTER_LINEAR) for face in faces])
    return ((resized.astype(np.float32) / 255.0 - 0.5) * 2.0)[..., np.newaxis]


def peer_predictor(path: Path) -> Predictor:
    """The peer model on NHWC inputs made by peer_inputs."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def predict(inputs: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        return np.asarray(session.run(None, {name: inputs})[0], dtype=np.float32)

    return predict


def measure(
    predict: Predictor, inputs: npt.NDArray[np.float32], labels: npt.NDArray[np.int64], runs: int
) -> dict[str, float]:
    predicted = np.concatenate([predict(inputs[i : i + 256]) for i in range(0, len(inputs), 256)]).argmax(1)
    report = classification_report(labels, predicted)
    for i in range(50):  # warm-up
        predict(inputs[i : i + 1])
    timings = []
    for i in range(runs):
        face = inputs[i % len(inputs)][np.newaxis]
        started = time.perf_counter()
        predict(face)
        timings.append((time.perf_counter() - started) * 1000)
    return {"accuracy": report.accuracy, "macro_f1": report.macro_f1, "latency_ms_median": statistics.median(timings)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED / "data" / "fer2013" / "val")
    parser.add_argument("--peer", type=Path, default=SHARED / "peers" / "peer_mini_xception.onnx")
    parser.add_argument("--runs", type=int, default=1000, help="batch-1 timings per model")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    faces = load_labelled_faces(args.data)
    ours = FaceExpressionModel(threads=1)
    results: dict[str, Any] = {
        "n": len(faces.labels),
        "ours": measure(ours.predict, faces.inputs, faces.labels, args.runs),
        "peer_mini_xception": measure(peer_predictor(args.peer), peer_inputs(faces.paths), faces.labels, args.runs),
    }
    raw = [read_face_image(path) for path in faces.paths[: min(args.runs, len(faces.paths))]]
    timings = []
    for image in raw:
        started = time.perf_counter()
        face_to_model_input(image)
        timings.append((time.perf_counter() - started) * 1000)
    results["ours"]["preprocess_ms_median"] = statistics.median(timings)
    if args.json:
        print(json.dumps(results))
        return
    print(f"FER2013 val, n = {results['n']}; latency: batch 1, one onnxruntime thread, median of {args.runs}")
    print(f"our preprocessing (grey, resize, soften): {results['ours']['preprocess_ms_median']:.3f} ms/face")
    print(f"{'model':<22}{'accuracy':>10}{'macro-F1':>10}{'ms/face':>10}")
    for name in ("ours", "peer_mini_xception"):
        r = results[name]
        print(f"{name:<22}{r['accuracy']:>10.4f}{r['macro_f1']:>10.4f}{r['latency_ms_median']:>10.3f}")


if __name__ == "__main__":
    main()
