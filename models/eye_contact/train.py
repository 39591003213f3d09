"""Train, cross-validate, export and measure the eye-contact model; write its ONNX file and JSON card.

    python models/eye_contact/train.py            # or: bash models/eye_contact/reproduce.sh

Data: gaze/nitec_dev (914 CelebA photos with NITEC's eye-contact labels). Each photo goes
the app's own path (overlay.analysis.eye_contact_eval: the face tracker, then
overlay.attention.eye_features), so the model learns the features the app computes.
The set names no person, so the folds are by photo (stratified 5-fold, repeated): CelebA
holds about 20 photos of each of 10,177 celebrities, so 914 photos share a person rarely.

Model: standardised features -> 32 ReLU units -> logistic (scikit-learn's MLP, L2 alpha 1,
Adam, seeded), trained on each face and its mirror image (`mirror_map`); the ONNX graph
averages its reading of a face and of the mirrored face, as the folds were scored. The
threshold is the one with the best MCC on the pooled out-of-fold probabilities; the MCC
reported beside it picks each fold's threshold on that fold's training photos alone.

Calibration is measured on headpose/pointing04_dev (7 people, two series each): "looking
into the camera" is the frontal pose (yaw 0, pitch 0), every other pose is not; each series
is scored uncalibrated and calibrated on the same person's frontal photo of the other series
(one photo standing for the few seconds a user gives).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.model_selection import StratifiedKFold
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from overlay.analysis.eye_contact_eval import LabelledPhoto, ms_per_face, photo_faces, read_labels
from overlay.analysis.metrics import binary_scores, roc_auc
from overlay.attention.eye_contact import (
    LABELS,
    EyeContactEstimator,
    EyeContactModel,
    EyeContactSettings,
)
from overlay.attention.eye_features import FEATURE_NAMES, N_FEATURES, eye_contact_features, mirror_map
from overlay.face.tracking import FaceTracker
from overlay.models.bundled import sha256_of

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = Path(os.environ.get("EMOTION_OVERLAY_DATA", HERE.parents[1] / ".." / "shared" / "data"))
OPSET = 17
VERSION = "1.0.0"
HIDDEN = 32
ALPHA = 1.0
THRESHOLDS = np.round(np.arange(0.05, 0.951, 0.01), 2)
Array = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Features:
    x: Array  # [n, N_FEATURES], the photos with a face
    y: npt.NDArray[np.int64]
    found: npt.NDArray[np.bool_]  # [photos]
    labels: npt.NDArray[np.int64]  # [photos]


def extract(photos: list[LabelledPhoto]) -> Features:
    rows, ys, found = [], [], []
    for photo, image, landmarks in photo_faces(photos, FaceTracker()):
        found.append(landmarks is not None)
        if landmarks is not None:
            rows.append(eye_contact_features(image, landmarks))
            ys.append(int(photo.eye_contact))
    return Features(
        np.stack(rows).astype(np.float32),
        np.array(ys),
        np.array(found),
        np.array([int(p.eye_contact) for p in photos]),
    )


class MirroredMLP:
    """The shipped recipe: scaler + MLP fitted on faces and their mirror images; reads both and averages."""

    def __init__(self, seed: int = 0) -> None:
        self.mirror, self.offset = mirror_map()
        self.scaler = StandardScaler()
        self.mlp = MLPClassifier((HIDDEN,), alpha=ALPHA, max_iter=3000, random_state=seed)

    def fit(self, x: Array, y: npt.NDArray[np.int64]) -> MirroredMLP:
        both = np.vstack([x, x @ self.mirror + self.offset])
        self.mlp.fit(self.scaler.fit_transform(both), np.concatenate([y, y]))
        return self

    def predict(self, x: Array) -> npt.NDArray[np.float64]:
        plain = self.mlp.predict_proba(self.scaler.transform(x))[:, 1]
        mirrored = self.mlp.predict_proba(self.scaler.transform(x @ self.mirror + self.offset))[:, 1]
        return np.asarray((plain + mirrored) / 2)


def best_threshold(y: npt.NDArray[np.int64], p: npt.NDArray[np.float64]) -> float:
    return float(THRESHOLDS[int(np.argmax([binary_scores(y, p, t).mcc for t in THRESHOLDS]))])


def out_of_fold(x: Array, y: npt.NDArray[np.int64], folds: int, seed: int) -> npt.NDArray[np.float64]:
    p = np.zeros(len(y))
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y):
        p[test] = MirroredMLP().fit(x[train], y[train]).predict(x[test])
    return p


def cross_validate(data: Features, repeats: int) -> tuple[dict[str, Any], npt.NDArray[np.float64]]:
    """Repeated 5-fold figures; the pooled out-of-fold probabilities [repeats, n] for the threshold."""
    x, y = data.x, data.y
    runs, pooled = [], []
    for seed in range(repeats):
        p = np.zeros(len(y))
        said = np.zeros(len(y), dtype=bool)
        for train, test in StratifiedKFold(5, shuffle=True, random_state=seed).split(x, y):
            p[test] = MirroredMLP().fit(x[train], y[train]).predict(x[test])
            # The fold's threshold from its training photos only (an inner 3-fold run).
            threshold = best_threshold(y[train], out_of_fold(x[train], y[train], 3, seed))
            said[test] = p[test] >= threshold
        nested = binary_scores(y, said.astype(np.float64), 0.5)
        runs.append({"roc_auc": roc_auc(y, p), "mcc_nested_threshold": nested.mcc, "accuracy": nested.accuracy})
        pooled.append(p)
        print(f"repeat {seed}: ROC-AUC {runs[-1]['roc_auc']:.4f}, MCC (fold thresholds) {nested.mcc:.4f}", flush=True)
    summary = {
        key: {
            "mean": statistics.mean(r[key] for r in runs),
            "sd": statistics.stdev(r[key] for r in runs) if len(runs) > 1 else 0.0,
        }
        for key in runs[0]
    }
    return {"repeats": repeats, "folds": 5, "runs": runs, **summary}, np.stack(pooled)


def at_threshold(data: Features, pooled: npt.NDArray[np.float64], threshold: float) -> dict[str, Any]:
    """The out-of-fold scores at the shipped threshold, on faces found and with missed faces as "not looking"."""
    found, everything = [], []
    for p in pooled:
        found.append(binary_scores(data.y, p, threshold).to_json())
        full = np.zeros(len(data.labels))
        full[data.found] = p
        everything.append(binary_scores(data.labels, full, threshold).to_json())

    def mean(scores: list[dict[str, Any]]) -> dict[str, Any]:
        return {key: statistics.mean(s[key] for s in scores) for key in scores[0]}

    return {"faces_found": mean(found), "missed_as_not_looking": mean(everything)}


def _initializer(name: str, value: npt.ArrayLike) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value, dtype=np.float32), name)


def export_onnx(model: MirroredMLP, path: Path) -> None:
    """features [N, F] -> probs [N, 2] (away, eye_contact): the MLP on the face and on its mirror, averaged."""
    weights = [
        _initializer("mirror", model.mirror),
        _initializer("mirror_offset", model.offset),
        _initializer("mean", model.scaler.mean_),
        _initializer("scale", model.scaler.scale_),
        _initializer("w1", model.mlp.coefs_[0]),
        _initializer("b1", model.mlp.intercepts_[0]),
        _initializer("w2", model.mlp.coefs_[1]),
        _initializer("b2", model.mlp.intercepts_[1]),
        _initializer("half", [0.5]),
        _initializer("one", [1.0]),
    ]
    nodes = [
        helper.make_node("MatMul", ["features", "mirror"], ["mirror_mm"]),
        helper.make_node("Add", ["mirror_mm", "mirror_offset"], ["mirrored"]),
    ]
    for branch in ("features", "mirrored"):
        nodes += [
            helper.make_node("Sub", [branch, "mean"], [f"{branch}_c"]),
            helper.make_node("Div", [f"{branch}_c", "scale"], [f"{branch}_z"]),
            helper.make_node("MatMul", [f"{branch}_z", "w1"], [f"{branch}_h0"]),
            helper.make_node("Add", [f"{branch}_h0", "b1"], [f"{branch}_h1"]),
            helper.make_node("Relu", [f"{branch}_h1"], [f"{branch}_h"]),
            helper.make_node("MatMul", [f"{branch}_h", "w2"], [f"{branch}_o0"]),
            helper.make_node("Add", [f"{branch}_o0", "b2"], [f"{branch}_o"]),
            helper.make_node("Sigmoid", [f"{branch}_o"], [f"{branch}_p"]),
        ]
    nodes += [
        helper.make_node("Add", ["features_p", "mirrored_p"], ["p_sum"]),
        helper.make_node("Mul", ["p_sum", "half"], ["p"]),
        helper.make_node("Sub", ["one", "p"], ["q"]),
        helper.make_node("Concat", ["q", "p"], ["probs"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "eye_contact",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", N_FEATURES])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", len(LABELS)])],
        weights,
    )
    opset = [helper.make_opsetid("", OPSET)]
    graph_model = helper.make_model(graph, opset_imports=opset, producer_name="emotion-overlay")
    graph_model.ir_version = 8  # readable by onnxruntime >= 1.17 (the project's floor)
    onnx.checker.check_model(graph_model)
    path.write_bytes(graph_model.SerializeToString())


def read_pointing04(path: Path) -> tuple[list[LabelledPhoto], npt.NDArray[np.int64]]:
    """Pointing'04 photos labelled looking = frontal pose, and their (person, series)."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    photos = [
        LabelledPhoto(path.parent / r["image"], r["image"], float(r["yaw"]) == 0 and float(r["pitch"]) == 0)
        for r in rows
    ]
    return photos, np.array([[int(r["person"]), int(r["series"])] for r in rows])


def measure_calibration(model_path: Path, labels_path: Path) -> dict[str, Any]:
    """Per person and series: AUC uncalibrated, and calibrated on the other series' frontal photo."""
    photos, groups = read_pointing04(labels_path)
    data = extract(photos)
    groups = groups[data.found]
    estimator = EyeContactEstimator(EyeContactSettings(model_path=model_path, calibration_min_frames=1))
    plain = estimator.model.probabilities(data.x)
    calibrated = np.full(len(data.y), np.nan)
    for person, series in {(int(p), int(s)) for p, s in groups}:
        mine = groups[:, 0] == person
        look = mine & (groups[:, 1] != series) & (data.y == 1)
        test = mine & (groups[:, 1] == series)
        if look.any():
            estimator.calibrate(list(data.x[look]))
            calibrated[test] = estimator.model.probabilities(data.x[test] + np.float32(estimator.calibration.shift))  # type: ignore[union-attr]
    scored = ~np.isnan(calibrated)
    y = data.y[scored]
    per_person = [
        (
            roc_auc(y[groups[scored, 0] == p], plain[scored][groups[scored, 0] == p]),
            roc_auc(y[groups[scored, 0] == p], calibrated[scored][groups[scored, 0] == p]),
        )
        for p in np.unique(groups[:, 0])
    ]
    return {
        "set": "headpose/pointing04_dev, looking = yaw 0 and pitch 0",
        "photos": len(photos),
        "faces_found": int(data.found.sum()),
        "scored": int(scored.sum()),
        "looking": int(y.sum()),
        "roc_auc_uncalibrated": roc_auc(y, plain[scored]),
        "roc_auc_calibrated": roc_auc(y, calibrated[scored]),
        "per_person_roc_auc_uncalibrated": statistics.mean(a for a, _ in per_person if a is not None),
        "per_person_roc_auc_calibrated": statistics.mean(b for _, b in per_person if b is not None),
        "mean_probability_looking": [float(plain[scored][y == 1].mean()), float(calibrated[scored][y == 1].mean())],
        "mean_probability_not_looking": [float(plain[scored][y == 0].mean()), float(calibrated[scored][y == 0].mean())],
    }


def write_card(path: Path, onnx_path: Path, model: MirroredMLP, data: Features, metrics: dict[str, Any]) -> None:
    both = np.vstack([data.x, data.x @ model.mirror + model.offset])
    looking = both[np.concatenate([data.y, data.y]) == 1]
    card = {
        "name": "eye_contact",
        "version": VERSION,
        "file": onnx_path.name,
        "sha256": sha256_of(onnx_path),
        "size_bytes": onnx_path.stat().st_size,
        "labels": list(LABELS),
        "input": {
            "name": "features",
            "shape": ["N", N_FEATURES],
            "dtype": "float32",
            "preprocessing": "overlay.attention.eye_features.eye_contact_features(frame, 68 dlib landmarks); "
            "standardisation and the mirror image's features are inside the graph",
        },
        "output": {"name": "probs", "shape": ["N", len(LABELS)], "meaning": "P(away), P(eye contact)"},
        "features": list(FEATURE_NAMES),
        "threshold": metrics["threshold"],
        "calibration": {
            "reference": np.median(looking, axis=0).tolist(),
            "scale": looking.std(axis=0).tolist(),
            "meaning": "median and standard deviation of the training faces (and mirror images) labelled looking",
        },
        "architecture": f"standardise, MLP {N_FEATURES}-{HIDDEN}-1 (ReLU, logistic), on the face and on its mirror "
        "image's features, probabilities averaged",
        "opset": OPSET,
        "training": {
            "data": "gaze/nitec_dev: 914 CelebA photos with NITEC eye-contact labels; the faces the tracker finds",
            "command": "bash models/eye_contact/reproduce.sh",
            "model": f"sklearn MLPClassifier(({HIDDEN},), alpha={ALPHA}, adam, random_state=0) on faces + mirrors",
            "faces": len(data.y),
            "looking": int(data.y.sum()),
        },
        "licence": "Weights: trained by the emotion-overlay project on CelebA photos (Liu et al. 2015, non-commercial "
        "research use) with NITEC labels (Thomas et al. 2024, MIT); see MODEL_CARD.md.",
        "metrics": metrics,
    }
    path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA / "gaze" / "nitec_dev" / "labels.csv")
    parser.add_argument("--pointing04", type=Path, default=DEFAULT_DATA / "headpose" / "pointing04_dev" / "labels.csv")
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--repeats", type=int, default=3, help="repeats of the 5-fold cross-validation")
    args = parser.parse_args()

    photos = read_labels(args.data)
    data = extract(photos)
    print(f"{len(data.y)} faces found in {len(photos)} photos", flush=True)
    cv, pooled = cross_validate(data, args.repeats)
    threshold = best_threshold(np.tile(data.y, args.repeats), pooled.ravel())
    metrics: dict[str, Any] = {"threshold": threshold, "cross_validation": cv}
    metrics["cross_validation_at_threshold"] = at_threshold(data, pooled, threshold)
    print(json.dumps(metrics["cross_validation_at_threshold"], indent=1), flush=True)

    model = MirroredMLP().fit(data.x, data.y)
    args.out.mkdir(parents=True, exist_ok=True)
    onnx_path = args.out / "eye_contact.onnx"
    export_onnx(model, onnx_path)
    write_card(onnx_path.with_suffix(".json"), onnx_path, model, data, metrics)  # provisional: the checks load it
    exported = EyeContactModel(onnx_path).probabilities(data.x)
    metrics["onnxruntime_vs_sklearn_max_abs_diff"] = float(np.abs(exported - model.predict(data.x)).max())
    metrics["calibration_pointing04"] = measure_calibration(onnx_path, args.pointing04)
    timed = EyeContactEstimator(EyeContactSettings(model_path=onnx_path))
    metrics["latency_ms_per_face_one_thread_median"] = ms_per_face(timed, photos[:200])
    write_card(onnx_path.with_suffix(".json"), onnx_path, model, data, metrics)
    print(json.dumps({k: v for k, v in metrics.items() if k != "cross_validation"}, indent=1))


if __name__ == "__main__":
    with threadpool_limits(1):  # one thread: the same weights and figures on every run
        main()
