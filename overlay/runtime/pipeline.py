"""The live pipeline: frames in, annotated frames out at once, analysis alongside.

Threads and queues (the backpressure policy of each):
- The video path runs on the caller's thread: read a frame, draw the latest analysis on it
  (once for each layout the sinks show: overlay.render.layouts), send it to every sink,
  and offer it to analysis. It never waits for analysis, so analysis adds no latency to
  the video.
- Offering a frame to analysis replaces whatever frame was waiting there (a one-slot,
  newest-wins queue): analysis always works on the newest frame, and stale frames are
  dropped and counted.
- The "face-analysis" thread takes from that slot, runs the face stage and publishes its
  result by swapping one reference. It is a StageWorker (overlay.runtime.worker),
  supervised: an unexpected error is logged with its traceback and recorded as an event,
  and the stage is rebuilt after a short pause.
- The "audio-tee" thread (when there is audio) reads audio blocks as they come (the source
  queues them without loss) and puts every block into two unbounded queues, one per audio
  stage, so neither stage can starve the other: a failing voice stage loses no words.
- The "voice-analysis" thread feeds the voice stage from its queue and publishes each
  estimate the same way. Supervised like the face thread; its CPU time is counted for the
  bench.
- The "speech-recognition" thread takes blocks from its queue (speech recognition must
  hear everything; a slow recognizer falls behind rather than skipping words), updates the
  caption and turns each final utterance into a text estimate.
- Memory stays flat for days: what is kept per run is bounded (the latest latencies and
  events in ring buffers, counters for the rest); the timeline on disk keeps everything.
- A sink that fails is logged, recorded and dropped; the others go on.
- Fusion: each analysis thread hands its newest estimate to LiveFusion (one dict entry
  swapped); the video thread asks it for one smoothed reading per frame (microseconds).
- Timeline: every thread appends rows to the TimelineWriter's unbounded queue and goes on;
  its own "timeline-writer" thread commits them once a second, so writing never slows the
  video. overlay.session.recorder says what is kept and how often.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from overlay.face.stage import FaceAnalysis
from overlay.fusion import LiveFusion
from overlay.records import AudioBlock, Event, TextEstimate, VideoFrame, VoiceEstimate
from overlay.render.draw import Captions, OverlayState
from overlay.render.layouts import Renderer
from overlay.render.state import CAPTION_LINES, VOICE_FRESH_S, captions_at, overlay_state
from overlay.runtime.slot import LatestSlot
from overlay.runtime.stages import Analyzer, LiveAudio, PipelineSettings, SpeechAnalyzer, VoiceAnalyzer
from overlay.runtime.stats import PipelineEvent, PipelineStats, percentile
from overlay.runtime.worker import StageWorker, WorkerControl
from overlay.session.recorder import SessionRecorder
from overlay.sinks.base import FrameSink, StateSink
from overlay.sources.base import FrameSource

if TYPE_CHECKING:
    from asr.contract import Partial
    from overlay.session.timeline import TimelineWriter
    from overlay.speech.stage import SpeechEvents

logger = logging.getLogger(__name__)


SPEECH_DRAIN_S = 0.5  # at stop, what is queued for speech recognition is still heard for this long


class LivePipeline:
    """Run a source through analysis and rendering into sinks until the source ends or stop()."""

    def __init__(
        self,
        source: FrameSource,
        make_analyzer: Callable[[], Analyzer],
        sinks: Sequence[FrameSink],
        settings: PipelineSettings | None = None,
        audio: LiveAudio | None = None,
        timeline: TimelineWriter | None = None,
        state_sinks: Sequence[StateSink] = (),
    ) -> None:
        settings = settings or PipelineSettings()
        self.source = source
        self._make_analyzer = make_analyzer
        self.sinks = list(sinks)
        self.state_sinks = list(state_sinks)
        self.overlay = settings.overlay
        default_layout = settings.overlay.layout or "detailed"
        layouts = settings.layouts or (default_layout,) * len(self.sinks)
        if len(layouts) != len(self.sinks):
            raise ValueError(f"{len(layouts)} layouts for {len(self.sinks)} sinks")
        self._layout_of = {id(sink): layout for sink, layout in zip(self.sinks, layouts, strict=True)}
        self._renderers = {layout: Renderer(layout, settings.overlay) for layout in {*layouts, default_layout}}
        self._restart_pause_s = settings.restart_pause_s
        self._slot: LatestSlot[VideoFrame] = LatestSlot()
        self._latest: FaceAnalysis | None = None
        self.audio = audio.source if audio is not None else None
        self._make_voice_analyzer = audio.make_voice_analyzer if audio is not None else None
        self._voice: VoiceEstimate | None = None
        self._voice_blocks: queue.SimpleQueue[AudioBlock] = queue.SimpleQueue()
        self._make_speech_analyzer = audio.make_speech_analyzer if audio is not None else None
        self._audio_listeners = audio.listeners if audio is not None else ()
        self._speech_blocks: queue.SimpleQueue[AudioBlock] = queue.SimpleQueue()
        self._partial: Partial | None = None
        self.text_estimates: deque[TextEstimate] = deque(maxlen=CAPTION_LINES)  # what the captions show
        self.recognizer_name = ""
        self.fusion = LiveFusion(settings.fusion)
        self.timeline = timeline
        self._recorder = SessionRecorder(timeline, settings.thumbnails) if timeline is not None else None
        self._frame_times: deque[float] = deque(maxlen=90)  # for the output rate `status` shows
        self._last_label: str | None = None
        self._cpu_mark = (time.monotonic(), time.process_time())
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._tee_done = threading.Event()  # no more blocks will be queued: the speech worker may stop
        self.stats = PipelineStats()

    def stop(self) -> None:
        """Ask the pipeline to finish; safe from a signal handler or another thread."""
        self._stop.set()

    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    def pause(self) -> None:
        """Privacy switch: stop analysing (face, voice, words) while the video goes on, marked "paused"."""
        if not self._paused.is_set():
            self._paused.set()
            self._latest = None
            self._voice = None
            self._partial = None
            self.record_event(Event.PAUSED, "analysis paused by the user")

    def resume(self) -> None:
        if self._paused.is_set():
            self._paused.clear()
            self.record_event(Event.RESUMED, "analysis resumed by the user")

    def snapshot(self) -> dict[str, object]:
        """Live figures for `emotion-overlay status` (safe to call from another thread)."""
        now = time.monotonic()
        recent = sorted(itertools.islice(reversed(self.stats.latencies_ms), 300))
        latest, voice = self._latest, self._voice
        return {
            "paused": self.paused,
            "uptime_s": round(now - self.stats.started, 1) if self.stats.started else 0.0,
            "frames_out": self.stats.frames_out,
            "output_fps": round(self._recent_fps(now), 1),
            "latency_ms": {"p50": percentile(recent, 50), "p95": percentile(recent, 95)},
            "analyses": self.stats.analyses,
            "modalities": {
                "face": latest is not None and latest.expression is not None and now - latest.timestamp < 2.0,
                "voice": voice is not None and voice.probabilities is not None and now - voice.end < VOICE_FRESH_S,
                "words": self.recognizer_name or None,
            },
            "fused": self._last_label,
            "sinks": [type(sink).__name__ for sink in [*self.sinks, *self.state_sinks]],
            "session": str(self.timeline.path) if self.timeline is not None else None,
            "events": self.stats.events_total,
            "cpu_percent": self._cpu_percent(now),
        }

    def _cpu_percent(self, now: float) -> float:
        """This process's CPU (all its threads; not the speech child) since the last call, % of one core."""
        cpu = time.process_time()
        then, cpu_then = self._cpu_mark
        self._cpu_mark = (now, cpu)
        return round(100.0 * (cpu - cpu_then) / max(1e-6, now - then), 1)

    def _recent_fps(self, now: float) -> float:
        times = self._frame_times
        if len(times) < 2:
            return 0.0
        return (len(times) - 1) / max(1e-6, times[-1] - times[0]) if now - times[-1] < 2.0 else 0.0

    def run(self, max_seconds: float | None = None) -> PipelineStats:
        # The analysis threads run long stretches of Python between C calls; switching the
        # GIL every 1 ms instead of 5 lets the video thread in sooner (fewer late frames).
        sys.setswitchinterval(0.001)
        workers = self._workers()
        tee = None
        if self.audio is not None:
            tee = threading.Thread(target=self._audio_tee, name="audio-tee", daemon=True)
        self.stats.started = time.monotonic()
        if self.timeline is not None:
            self.timeline.origin = self.stats.started
        for worker in workers:
            worker.start()
        if tee is not None:
            tee.start()
        try:
            self._video_loop(max_seconds)
        finally:
            self.stats.ended = time.monotonic()
            self._stop.set()
            if tee is not None:
                tee.join(timeout=2.0)
            self._tee_done.set()  # also when there was no tee, or it is stuck in a read
            for worker in workers:
                # The words path may still be writing down the last utterance.
                worker.join(timeout=15.0 if worker.name == "speech-recognition" else 2.0)
            self._count_cpu(workers)
            self.stats.frames_dropped_for_analysis = self._slot.dropped
            for sink in self.sinks:
                sink.close()
            for state_sink in self.state_sinks:
                state_sink.close()
            self.source.close()
            if self.audio is not None:
                self.audio.close()
        return self.stats

    def _video_loop(self, max_seconds: float | None) -> None:
        while not self._stop.is_set():
            frame = self.source.read()
            if frame is None:
                break
            state = self._paused_state() if self.paused else self._live_state(frame.timestamp)
            drawn = {
                layout: self._renderers[layout].draw(frame.image, state)
                for layout in {self._layout_of[id(sink)] for sink in self.sinks}
            }
            for sink in list(self.sinks):
                try:
                    sink.send(drawn[self._layout_of[id(sink)]])
                except Exception as err:  # a broken sink must not stop the video for the others
                    self._drop_sink(sink, err)
                    self.sinks.remove(sink)
            for state_sink in list(self.state_sinks):
                try:
                    state_sink.show(state)
                except Exception as err:
                    self._drop_sink(state_sink, err)
                    self.state_sinks.remove(state_sink)
            self.stats.latencies_ms.append((time.monotonic() - frame.timestamp) * 1000)
            self.stats.frames_out += 1
            self._frame_times.append(frame.timestamp)
            if not self.paused:
                self._slot.put(frame)
            if max_seconds is not None and time.monotonic() - self.stats.started >= max_seconds:
                break

    def _live_state(self, now: float) -> OverlayState:
        reading = self.fusion.update(now)
        self._last_label = reading.state.label
        if reading.new_disagreement is not None:
            self.stats.events.append(PipelineEvent(now, Event.DISAGREEMENT, reading.new_disagreement))
            self.stats.events_total += 1
        if self._recorder is not None:
            self._recorder.fused(reading)
        return overlay_state(self._latest, self._voice, self._captions(now), reading.state, now, self.audio is not None)

    def _paused_state(self) -> OverlayState:
        """Only the "analysis paused" mark: nothing read from the face, voice or words is shown."""
        self._last_label = None
        return OverlayState(analysis_on=False)

    def _drop_sink(self, sink: FrameSink | StateSink, err: Exception) -> None:
        logger.exception("sink %s failed; dropping it", type(sink).__name__)
        self.record_event(Event.SINK_FAILED, f"{type(sink).__name__}: {err}")
        sink.close()

    def _workers(self) -> list[StageWorker[Any, Any]]:
        """One supervised thread per analysis stage (overlay.runtime.worker), each fed its own way."""
        control = WorkerControl(
            self._stop, lambda detail: self.record_event(Event.STAGE_RESTARTED, detail), self._restart_pause_s
        )
        workers: list[StageWorker[Any, Any]] = [
            StageWorker("face-analysis", self._slot.take, self._make_analyzer, self._analyze_face, control)
        ]
        if self.audio is not None and self._make_voice_analyzer is not None:
            workers.append(
                StageWorker(
                    "voice-analysis",
                    _taker(self._voice_blocks),
                    self._make_voice_analyzer,
                    self._feed_voice,
                    control,
                    skip=self._paused.is_set,
                )
            )
        if self.audio is not None and self._make_speech_analyzer is not None:
            workers.append(
                StageWorker(
                    "speech-recognition",
                    _taker(self._speech_blocks),
                    self._open_recognizer,
                    lambda analyzer, block: self._publish_speech(analyzer.feed(block)),
                    # It stops once the tee has queued its last block, so none is left behind.
                    dataclasses.replace(control, stopping=self._tee_done),
                    drain_s=SPEECH_DRAIN_S,
                    finish=self._finish_speech,
                )
            )
        return workers

    def _count_cpu(self, workers: list[StageWorker[Any, Any]]) -> None:
        for worker in workers:
            if worker.name == "voice-analysis":
                self.stats.voice_cpu_seconds = worker.cpu_seconds
            elif worker.name == "speech-recognition" and not self.stats.speech_cpu_seconds:
                self.stats.speech_cpu_seconds = worker.cpu_seconds  # no child process counted it

    def _analyze_face(self, analyzer: Analyzer, frame: VideoFrame) -> None:
        result = analyzer.analyze(frame)
        if self.paused:
            return  # begun before the pause: not shown, not recorded
        self._latest = result
        self.stats.analyses += 1
        self._publish_face(result, frame)

    def _audio_tee(self) -> None:
        """Every audio block to every audio stage, each through its own queue."""
        assert self.audio is not None
        try:
            while not self._stop.is_set():
                block = self.audio.read(timeout=0.1)
                if block is None or self.paused:  # paused: the sound is read (so the device keeps up) and dropped
                    continue
                if self._make_voice_analyzer is not None:
                    self._voice_blocks.put(block)
                if self._make_speech_analyzer is not None:
                    self._speech_blocks.put(block)
                for listener in self._audio_listeners:
                    listener(block)
        finally:
            self._tee_done.set()

    def _feed_voice(self, analyzer: VoiceAnalyzer, block: AudioBlock) -> None:
        for estimate in analyzer.feed(block):
            self._voice = estimate
            self.stats.voice_estimates += 1
            if estimate.probabilities is not None:
                self.fusion.observe("voice", estimate.probabilities, estimate.end)
            if self._recorder is not None:
                self._recorder.voice(estimate)

    def _open_recognizer(self) -> SpeechAnalyzer:
        assert self._make_speech_analyzer is not None
        analyzer = self._make_speech_analyzer()
        self.recognizer_name = analyzer.recognizer_name
        return analyzer

    def _finish_speech(self, analyzer: SpeechAnalyzer) -> None:
        self._publish_speech(analyzer.finish())  # the last words before the end
        # A child process does the work: count its CPU instead of this thread's waiting.
        child_cpu = getattr(analyzer, "cpu_seconds", None)
        if child_cpu is not None:
            self.stats.speech_cpu_seconds = float(child_cpu)
            self.stats.speech_peak_rss_mb = float(getattr(analyzer, "peak_rss_mb", 0.0))

    def _publish_speech(self, events: SpeechEvents) -> None:
        if events.partial is not None:
            self._partial = events.partial
        for final in events.finals:
            self.text_estimates.append(final)
            self.stats.utterances += 1
            self._partial = None
            self.fusion.observe("text", final.probabilities, final.end)
            if self._recorder is not None:
                self._recorder.utterance(final)

    def _captions(self, now: float) -> Captions | None:
        if self._make_speech_analyzer is None or self.audio is None:
            return None
        partial = self._partial.text if self._partial is not None else ""
        return captions_at(self.text_estimates, now, partial, self.recognizer_name)

    def _publish_face(self, result: FaceAnalysis, frame: VideoFrame) -> None:
        if result.expression is not None:
            self.fusion.observe("face", result.expression, result.timestamp)
        if self._recorder is not None:
            self._recorder.face(result, frame.image)

    def record_event(self, kind: Event, detail: str, timestamp: float | None = None) -> None:
        """Note something that happened (camera lost, stage restarted...) with the time."""
        event = PipelineEvent(time.monotonic() if timestamp is None else timestamp, kind, detail)
        self.stats.events.append(event)
        self.stats.events_total += 1
        if self.timeline is not None:
            self.timeline.add_event(event.timestamp, kind, detail)


def _taker(blocks: queue.SimpleQueue[AudioBlock]) -> Callable[[float], AudioBlock | None]:
    def take(timeout: float) -> AudioBlock | None:
        try:
            return blocks.get(timeout=timeout)
        except queue.Empty:
            return None

    return take
