"""Saying a reading in words, honestly: one label only when the reading is clear.

A fused reading names one emotion when its top probability is at least `confident_at`
and leads the runner-up by at least `lead_at`. Otherwise, when the top two together hold
at least `mixed_at` of the probability, it is "mixed: A / B" (the two, strongest first);
otherwise "unsure". The defaults come from the [overlay] section of the config (see
README, "Reading the overlay"): a seven-way reading with 21 % on top is close to chance
(14 %) and is shown as "unsure", never as that label.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from overlay.labels import EMOTIONS


@dataclass(frozen=True)
class WordingRule:
    confident_at: float = 0.45  # top probability for one label
    lead_at: float = 0.15  # and its lead over the second
    mixed_at: float = 0.6  # the top two together, for "mixed: A / B"

    def __post_init__(self) -> None:
        if not 0 < self.confident_at <= 1 or not 0 <= self.lead_at < 1 or not 0 < self.mixed_at <= 1:
            raise ValueError(f"wording thresholds must be fractions of 1, got {self}")


@dataclass(frozen=True)
class Wording:
    text: str  # "happy", "mixed: sad / neutral", "unsure"
    kind: Literal["confident", "mixed", "unsure"]
    top: str  # the most probable label, whatever the kind
    confidence: float  # its probability


def describe(probabilities: npt.NDArray[np.float32], rule: WordingRule | None = None) -> Wording:
    """The words for a probability vector over EMOTIONS."""
    rule = rule or WordingRule()
    order = np.argsort(probabilities)[::-1]
    first, second = int(order[0]), int(order[1])
    top, runner_up = float(probabilities[first]), float(probabilities[second])
    if top >= rule.confident_at and top - runner_up >= rule.lead_at:
        return Wording(EMOTIONS[first], "confident", EMOTIONS[first], top)
    if top + runner_up >= rule.mixed_at:
        return Wording(f"mixed: {EMOTIONS[first]} / {EMOTIONS[second]}", "mixed", EMOTIONS[first], top)
    return Wording("unsure", "unsure", EMOTIONS[first], top)


def headline(
    label: str, confidence: float, probabilities: npt.NDArray[np.float32] | None, rule: WordingRule | None = None
) -> str:
    """A fused reading's headline: "happy 83%" when it is clear, else "mixed: A / B" or "unsure"."""
    if probabilities is not None:
        wording = describe(probabilities, rule)
        if wording.kind != "confident":
            return wording.text
    return f"{label} {confidence * 100:.0f}%"
