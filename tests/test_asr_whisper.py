"""Whisper behind the asr contract, on real speech: the right words with their times, nothing
from silence, noise or tones, partial captions then a final, a pace that follows the CPU."""

from __future__ import annotations

import logging
import multiprocessing
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from asr.contract import SAMPLE_RATE, Partial, RecognizerError, Utterance
from asr.whisper_backend import WhisperRecognizer, WhisperSettings
from overlay.media.audio_file import read_audio
from overlay.voice.dataset import parse_ravdess_name
from tests.flite import flite_available, synthesise
from tests.wer import word_error_rate

STATEMENTS = {1: "kids are talking by the door", 2: "dogs are sitting by the door"}
BLOCK = 1600  # 0.1 s, as the app feeds it
T0 = 500.0  # the caller's clock does not start at 0

Samples = npt.NDArray[np.float32]


@pytest.fixture(scope="module")
def recognizer(whisper_model: Path) -> WhisperRecognizer:
    loaded = WhisperRecognizer(WhisperSettings(whisper_model))
    loaded.warm_up()
    return loaded


def stream(recognizer: WhisperRecognizer, audio: Samples, t0: float = T0) -> list[Partial | Utterance]:
    """Feed `audio` in 0.1 s blocks on the caller's clock, then finish()."""
    events: list[Partial | Utterance] = []
    for i in range(0, len(audio), BLOCK):
        events += recognizer.feed(audio[i : i + BLOCK], t0 + i / SAMPLE_RATE)
    return events + list(recognizer.finish())


def finals(events: list[Partial | Utterance]) -> list[Utterance]:
    return [e for e in events if isinstance(e, Utterance)]


def silence(seconds: float) -> Samples:
    return np.zeros(round(seconds * SAMPLE_RATE), np.float32)


def test_real_speech_gives_the_right_words_with_times_in_order(
    recognizer: WhisperRecognizer, shared_data: Path
) -> None:
    # Six actors, men and women, calm to fearful and angry (RAVDESS emotion codes 1-8).
    picks = [("Actor_01", 3), ("Actor_04", 5), ("Actor_08", 8), ("Actor_11", 1), ("Actor_15", 6), ("Actor_18", 4)]
    pairs = []
    for actor, emotion in picks:
        folder = shared_data / "ravdess_speech" / actor
        path = next(p for p in sorted(folder.iterdir()) if p.stem.split("-")[2] == f"{emotion:02d}")
        name = parse_ravdess_name(path.stem)
        assert name is not None
        audio = np.concatenate([read_audio(path).samples, silence(1.0)])
        heard = finals(stream(recognizer, audio))
        assert len(heard) == 1, (path.name, heard)
        utterance = heard[0]
        pairs.append((STATEMENTS[name.statement], utterance.text))
        span_end = T0 + len(audio) / SAMPLE_RATE
        assert T0 <= utterance.start < utterance.end <= span_end
        starts = [w.start for w in utterance.words]
        assert starts == sorted(starts) and all(w.start <= w.end for w in utterance.words)
        assert utterance.words[0].start == utterance.start and utterance.words[-1].end == utterance.end
        assert all(0.0 <= w.confidence <= 1.0 for w in utterance.words)
        assert utterance.backend == "whisper:" + recognizer.settings.model_dir.name
    assert word_error_rate(pairs) <= 0.1, pairs


def test_a_talking_clips_sound_is_transcribed_with_times_inside_its_utterances(
    recognizer: WhisperRecognizer, shared_data: Path
) -> None:
    audio = read_audio(shared_data / "video" / "talking" / "styletalk_Obama_clip1.mp4").samples[: 14 * SAMPLE_RATE]
    heard = finals(stream(recognizer, audio))
    text = " ".join(u.text for u in heard).lower()
    for phrase in ("oil spill", "explosion", "deepwater horizon", "drilling rig"):
        assert phrase in text, text
    previous_end = T0
    for utterance in heard:
        assert previous_end <= utterance.start + 0.05  # utterances in order, not overlapping
        assert all(utterance.start <= w.start <= w.end <= utterance.end for w in utterance.words)
        previous_end = utterance.end
    assert previous_end <= T0 + 14.0


def tones(seconds: float) -> Samples:
    """Music-like sound: a chord per half second, with note attacks and decays."""
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    rng = np.random.default_rng(3)
    out = np.zeros_like(t)
    for start in np.arange(0, seconds, 0.5):
        notes = 220.0 * 2 ** (rng.integers(0, 24, 3) / 12)
        envelope = np.where(t >= start, np.exp(-(t - start) * 4.0), 0.0)
        out += envelope * sum(np.sin(2 * np.pi * f * t) for f in notes) / 3
    return (0.3 * out).astype(np.float32)


@pytest.mark.parametrize(
    "sound",
    [
        pytest.param(lambda: silence(6.0), id="silence"),
        pytest.param(lambda: np.random.default_rng(1).normal(0, 0.1, 6 * SAMPLE_RATE).astype(np.float32), id="noise"),
        pytest.param(lambda: np.random.default_rng(2).normal(0, 0.003, 6 * SAMPLE_RATE).astype(np.float32), id="hiss"),
        pytest.param(lambda: tones(6.0), id="tones"),
    ],
)
def test_silence_noise_and_tones_give_no_words(recognizer: WhisperRecognizer, sound: object) -> None:
    assert callable(sound)
    assert stream(recognizer, sound()) == []


needs_flite = pytest.mark.skipif(not flite_available(), reason="needs Debian's flite (CI installs it)")


@needs_flite
def test_partials_grow_while_speaking_then_one_final(recognizer: WhisperRecognizer) -> None:
    said = "the meeting starts at nine in the morning and we will talk about the budget for next year"
    audio = np.concatenate([synthesise(said, "slt"), silence(1.0)])
    events = stream(recognizer, audio)
    partials = [e for e in events if isinstance(e, Partial)]
    heard = finals(events)
    assert len(heard) == 1 and word_error_rate([(said, heard[0].text)]) <= 0.1, heard
    assert len(partials) >= 2, partials  # ~5 s of speech: a caption while it is said
    assert events.index(heard[0]) > events.index(partials[-1])  # the final replaces them
    stamps = [p.timestamp for p in partials]
    assert stamps == sorted(stamps) and stamps[-1] <= heard[0].end + 0.5
    assert len(partials[-1].text.split()) > len(partials[0].text.split())


@needs_flite
def test_quiet_and_soft_onset_speech_is_not_cut(recognizer: WhisperRecognizer) -> None:
    said = "please open the window before you leave"
    speech = synthesise(said, "rms")
    fade_in = np.minimum(1.0, np.arange(len(speech)) / (0.25 * SAMPLE_RATE)).astype(np.float32)
    for audio in (speech * 0.02, speech * fade_in):  # -34 dB; a quarter-second swell
        heard = finals(stream(recognizer, np.concatenate([silence(0.5), audio, silence(1.0)])))
        assert len(heard) == 1 and word_error_rate([(said, heard[0].text)]) <= 0.15, heard


@needs_flite
def test_finish_flushes_speech_that_never_fell_silent(recognizer: WhisperRecognizer) -> None:
    said = "thank you very much for your help"
    audio = synthesise(said, "awb")
    fed: list[Partial | Utterance] = []
    for i in range(0, len(audio), BLOCK):
        fed += recognizer.feed(audio[i : i + BLOCK], T0 + i / SAMPLE_RATE)
    assert finals(fed) == []
    assert recognizer.open_seconds > 1.0
    last = recognizer.finish()
    assert len(last) == 1 and word_error_rate([(said, last[0].text)]) <= 0.15
    assert recognizer.open_seconds == 0.0
    # A new stream after finish() is on its own clock.
    again = finals(stream(recognizer, np.concatenate([audio, silence(1.0)]), t0=900.0))
    assert len(again) == 1 and again[0].start >= 900.0


@needs_flite
def test_a_quick_finish_closes_on_the_words_already_shown_without_decoding(recognizer: WhisperRecognizer) -> None:
    audio = synthesise("we need to talk about the budget before the end of the month", "slt")
    partials = [e for e in stream_without_finish(recognizer, audio) if isinstance(e, Partial)]
    decodes = len(recognizer.decode_seconds)
    assert partials and recognizer.expected_close_s() > 0
    last = recognizer.finish(quick=True)
    assert len(recognizer.decode_seconds) == decodes  # no final decode
    assert len(last) == 1 and last[0].text == partials[-1].text and last[0].words == ()


def stream_without_finish(recognizer: WhisperRecognizer, audio: Samples) -> Iterator[Partial | Utterance]:
    for i in range(0, len(audio), BLOCK):
        yield from recognizer.feed(audio[i : i + BLOCK], T0 + i / SAMPLE_RATE)


def _spin(stop: Any) -> None:
    while not stop.is_set():
        sum(i * i for i in range(10_000))


@needs_flite
def test_the_partial_interval_follows_a_busy_cpu_and_says_so(
    whisper_model: Path, caplog: pytest.LogCaptureFixture
) -> None:
    audio = synthesise(
        "this is a long sentence that keeps on going so that the captions have to be decoded again and again "
        "while the person is still speaking",
        "slt",
    )
    quiet = WhisperRecognizer(WhisperSettings(whisper_model))
    quiet.warm_up()
    list(stream_without_finish(quiet, audio))
    idle_cost = quiet._pace.cost_s
    assert idle_cost is not None
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    spinners = [context.Process(target=_spin, args=(stop,), daemon=True) for _ in range(4)]
    for spinner in spinners:
        spinner.start()
    try:
        busy = WhisperRecognizer(WhisperSettings(whisper_model, cpu_share=idle_cost / 1.05))
        busy.warm_up()
        with caplog.at_level(logging.INFO, logger="asr.whisper_backend"):
            list(stream_without_finish(busy, audio))
    finally:
        stop.set()
        for spinner in spinners:
            spinner.join(timeout=5)
    # With 4 spinners on this machine's cores a decode takes far longer than when idle, and the
    # interval grows with it (the share is set so that the idle cost would give ~1.05 s).
    assert busy._pace.cost_s is not None and busy._pace.cost_s > 1.3 * idle_cost
    assert busy.partial_interval_s > 1.3
    assert any("partial captions every" in r.getMessage() for r in caplog.records)


def test_a_model_folder_with_a_file_missing_is_one_clear_line(whisper_model: Path, tmp_path: Path) -> None:
    broken = tmp_path / "whisper-tiny.en"
    shutil.copytree(whisper_model, broken)
    (broken / "tokenizer.json").unlink()
    with pytest.raises(RecognizerError) as caught:
        WhisperRecognizer(WhisperSettings(broken))
    message = str(caught.value)
    assert "missing tokenizer.json" in message and "models pull whisper-tiny.en" in message and "\n" not in message


def test_a_corrupt_model_file_is_one_clear_line(whisper_model: Path, tmp_path: Path) -> None:
    broken = tmp_path / "whisper-tiny.en"
    shutil.copytree(whisper_model, broken)
    (broken / "model.bin").write_bytes((whisper_model / "model.bin").read_bytes()[:4096])
    with pytest.raises(RecognizerError) as caught:
        WhisperRecognizer(WhisperSettings(broken))
    message = str(caught.value)
    assert "may be corrupt" in message and "\n" not in message
