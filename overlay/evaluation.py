"""Scoring the project's models on labelled data (the `eval` command's work)."""

from __future__ import annotations

from pathlib import Path

from overlay.face_dataset import load_labelled_faces
from overlay.face_model import FaceExpressionModel
from overlay.metrics import ClassificationReport, classification_report


def evaluate_face(data_dir: Path, model: FaceExpressionModel) -> ClassificationReport:
    """Score the face model on DIR/<label>/*.jpg|png."""
    faces = load_labelled_faces(data_dir)
    predicted = model.predict(faces.inputs).argmax(axis=1)
    return classification_report(faces.labels, predicted)


def format_report(report: ClassificationReport) -> str:
    """A readable table: overall scores, per-class scores and the confusion matrix."""
    width = max(len(label) for label in report.labels) + 2
    lines = [
        f"n = {report.n}   accuracy = {report.accuracy:.4f}   macro-F1 = {report.macro_f1:.4f}",
        "",
        f"{'label':<{width}}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}",
    ]
    for label, scores in report.per_class.items():
        lines.append(
            f"{label:<{width}}{scores.precision:>10.4f}{scores.recall:>10.4f}{scores.f1:>10.4f}{scores.support:>10d}"
        )
    lines += [
        "",
        "confusion (rows: true label, columns: predicted)",
        " " * width + "".join(f"{label[:7]:>9}" for label in report.labels),
    ]
    for label, row in zip(report.labels, report.confusion, strict=True):
        lines.append(f"{label:<{width}}" + "".join(f"{count:>9d}" for count in row))
    return "\n".join(lines)
