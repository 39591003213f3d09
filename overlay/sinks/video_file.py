"""The annotated video written to an MP4 file, live with the sound it heard under it.

The MP4 is fragmented (PyAV/FFmpeg `movflags=frag_keyframe+empty_moov`, a key frame each
second): its index is written as it goes, one fragment per key frame, instead of once at
the end, so a run killed with `kill -9`, a crash or a power cut leaves a file that plays up
to its last second or so. Live (`run --sink file`) the sound goes in as it comes
(overlay.media.sound_track), from the audio thread; `analyze --video` writes the picture
only and copies the recording's own sound in afterwards (overlay.media.mux).
"""

from __future__ import annotations

import errno
import logging
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

from overlay.errors import OverlayError
from overlay.files.private import create_private
from overlay.media.sound_track import LiveSoundTrack
from overlay.records import AudioBlock
from overlay.sinks.base import SinkContext
from overlay.sinks.letterbox import letterbox

logger = logging.getLogger(__name__)

CODEC = "mpeg4"  # MPEG-4 part 2: in every FFmpeg build, readable everywhere
FRAGMENTED_MP4 = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}


class VideoWriteError(OverlayError):
    """The video stopped being written (one line: where, and how much is there)."""

    def __init__(self, message: str, disk_full: bool) -> None:
        super().__init__(message)
        self.disk_full = disk_full


def _disk_full(err: Exception) -> bool:
    return getattr(err, "errno", None) == errno.ENOSPC


class VideoFileSink:
    """Write BGR frames of one size to `path` at `fps`, as a fragmented MP4."""

    def __init__(
        self, path: Path, width: int, height: int, fps: float, real_time: bool = False, sound_rate: int | None = None
    ) -> None:
        """`real_time`: frames are stamped by when they are sent (live), else one frame period apart
        (analyze). `sound_rate` (live only): an audio track of that rate, filled by add_sound()."""
        self.path, self.width, self.height = path, width, height
        self._real_time = real_time
        if not path.parent.is_dir():
            raise OverlayError(f"{path.parent}: no such folder for the output video; create it or pass another --out")
        rate = Fraction(fps).limit_denominator(1001)
        try:
            create_private(path)  # owner-only: the video shows the user's face
            self._container = av.open(str(path), "w", format="mp4", options=FRAGMENTED_MP4)
            stream = self._container.add_stream(CODEC, rate=rate)
            assert isinstance(stream, av.VideoStream)
            stream.width, stream.height = width + width % 2, height + height % 2  # the encoder wants even sizes
            stream.pix_fmt = "yuv420p"
            stream.bit_rate = max(1_000_000, int(width * height * float(rate) * 0.15))
            stream.codec_context.gop_size = max(1, round(float(rate)))  # a key frame (and fragment) each second
        except (av.error.FFmpegError, OSError, ValueError) as err:
            raise OverlayError(
                f"{path}: cannot write a video there ({err}); check the name (.mp4) and permissions"
            ) from err
        self._stream = stream
        self._lock = threading.Lock()  # the video thread and the audio thread both mux into the file
        self._sound: LiveSoundTrack | None = None
        self.sound_failure: str | None = None  # why the sound stopped being written (a full disk)
        self.failure: str | None = None  # why the video stopped being written (a full disk), one line
        if sound_rate is not None and real_time:
            self._sound = LiveSoundTrack(self._container, sound_rate, lambda: self._started, self._container.mux)
        self._rate = float(rate)
        self._time_base = 1 / rate
        self._closed = False
        self._started: float | None = None
        self._last_pts = -1
        self.frames_written = 0

    @property
    def started_at(self) -> float | None:
        """The monotonic time the first frame was sent (real_time), None before: the sound
        track's sample 0 (overlay.media.sound_track)."""
        return self._started

    def send(self, image: npt.NDArray[np.uint8], at: float | None = None) -> None:
        """`at`: when this frame shows, in seconds after the first (a recording's own frame
        times, so a variable-frame-rate file keeps its timing); None: by the clock (real_time)
        or one frame period after the last."""
        if self._closed:
            return
        image = letterbox(image, self._stream.width, self._stream.height)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
        # Live, stamped by when it was sent, not by count: a frame the source skipped (it was
        # late) leaves a gap instead of pulling the rest earlier, so the video keeps time with the sound.
        pts = self._last_pts + 1
        if at is not None:
            pts = max(pts, round(at * self._rate))
        elif self._real_time:
            now = time.monotonic()
            if self._started is None:
                self._started = now
            pts = max(pts, round((now - self._started) * self._rate))
        frame.pts = self._last_pts = pts
        frame.time_base = self._time_base
        try:
            packets = self._stream.encode(frame)
            with self._lock:
                if self._closed:  # closed from another thread meanwhile
                    return
                for packet in packets:
                    self._container.mux(packet)
        except (av.error.FFmpegError, OSError) as err:
            self.failure = self._written_until(err)
            raise VideoWriteError(self.failure, _disk_full(err)) from None
        self.frames_written += 1

    def _written_until(self, err: Exception) -> str:
        """One line: what stopped the video, and how much of it is there (fragmented: playable to there)."""
        seconds = (self._last_pts + 1) / self._rate
        if _disk_full(err):
            return (
                f"the disk holding {self.path} is full: the video stops at {seconds:.1f} s (playable to there); "
                "free some space or pass another --out"
            )
        return f"{self.path}: writing the video failed at {seconds:.1f} s ({err})"

    def add_sound(self, block: AudioBlock) -> None:
        """An audio block heard live, into the sound track at its time (from the audio thread;
        never raises: a failure stops the sound, the picture goes on, `sound_failure` says why)."""
        with self._lock:
            if self._sound is None or self._closed or self.sound_failure:
                return
            try:
                self._sound.add(block)
            except (av.error.FFmpegError, OSError, ValueError) as err:
                self.sound_failure = f"the sound stopped being written at {self._sound.seconds:.0f} s ({err})"
                # A full disk stops the picture next, and that is said then, in one line.
                full = getattr(err, "errno", None) == errno.ENOSPC
                logger.log(logging.INFO if full else logging.WARNING, "%s: %s", self.path, self.sound_failure)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                if self._sound is not None and not self.sound_failure:
                    self._finish_sound()
                for packet in self._stream.encode(None):
                    self._container.mux(packet)
                self._container.close()
            except (av.error.FFmpegError, OSError) as err:
                if self.failure is None:  # the first failure is the one to tell
                    self.failure = self._written_until(err)
                    raise VideoWriteError(self.failure, _disk_full(err)) from None
                logger.debug("%s: closing after a failure: %s", self.path, err)
        if self.frames_written == 0:
            # Nothing was shown (the run failed at its start): an empty file would only block the
            # next run's --out ("already exists").
            self.path.unlink(missing_ok=True)
            return
        logger.info("wrote %d frames to %s", self.frames_written, self.path)

    def _finish_sound(self) -> None:
        assert self._sound is not None
        try:
            self._sound.finish(video_seconds=(self._last_pts + 1) / self._rate)
        except (av.error.FFmpegError, OSError, ValueError) as err:
            self.sound_failure = f"the sound could not be finished ({err})"
            logger.warning("%s: %s", self.path, self.sound_failure)


def open_sink(context: SinkContext) -> VideoFileSink:
    """[output] file (--out), at the source's size and rate."""
    out = Path(context.config.output.file)
    return VideoFileSink(out, context.width, context.height, context.fps, real_time=True, sound_rate=context.sound_rate)
