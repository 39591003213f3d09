"""The microphone through sounddevice (PortAudio): 16 kHz mono blocks stamped on the monotonic clock.

PortAudio's callback only copies the block and its capture time into a queue (never blocks,
never drops: audio for speech recognition must be lossless).

Capture times come from counting samples, not from PortAudio's latency report (through
ALSA's PulseAudio plugin it reports the buffer's capacity, ~0.7 s, not its fill). Sample n
cannot reach us before it was captured, so the stream's start is at most now - n / rate at
every callback; the smallest such bound over the stream, allowed to rise by at most 100 ppm
to follow a sound card clock slower than the system's, is taken as the start. Timestamps
then lag the truth by the stream's smallest delivery delay (1-3 ms through PulseAudio here;
tests/test_microphone.py checks it). Input overflows reported by
PortAudio are counted, logged once per burst and never stop the stream. A microphone that
disappears (unplugged, or the stream stalls for STALL_S) is reopened with backoff in the
background, while the video goes on; events say when it went and came back.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from overlay.errors import DataError
from overlay.records import AudioBlock, Event
from overlay.sources.microphone_devices import sounddevice_module
from overlay.voice.features import SAMPLE_RATE

logger = logging.getLogger(__name__)

BLOCK_SECONDS = 0.1
STALL_S = 3.0  # no callback for this long (after the first) means the device is gone
CLOCK_DRIFT = 1e-4  # how fast the estimated stream start may move later, seconds per second
FIRST_RETRY_S = 0.5
MAX_RETRY_S = 5.0


class MicrophoneSource:
    """Blocks from input device `device` (index, or None for the system default)."""

    def __init__(
        self,
        device: int | None = None,
        *,
        on_event: Callable[[Event, str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.device = device
        self.sample_rate = SAMPLE_RATE
        self.overflows = 0
        self._on_event = on_event or (lambda kind, detail: None)
        self._clock = clock
        self._blocks: queue.SimpleQueue[AudioBlock] = queue.SimpleQueue()
        self._last_callback = clock()
        self._delivering = False
        self._samples_seen = 0
        self._stream_start: float | None = None
        self._start_checked = 0.0
        self._closed = threading.Event()
        self._lost = False
        self._sd = sounddevice_module()
        self._stream: Any = self._open()  # the first open fails loudly: the user asked for this device
        self.name = str(self._sd.query_devices(self._stream.device)["name"])
        logger.info("microphone %s: %d Hz mono, %.0f ms blocks", self.name, SAMPLE_RATE, BLOCK_SECONDS * 1000)
        self._watchdog = threading.Thread(target=self._watch, name="microphone-watchdog", daemon=True)
        self._watchdog.start()

    def _open(self) -> Any:
        try:
            stream = self._sd.InputStream(
                samplerate=SAMPLE_RATE,
                channels=1,
                dtype="float32",
                blocksize=int(SAMPLE_RATE * BLOCK_SECONDS),
                device=self.device,
                callback=self._callback,
            )
            stream.start()
        except (self._sd.PortAudioError, ValueError) as err:
            which = "the default microphone" if self.device is None else f"microphone {self.device}"
            raise DataError(
                f"{which} could not be opened ({err}); check `emotion-overlay devices`, or run with --mic off"
            ) from err
        self._last_callback = self._clock()
        self._delivering = False
        self._samples_seen, self._stream_start = 0, None
        return stream

    def _callback(self, indata: Any, frames: int, time_info: Any, status: Any) -> None:
        now = self._clock()
        self._last_callback, self._delivering = now, True
        if status and status.input_overflow:
            self.overflows += 1
        first = self._samples_seen
        self._samples_seen += frames
        bound = now - self._samples_seen / SAMPLE_RATE
        if self._stream_start is None:
            self._stream_start = bound
        else:
            allowed = self._stream_start + CLOCK_DRIFT * (now - self._start_checked)
            self._stream_start = min(bound, allowed)
        self._start_checked = now
        samples = np.array(indata[:, 0], dtype=np.float32)
        self._blocks.put(AudioBlock(samples, self._stream_start + first / SAMPLE_RATE))

    def read(self, timeout: float) -> AudioBlock | None:
        """The next block, or None if none arrives within `timeout` seconds."""
        try:
            return self._blocks.get(timeout=timeout)
        except queue.Empty:
            return None

    def _watch(self) -> None:
        reported_overflows = 0
        delay = FIRST_RETRY_S
        while not self._closed.wait(0.25):
            if self.overflows > reported_overflows:
                logger.warning("microphone: %d input overflow(s) so far (CPU too busy?)", self.overflows)
                reported_overflows = self.overflows
            # PortAudio may take seconds to deliver the first block (PulseAudio starting up).
            stalled = self._delivering and self._clock() - self._last_callback > STALL_S
            if not self._lost and (stalled or not self._stream.active):
                self._lost = True
                logger.warning("microphone %s lost; reconnecting in the background", self.name)
                self._on_event(Event.MICROPHONE_LOST, self.name)
                self._close_stream()
            if self._lost:
                try:
                    self._stream = self._open()
                except DataError:
                    self._closed.wait(delay)
                    delay = min(MAX_RETRY_S, delay * 2)
                    continue
                self._lost, delay = False, FIRST_RETRY_S
                logger.warning("microphone %s is back", self.name)
                self._on_event(Event.MICROPHONE_BACK, self.name)

    def _close_stream(self) -> None:
        try:
            self._stream.abort()
            self._stream.close()
        except self._sd.PortAudioError:
            pass  # already gone with the device

    def close(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            self._watchdog.join(timeout=2.0)
            self._close_stream()
