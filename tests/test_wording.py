"""The fused reading in words: one label only when it is clear, else "mixed" or "unsure"."""

import numpy as np
import pytest

from overlay.labels import EMOTIONS
from overlay.render.wording import WordingRule, describe


def _reading(**shares: float) -> np.ndarray:
    rest = (1.0 - sum(shares.values())) / (len(EMOTIONS) - len(shares))
    return np.array([shares.get(label, rest) for label in EMOTIONS], dtype=np.float32)


def test_a_clear_reading_is_one_label() -> None:
    wording = describe(_reading(happy=0.7, neutral=0.1))
    assert (wording.text, wording.kind) == ("happy", "confident")


def test_a_flat_reading_is_unsure_never_its_top_label_at_21_percent() -> None:
    wording = describe(_reading(surprise=0.21, fear=0.16))
    assert (wording.text, wording.kind, wording.top) == ("unsure", "unsure", "surprise")


def test_two_close_labels_are_mixed_strongest_first() -> None:
    wording = describe(_reading(sad=0.38, neutral=0.33))
    assert (wording.text, wording.kind) == ("mixed: sad / neutral", "mixed")


def test_a_high_top_with_a_small_lead_is_mixed() -> None:
    assert describe(_reading(angry=0.5, disgust=0.4)).kind == "mixed"


def test_the_thresholds_come_from_the_rule() -> None:
    reading = _reading(sad=0.38, neutral=0.33)
    assert describe(reading, WordingRule(confident_at=0.3, lead_at=0.04)).text == "sad"
    with pytest.raises(ValueError):
        WordingRule(confident_at=1.5)
