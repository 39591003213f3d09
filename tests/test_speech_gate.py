"""The parts of the Whisper recognizer that need no Whisper: voice activity gating, LocalAgreement-2,
the hallucination rules, the decode pace, and the choice of recognizer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from asr.choose import RecognizerChoice, plan_recognizer
from asr.contract import SAMPLE_RATE, RecognizerError
from asr.local_agreement import LocalAgreement
from asr.speech_gate import WINDOW, WINDOW_S, GateSettings, SileroStream, StreamWindows, UtteranceGate
from asr.whisper_backend import DecodePace
from asr.whisper_filters import FilterSettings, SegmentView, repeated_run_cut, segment_rejection, stock_phrase_rejection
from overlay.media.audio_file import read_audio


def push_run(gate: UtteranceGate, probabilities: list[float]) -> list[tuple[int, int]]:
    """(start sample, length) of each utterance the gate closes."""
    closed = []
    for p in probabilities:
        utterance = gate.push(np.full(WINDOW, 1e-3, np.float32), p)  # an even, quiet level: Silero decides
        if utterance is not None:
            closed.append((utterance.start_sample, len(utterance.audio)))
    return closed


def windows(seconds: float, p: float) -> list[float]:
    return [p] * round(seconds / WINDOW_S)


def test_an_utterance_closes_after_half_a_second_of_silence_with_its_pre_roll_and_a_short_tail() -> None:
    gate = UtteranceGate(GateSettings())
    closed = push_run(
        gate, windows(1.0, 0.1) + windows(1.0, 0.9) + windows(0.3, 0.1) + windows(1.0, 0.9) + windows(1.0, 0.0)
    )
    assert len(closed) == 1  # a 0.3 s pause does not end it
    start, length = closed[0]
    speech_start = round(1.0 / WINDOW_S) * WINDOW
    pre_roll = round(0.4 / WINDOW_S) * WINDOW
    assert start == speech_start - pre_roll
    tail = round(0.2 / WINDOW_S) * WINDOW
    spoken = (round(1.0 / WINDOW_S) * 2 + round(0.3 / WINDOW_S)) * WINDOW
    assert length == pre_roll + spoken + tail


def test_a_long_utterance_ends_at_a_shorter_pause_and_none_outlasts_the_cap() -> None:
    gate = UtteranceGate(GateSettings(long_s=5.0, long_close_after_s=0.2, max_s=12.0))
    closed = push_run(gate, windows(6.0, 0.9) + windows(0.25, 0.1) + windows(30.0, 0.9))
    assert len(closed) == 3
    assert 6.0 <= closed[0][1] / SAMPLE_RATE <= 6.7  # closed at the 0.25 s pause once past 5 s
    assert closed[1][1] / SAMPLE_RATE == pytest.approx(12.0, abs=WINDOW_S)  # cut at the cap
    assert gate.open is not None  # the rest goes on


def test_a_click_is_dropped_and_the_stream_end_closes_what_is_open() -> None:
    gate = UtteranceGate(GateSettings())
    assert push_run(gate, windows(0.1, 0.9) + windows(1.0, 0.0)) == []  # 0.1 s of "speech": a click
    assert push_run(gate, windows(1.0, 0.9)) == []
    closed = gate.close()
    assert closed is not None and closed.speech_s == pytest.approx(1.0, abs=WINDOW_S)
    assert gate.close() is None


def test_a_shout_silero_scores_near_zero_still_opens_an_utterance_but_steady_noise_does_not() -> None:
    rng = np.random.default_rng(0)

    def run(levels: list[float]) -> list[int]:
        gate = UtteranceGate(GateSettings())
        closed = []
        for level in levels:
            utterance = gate.push((rng.normal(0, level, WINDOW)).astype(np.float32), 0.05)
            if utterance is not None:
                closed.append(len(utterance.audio))
        return closed

    quiet, shout, noise = 3e-4, 0.2, 0.1  # -70, -14 and -20 dBFS
    assert len(run([quiet] * 40 + [shout] * 40 + [quiet] * 40)) == 1  # 30 dB over the room, and loud
    assert run([noise] * 200) == []  # steady: it is its own background
    assert run([shout] * 60 + [quiet] * 40) == []  # loud from the start: no quieter background to stand out from


def test_stream_windows_keep_the_remainder_between_blocks() -> None:
    cutter = StreamWindows()
    audio = np.arange(5000, dtype=np.float32)
    cut = [cutter.cut(audio[i : i + 1600]) for i in range(0, 5000, 1600)]
    joined = np.concatenate([c.reshape(-1) for c in cut] + [cutter.flush().reshape(-1)])
    assert np.array_equal(joined[:5000], audio) and not joined[5000:].any()


def test_silero_as_a_stream_gives_exactly_the_whole_file_probabilities(shared_data: Path) -> None:
    path = sorted((shared_data / "ravdess_speech" / "Actor_02").iterdir())[0]
    audio = read_audio(path).samples
    audio = audio[: len(audio) // WINDOW * WINDOW]
    whole = SileroStream().probabilities(audio.reshape(-1, WINDOW))
    streamed = SileroStream()
    cutter = StreamWindows()
    parts = [streamed.probabilities(cutter.cut(audio[i : i + 1600])) for i in range(0, len(audio), 1600)]
    assert np.allclose(np.concatenate(parts), whole, atol=1e-5)
    assert whole.max() > 0.9 and whole[:5].max() < 0.3  # the actor speaks after a moment of silence


def test_local_agreement_commits_what_two_hypotheses_share_and_never_revises_it() -> None:
    agreement = LocalAgreement()
    agreement.update(["I", "am", "so"])
    assert agreement.committed == [] and agreement.text == "I am so"
    agreement.update(["I", "am", "so", "happy", "to"])
    assert agreement.committed == ["I", "am", "so"] and agreement.tentative == ["happy", "to"]
    agreement.update(["I", "am,", "so", "happy", "to", "see"])  # punctuation and case do not break agreement
    assert agreement.committed == ["I", "am", "so", "happy", "to"]
    agreement.update(["Hi,", "I'm", "so", "happy", "to", "see", "you"])  # a revision of committed words is not shown
    assert agreement.text.startswith("I am so happy to")
    agreement.reset()
    assert agreement.text == ""


def test_decoding_loops_are_cut_after_two_repeats() -> None:
    words = ["dogs", "are", "sitting", "by", "the", "door"] * 3
    assert repeated_run_cut(words, 2) == 12
    assert repeated_run_cut(["no", "no", "no", "no"], 2) == 2
    assert repeated_run_cut(["I", "said", "no", "no", "to", "that"], 2) == 6


def test_the_decoders_own_signals_reject_a_segment() -> None:
    settings = FilterSettings()
    good = SegmentView("Kids are talking by the door.", -0.2, 0.05, 1.1)
    assert segment_rejection(good, settings) is None
    assert "no speech" in str(segment_rejection(SegmentView("Hmm.", -1.3, 0.8, 1.0), settings))
    assert "repetitive" in str(segment_rejection(SegmentView("la la la", -0.3, 0.1, 3.1), settings))
    assert segment_rejection(SegmentView("hard but heard", -1.4, 0.1, 1.0), settings) is None
    assert "a guess" in str(segment_rejection(SegmentView("garbled", -2.3, 0.1, 1.0), settings))


def test_a_stock_phrase_needs_clear_evidence() -> None:
    settings = FilterSettings()
    assert stock_phrase_rejection("Thank you.", [0.9, 0.95], 0.02, -20.0, settings) is None  # said clearly: kept
    assert stock_phrase_rejection("Thank you.", [0.9, 0.95], 0.02, -60.0, settings) is not None  # from near-silence
    assert stock_phrase_rejection("Thanks for watching!", [0.3, 0.4, 0.5], 0.02, -20.0, settings) is not None
    assert stock_phrase_rejection("you", [0.9], 0.5, -20.0, settings) is not None
    assert stock_phrase_rejection("Thank you for the report.", [0.2] * 5, 0.5, -60.0, settings) is None


def test_the_decode_pace_keeps_partial_decoding_within_its_share() -> None:
    pace = DecodePace(cpu_share=0.25, floor_s=1.0, ceiling_s=5.0)
    assert pace.interval_s == 1.0
    pace.observe(0.2)
    assert pace.interval_s == 1.0  # cheap decodes: as often as the floor allows
    for _ in range(10):
        pace.observe(0.8)  # a slow or busy CPU
    assert pace.interval_s == pytest.approx(3.2, abs=0.1)
    for _ in range(10):
        pace.observe(3.0)
    assert pace.interval_s == 5.0


def test_the_choice_of_recognizer_follows_vosk_then_whisper_then_pocketsphinx(tmp_path: Path) -> None:
    vosk, whisper, gone = tmp_path / "vosk", tmp_path / "whisper", tmp_path / "gone"
    vosk.mkdir()
    whisper.mkdir()
    both = RecognizerChoice("auto", (gone, vosk), (whisper,))
    assert plan_recognizer(both).engine == "vosk" and plan_recognizer(both).model == vosk
    assert plan_recognizer(RecognizerChoice("auto", (gone,), (whisper,))).engine == "whisper"
    fallback = plan_recognizer(RecognizerChoice("auto", (gone,), ()))
    assert fallback.engine == "pocketsphinx" and "models pull whisper-tiny.en" in fallback.why
    assert plan_recognizer(RecognizerChoice("whisper", (vosk,), (whisper,))).engine == "whisper"
    assert plan_recognizer(RecognizerChoice("pocketsphinx", (vosk,), (whisper,))).engine == "pocketsphinx"
    with pytest.raises(RecognizerError, match="no Whisper model is installed"):
        plan_recognizer(RecognizerChoice("whisper", (vosk,), ()))
    with pytest.raises(RecognizerError, match="no Vosk model is installed"):
        plan_recognizer(RecognizerChoice("vosk", (), (whisper,)))
