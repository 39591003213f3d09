"""Delivery (overlay.delivery): pitch, pauses, pace, fillers, loudness and talk share on sound of known truth."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from asr.contract import Word
from overlay.delivery.figures import (
    FigureSettings,
    PhraseSpan,
    TimedWord,
    delivery_figures,
    speaking_time,
    utterance_fillers,
)
from overlay.delivery.fillers import find_fillers
from overlay.delivery.pitch import PitchSettings, PitchTracker
from overlay.delivery.sound import Phrase
from overlay.delivery.stage import DeliveryReading, DeliveryStage, Pause, phrase_span, words_of
from overlay.records import AudioBlock, TextEstimate
from tests.speech_audio import HARVARD_LIST_1, RATE, espeak, espeak_available, joined, synthetic_voice

HARVARD = HARVARD_LIST_1[:6]


def heard(samples: npt.NDArray[np.float32], origin: float = 100.0) -> tuple[list[Phrase], list[Pause]]:
    """The phrases and pauses the stage finds in `samples`, fed in 0.1 s blocks as a microphone gives them."""
    stage = DeliveryStage()
    phrases: list[Phrase] = []
    pauses: list[Pause] = []
    for start in range(0, len(samples), RATE // 10):
        events = stage.feed(AudioBlock(samples[start : start + RATE // 10], origin + start / RATE))
        phrases += events.phrases
        pauses += events.pauses
    events = stage.finish()
    return phrases + events.phrases, pauses + events.pauses


def contour(seconds: float, centre_hz: float, swing_semitones: float) -> npt.NDArray[np.float64]:
    """A pitch rising and falling by +-swing_semitones around centre_hz, twice over."""
    phase = np.linspace(0.0, 4 * np.pi, round(seconds * RATE))
    return centre_hz * 2.0 ** (swing_semitones * np.sin(phase) / 12.0)


def test_the_pitch_tracker_reads_known_tones() -> None:
    tracker = PitchTracker()
    t = np.arange(tracker.frame_length) / RATE
    for hz in (80.0, 123.0, 210.0, 350.0):
        tone = np.sum([np.sin(2 * np.pi * k * hz * t) / k for k in range(1, 6)], axis=0).astype(np.float32)
        assert tracker.pitch(tone[None, :])[0] == pytest.approx(hz, rel=0.01)
    noise = np.random.default_rng(1).normal(0, 0.1, (3, tracker.frame_length)).astype(np.float32)
    assert not tracker.pitch(noise).any()  # no period in noise: unvoiced


def test_a_flat_voice_is_monotone_and_an_intonated_one_is_not() -> None:
    flat, _ = heard(synthetic_voice(np.full(4 * RATE, 120.0)))
    lively, _ = heard(synthetic_voice(contour(4.0, 160.0, 5.0)))
    assert len(flat) == len(lively) == 1
    assert flat[0].pitch is not None and lively[0].pitch is not None
    assert flat[0].pitch.median_hz == pytest.approx(120.0, rel=0.02)
    assert flat[0].pitch.range_semitones < 0.5
    assert lively[0].pitch.range_semitones == pytest.approx(
        2 * 5.0 * np.sin(0.4 * np.pi), abs=1.0
    )  # p10..p90 of a sine
    assert delivery_figures([phrase_span(flat[0])], [], 4.0).monotone is True
    assert delivery_figures([phrase_span(lively[0])], [], 4.0).monotone is False


def test_narrow_for_this_speaker_is_monotone_even_above_the_floor() -> None:
    from overlay.delivery.figures import monotone_flags

    settings = FigureSettings()
    assert monotone_flags([9.0, 10.0, 11.0, 4.5, None], settings) == [False, False, False, True, None]
    assert monotone_flags([2.0, 2.5, 3.5], settings) == [True, True, False]  # under 3 st whoever speaks


def test_a_silence_of_3_s_inside_speech_is_one_long_pause_of_3_s() -> None:
    voice = synthetic_voice(contour(2.0, 140.0, 3.0))
    phrases, pauses = heard(np.concatenate([voice, np.zeros(3 * RATE, np.float32), voice]))
    assert len(phrases) == 2
    assert len(pauses) == 1 and pauses[0].long
    assert pauses[0].length_s == pytest.approx(3.0, abs=0.15)
    assert pauses[0].start - 100.0 == pytest.approx(2.0, abs=0.15)
    figures = delivery_figures([phrase_span(p) for p in phrases], [], 7.0)
    assert len(figures.long_pauses) == 1 and figures.long_pauses[0][1] == pytest.approx(3.0, abs=0.15)
    assert figures.talk_share == pytest.approx(4.0 / 7.0, abs=0.05)


@pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed (Debian: apt-get install espeak-ng)")
@pytest.mark.parametrize("wpm", [110, 190])
def test_speech_at_a_known_rate_gives_its_pace(wpm: int) -> None:
    spoken = joined([espeak(s, wpm) for s in HARVARD], [0.6, 1.2, 2.6, 0.8, 1.6], sum(len(s.split()) for s in HARVARD))
    # The truth: every word over the speaking time (the phrases and the pauses under 2 s).
    speaking = sum(end - start for start, end in spoken.phrases) + sum(n for _, n in spoken.pauses if n < 2.0)
    truth = spoken.words * 60.0 / speaking
    phrases, pauses = heard(spoken.samples, origin=0.0)
    # Each sentence's words, timed as a recognizer would (evenly over its span here).
    utterances = [
        words_of(TextEstimate(start, end, text, np.zeros(7, np.float32), "test"))
        for (start, end), text in zip(spoken.phrases, HARVARD, strict=True)
    ]
    figures = delivery_figures([phrase_span(p) for p in phrases], utterances, len(spoken.samples) / RATE)
    assert figures.pace_wpm == pytest.approx(truth, rel=0.10)
    found = {round(p.start, 1): p.length_s for p in pauses}
    for start, length in spoken.pauses:  # every pause over 0.5 s, with its length
        match = min(found, key=lambda t: abs(t - start))
        assert abs(match - start) < 0.2 and found[match] == pytest.approx(length, abs=0.15)
    assert [round(n, 1) for _, n in figures.long_pauses] == [2.6]


def test_pace_counts_the_pauses_under_2_s_and_not_the_longer_ones() -> None:
    phrases = [_phrase(0.0, 10.0), _phrase(11.0, 21.0), _phrase(31.0, 41.0)]  # 1 s pause, then 10 s
    assert speaking_time(phrases, FigureSettings()) == pytest.approx(31.0)
    words = [[TimedWord(f"w{i}", i * 0.5, i * 0.5 + 0.3) for i in range(62)]]
    figures = delivery_figures(phrases, words, 41.0)
    assert figures.pace_wpm == pytest.approx(62 * 60.0 / 31.0)
    assert figures.long_pauses == ((21.0, 10.0),) and len(figures.pauses) == 2
    assert figures.talk_share == pytest.approx(30.0 / 41.0)


def _phrase(start: float, end: float, level: float = -20.0, clipped: float = 0.0) -> PhraseSpan:
    return PhraseSpan(start, end, 100.0, 150.0, level, clipped)


def _words(text: str, start: float = 0.0, step: float = 0.4) -> list[TimedWord]:
    return [TimedWord(token, start + i * step, start + i * step + 0.3) for i, token in enumerate(text.split())]


@pytest.mark.parametrize(
    ("text", "fillers"),
    [
        ("So, um, I think that, uh, we should, like, go home.", ["so", "um", "uh", "like"]),
        ("Um, you know, it is late. I mean, we could stay.", ["um", "you know", "I mean"]),
        ("I like it so much, do you know the way?", []),  # the same words as words
        ("It looks like rain so we stay in", []),
        ("and that's it, you know.", ["you know"]),
        ("Hmm. Erm, right.", ["hmm", "erm"]),
    ],
)
def test_fillers_are_found_where_they_are_fillers(text: str, fillers: Sequence[str]) -> None:
    assert [f.word for f in find_fillers(text.split())] == list(fillers)


def test_fillers_in_a_transcript_are_counted_with_their_times() -> None:
    first = _words("So, um, I think that, uh, we should go.", start=10.0)
    second = _words("I like it, you know, a lot.", start=20.0)
    found = utterance_fillers([first, second])
    assert [(f.word, round(f.start, 2), round(f.end, 2)) for f in found] == [
        ("so", 10.0, 10.3),
        ("um", 10.4, 10.7),
        ("uh", 12.0, 12.3),
        ("you know", 21.2, 21.9),
    ]
    figures = delivery_figures([_phrase(10.0, 14.0), _phrase(20.0, 23.0)], [first, second], 30.0)
    assert len(figures.fillers) == 4
    assert figures.fillers_per_minute == pytest.approx(4 * 60.0 / 7.0)
    assert figures.pace_wpm == pytest.approx(14 * 60.0 / 7.0)  # "um" and "uh" are not words; "you know" are


def test_loudness_is_the_speech_level_with_too_quiet_and_clipping_flags() -> None:
    voice = synthetic_voice(contour(2.0, 140.0, 3.0))
    quiet, _ = heard(voice * 0.1)  # about -44 dBFS
    loud, _ = heard(np.clip(voice * 8.0, -1.0, 1.0))
    normal, _ = heard(voice)
    assert delivery_figures([phrase_span(quiet[0])], [], 2.0).too_quiet is True
    clipped = delivery_figures([phrase_span(loud[0])], [], 2.0)
    assert clipped.clipping is True and clipped.too_quiet is False
    fine = delivery_figures([phrase_span(normal[0])], [], 2.0)
    assert fine.clipping is False and fine.too_quiet is False
    whole = 10.0 * np.log10(np.mean(np.square(voice, dtype=np.float64)))  # all of it is speech
    assert fine.level_dbfs == pytest.approx(whole, abs=1.5)


def test_the_live_line_counts_the_last_30_s_of_words() -> None:
    stage = DeliveryStage()
    voice = synthetic_voice(contour(6.0, 140.0, 3.0))
    for start in range(0, len(voice), RATE // 10):
        stage.feed(AudioBlock(voice[start : start + RATE // 10], 50.0 + start / RATE))
    assert stage.reading().wpm is None  # no words yet
    text = "so um we will ship it on friday and then we will see how it goes"
    words = tuple(Word(w, 50.0 + i * 0.35, 50.0 + i * 0.35 + 0.3, 0.9) for i, w in enumerate(text.split()))
    final = TextEstimate(50.0, words[-1].end, text, np.zeros(7, np.float32), "test", words)
    assert stage.hear([final]) and not stage.hear([final])  # each final once
    reading = stage.reading()
    # 15 words ("um" is none) over the speech up to the last word's end, 5.55 s after the voice began.
    spoken = words[-1].end - 50.0
    assert reading.wpm == pytest.approx(15 * 60.0 / spoken, rel=0.05)
    assert reading.fillers_per_minute == pytest.approx(60.0 / spoken, rel=0.05)  # "um" ("so" has no comma here)
    assert reading.line() == f"{reading.wpm:.0f} wpm, 11 fillers/min"


def test_the_stage_takes_little_time_per_block() -> None:
    import time

    voice = synthetic_voice(contour(10.0, 140.0, 4.0))
    stage = DeliveryStage()
    started = time.process_time()
    for start in range(0, len(voice), RATE // 10):
        stage.feed(AudioBlock(voice[start : start + RATE // 10], start / RATE))
    share = (time.process_time() - started) / 10.0
    assert share < 0.05, f"{share:.1%} of a core for continuous speech"  # bench/delivery.py measures it properly


def test_pitch_settings_decide_the_range_percentiles() -> None:
    from overlay.delivery.pitch import pitch_figures

    hz = np.linspace(100.0, 200.0, 101).astype(np.float32)
    figures = pitch_figures(hz, PitchSettings(low_percentile=0.0, high_percentile=100.0))
    assert figures is not None and figures.range_semitones == pytest.approx(12.0)
    assert pitch_figures(hz[:10], PitchSettings()) is None  # too few voiced frames


# ---------------------------------------------------------------- the timeline, summary, exports, overlay and OBS


def test_the_timeline_keeps_the_words_phrases_and_long_pauses(tmp_path: Path) -> None:
    from overlay.session.reading import read_session
    from overlay.session.recorder import SessionRecorder, record_delivery
    from overlay.session.summary import summarize
    from overlay.session.timeline import TimelineWriter

    voice = synthetic_voice(contour(3.0, 150.0, 4.0))
    writer = TimelineWriter(tmp_path / "s.sqlite", {"kind": "test"}, origin=100.0)
    recorder = SessionRecorder(writer)
    stage = DeliveryStage()
    samples = np.concatenate([voice, np.zeros(3 * RATE, np.float32), voice])
    for start in range(0, len(samples), RATE // 10):
        record_delivery(stage.feed(AudioBlock(samples[start : start + RATE // 10], 100.0 + start / RATE)), recorder)
    record_delivery(stage.finish(), recorder)
    said = "So, um, we shipped it, you know, on time."
    words = tuple(Word(w, 100.0 + 0.3 * i, 100.0 + 0.3 * i + 0.25, 0.8) for i, w in enumerate(said.split()))
    recorder.utterance(TextEstimate(100.0, words[-1].end, said, np.full(7, 1 / 7, np.float32), "test", words))
    recorder.utterance(TextEstimate(106.0, 108.0, "and then we rested", np.full(7, 1 / 7, np.float32), "test"))
    writer.close(duration_s=9.0)
    session = read_session(tmp_path / "s.sqlite")
    assert session.schema_version >= 2 and session.measured_delivery
    assert [w.text for w in session.words][:3] == ["So,", "um,", "we"] and session.words[0].confidence == 0.8
    untimed = [w for w in session.words if w.utterance == 6.0]
    assert [w.confidence for w in untimed] == [-1.0] * 4 and untimed[0].start == 6.0  # spread over the utterance
    assert len(session.phrases) == 2 and session.phrases[0].pitch_hz == pytest.approx(150.0, rel=0.05)
    assert [e.kind for e in session.events] == ["long_pause"] and session.events[0].t == pytest.approx(3.0, abs=0.15)
    summary = summarize(session).to_json()
    assert summary["long_pauses"] == [[pytest.approx(3.0, abs=0.15), pytest.approx(3.0, abs=0.15)]]
    assert summary["fillers"] == 3 and summary["talk_share"] == pytest.approx(6.0 / 9.0, abs=0.05)
    assert summary["pace_wpm"] == pytest.approx(12 * 60.0 / 6.0, rel=0.05)  # 9 + 4 words less "um"; 6 s speaking
    assert summary["pitch_range_semitones"] is not None and summary["monotone"] is False


def test_an_old_session_without_the_figures_still_opens(tmp_path: Path) -> None:
    import csv
    import io

    from overlay.session import export
    from overlay.session.reading import read_session
    from overlay.session.summary import summarize
    from tests.sessions_data import write_old_session

    session = read_session(write_old_session(tmp_path))
    assert session.schema_version == 1 and not session.measured_delivery
    assert session.words == () and session.phrases == ()
    summary = summarize(session).to_json()
    assert summary["utterances"] == 7
    assert all(summary[key] is None for key in ("pace_wpm", "long_pauses", "fillers_per_minute", "talk_share"))
    data = export.session_data(session)
    assert data["delivery"] == {"measured": False}
    tables = {row["table"] for row in csv.DictReader(io.StringIO(export.to_csv(session)))}
    assert not tables & {"word", "phrase", "pause", "filler"}
    assert "renderSession" in export.to_html(session)


def test_the_summary_and_the_exports_show_the_figures(tmp_path: Path) -> None:
    import csv
    import io

    from overlay.delivery.figures import is_word
    from overlay.session import export
    from overlay.session.reading import read_session
    from overlay.session.summary import summarize
    from tests import sessions_data

    session = read_session(sessions_data.write_session(tmp_path))
    summary = summarize(session).to_json()
    said = sum(is_word(t) for u in sessions_data.UTTERANCES for t in u[2].split())  # not "um", not "&"
    phrases = sum(u[1] - u[0] + 0.1 for u in sessions_data.UTTERANCES)  # each utterance a phrase, 0.05 s each side
    speaking = phrases + 0.4  # and the one pause under 2 s
    assert summary["pace_wpm"] == pytest.approx(said * 60.0 / speaking, abs=0.1)
    assert summary["fillers"] == len(sessions_data.FILLERS)
    assert [round(length, 1) for _, length in summary["long_pauses"]] == [4.4, 14.4, 25.9, 2.4, 5.9]
    assert summary["talk_share"] == pytest.approx(phrases / 90.0, abs=0.001)
    ranges = sorted(12 * np.log2(high / low) for low, high in (*sessions_data.PHRASE_PITCH, (100.0, 160.0)))
    assert summary["pitch_range_semitones"] == pytest.approx(ranges[3], abs=0.01)
    data = export.session_data(session)["delivery"]
    assert [(f["word"], f["start"]) for f in data["fillers"]] == [
        (word, pytest.approx(start, abs=0.01)) for word, start in sessions_data.FILLERS
    ]
    assert [p["monotone"] for p in data["phrases"]] == [False, False, True, False, False, False, False]
    assert max(v for v in data["pace"]["wpm"] if v is not None) > 0 and data["comfortable_wpm"] == [100.0, 165.0]
    marked = [u["fillers"] for u in export.session_data(session)["utterances"]]
    assert marked[5] == [[0, 1], [1, 1], [6, 1]] and not any(marked[:5])  # "so," "um," "like," among its words
    rows = list(csv.DictReader(io.StringIO(export.to_csv(session))))
    fillers = [(r["text"], round(float(r["t"]), 2)) for r in rows if r["table"] == "filler"]
    assert fillers == [(word, round(start, 2)) for word, start in sessions_data.FILLERS]
    assert [r["kind"] for r in rows if r["table"] == "phrase"].count("monotone") == 1
    assert sum(r["kind"] == "long" for r in rows if r["table"] == "pause") == 5


def test_the_batch_summary_has_the_delivery_columns(tmp_path: Path) -> None:
    import json

    from overlay.analysis.batch import SUMMARY_COLUMNS, FileOutcome, SummaryFile, read_summary_csv
    from overlay.session.reading import read_session
    from overlay.session.summary import summarize
    from tests import sessions_data

    wanted = ("pace_wpm", "long_pauses", "fillers_per_minute", "pitch_range_semitones", "talk_share")
    assert set(wanted) <= set(SUMMARY_COLUMNS)
    summary = summarize(read_session(sessions_data.write_session(tmp_path / "s"))).to_json()
    outcome = FileOutcome("talk.mp4", "ok", session="talk-0123456789ab", summary=summary)
    table = SummaryFile(tmp_path / "summary.csv")
    table.add(outcome)
    table.close()
    (row,) = read_summary_csv(tmp_path / "summary.csv")
    assert float(row["pace_wpm"]) == summary["pace_wpm"] and float(row["talk_share"]) == summary["talk_share"]
    assert json.loads(row["long_pauses"]) == summary["long_pauses"]  # [[start_s, length_s], ...]


def test_the_compact_card_shows_the_line_only_when_asked_and_the_detailed_layout_by_default() -> None:
    from overlay.fusion import FusedState
    from overlay.render.draw import OverlaySettings, OverlayState
    from overlay.render.layouts import Renderer

    frame = np.full((720, 1280, 3), 90, np.uint8)
    p = np.array([0.02, 0.02, 0.02, 0.8, 0.04, 0.05, 0.05], np.float32)
    fused = FusedState(1.0, p, "happy", 0.8, 0.6, 0.3, {"face": 1.0, "voice": 0.0, "text": 0.0}, None)
    state = OverlayState(fused=fused, delivery="142 wpm, 2 fillers/min")

    def changed(settings: OverlaySettings, layout: str, shown: OverlayState) -> int:
        return int(np.count_nonzero(np.any(Renderer(layout, settings).draw(frame, shown) != frame, axis=2)))

    plain = OverlayState(fused=fused)
    off = OverlaySettings()  # the compact card leaves the line out by default
    assert changed(off, "compact", state) == changed(off, "compact", plain)
    on = OverlaySettings(compact_delivery=True)
    assert changed(on, "compact", state) > changed(on, "compact", plain)
    renderer = Renderer("detailed", OverlaySettings())
    renderer.draw(frame, state)
    assert "delivery" in renderer.detailed_boxes
    renderer = Renderer("detailed", OverlaySettings(delivery=False))
    renderer.draw(frame, state)
    assert "delivery" not in renderer.detailed_boxes


def test_obs_has_a_delivery_source_shown_by_compact_only_when_asked() -> None:
    from overlay.obs.elements import ELEMENTS
    from overlay.render.draw import OverlayState
    from overlay.sinks.obs import elements_shown, overlay_texts

    assert overlay_texts(OverlayState(delivery="142 wpm, 2 fillers/min"))["delivery"] == "142 wpm, 2 fillers/min"
    assert "delivery" not in elements_shown(ELEMENTS, "compact")
    assert "delivery" in elements_shown(ELEMENTS, "compact", compact_delivery=True)
    assert "delivery" in elements_shown(ELEMENTS, "detailed")


def test_the_live_stage_publishes_the_line_and_records_the_phrases(tmp_path: Path) -> None:
    from overlay.app import _live_stages
    from overlay.fusion import FusionSettings, LiveFusion
    from overlay.runtime.readings import Readings
    from overlay.session.reading import read_session
    from overlay.session.recorder import SessionRecorder
    from overlay.session.timeline import TimelineWriter
    from overlay.speech.live import Words

    specs = {spec.key: spec for spec in _live_stages(object, object, object, DeliveryStage)}
    spec = specs["delivery"]
    assert spec.takes == "sound" and spec.name == "delivery-analysis"
    writer = TimelineWriter(tmp_path / "live.sqlite", {"kind": "test"}, origin=0.0)
    readings = Readings(LiveFusion(FusionSettings()), SessionRecorder(writer))
    stage = spec.make()
    voice = synthetic_voice(contour(6.0, 140.0, 3.0))
    text = "we will ship it on friday and then we will see how it goes"
    words = tuple(Word(w, 0.42 * i, 0.42 * i + 0.3, 0.9) for i, w in enumerate(text.split()))  # to 5.34 s
    final = TextEstimate(0.0, words[-1].end, text, np.full(7, 1 / 7, np.float32), "test", words)
    for start in range(0, len(voice), RATE // 10):
        if start == round(5.5 * RATE):
            readings.publish("text", Words("test", (final,)))
        spec.handle(stage, AudioBlock(voice[start : start + RATE // 10], start / RATE), readings)
    assert spec.finish is not None
    spec.finish(stage, readings)
    reading = readings.latest("delivery")
    assert isinstance(reading, DeliveryReading) and reading.wpm is not None
    assert spec.status(readings, 6.0) == reading.line()
    assert readings.counts["phrases"] == 1
    writer.close(duration_s=6.0)
    assert len(read_session(tmp_path / "live.sqlite").phrases) == 1


def test_the_layout_option_turns_the_compact_line_on() -> None:
    from overlay.config import parse_config

    assert parse_config({}).overlay.compact_delivery is False and parse_config({}).overlay.delivery is True
    assert parse_config({"overlay": {"compact_delivery": True}}).overlay.compact_delivery is True


@pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed (Debian: apt-get install espeak-ng)")
def test_analyze_gives_the_delivery_figures_of_a_recording(tmp_path: Path) -> None:
    import json

    from tests.conftest import run_cli
    from tests.media import write_wav

    spoken = joined([espeak(s, 150) for s in HARVARD[:2]], [3.0], 16)
    wav = write_wav(tmp_path / "talk.wav", spoken.samples)
    result = run_cli(["analyze", str(wav), "--json"])
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.splitlines()[0])
    ((start, length),) = summary["long_pauses"]
    assert start == pytest.approx(spoken.pauses[0][0], abs=0.15) and length == pytest.approx(3.0, abs=0.15)
    speaking = sum(end - begin for begin, end in spoken.phrases)
    assert summary["talk_share"] == pytest.approx(speaking / (len(spoken.samples) / RATE), abs=0.05)
    assert summary["pitch_range_semitones"] > 0 and summary["level_dbfs"] < 0 and summary["pace_wpm"] > 0
    assert summary["events"]["long_pause"] == 1
