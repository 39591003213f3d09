"""Fusing face, voice and text: agreement, disagreement, absence, ageing and a steady label."""

import itertools

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


def test_live_fusion_smooths_a_change_and_holds_the_label_steady() -> None:
    from overlay.fusion import FusionSettings, LiveFusion

    def labels_after_a_switch(smoothing_s: float) -> list[str | None]:
        fusion = LiveFusion(FusionSettings(smoothing_half_life_s=smoothing_s))
        shown = []
        for frame in range(90):  # 3 s at 30 fps: happy face, then sad from 1 s on
            t = frame / 30
            fusion.observe("face", peaked("happy" if t < 1.0 else "sad", 0.8), t)
            shown.append(fusion.update(t).state.label)
        return shown

    instant, smoothed = labels_after_a_switch(0.0), labels_after_a_switch(1.0)
    assert instant[29] == "happy" and instant[31] == "sad"
    assert smoothed[31] == "happy" and smoothed[-1] == "sad"  # the change shows, later
    assert sum(a != b for a, b in itertools.pairwise(smoothed)) == 1  # one change, no flicker


def test_live_fusion_reports_a_disagreement_once_when_it_starts() -> None:
    from overlay.fusion import LiveFusion

    fusion = LiveFusion()
    started = []
    for step in range(100):  # 10 s: a smiling face throughout, an angry voice from 2 s to 6 s
        t = step / 10
        fusion.observe("face", peaked("happy", 0.9), t)
        if 2.0 <= t < 6.0:
            fusion.observe("voice", peaked("angry", 0.9), t)
        reading = fusion.update(t)
        if reading.new_disagreement:
            started.append((t, reading.new_disagreement))
        assert reading.state.valence is not None
    assert started == [(2.0, "face happy vs voice angry")]


def test_one_disagreement_is_one_event_while_its_worst_pair_changes_and_a_later_one_is_another() -> None:
    from overlay.fusion import LiveFusion

    fusion = LiveFusion()
    started, pairs = [], set()
    for step in range(250):  # 25 s, a smiling face throughout
        t = step / 10
        fusion.observe("face", peaked("happy", 0.9), t)
        if t < 4.0 or 18.0 <= t < 20.0:
            fusion.observe("voice", peaked("angry", 0.9), t)  # 0-4 s, and again from 18 s
        if 3.0 <= t < 6.0:
            fusion.observe("text", peaked("sad", 0.95), t)  # takes over as the worst pair at 4-6.5 s
        reading = fusion.update(t)
        if reading.state is not None and reading.state.disagreement and t < 12.0:
            pairs.add(reading.state.disagreement)
        if reading.new_disagreement:
            started.append(t)
    assert {("face", "voice"), ("face", "text")} <= pairs  # the worst pair changed within the first episode
    assert started == [0.0, 18.0]  # once per episode: 0-12 s (text stays fresh 6 s), then from 18 s


def test_live_fusion_with_nothing_present_shows_nothing() -> None:
    from overlay.fusion import LiveFusion

    fusion = LiveFusion()
    fusion.observe("face", peaked("fear"), 0.0)
    assert fusion.update(0.1).state.label == "fear"
    state = fusion.update(5.0).state  # the face went stale: no reading, not the old one
    assert state.label is None and state.probabilities is None and state.weights == {}


def test_each_modality_counts_by_its_models_measured_figure_from_the_card() -> None:
    """Retraining a model changes its weight in fusion through its card, not through code."""
    import json

    from overlay.fusion import FusionSettings
    from overlay.models.bundled import bundled_model_path

    def card_f1(folder: str, name: str, split: str) -> float:
        card = json.loads(bundled_model_path(folder, name).read_text())
        return float(card["metrics"][split]["macro_f1"])

    reliability = FusionSettings().reliability
    assert reliability["face"] == card_f1("face", "face_expression.json", "val_ferplus")
    assert reliability["voice"] == card_f1("voice", "voice_emotion.json", "val")
    assert reliability["text"] == card_f1("text", "text_emotion.json", "dev_single_label")
