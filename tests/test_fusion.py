"""Fusing face, voice and text: agreement, disagreement, absence, ageing and a steady label."""

import numpy as np
import pytest

from overlay.fusion import LabelHysteresis, ModalityEstimate, confidence_of, fuse
from overlay.labels import EMOTIONS


def peaked(label: str, strength: float = 0.7) -> np.ndarray:
    p = np.full(7, (1 - strength) / 6, np.float32)
    p[EMOTIONS.index(label)] = strength
    return p


def test_agreeing_modalities_are_surer_than_the_weakest_alone() -> None:
    state = fuse(
        {"face": ModalityEstimate(peaked("happy", 0.5), 10.0), "voice": ModalityEstimate(peaked("happy", 0.8), 10.0)},
        now=10.0,
    )
    assert state.label == "happy" and state.confidence > 0.5
    assert set(state.weights) == {"face", "voice"} and sum(state.weights.values()) == pytest.approx(1.0)
    assert state.disagreement is None
    assert state.valence > 0.4  # happy is pleasant


def test_a_smiling_face_with_an_angry_voice_is_a_disagreement() -> None:
    state = fuse(
        {"face": ModalityEstimate(peaked("happy", 0.9), 5.0), "voice": ModalityEstimate(peaked("angry", 0.9), 5.0)},
        now=5.0,
    )
    assert state.disagreement == ("face", "voice")
    assert state.label in ("happy", "angry")


def test_absent_and_stale_modalities_drop_out() -> None:
    nothing = fuse({"face": None, "voice": None, "text": None}, now=1.0)
    assert nothing.probabilities is None and nothing.label is None and nothing.weights == {}
    state = fuse(
        {"face": ModalityEstimate(peaked("sad"), 0.0), "text": ModalityEstimate(peaked("angry"), 9.0)}, now=10.0
    )
    assert set(state.weights) == {"text"} and state.label == "angry"  # the face is 10 s old


def test_a_flat_guess_counts_for_little() -> None:
    assert confidence_of(np.full(7, 1 / 7, np.float32)) == pytest.approx(0.0, abs=1e-6)
    state = fuse(
        {"face": ModalityEstimate(np.full(7, 1 / 7, np.float32), 0.0), "voice": ModalityEstimate(peaked("fear"), 0.0)},
        now=0.0,
    )
    assert state.weights["voice"] > 0.99 and state.label == "fear"


def test_the_displayed_label_does_not_flicker_between_close_labels() -> None:
    hysteresis = LabelHysteresis(margin=0.1)
    rng = np.random.default_rng(0)
    shown = []
    for _ in range(100):  # happy and neutral neck and neck, with noise
        p = np.full(7, 0.02, np.float32)
        p[EMOTIONS.index("happy")] = 0.45 + rng.uniform(-0.04, 0.04)
        p[EMOTIONS.index("neutral")] = 0.45 + rng.uniform(-0.04, 0.04)
        shown.append(hysteresis.update(p))
    assert len(set(shown)) == 1
    assert hysteresis.update(peaked("sad", 0.8)) == "sad"  # a clear change still shows
