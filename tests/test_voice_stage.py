"""The live voice stage: a window every hop, spans on the capture clock, nothing without speech."""

from pathlib import Path

import numpy as np
import pytest

from overlay.media.audio_file import read_audio
from overlay.records import AudioBlock
from overlay.voice.model import VoiceEmotionModel
from overlay.voice.stage import VoiceStage


def blocks(samples: np.ndarray, start: float, size: int = 1600) -> list[AudioBlock]:
    return [AudioBlock(samples[i : i + size], start + i / 16000) for i in range(0, len(samples), size)]


@pytest.fixture(scope="module")
def stage_model() -> VoiceEmotionModel:
    return VoiceEmotionModel()


def test_windows_every_half_second_with_their_capture_span(shared_data: Path, stage_model: VoiceEmotionModel) -> None:
    clip = read_audio(shared_data / "video" / "talking" / "2.mp4")  # 5 s of continuous speech
    stage = VoiceStage(model=stage_model)
    estimates = [e for b in blocks(clip.samples, start=100.0) for e in stage.feed(b)]
    assert len(estimates) == 7  # at 2.0, 2.5 ... 5.0 s
    for i, estimate in enumerate(estimates):
        assert estimate.end == pytest.approx(102.0 + 0.5 * i, abs=1e-6)
        assert estimate.end - estimate.start == pytest.approx(2.0)
    voiced = [e for e in estimates if e.probabilities is not None]
    assert len(voiced) >= 6
    for e in voiced:
        assert e.probabilities is not None and e.probabilities.shape == (7,)
        assert float(e.probabilities.sum()) == pytest.approx(1.0, abs=1e-4)


def test_no_estimate_without_speech(stage_model: VoiceEmotionModel) -> None:
    stage = VoiceStage(model=stage_model)
    hiss = (np.random.default_rng(0).standard_normal(16000 * 4) * 0.05).astype(np.float32)
    estimates = [e for b in blocks(hiss, 0.0) for e in stage.feed(b)]
    assert estimates and all(e.probabilities is None for e in estimates)


def test_a_gap_in_the_audio_starts_a_new_window(stage_model: VoiceEmotionModel) -> None:
    stage = VoiceStage(model=stage_model)
    sound = np.zeros(16000 * 3, np.float32)
    first = [e for b in blocks(sound, 0.0) for e in stage.feed(b)]
    assert len(first) == 3
    after_gap = [e for b in blocks(sound[:16000], 10.0) for e in stage.feed(b)]
    assert after_gap == []  # 1 s after the gap is not yet a full window of continuous sound
