"""The live pipeline: frames in, annotated frames out at once, analysis alongside.

It runs the analysis stages it is given (overlay.runtime.stages.StageSpec; overlay.app lists
them) and knows none by name. Threads and queues (the backpressure policy of each):
- The video path runs on the caller's thread: read a frame, draw the newest readings on it
  (once for each layout the sinks show: overlay.render.layouts), send it to every sink,
  and offer it to each stage that takes frames. It never waits for analysis, so analysis
  adds no latency to the video.
- Offering a frame replaces whatever frame was waiting for that stage (a one-slot,
  newest-wins queue): analysis always works on the newest frame, and stale frames are
  dropped and counted.
- The "audio-tee" thread (when there is sound) reads audio blocks as they come (the source
  queues them without loss) and puts every block into one unbounded queue per stage that
  takes sound, so no stage can starve another (a failing voice stage loses no words), and
  hands it to the listeners (the MP4's sound track).
- Each stage runs in its own supervised StageWorker thread (overlay.runtime.worker): an
  unexpected error is logged with its traceback and recorded as an event, and the stage is
  rebuilt after a short pause. A stage that must hear to the end (speech) stops only after
  the tee's last block and drains its queue for a bounded time.
- Stages publish into the Readings board (overlay.runtime.readings) by swapping one
  reference; the video thread reads it, and asks fusion for one smoothed reading, per frame.
- Memory stays flat for days: what is kept per run is bounded (the latest latencies and
  events in ring buffers, counters for the rest); the timeline on disk keeps everything;
  the "memory-trim" thread hands what the allocator keeps after a peak back to the system
  once a minute (overlay.runtime.memory).
- A sink that fails is logged, recorded and dropped; the others go on.
- Timeline: every thread appends rows to the TimelineWriter's unbounded queue and goes on;
  its own "timeline-writer" thread commits them once a second, so writing never slows the
  video. overlay.session.recorder says what is kept and how often.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from overlay.errors import OverlayError
from overlay.fusion import LiveFusion
from overlay.records import AudioBlock, Event, VideoFrame
from overlay.render.draw import OverlayState
from overlay.render.layouts import Renderer
from overlay.render.state import board_state
from overlay.runtime.memory import MemoryTrimmer
from overlay.runtime.readings import Readings
from overlay.runtime.slot import LatestSlot
from overlay.runtime.stages import PipelineSettings, Sound, StageSpec
from overlay.runtime.stats import PipelineEvent, PipelineStats, percentile
from overlay.runtime.worker import StageWorker, WorkerControl
from overlay.session.recorder import SessionRecorder
from overlay.sinks.base import FrameSink, StateSink, sink_name
from overlay.sources.base import FrameSource

if TYPE_CHECKING:
    from overlay.session.timeline import TimelineWriter

logger = logging.getLogger(__name__)


class LivePipeline:
    """Run a source through the stages and rendering into sinks until the source ends or stop()."""

    def __init__(
        self,
        source: FrameSource,
        stages: Sequence[StageSpec],
        sinks: Sequence[FrameSink],
        settings: PipelineSettings | None = None,
        sound: Sound | None = None,
        timeline: TimelineWriter | None = None,
        state_sinks: Sequence[StateSink] = (),
    ) -> None:
        settings = settings or PipelineSettings()
        self.source = source
        self.sound = sound
        self.stages = [spec for spec in stages if spec.takes == "frames" or sound is not None]
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
        self._slots: dict[str, LatestSlot[VideoFrame]] = {
            spec.name: LatestSlot() for spec in self.stages if spec.takes == "frames"
        }
        self._blocks: dict[str, queue.SimpleQueue[AudioBlock]] = {
            spec.name: queue.SimpleQueue() for spec in self.stages if spec.takes == "sound"
        }
        self.fusion = LiveFusion(settings.fusion)
        self.timeline = timeline
        recorder = SessionRecorder(timeline, settings.thumbnails) if timeline is not None else None
        self.readings = Readings(self.fusion, recorder)
        for spec in self.stages:
            for what in spec.counts:
                self.readings.counts[what] = 0
        self._frame_times: deque[float] = deque(maxlen=90)  # for the output rate `status` shows
        self._last_label: str | None = None
        self._cpu_mark = (time.monotonic(), time.process_time())
        self._stop = threading.Event()
        self._tee_done = threading.Event()  # no more blocks will be queued: stages that hear to the end may stop
        self.stats = PipelineStats(counts=self.readings.counts)

    def stop(self) -> None:
        """Ask the pipeline to finish; safe from a signal handler or another thread."""
        self._stop.set()

    @property
    def paused(self) -> bool:
        return self.readings.paused.is_set()

    def pause(self) -> None:
        """Privacy switch: stop analysing (every stage) while the video goes on, marked "paused"."""
        if not self.paused:
            self.readings.paused.set()
            self.readings.clear()
            self.record_event(Event.PAUSED, "analysis paused by the user")

    def resume(self) -> None:
        if self.paused:
            self.readings.paused.clear()
            self.record_event(Event.RESUMED, "analysis resumed by the user")

    def snapshot(self) -> dict[str, object]:
        """Live figures for `emotion-overlay status` (safe to call from another thread)."""
        now = time.monotonic()
        recent = sorted(self.stats.latencies_ms.newest(300).tolist())
        return {
            "paused": self.paused,
            "uptime_s": round(now - self.stats.started, 1) if self.stats.started else 0.0,
            "frames_out": self.stats.frames_out,
            "output_fps": round(self._recent_fps(now), 1),
            "latency_ms": {"p50": percentile(recent, 50), "p95": percentile(recent, 95)},
            "analyses": self.stats.analyses,
            "modalities": {spec.key: spec.status(self.readings, now) for spec in self.stages},
            "fused": self._last_label,
            "sinks": [sink_name(sink) for sink in [*self.sinks, *self.state_sinks]],
            "session": str(self.timeline.path) if self.timeline is not None else None,
            "events": self.stats.events_total,
            "cpu_percent": self._cpu_percent(now),
        }

    def _cpu_percent(self, now: float) -> float:
        """This process's CPU (all its threads; not a stage's child process) since the last call, % of one core."""
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
        trimmer = MemoryTrimmer()
        tee = None
        if self.sound is not None:
            tee = threading.Thread(target=self._audio_tee, name="audio-tee", daemon=True)
        self.stats.started = time.monotonic()
        if self.timeline is not None:
            self.timeline.origin = self.stats.started
        for worker in workers:
            worker.start()
        if tee is not None:
            tee.start()
        trimmer.start()
        try:
            self._video_loop(max_seconds)
        finally:
            self.stats.ended = time.monotonic()
            self._stop.set()
            trimmer.stop()
            if tee is not None:
                tee.join(timeout=2.0)
            self._tee_done.set()  # also when there was no tee, or it is stuck in a read
            for worker, spec in zip(workers, self.stages, strict=True):
                # A stage that hears to the end may still be writing down the last utterance.
                worker.join(timeout=15.0 if spec.hears_to_the_end else 2.0)
                self.stats.cpu_seconds[spec.name] = self.readings.cpu_seconds.get(spec.name, worker.cpu_seconds)
            self.stats.peak_rss_mb.update(self.readings.peak_rss_mb)
            self.stats.frames_dropped_for_analysis = sum(slot.dropped for slot in self._slots.values())
            for sink in self.sinks:
                sink.close()
            for state_sink in self.state_sinks:
                state_sink.close()
            self.source.close()
            if self.sound is not None:
                self.sound.source.close()
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
                for slot in self._slots.values():
                    slot.put(frame)
            if max_seconds is not None and time.monotonic() - self.stats.started >= max_seconds:
                break

    def _live_state(self, now: float) -> OverlayState:
        reading = self.fusion.update(now)
        self._last_label = reading.state.label
        if reading.new_disagreement is not None:
            self.stats.events.append(PipelineEvent(now, Event.DISAGREEMENT, reading.new_disagreement))
            self.stats.events_total += 1
        if self.readings.recorder is not None:
            self.readings.recorder.fused(reading)
        return board_state(self.readings, reading.state, now, self.sound is not None)

    def _paused_state(self) -> OverlayState:
        """Only the "analysis paused" mark: nothing read from the face, voice or words is shown."""
        self._last_label = None
        return OverlayState(analysis_on=False)

    def _drop_sink(self, sink: FrameSink | StateSink, err: Exception) -> None:
        if isinstance(err, OverlayError):  # said in a line of its own (a full disk): no traceback
            logger.error("%s; the other outputs go on", err)
        else:
            logger.exception("sink %s failed; dropping it", type(sink).__name__)
        self.record_event(Event.SINK_FAILED, f"{type(sink).__name__}: {err}")
        try:
            sink.close()
        except Exception as closing:  # it failed once already: what it says now is no news
            logger.debug("closing the failed sink %s: %s", type(sink).__name__, closing)

    def _workers(self) -> list[StageWorker[Any, Any]]:
        """One supervised thread per stage, fed from its slot (frames) or its queue (sound)."""
        control = WorkerControl(
            self._stop, lambda detail: self.record_event(Event.STAGE_RESTARTED, detail), self._restart_pause_s
        )
        return [self._worker(spec, control) for spec in self.stages]

    def _worker(self, spec: StageSpec, control: WorkerControl) -> StageWorker[Any, Any]:
        readings = self.readings
        take = self._slots[spec.name].take if spec.takes == "frames" else _taker(self._blocks[spec.name])
        finish = spec.finish
        return StageWorker(
            spec.name,
            take,
            spec.make,
            lambda stage, item: spec.handle(stage, item, readings),
            # One that hears to the end stops once the tee has queued its last block, so none is left behind.
            dataclasses.replace(control, stopping=self._tee_done) if spec.hears_to_the_end else control,
            skip=readings.paused.is_set if spec.skip_while_paused else None,
            drain_s=spec.drain_s,
            finish=(lambda stage: finish(stage, readings)) if finish is not None else None,
        )

    def _audio_tee(self) -> None:
        """Every audio block to every stage that takes sound, each through its own queue, and to the listeners."""
        assert self.sound is not None
        try:
            while not self._stop.is_set():
                block = self.sound.source.read(timeout=0.1)
                if block is None or self.paused:  # paused: the sound is read (so the device keeps up) and dropped
                    continue
                for blocks in self._blocks.values():
                    blocks.put(block)
                for listener in self.sound.listeners:
                    listener(block)
        finally:
            self._tee_done.set()

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
