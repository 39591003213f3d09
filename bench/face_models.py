"""Our face expression model beside the peer mini-Xception on the FER2013 val split.

    python bench/face_models.py [--data DIR] [--ferplus CSV] [--peer ONNX] [--framings] [--json]

Prints, for both models measured in one run on the same images and the same machine:
accuracy and macro-F1 against FER2013's own labels and against the FER+ majority labels
(ties, contempt, unknown and not-a-face left out), and the median latency per face (batch
1, one onnxruntime thread; the model call alone, our preprocessing timed apart). With
--framings, both models are also scored (FER+ labels) on the val faces framed the ways of
overlay.face.framing and re-cut by the live path: a framing neither model was trained on.
Each model gets its own documented preprocessing of the original files.
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

from overlay.analysis.evaluation import score_face_framings
from overlay.analysis.metrics import classification_report
from overlay.face.dataset import load_ferplus_votes, load_labelled_faces, read_face_image
from overlay.face.model import FaceExpressionModel
from overlay.face.preprocess import face_to_model_input, to_gray

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EMOTION_OVERLAY_DATA", ROOT.parent / "shared" / "data")).parent

Predictor = Callable[[npt.NDArray[np.float32]], npt.NDArray[np.float32]]
Images = list[npt.NDArray[np.uint8]]


def peer_inputs(faces: Images) -> npt.NDArray[np.float32]:
    """The peer's own preprocessing: grey -> 64x64 bilinear, x/255, -0.5, x2, NHWC."""
    resized = np.stack([cv2.resize(to_gray(face), (64, 64), interpolation=cv2.INTER_LINEAR) for face in faces])
    return ((resized.astype(np.float32) / 255.0 - 0.5) * 2.0)[..., np.newaxis]


def our_inputs(faces: Images) -> npt.NDArray[np.float32]:
    return np.stack([face_to_model_input(face) for face in faces])


def peer_predictor(path: Path) -> Predictor:
    """The peer model on NHWC inputs made by peer_inputs."""
    import onnxruntime as ort  # after overlay, which turns onnxruntime's telemetry off

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def predict(inputs: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        return np.asarray(session.run(None, {name: inputs})[0], dtype=np.float32)

    return predict


def batched(predict: Predictor, inputs: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    return np.concatenate([predict(inputs[i : i + 256]) for i in range(0, len(inputs), 256)])


def median_latency_ms(predict: Predictor, inputs: npt.NDArray[np.float32], runs: int) -> float:
    for i in range(50):  # warm-up
        predict(inputs[i : i + 1])
    timings = []
    for i in range(runs):
        face = inputs[i % len(inputs)][np.newaxis]
        started = time.perf_counter()
        predict(face)
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def measure(
    predict: Predictor,
    inputs: npt.NDArray[np.float32],
    own_labels: npt.NDArray[np.int64],
    ferplus: npt.NDArray[np.int64],
    runs: int,
) -> dict[str, Any]:
    predicted = batched(predict, inputs).argmax(1)
    own = classification_report(own_labels, predicted)
    scored = ferplus >= 0
    plus = classification_report(ferplus[scored], predicted[scored])
    return {
        "fer2013_labels": {"accuracy": own.accuracy, "macro_f1": own.macro_f1},
        "ferplus_majority": {"accuracy": plus.accuracy, "macro_f1": plus.macro_f1, "n": plus.n},
        "latency_ms_median": median_latency_ms(predict, inputs, runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED / "data" / "fer2013" / "val")
    parser.add_argument("--ferplus", type=Path, default=SHARED / "data" / "fer2013" / "ferplus_votes.csv")
    parser.add_argument("--peer", type=Path, default=SHARED / "peers" / "peer_mini_xception.onnx")
    parser.add_argument("--model", type=Path, help="our .onnx with its card (default: bundled)")
    parser.add_argument("--runs", type=int, default=1000, help="batch-1 timings per model")
    parser.add_argument("--framings", action="store_true", help="also score other framings (FER+ labels)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    faces = load_labelled_faces(args.data)
    ferplus = load_ferplus_votes(args.ferplus, faces.paths).majority
    raw: Images = [read_face_image(path) for path in faces.paths]
    ours = FaceExpressionModel(args.model, threads=1)
    peer = peer_predictor(args.peer)
    results: dict[str, Any] = {
        "n": len(faces.labels),
        "ours": measure(ours.predict, faces.inputs, faces.labels, ferplus, args.runs),
        "peer_mini_xception": measure(peer, peer_inputs(raw), faces.labels, ferplus, args.runs),
    }
    timings = []
    for image in raw[: args.runs]:
        started = time.perf_counter()
        face_to_model_input(image)
        timings.append((time.perf_counter() - started) * 1000)
    results["ours"]["preprocess_ms_median"] = statistics.median(timings)
    if args.framings:
        for name, predict in (
            ("ours", lambda crops: batched(ours.predict, our_inputs(crops))),
            ("peer_mini_xception", lambda crops: batched(peer, peer_inputs(crops))),
        ):
            reports = score_face_framings(raw, ferplus, predict)
            results[name]["framings"] = {
                framing: {"accuracy": r.accuracy, "macro_f1": r.macro_f1, "n": r.n} for framing, r in reports.items()
            }
    if args.json:
        print(json.dumps(results))
        return
    print_table(results, args.runs)


def print_table(results: dict[str, Any], runs: int) -> None:
    names = ("ours", "peer_mini_xception")
    print(f"FER2013 val, n = {results['n']}; latency: batch 1, one onnxruntime thread, median of {runs}")
    print(f"our preprocessing (grey, resize): {results['ours']['preprocess_ms_median']:.3f} ms/face")
    n_plus = results["ours"]["ferplus_majority"]["n"]
    print(f"{'':<20}{'FER2013 labels':>20}{f'FER+ majority (n={n_plus})':>28}")
    print(f"{'model':<20}{'accuracy':>10}{'macro-F1':>10}{'accuracy':>14}{'macro-F1':>14}{'ms/face':>10}")
    for name in names:
        r = results[name]
        own, plus = r["fer2013_labels"], r["ferplus_majority"]
        print(
            f"{name:<20}{own['accuracy']:>10.4f}{own['macro_f1']:>10.4f}"
            f"{plus['accuracy']:>14.4f}{plus['macro_f1']:>14.4f}{r['latency_ms_median']:>10.3f}"
        )
    if "framings" in results["ours"]:
        print("\nFER+ majority labels, val faces framed other ways: accuracy / macro-F1 (n)")
        print(f"{'framing':<20}{'ours':>22}{'peer':>22}")
        for framing, mine in results["ours"]["framings"].items():
            theirs = results["peer_mini_xception"]["framings"][framing]
            print(
                f"{framing:<20}{mine['accuracy']:>10.4f} / {mine['macro_f1']:.4f}"
                f"{theirs['accuracy']:>10.4f} / {theirs['macro_f1']:.4f}  ({mine['n']})"
            )


if __name__ == "__main__":
    main()
