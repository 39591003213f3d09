"""The sound a live run hears, encoded into its annotated MP4 as it comes, on the video's clock.

Live, the annotated MP4 is stamped by when each frame was sent (overlay.sinks.video_file);
audio blocks (a microphone's, or the sound of a video file played as the camera) carry their
times on the same clock. Sample 0 of the track is the moment the first frame was sent: blocks
from before it are left out, a gap (the microphone lost, analysis paused: the privacy switch
keeps the sound out too) becomes silence, so the sound stays in step with the picture however
long the run. Written as it comes (AAC, mono, at the blocks' rate) rather than muxed in at the
end: stopping costs nothing however long the recording, and a run that is killed keeps its
sound up to the last fragment, as it keeps its picture.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import av
import numpy as np
import numpy.typing as npt

from overlay.records import AudioBlock

logger = logging.getLogger(__name__)

MAX_GAP_S = 3600.0  # a jump larger than this is a clock error, not a gap to fill with silence
SILENCE_CHUNK_S = 1.0  # a long gap is encoded a second at a time, never held whole
BIT_RATE = 64_000  # AAC mono: clear speech at 16 kHz, 29 MB an hour


class LiveSoundTrack:
    """An AAC stream of `container` filled from AudioBlocks placed at their time after `origin()`.

    Not thread-safe by itself: the owner (the video sink) calls add() and finish() under the
    lock that also guards its video muxing, and hands every packet to `mux`.
    """

    def __init__(
        self,
        container: Any,
        sample_rate: int,
        origin: Callable[[], float | None],
        mux: Callable[[Any], None],
    ) -> None:
        self.sample_rate = sample_rate
        self._origin = origin
        self._mux = mux
        stream = container.add_stream("aac", rate=sample_rate, layout="mono")
        stream.bit_rate = BIT_RATE
        self._stream = stream
        self._written = 0  # samples encoded so far

    @property
    def seconds(self) -> float:
        return self._written / self.sample_rate

    def add(self, block: AudioBlock) -> None:
        start = self._origin()
        if start is None or block.sample_rate != self.sample_rate:
            return  # no picture yet: nothing to go under
        position = round((block.timestamp - start) * self.sample_rate)
        samples = block.samples[max(0, self._written - position) :]  # what overlaps is already written
        gap = position - self._written
        if gap > MAX_GAP_S * self.sample_rate or not len(samples):
            return
        if gap > 0:
            self._silence(gap)
        self._encode(np.asarray(samples, dtype=np.float32))

    def finish(self, video_seconds: float) -> None:
        """Silence up to the video's end (a quiet or lost microphone), then what the encoder holds."""
        missing = round(video_seconds * self.sample_rate) - self._written
        if 0 < missing <= MAX_GAP_S * self.sample_rate:
            self._silence(missing)
        for packet in self._stream.encode(None):
            self._mux(packet)

    def _silence(self, samples: int) -> None:
        for length in _chunks(samples, int(SILENCE_CHUNK_S * self.sample_rate)):
            self._encode(np.zeros(length, dtype=np.float32))

    def _encode(self, samples: npt.NDArray[np.float32]) -> None:
        frame = av.AudioFrame.from_ndarray(np.clip(samples, -1.0, 1.0)[np.newaxis, :], format="flt", layout="mono")
        frame.sample_rate = self.sample_rate
        frame.pts = None  # the encoder numbers the samples from 0: the track has no holes
        for packet in self._stream.encode(frame):
            self._mux(packet)
        self._written += len(samples)


def _chunks(total: int, size: int) -> Iterator[int]:
    while total > 0:
        yield min(total, size)
        total -= size
