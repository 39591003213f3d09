"""The live pipeline: the video never waits for analysis, failures are contained."""

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from overlay.face.live import face_stage
from overlay.records import Event
from overlay.runtime.pipeline import LivePipeline
from overlay.runtime.slot import LatestSlot
from overlay.runtime.stages import PipelineSettings, Sound
from overlay.runtime.stats import EVENTS_KEPT, LATENCIES_KEPT
from overlay.sources.video_file import VideoFileSource
from overlay.speech.live import speech_stage
from overlay.voice.live import voice_stage
from tests.fakes import BrokenVoice, CountingSpeech, ListSink, QueueAudio, SlowAnalyzer, make_clip


def test_slow_analysis_never_delays_the_video(tmp_path: Path) -> None:
    source = VideoFileSource(make_clip(tmp_path / "a.mp4", frames=50, fps=25.0, size=(320, 240)))
    sink = ListSink()
    analyzer = SlowAnalyzer(0.5)
    stats = LivePipeline(source, [face_stage(lambda: analyzer)], [sink]).run()
    assert stats.frames_out == 50 and len(sink.frames) == 50
    assert max(stats.latencies_ms) < 250  # an analysis takes 500 ms
    assert stats.analyses < 10 and stats.frames_dropped_for_analysis > 30
    assert stats.frames_out / stats.seconds == pytest.approx(25.0, rel=0.1)
    assert sink.closed


def test_latest_analysis_is_drawn_on_later_frames(tmp_path: Path) -> None:
    source = VideoFileSource(make_clip(tmp_path / "a.mp4", frames=30, fps=25.0, size=(320, 240)))
    sink = ListSink()
    LivePipeline(source, [face_stage(lambda: SlowAnalyzer(0.01))], [sink]).run()
    # Before the first analysis only the indicator is drawn; afterwards the bars appear too.
    top_left = [int(np.any(f[:60, :100] != f[120, 300])) for f in sink.frames]
    assert top_left[-1] == 1


def test_crashed_stage_is_restarted_and_recorded(tmp_path: Path) -> None:
    source = VideoFileSource(make_clip(tmp_path / "a.mp4", frames=40, fps=25.0, size=(160, 120)))
    analyzer = SlowAnalyzer(0.0, fail_first=True)
    pipeline = LivePipeline(
        source, [face_stage(lambda: analyzer)], [ListSink()], PipelineSettings(restart_pause_s=0.05)
    )
    stats = pipeline.run()
    assert [e.kind for e in stats.events] == ["stage_restarted"]
    assert "simulated crash" in stats.events[0].detail
    assert stats.analyses > 5


def test_failing_sink_is_dropped_and_the_others_go_on(tmp_path: Path) -> None:
    source = VideoFileSource(make_clip(tmp_path / "a.mp4", frames=20, fps=25.0, size=(160, 120)), paced=False)
    broken, healthy = ListSink(fail_after=3), ListSink()
    stats = LivePipeline(source, [face_stage(lambda: SlowAnalyzer(0.0))], [broken, healthy]).run()
    assert len(broken.frames) == 3 and broken.closed
    assert len(healthy.frames) == 20
    assert [e.kind for e in stats.events] == ["sink_failed"]


def test_stop_from_another_thread_ends_the_run_promptly(tmp_path: Path) -> None:
    source = VideoFileSource(make_clip(tmp_path / "a.mp4", frames=10, fps=25.0, size=(160, 120)), loop=True)
    pipeline = LivePipeline(source, [face_stage(lambda: SlowAnalyzer(0.0))], [ListSink()])
    timer = threading.Timer(0.5, pipeline.stop)
    timer.start()
    started = time.monotonic()
    pipeline.run()
    assert time.monotonic() - started < 1.5


def test_latest_slot_keeps_only_the_newest() -> None:
    slot: LatestSlot[int] = LatestSlot()
    for i in range(5):
        slot.put(i)
    assert slot.take(timeout=0.01) == 4
    assert slot.dropped == 4
    assert slot.take(timeout=0.01) is None


def test_a_live_run_is_recorded_in_its_timeline(tmp_path: Path) -> None:
    from overlay.session.reading import read_session
    from overlay.session.timeline import TimelineWriter

    source = VideoFileSource(make_clip(tmp_path / "a.mp4", frames=50, fps=25.0, size=(160, 120)))
    writer = TimelineWriter(tmp_path / "live.sqlite", {"kind": "live"})
    analyzer = SlowAnalyzer(0.0, fail_first=True)
    pipeline = LivePipeline(
        source, [face_stage(lambda: analyzer)], [ListSink()], PipelineSettings(restart_pause_s=0.05), timeline=writer
    )
    stats = pipeline.run()
    writer.close(stats.seconds)
    session = read_session(tmp_path / "live.sqlite")
    face = session.estimates["face"]
    assert 5 <= len(face) <= 21  # 2 s of analyses, recorded at most 10 times a second
    assert face.t[0] >= 0 and face.t[-1] <= stats.seconds  # seconds since the run began
    assert {row.label for row in session.fused_rows} == {"happy"} and len(session.fused_rows) >= 5
    assert session.fused_rows[0].weights["face"] == pytest.approx(1.0)
    assert [e.kind for e in session.events] == ["stage_restarted"]
    assert session.duration_s == pytest.approx(stats.seconds, abs=0.01)


def test_speech_recognition_hears_every_block_even_when_the_voice_stage_fails(tmp_path: Path) -> None:
    source = VideoFileSource(make_clip(tmp_path / "a.mp4", frames=75, fps=25.0, size=(160, 120)))
    speech = CountingSpeech()
    stages = [face_stage(lambda: SlowAnalyzer(0.0)), voice_stage(BrokenVoice), speech_stage(lambda: speech)]
    pipeline = LivePipeline(source, stages, [ListSink()], PipelineSettings(restart_pause_s=0.05), Sound(QueueAudio(20)))
    stats = pipeline.run()
    assert speech.blocks == 20  # lossless, whatever the voice stage does
    assert any(e.kind == "stage_restarted" and "voice" in e.detail for e in stats.events)


def test_what_a_run_keeps_in_memory_is_bounded(tmp_path: Path) -> None:
    """A service runs for days: per-frame figures and events are kept in ring buffers, not lists."""
    source = VideoFileSource(make_clip(tmp_path / "a.mp4", frames=20, fps=25.0, size=(64, 48)), loop=True, paced=False)
    pipeline = LivePipeline(source, [face_stage(lambda: SlowAnalyzer(0.0))], [])
    for i in range(EVENTS_KEPT + 50):
        pipeline.record_event(Event.CAMERA_LOST, f"event {i}")
    stats = pipeline.run(max_seconds=0.0001)
    for _ in range(LATENCIES_KEPT + 100):
        stats.latencies_ms.append(1.0)
    assert len(stats.latencies_ms) == LATENCIES_KEPT
    assert len(stats.events) == EVENTS_KEPT and stats.events_total == EVENTS_KEPT + 50
    assert stats.events[-1].detail == f"event {EVENTS_KEPT + 49}"  # the newest are kept
    assert set(pipeline.stats.counts) == {"analyses"}  # counters, not lists
