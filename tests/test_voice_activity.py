"""When the detector says someone is speaking: speech yes; silence and steady noise no (as documented)."""

from pathlib import Path

import numpy as np
import pytest

from models.voice.noise import add_noise, at_level, coloured_noise, hum
from overlay.media.audio_file import read_audio
from overlay.voice.activity import VoiceActivityDetector
from overlay.voice.features import WINDOW_SAMPLES

RAVDESS_FILE = "Actor_18/03-01-05-02-01-01-18.flac"  # angry, strong: "Kids are talking by the door"


@pytest.fixture(scope="module")
def speech(shared_data: Path) -> np.ndarray:
    clip = read_audio(shared_data / "ravdess_speech" / RAVDESS_FILE)
    return clip.samples


def test_speech_is_heard_where_it_is(speech: np.ndarray) -> None:
    vad = VoiceActivityDetector()
    span = vad.speech_span(speech)
    assert span is not None
    first, last = span
    # RAVDESS files start and end with about a second of room tone.
    assert 0.3 < first / 16000 < 1.5 and 0.8 < (last - first) / 16000 < 3.0
    middle = (first + last) // 2
    assert vad.is_speech(speech[middle - WINDOW_SAMPLES // 2 : middle + WINDOW_SAMPLES // 2])


def test_speech_in_noise_is_still_heard(speech: np.ndarray) -> None:
    vad = VoiceActivityDetector()
    first, last = vad.speech_span(speech) or (0, 0)
    middle = (first + last) // 2
    noisy = add_noise(speech, coloured_noise(len(speech), 1.0, np.random.default_rng(1)), 10.0)
    assert vad.is_speech(noisy[middle - WINDOW_SAMPLES // 2 : middle + WINDOW_SAMPLES // 2])


@pytest.mark.parametrize("level", [-50.0, -35.0, -20.0])
@pytest.mark.parametrize("kind", ["white", "pink", "brown", "hum"])
def test_steady_noise_is_not_speech(kind: str, level: float) -> None:
    rng = np.random.default_rng(7)
    vad = VoiceActivityDetector()
    for _ in range(10):
        noise = (
            hum(WINDOW_SAMPLES, rng)
            if kind == "hum"
            else coloured_noise(WINDOW_SAMPLES, ["white", "pink", "brown"].index(kind), rng)
        )
        assert not vad.is_speech(at_level(noise, level))


def test_silence_is_not_speech() -> None:
    vad = VoiceActivityDetector()
    assert not vad.is_speech(np.zeros(WINDOW_SAMPLES, np.float32))
    assert vad.speech_span(np.zeros(WINDOW_SAMPLES, np.float32)) is None
    faint = at_level(np.random.default_rng(0).standard_normal(WINDOW_SAMPLES), -75)
    assert not vad.is_speech(faint)
