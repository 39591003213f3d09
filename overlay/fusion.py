"""Late fusion of the face, voice and text estimates into one live reading.

Each modality's latest estimate counts with a weight = reliability x confidence x freshness:
- reliability: its model's measured validation macro-F1, read from the bundled model cards
  (`measured_reliability`: face on FER2013 val with FER+ labels, voice on RAVDESS actors
  17-20, text on GoEmotions dev), so a retrained model brings its own figure;
- confidence: 1 - normalised entropy of its probabilities (a flat guess says little);
- freshness: 1 when new, falling linearly to 0 at its `fresh_s` (face 0.5 s: expressions
  change within a second; voice 2.5 s: a 2 s window every 0.5 s; text 6 s: an utterance
  colours the next few seconds). An absent or stale modality drops out.
The fused probabilities are the weighted mean. Valence and arousal come from fixed
circumplex coordinates per label (Russell 1980; values below), weighted by probability.
Two present modalities disagree when their top labels differ and the Jensen-Shannon
divergence of their probabilities exceeds `disagreement_js`.

LiveFusion keeps each modality's newest estimate (the analysis threads hand them in as
they come) and gives the video thread one reading per frame: the fused probabilities
smoothed in time (half-life `smoothing_half_life_s`, the user's "smoothing strength"),
the displayed label held by hysteresis (it changes only when another label leads by
`hysteresis`), and each new disagreement once, as it starts.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from overlay.errors import ModelError
from overlay.labels import EMOTIONS, MODALITIES
from overlay.models.bundled import REINSTALL_HINT, ModelCard, bundled_model_path
from overlay.smoothing import ProbabilitySmoother

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
DISAGREEMENT_HOLD_S: Final = 2.0  # a disagreement counts as ended after this long without it


# Each modality's model card and the validation figure in its "metrics" that is its reliability.
_RELIABILITY_SOURCES: Final = {
    "face": ("face", "face_expression.json", "val_ferplus"),
    "voice": ("voice", "voice_emotion.json", "val"),
    "text": ("text", "text_emotion.json", "dev_single_label"),
}


@functools.cache
def measured_reliability() -> dict[str, float]:
    """Each modality's validation macro-F1, from the bundled model cards."""
    reliability = {}
    for modality, (folder, card_file, split) in _RELIABILITY_SOURCES.items():
        path = bundled_model_path(folder, card_file)
        try:
            reliability[modality] = float(ModelCard.load(path).raw["metrics"][split]["macro_f1"])
        except (KeyError, TypeError, ValueError) as err:
            raise ModelError(f"{path}: the card has no validation macro-F1 ({split}); {REINSTALL_HINT}") from err
    return reliability


@dataclass(frozen=True)
class FusionSettings:
    reliability: dict[str, float] = field(default_factory=lambda: dict(measured_reliability()))
    fresh_s: dict[str, float] = field(default_factory=lambda: {"face": 0.5, "voice": 2.5, "text": 6.0})
    disagreement_js: float = 0.35  # nats; identical = 0, disjoint one-hot = ln 2 = 0.69
    smoothing_half_life_s: float = 1.0  # of the fused probabilities; 0 = none
    hysteresis: float = 0.1  # lead another label needs to replace the displayed one


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


@dataclass(frozen=True)
class LiveReading:
    """What the video thread draws and records for one frame."""

    state: FusedState  # smoothed probabilities, displayed label and its confidence, valence/arousal
    new_disagreement: str | None  # "face happy vs voice angry" when a disagreement has just begun


class LiveFusion:
    """The newest estimate of each modality in; one smoothed, flicker-free reading per frame out.

    observe() is called from the analysis threads and update() from the video thread; each
    only swaps or reads one dict entry, which is atomic in CPython.
    """

    def __init__(self, settings: FusionSettings | None = None) -> None:
        self.settings = settings or FusionSettings()
        self._latest: dict[str, ModalityEstimate | None] = dict.fromkeys(MODALITIES)
        # reset_after_s: after this long with nothing present, start afresh rather than blend.
        self._smoother = ProbabilitySmoother(half_life_s=self.settings.smoothing_half_life_s, reset_after_s=3.0)
        self._hysteresis = LabelHysteresis(self.settings.hysteresis)
        self._disagreeing: tuple[str, str] | None = None
        self._disagreed_at = -1e9

    def observe(self, modality: str, probabilities: npt.NDArray[np.float32], timestamp: float) -> None:
        self._latest[modality] = ModalityEstimate(np.asarray(probabilities, dtype=np.float32), timestamp)

    def update(self, now: float) -> LiveReading:
        raw = fuse(self._latest, now, self.settings)
        if raw.probabilities is None:
            self._hysteresis.label = None
            self._disagreeing = None
            return LiveReading(raw, None)
        smoothed = self._smoother.update(now, raw.probabilities)
        label = self._hysteresis.update(smoothed)
        assert label is not None
        valence, arousal = (smoothed @ CIRCUMPLEX).tolist()
        state = FusedState(
            timestamp=now,
            probabilities=smoothed,
            label=label,
            confidence=float(smoothed[EMOTIONS.index(label)]),
            valence=float(valence),
            arousal=float(arousal),
            weights=raw.weights,
            disagreement=raw.disagreement,
        )
        started = None
        if raw.disagreement is not None:
            # One event per episode: the worst pair may change while it lasts (face-voice, then
            # face-text) without it being a new disagreement.
            if self._disagreeing is None:
                started = " vs ".join(f"{name} {self._top_label(name)}" for name in raw.disagreement)
            self._disagreeing, self._disagreed_at = raw.disagreement, now
        elif now - self._disagreed_at >= DISAGREEMENT_HOLD_S:
            self._disagreeing = None  # ended; a brief gap does not make the same disagreement new again
        return LiveReading(state, started)

    def _top_label(self, modality: str) -> str:
        estimate = self._latest[modality]
        return EMOTIONS[int(np.argmax(estimate.probabilities))] if estimate is not None else "?"
