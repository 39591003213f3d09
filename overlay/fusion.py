"""Late fusion of the face, voice and text estimates into one live reading.

Each modality's latest estimate counts with a weight = reliability x confidence x freshness:
- reliability: its measured validation macro-F1 (model cards): face 0.52, voice 0.66, text 0.65;
- confidence: 1 - normalised entropy of its probabilities (a flat guess says little);
- freshness: 1 when new, falling linearly to 0 at its `fresh_s` (face 0.5 s: expressions
  change within a second; voice 2.5 s: a 2 s window every 0.5 s; text 6 s: an utterance
  colours the next few seconds). An absent or stale modality drops out.
The fused probabilities are the weighted mean. Valence and arousal come from fixed
circumplex coordinates per label (Russell 1980; values below), weighted by probability.
Two present modalities disagree when their top labels differ and the Jensen-Shannon
divergence of their probabilities exceeds `disagreement_js`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from overlay.labels import EMOTIONS

# (valence, arousal) per label, in EMOTIONS order.
CIRCUMPLEX: Final = np.array(
    [
        (-0.6, 0.7),  # angry
        (-0.7, 0.3),  # disgust
        (-0.6, 0.6),  # fear
        (0.8, 0.4),  # happy
        (-0.7, -0.4),  # sad
        (0.3, 0.8),  # surprise
        (0.0, -0.2),  # neutral: calm
    ],
    dtype=np.float32,
)
MODALITIES: Final = ("face", "voice", "text")


@dataclass(frozen=True)
class FusionSettings:
    reliability: dict[str, float] = field(default_factory=lambda: {"face": 0.52, "voice": 0.66, "text": 0.65})
    fresh_s: dict[str, float] = field(default_factory=lambda: {"face": 0.5, "voice": 2.5, "text": 6.0})
    disagreement_js: float = 0.35  # nats; identical = 0, disjoint one-hot = ln 2 = 0.69


@dataclass(frozen=True)
class ModalityEstimate:
    probabilities: npt.NDArray[np.float32]
    timestamp: float  # capture time the estimate describes (its window's end)


@dataclass(frozen=True)
class FusedState:
    timestamp: float
    probabilities: npt.NDArray[np.float32] | None  # None when no modality is present
    label: str | None
    confidence: float
    valence: float
    arousal: float
    weights: dict[str, float]  # of the modalities that contributed (summing to 1)
    disagreement: tuple[str, str] | None  # the two modalities that disagree most, if any


def confidence_of(probabilities: npt.NDArray[np.float32]) -> float:
    p = np.clip(probabilities.astype(np.float64), 1e-12, 1.0)
    entropy = float(-(p * np.log(p)).sum())
    return max(0.0, 1.0 - entropy / float(np.log(len(p))))


def jensen_shannon(p: npt.NDArray[np.float32], q: npt.NDArray[np.float32]) -> float:
    p64, q64 = np.clip(p.astype(np.float64), 1e-12, 1), np.clip(q.astype(np.float64), 1e-12, 1)
    m = 0.5 * (p64 + q64)
    return float(0.5 * (p64 * np.log(p64 / m)).sum() + 0.5 * (q64 * np.log(q64 / m)).sum())


def fuse(
    estimates: dict[str, ModalityEstimate | None], now: float, settings: FusionSettings | None = None
) -> FusedState:
    settings = settings or FusionSettings()
    present: dict[str, tuple[float, npt.NDArray[np.float32]]] = {}
    for name in MODALITIES:
        estimate = estimates.get(name)
        if estimate is None:
            continue
        age = max(0.0, now - estimate.timestamp)
        freshness = 1.0 - age / settings.fresh_s[name]
        if freshness <= 0.0:
            continue
        weight = settings.reliability[name] * confidence_of(estimate.probabilities) * freshness
        if weight > 0.0:
            present[name] = (weight, estimate.probabilities)
    if not present:
        return FusedState(now, None, None, 0.0, 0.0, 0.0, {}, None)
    total = sum(w for w, _ in present.values())
    fused = sum(w * p.astype(np.float64) for w, p in present.values()) / total
    probabilities = np.asarray(fused, dtype=np.float32)
    valence, arousal = (probabilities @ CIRCUMPLEX).tolist()
    top = int(np.argmax(probabilities))
    return FusedState(
        timestamp=now,
        probabilities=probabilities,
        label=EMOTIONS[top],
        confidence=float(probabilities[top]),
        valence=float(valence),
        arousal=float(arousal),
        weights={name: w / total for name, (w, _) in present.items()},
        disagreement=_disagreement({n: p for n, (_, p) in present.items()}, settings),
    )


def _disagreement(present: dict[str, npt.NDArray[np.float32]], settings: FusionSettings) -> tuple[str, str] | None:
    worst, pair = settings.disagreement_js, None
    names = sorted(present)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if np.argmax(present[a]) == np.argmax(present[b]):
                continue
            divergence = jensen_shannon(present[a], present[b])
            if divergence > worst:
                worst, pair = divergence, (a, b)
    return pair


class LabelHysteresis:
    """The displayed label changes only when another label leads it by `margin` (no flicker)."""

    def __init__(self, margin: float = 0.1) -> None:
        self.margin = margin
        self.label: str | None = None

    def update(self, probabilities: npt.NDArray[np.float32] | None) -> str | None:
        if probabilities is None:
            return self.label
        top = int(np.argmax(probabilities))
        if self.label is None:
            self.label = EMOTIONS[top]
        else:
            current = float(probabilities[EMOTIONS.index(self.label)])
            if float(probabilities[top]) >= current + self.margin:
                self.label = EMOTIONS[top]
        return self.label
