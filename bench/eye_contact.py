"""Eye contact with the camera on gaze/nitec_dev: MCC, ROC-AUC, accuracy, coverage and ms a face.

    python bench/eye_contact.py [--data CSV] [--model ONNX] [--no-cross-validation] [--json]

The shipped model was fitted on every nitec_dev photo, so its scores on them are fit
figures, not what a new person gets. The bench therefore prints two rows:
- cross-validated: the training recipe (models/eye_contact/train.py, needs scikit-learn)
  refitted in each of 5 folds by photo; MCC at the card's threshold and, with each fold's
  threshold chosen on its own training photos, ROC-AUC, accuracy, coverage;
- shipped: the bundled model through `eval eye-contact`'s code: coverage (photos with a face
  found), ms a face (features + model, median, one thread; each face read 5 times in a row
  as live reads it frame after frame, and cold: one call a photo) and its scores on these photos
  (fit figures on nitec_dev; honest on any other labelled set given with --data).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from overlay.analysis.eye_contact_eval import PhotoResult, ms_per_face, read_labels, score_photos, summarize
from overlay.analysis.metrics import binary_scores
from overlay.attention.eye_contact import EyeContactEstimator, EyeContactModel
from overlay.face.tracking import FaceTracker

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("EMOTION_OVERLAY_DATA", ROOT.parent / "shared" / "data"))


def cross_validated(data_path: Path, threshold: float) -> dict[str, Any]:
    """One repeat of the recipe's 5-fold cross-validation."""
    sys.path.insert(0, str(ROOT / "models" / "eye_contact"))
    recipe: Any = importlib.import_module("train")
    photos = read_labels(data_path)
    data = recipe.extract(photos)
    cv, pooled = recipe.cross_validate(data, 1)
    found = binary_scores(data.y, pooled[0], threshold)
    return {
        "coverage": float(data.found.mean()),
        "mcc_at_card_threshold": found.mcc,
        "mcc_fold_thresholds": cv["runs"][0]["mcc_nested_threshold"],
        "roc_auc": found.roc_auc,
        "accuracy": found.accuracy,
        "always_yes_accuracy": found.always_yes_accuracy,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA / "gaze" / "nitec_dev" / "labels.csv")
    parser.add_argument("--model", type=Path, help="another eye-contact .onnx with its card (default: bundled)")
    parser.add_argument("--no-cross-validation", action="store_true", help="only the shipped model's row")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    estimator = EyeContactEstimator(model=EyeContactModel(args.model))
    photos = read_labels(args.data)
    results = list(score_photos(photos, estimator, FaceTracker()))
    report = summarize(results, estimator.threshold)
    warm_ms = ms_per_face(estimator, photos[:100])
    rows: dict[str, Any] = {"shipped": report.to_json() | {"ms_per_face_warm": warm_ms}}
    if not args.no_cross_validation:
        rows["cross_validated"] = cross_validated(args.data, estimator.threshold)
    if args.json:
        print(json.dumps(rows))
        return
    shipped = report.found
    print(f"data: {args.data}  threshold {estimator.threshold:.2f}")
    if "cross_validated" in rows:
        cv = rows["cross_validated"]
        print(
            f"cross-validated (5-fold by photo): MCC {cv['mcc_at_card_threshold']:.3f} "
            f"(fold thresholds {cv['mcc_fold_thresholds']:.3f})  ROC-AUC {cv['roc_auc']:.3f}  "
            f"accuracy {cv['accuracy']:.3f} (always yes {cv['always_yes_accuracy']:.3f})  coverage {cv['coverage']:.3f}"
        )
    auc = float("nan") if shipped.roc_auc is None else shipped.roc_auc
    print(
        f"shipped model: MCC {shipped.mcc:.3f}  ROC-AUC {auc:.3f}  accuracy {shipped.accuracy:.3f}  "
        f"coverage {report.faces_found / report.images:.3f} ({report.faces_found}/{report.images})  "
        f"{warm_ms:.2f} ms a face ({report.ms_per_face:.2f} cold, one call a photo)"
    )
    missed = report.everything
    print(f"  no face counted as not looking: MCC {missed.mcc:.3f}  accuracy {missed.accuracy:.3f}")
    print(f"  median probability: looking {_median(results, True):.2f}, not looking {_median(results, False):.2f}")


def _median(results: list[PhotoResult], label: bool) -> float:
    values = [r.probability for r in results if r.probability is not None and r.label == label]
    return float(np.median(values)) if values else float("nan")


if __name__ == "__main__":
    main()
