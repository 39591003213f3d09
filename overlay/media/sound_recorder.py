"""The microphone written down beside `run --sink file`'s video, on the video's clock, to go under it at the end.

Live, the annotated MP4 is stamped by when each frame was sent (overlay.sinks.video_file);
the microphone's blocks carry their capture times on the same clock. Sample 0 of the WAV is
the moment the video's first frame was sent: blocks from before it are left out, a gap (the
microphone lost, analysis paused: the privacy switch keeps the sound out too) becomes
silence, so the sound stays in step with the picture however long the run. At the end the
run muxes it under the video (overlay.media.mux.add_sound, trimmed to the video) and removes
the WAV. 16 kHz mono 16-bit: what the analysis hears, 115 MB an hour.
"""

from __future__ import annotations

import logging
import threading
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np

from overlay.errors import OverlayError
from overlay.files.private import create_private
from overlay.records import AudioBlock

logger = logging.getLogger(__name__)

MAX_GAP_S = 3600.0  # a jump larger than this is a clock error, not a gap to fill with silence


class SoundRecorder:
    """Write AudioBlocks to `path` (WAV) at their place after `origin()`; safe to call from the audio thread."""

    def __init__(self, path: Path, origin: Callable[[], float | None], sample_rate: int = 16_000) -> None:
        self.path = path
        self.sample_rate = sample_rate
        self._origin = origin
        self._lock = threading.Lock()
        self._written = 0  # samples in the file
        self.failure: str | None = None
        try:
            create_private(path)  # owner-only: it is the user's voice
            self._wave: wave.Wave_write | None = wave.open(str(path), "wb")  # noqa: SIM115 (closed in close())
            self._wave.setnchannels(1)
            self._wave.setsampwidth(2)
            self._wave.setframerate(sample_rate)
        except OSError as err:
            raise OverlayError(f"{path}: cannot write the microphone's sound there ({err.strerror})") from None

    @property
    def seconds(self) -> float:
        return self._written / self.sample_rate

    def add(self, block: AudioBlock) -> None:
        start = self._origin()
        if start is None or block.sample_rate != self.sample_rate:
            return  # no picture yet: nothing to go under
        with self._lock:
            if self._wave is None:
                return
            position = round((block.timestamp - start) * self.sample_rate)
            samples = block.samples[max(0, self._written - position) :]  # what overlaps is already written
            gap = position - self._written
            if gap > MAX_GAP_S * self.sample_rate or not len(samples):
                return
            try:
                if gap > 0:
                    self._wave.writeframes(bytes(2 * gap))
                    self._written += gap
                pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
                self._wave.writeframes(pcm.tobytes())
                self._written += len(pcm)
            except OSError as err:  # a full disk: the video goes on; the run's last line says so
                self.failure = f"the microphone's sound stopped being written at {self.seconds:.0f} s ({err.strerror})"
                logger.warning("%s: %s", self.path, self.failure)
                self._close_file()

    def close(self) -> None:
        with self._lock:
            if self._wave is not None:
                logger.info("%s: %.1f s of the microphone written", self.path, self.seconds)
            self._close_file()

    def _close_file(self) -> None:
        if self._wave is not None:
            wave_file, self._wave = self._wave, None
            try:
                wave_file.close()
            except OSError as err:
                self.failure = self.failure or f"the microphone's sound could not be finished ({err.strerror})"
