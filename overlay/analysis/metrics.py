"""Classification scores in the shape of the evaluation interface (DESIGN.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from overlay.labels import EMOTIONS


@dataclass(frozen=True)
class ClassScores:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class ClassificationReport:
    """Scores over the 7 project labels. confusion[i][j]: true label i predicted as j."""

    n: int
    accuracy: float
    macro_f1: float
    labels: tuple[str, ...]
    per_class: dict[str, ClassScores]
    confusion: list[list[int]]

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "labels": list(self.labels),
            "per_class": {
                name: {"precision": s.precision, "recall": s.recall, "f1": s.f1, "support": s.support}
                for name, s in self.per_class.items()
            },
            "confusion": self.confusion,
        }


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else 0.0


def classification_report(
    true: npt.ArrayLike, predicted: npt.ArrayLike, labels: tuple[str, ...] = EMOTIONS
) -> ClassificationReport:
    """Accuracy, per-class precision/recall/F1 and the confusion matrix.

    Macro-F1 averages F1 over the classes that occur in `true` (a class absent from the
    data has no defined recall, so it does not drag the average to zero); a class that is
    predicted but absent still costs precision for the classes it was confused with.
    """
    y_true = np.asarray(true, dtype=np.int64)
    y_pred = np.asarray(predicted, dtype=np.int64)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError("true and predicted must be 1-D arrays of the same length")
    k = len(labels)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    per_class: dict[str, ClassScores] = {}
    f1_present: list[float] = []
    for i, name in enumerate(labels):
        tp = int(confusion[i, i])
        support = int(confusion[i].sum())
        precision = _ratio(tp, confusion[:, i].sum())
        recall = _ratio(tp, support)
        f1 = _ratio(2 * precision * recall, precision + recall)
        per_class[name] = ClassScores(precision, recall, f1, support)
        if support:
            f1_present.append(f1)
    n = int(y_true.size)
    return ClassificationReport(
        n=n,
        accuracy=_ratio(np.trace(confusion), n),
        macro_f1=float(np.mean(f1_present)) if f1_present else 0.0,
        labels=tuple(labels),
        per_class=per_class,
        confusion=confusion.tolist(),
    )


@dataclass(frozen=True)
class BinaryScores:
    """A yes/no detector scored at one threshold; roc_auc from its probabilities (None with one class only)."""

    n: int
    positives: int
    accuracy: float
    precision: float
    recall: float
    mcc: float
    roc_auc: float | None

    @property
    def always_yes_accuracy(self) -> float:
        """The accuracy of answering yes every time: the floor accuracy is read against."""
        return _ratio(self.positives, self.n)

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "positives": self.positives,
            "accuracy": self.accuracy,
            "always_yes_accuracy": self.always_yes_accuracy,
            "precision": self.precision,
            "recall": self.recall,
            "mcc": self.mcc,
            "roc_auc": self.roc_auc,
        }


def roc_auc(true: npt.ArrayLike, score: npt.ArrayLike) -> float | None:
    """Area under the ROC curve: the chance that a random positive scores above a random
    negative (ties count half); None when only one class is present."""
    y = np.asarray(true, dtype=bool)
    s = np.asarray(score, dtype=np.float64)
    positives, negatives = int(y.sum()), int((~y).sum())
    if positives == 0 or negatives == 0:
        return None
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_scores = s[order]
    # Average ranks over ties (1-based), then the Mann-Whitney U of the positives.
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    average = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(average, counts)
    return float((ranks[y].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def binary_scores(true: npt.ArrayLike, probability: npt.ArrayLike, threshold: float) -> BinaryScores:
    """Accuracy, precision, recall and Matthews correlation at `threshold` (yes when probability >= it), and ROC-AUC."""
    y = np.asarray(true, dtype=bool)
    p = np.asarray(probability, dtype=np.float64)
    if y.shape != p.shape or y.ndim != 1:
        raise ValueError("true and probability must be 1-D arrays of the same length")
    said = p >= threshold
    tp, fp = int((said & y).sum()), int((said & ~y).sum())
    fn, tn = int((~said & y).sum()), int((~said & ~y).sum())
    denominator = float(np.sqrt(float(tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)))
    return BinaryScores(
        n=int(y.size),
        positives=tp + fn,
        accuracy=_ratio(tp + tn, y.size),
        precision=_ratio(tp, tp + fp),
        recall=_ratio(tp, tp + fn),
        mcc=_ratio(tp * tn - fp * fn, denominator),
        roc_auc=roc_auc(y, p),
    )
