"""Export the trained face model to ONNX, verify it, measure it and write its JSON card.

    python models/face/export.py --checkpoint runs/face/best.pt

Writes models/face/face_expression.onnx and face_expression.json. Checks that onnxruntime
gives the same probabilities as PyTorch on a batch of val images, then scores the exported
file on the val split through the app's own code (overlay.analysis.evaluation) against FER2013's
labels and the FER+ majority labels, on the val faces framed other ways
(overlay.face.framing) and re-cut by the live path, and times it at batch 1 on one thread.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from network import FaceExpressionNet, WithSoftmax
from train import DEFAULT_DATA

from overlay.analysis.evaluation import evaluate_face, score_face_framings
from overlay.analysis.metrics import classification_report
from overlay.face.dataset import load_ferplus_votes, load_labelled_faces, read_face_image
from overlay.face.model import FaceExpressionModel
from overlay.face.preprocess import face_to_model_input
from overlay.labels import EMOTIONS
from overlay.models.bundled import sha256_of

HERE = Path(__file__).resolve().parent
OPSET = 17


def training_stages(checkpoint: dict[str, Any]) -> list[dict[str, Any]]:
    """The run that made this checkpoint and, through --init, the runs it started from."""
    stages = []
    while True:
        args = checkpoint["args"]
        stages.append(
            {
                key: args[key]
                for key in (
                    "labels",
                    "epochs",
                    "batch",
                    "lr",
                    "weight_decay",
                    "label_smoothing",
                    "class_weight_power",
                    "seed",
                    "warmup_epochs",
                    "precision",
                )
                if key in args
            }
            | {"best_epoch": checkpoint["epoch"]}
        )
        if args.get("init") in (None, "None"):
            return stages[::-1]
        checkpoint = torch.load(args["init"], map_location="cpu", weights_only=False)


def write_card(path: Path, card: dict[str, object]) -> None:
    path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=Path("runs/face/best.pt"))
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA / "fer2013")
    parser.add_argument("--ferplus", type=Path, help="FER+ votes CSV (default: DATA/ferplus_votes.csv)")
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument(
        "--flip-average",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="average each face with its mirror image inside the graph (the shipped model: off; it did not pay)",
    )
    args = parser.parse_args()

    checkpoint = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    net = FaceExpressionNet()
    net.load_state_dict(checkpoint["state_dict"])
    exported = WithSoftmax(net, flip_average=args.flip_average).eval()
    onnx_path = args.out / "face_expression.onnx"
    _export_onnx(exported, onnx_path)
    onnx.checker.check_model(onnx.load(str(onnx_path)))

    parameters = sum(p.numel() for p in net.parameters())
    stages = training_stages(checkpoint)
    card: dict[str, object] = {
        "name": "face_expression",
        "version": "2.1.0",
        "file": onnx_path.name,
        "sha256": sha256_of(onnx_path),
        "size_bytes": onnx_path.stat().st_size,
        "labels": list(EMOTIONS),
        "input": {
            "name": "face",
            "shape": ["N", 1, 48, 48],
            "dtype": "float32",
            "range": [0.0, 1.0],
            "preprocessing": "overlay.face.preprocess.face_to_model_input: BGR->grey (OpenCV weights), resize to "
            "48x48 (area when shrinking, bilinear when enlarging), /255. Live and analyze first cut the face "
            "FER2013-framed from the 68 dlib landmarks (overlay.face.align). Per-image standardisation "
            "(x - mean) / (std + 0.02) is inside the graph.",
        },
        "output": {"name": "probs", "shape": ["N", 7], "meaning": "softmax probabilities in label order"},
        "architecture": "in-graph per-image standardisation; VGG-style CNN on the 48x48 face: conv3x3-BN-ReLU "
        "stages 32x1 (48 px), 64x2 (24 px), 128x2 (12 px), 256x2 (6 px), each ending in max-pool; global "
        "average pool, dropout 0.4, linear, softmax"
        + (
            "; the probabilities are the mean over the face and its mirror image (in the graph)"
            if args.flip_average
            else ""
        ),
        "flip_average": args.flip_average,
        "parameters": parameters,
        "opset": OPSET,
        "training": {
            "data": "FER2013 train images (28,709) with the FER+ votes (10 annotators each) as soft targets; "
            "model selection on FER2013 val (PublicTest, 3,589) scored with the FER+ majority labels",
            "command": "bash models/face/reproduce.sh",
            "stages": stages,
        },
        "licence": "Weights: trained by the emotion-overlay project on FER2013 images (research data set, "
        "Goodfellow et al. 2013) with FER+ labels (Barsoum et al. 2016, MIT); see MODEL_CARD.md.",
    }
    write_card(onnx_path.with_suffix(".json"), card)

    # onnxruntime must agree with PyTorch on real inputs.
    val = load_labelled_faces(args.data / "val")
    batch = torch.from_numpy(val.inputs[:256])
    with torch.no_grad():
        reference = exported(batch).numpy()
    model = FaceExpressionModel(onnx_path, threads=2)
    max_abs_diff = float(np.abs(model.predict(val.inputs[:256]) - reference).max())
    if max_abs_diff > 1e-4:
        raise SystemExit(f"onnxruntime differs from PyTorch by {max_abs_diff:.2e}")

    ferplus_csv = args.ferplus or args.data / "ferplus_votes.csv"
    report = evaluate_face(args.data / "val", model)
    ferplus = evaluate_face(args.data / "val", model, ferplus_votes=ferplus_csv)
    majority = load_ferplus_votes(ferplus_csv, val.paths).majority
    scored = majority >= 0
    with torch.no_grad():  # the same network with and without the in-graph mirror average
        plain = WithSoftmax(net, flip_average=False).eval()(torch.from_numpy(val.inputs)).numpy().argmax(1)
        mirrored = WithSoftmax(net, flip_average=True).eval()(torch.from_numpy(val.inputs)).numpy().argmax(1)
    flip_comparison = {
        name: {"accuracy": r.accuracy, "macro_f1": r.macro_f1}
        for name, r in (
            ("plain", classification_report(majority[scored], plain[scored])),
            ("flip_average", classification_report(majority[scored], mirrored[scored])),
        )
    }
    framings = score_face_framings(
        [read_face_image(path) for path in val.paths],
        majority,
        lambda crops: model.predict(np.stack([face_to_model_input(crop) for crop in crops])),
    )

    latency_ms = _median_latency_ms(FaceExpressionModel(onnx_path, threads=1).predict, val.inputs)
    plain_latency_ms = _plain_latency_ms(net, val.inputs) if args.flip_average else latency_ms

    card["verification"] = {"onnxruntime_vs_pytorch_max_abs_diff": max_abs_diff, "batch": 256}
    card["metrics"] = {
        "val": report.to_json(),
        "val_ferplus": ferplus.to_json(),
        "val_ferplus_flip_average_vs_plain": flip_comparison,
        "val_ferplus_framings": {
            name: {"accuracy": r.accuracy, "macro_f1": r.macro_f1, "n": r.n} for name, r in framings.items()
        },
        "latency_ms_batch1_one_thread_median": round(latency_ms, 3),
        "latency_ms_without_flip_average": round(plain_latency_ms, 3),
    }
    write_card(onnx_path.with_suffix(".json"), card)
    print(
        f"exported {onnx_path} ({onnx_path.stat().st_size / 1e6:.2f} MB, {parameters} parameters); "
        f"max |ort - torch| {max_abs_diff:.1e}; val (FER+) accuracy {ferplus.accuracy:.4f} macro-F1 "
        f"{ferplus.macro_f1:.4f}; val (FER2013 labels) {report.accuracy:.4f} / {report.macro_f1:.4f} "
        f"(FER+ without the mirror average {flip_comparison['plain']['accuracy']:.4f} / "
        f"{flip_comparison['plain']['macro_f1']:.4f}); {latency_ms:.2f} ms per face ({plain_latency_ms:.2f} plain)"
    )


def _export_onnx(module: torch.nn.Module, path: Path) -> None:
    torch.onnx.export(
        module,
        (torch.zeros(1, 1, 48, 48),),
        str(path),
        opset_version=OPSET,
        dynamo=False,
        input_names=["face"],
        output_names=["probs"],
        dynamic_axes={"face": {0: "N"}, "probs": {0: "N"}},
    )


def _median_latency_ms(predict: Callable[[np.ndarray], object], inputs: np.ndarray) -> float:
    """Median batch-1 time over 1,000 calls, after 200 warm-up calls."""
    timings = []
    for i in range(1200):
        face = inputs[i % len(inputs)][np.newaxis]
        started = time.perf_counter()
        predict(face)
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings[200:])


def _plain_latency_ms(net: torch.nn.Module, inputs: np.ndarray) -> float:
    """Batch-1, one-thread latency of the network without the mirror average (for the card)."""
    import tempfile

    import onnxruntime as ort  # overlay (imported above) has turned its telemetry off

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "plain.onnx"
        _export_onnx(WithSoftmax(net).eval(), path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return _median_latency_ms(lambda face: session.run(None, {"face": face}), inputs)


if __name__ == "__main__":
    main()
