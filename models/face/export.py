"""Export the trained face model to ONNX, verify it, measure it and write its JSON card.

    python models/face/export.py --checkpoint runs/face/best.pt

Writes models/face/face_expression.onnx and face_expression.json. Checks that onnxruntime
gives the same probabilities as PyTorch on a batch of val images, then scores the exported
file on the val split through the app's own code (overlay.evaluation) and times it at
batch 1 on one thread.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from network import FaceExpressionNet, WithSoftmax
from train import DEFAULT_DATA

from overlay.evaluation import evaluate_face
from overlay.face_dataset import load_labelled_faces
from overlay.face_model import FaceExpressionModel
from overlay.labels import EMOTIONS
from overlay.metrics import classification_report
from overlay.model_files import sha256_of

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
                for key in ("epochs", "batch", "lr", "weight_decay", "label_smoothing", "seed", "warmup_epochs")
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
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()

    checkpoint = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    net = FaceExpressionNet()
    net.load_state_dict(checkpoint["state_dict"])
    exported = WithSoftmax(net).eval()
    onnx_path = args.out / "face_expression.onnx"
    torch.onnx.export(
        exported,
        (torch.zeros(1, 1, 48, 48),),
        str(onnx_path),
        opset_version=OPSET,
        dynamo=False,
        input_names=["face"],
        output_names=["probs"],
        dynamic_axes={"face": {0: "N"}, "probs": {0: "N"}},
    )
    onnx.checker.check_model(onnx.load(str(onnx_path)))

    parameters = sum(p.numel() for p in net.parameters())
    stages = training_stages(checkpoint)
    card: dict[str, object] = {
        "name": "face_expression",
        "version": "1.0.0",
        "file": onnx_path.name,
        "sha256": sha256_of(onnx_path),
        "size_bytes": onnx_path.stat().st_size,
        "labels": list(EMOTIONS),
        "input": {
            "name": "face",
            "shape": ["N", 1, 48, 48],
            "dtype": "float32",
            "range": [0.0, 1.0],
            "preprocessing": "overlay.face_input.face_to_model_input: BGR->grey (OpenCV weights), resize to "
            "48x48 (area when shrinking, bilinear when enlarging), Gaussian blur with the smallest sigma "
            "that brings var(Laplacian)/var(image) to <= 0.0045 (the blurred FER2013 train split's median; "
            "softer faces are left alone), /255. Per-image standardisation (x - mean) / (std + 0.02) is "
            "inside the graph.",
        },
        "output": {"name": "probs", "shape": ["N", 7], "meaning": "softmax probabilities in label order"},
        "architecture": "in-graph per-image standardisation and 2x2 average pool to 24x24; VGG-style CNN: "
        "conv3x3-BN-ReLU stages 64x2, 128x3, 256x3 with max-pool; global average pool, dropout 0.4, linear, softmax",
        "parameters": parameters,
        "opset": OPSET,
        "training": {
            "data": "FER2013 train (28,709 images); model selection on FER2013 val (PublicTest, 3,589)",
            "command": "bash models/face/reproduce.sh",
            "stages": stages,
        },
        "licence": "Weights: trained by the emotion-overlay project on FER2013 (research data set, "
        "Goodfellow et al. 2013); see MODEL_CARD.md.",
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

    report = evaluate_face(args.data / "val", model)
    flipped = model.predict(val.inputs) + model.predict(val.inputs[:, :, :, ::-1].copy())
    tta = classification_report(val.labels, flipped.argmax(1))

    single = FaceExpressionModel(onnx_path, threads=1)
    timings = []
    for i in range(1200):
        face = val.inputs[i % len(val.inputs)][np.newaxis]
        started = time.perf_counter()
        single.predict(face)
        timings.append((time.perf_counter() - started) * 1000)
    latency_ms = statistics.median(timings[200:])

    card["verification"] = {"onnxruntime_vs_pytorch_max_abs_diff": max_abs_diff, "batch": 256}
    card["metrics"] = {
        "val": report.to_json(),
        "val_with_flip_tta": {"accuracy": tta.accuracy, "macro_f1": tta.macro_f1},
        "latency_ms_batch1_one_thread_median": round(latency_ms, 3),
    }
    write_card(onnx_path.with_suffix(".json"), card)
    print(
        f"exported {onnx_path} ({onnx_path.stat().st_size / 1e6:.2f} MB, {parameters} parameters); "
        f"max |ort - torch| {max_abs_diff:.1e}; val accuracy {report.accuracy:.4f} macro-F1 {report.macro_f1:.4f} "
        f"(flip TTA {tta.accuracy:.4f} / {tta.macro_f1:.4f}); {latency_ms:.2f} ms per face"
    )


if __name__ == "__main__":
    main()
