"""The sound of a video file played as the camera, delivered like a microphone would.

Blocks come paced in real time against the same origin as the file's video frames: frame i
is delivered at origin + i / fps and shows media time video_start + i / fps, so the sample
at media time m is stamped origin + (m - video_start). Audio and video of one file therefore
share one clock, whatever offset the container gives its streams.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from overlay.media.audio_file import AudioClip
from overlay.records import AudioBlock

logger = logging.getLogger(__name__)

BLOCK_SECONDS = 0.1


class FileAudioSource:
    """Paced blocks of `clip`, once the video's playback origin is known (`origin()` not None)."""

    def __init__(
        self,
        clip: AudioClip,
        origin: Callable[[], float | None],
        video_start_seconds: float = 0.0,
        *,
        loop_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.clip = clip
        self.sample_rate = clip.sample_rate
        self.overflows = 0
        self._origin = origin
        self._offset = clip.start_seconds - video_start_seconds
        self._loop_seconds = loop_seconds  # the video's length when it loops: audio restarts with it
        self._clock, self._sleep = clock, sleep
        self._block = int(clip.sample_rate * BLOCK_SECONDS)
        self._position = 0
        self._pass = 0
        self._closed = False

    def read(self, timeout: float) -> AudioBlock | None:
        """The next block once it is due, or None after `timeout` (not started yet, or the clip has ended)."""
        origin = self._origin()
        if origin is None or self._closed:
            self._sleep(timeout)
            return None
        if self._position >= len(self.clip.samples):
            if self._loop_seconds is None:
                self._sleep(timeout)
                return None
            self._position, self._pass = 0, self._pass + 1
        start = origin + self._pass * (self._loop_seconds or 0.0) + self._offset
        first = start + self._position / self.sample_rate
        samples = self.clip.samples[self._position : self._position + self._block]
        due = first + len(samples) / self.sample_rate  # a microphone hands a block over once it is complete
        wait = due - self._clock()
        if wait > timeout:
            self._sleep(timeout)
            return None
        if wait > 0:
            self._sleep(wait)
        self._position += len(samples)
        return AudioBlock(samples, first, self.sample_rate)

    def close(self) -> None:
        self._closed = True
