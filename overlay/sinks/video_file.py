"""The annotated video written to an MP4 file, live with the sound it heard under it.

The MP4 is fragmented (PyAV/FFmpeg `movflags=frag_keyframe+empty_moov`, a key frame each
second): its index is written as it goes, one fragment per key frame, instead of once at
the end, so a run killed with `kill -9`, a crash or a power cut leaves a file that plays up
to its last second or so. Live (`run --sink file`) the sound goes in as it comes
(overlay.media.sound_track), from the audio thread; `analyze --video` writes the picture
only and copies the recording's own sound in afterwards (overlay.media.mux).

The picture is H.264 where FFmpeg has the encoder (overlay.media.video_encoding). Live, frames
are encoded on a thread of the sink's own: the video thread only stamps and queues each frame,
so a slow encoder or disk never holds up the other outputs; a frame that finds the queue (a
second of frames) full is left out (the video shows the one before a little longer), counted and
said at the end.
"""

from __future__ import annotations

import errno
import logging
import queue
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
from overlay.media.video_encoding import LIVE, RECORDING, VideoEncoding, add_video_stream
from overlay.records import AudioBlock
from overlay.sinks.base import SinkContext
from overlay.sinks.letterbox import letterbox

logger = logging.getLogger(__name__)

FRAGMENTED_MP4 = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}
# Live: a stall of the encoder or the disk this long costs no frame (a busy machine starved the
# encoder thread for a quarter of a second), in no more memory than this (a 4K picture is 25 MB).
QUEUE_SECONDS = 1.0
QUEUE_BYTES = 256 * 2**20


class VideoWriteError(OverlayError):
    """The video stopped being written (one line: where, and how much is there)."""

    def __init__(self, message: str, disk_full: bool) -> None:
        super().__init__(message)
        self.disk_full = disk_full


def _disk_full(err: Exception | None) -> bool:
    return getattr(err, "errno", None) == errno.ENOSPC


class VideoFileSink:
    """Write BGR frames of one size to `path` at `fps`, as a fragmented MP4."""

    def __init__(
        self,
        path: Path,
        width: int,
        height: int,
        fps: float,
        real_time: bool = False,
        sound_rate: int | None = None,
        encoding: VideoEncoding | None = None,
    ) -> None:
        """`real_time`: frames are stamped by when they are sent (live), else one frame period apart
        (analyze). `sound_rate` (live only): an audio track of that rate, filled by add_sound().
        `encoding`: by default the one for live runs or for recordings (overlay.media.video_encoding)."""
        self.path, self.width, self.height = path, width, height
        self._real_time = real_time
        if not path.parent.is_dir():
            raise OverlayError(f"{path.parent}: no such folder for the output video; create it or pass another --out")
        rate = Fraction(fps).limit_denominator(1001)
        try:
            create_private(path)  # owner-only: the video shows the user's face
            self._container = av.open(str(path), "w", format="mp4", options=FRAGMENTED_MP4)
            even = (width + width % 2, height + height % 2)  # the encoders want even sizes
            stream = add_video_stream(self._container, *even, rate, encoding or (LIVE if real_time else RECORDING))
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
        self.frames_left_out = 0  # live: the encoder was that far behind (the queue was full)
        self._failure_told = False  # the failure was raised once (the video thread drops the sink then)
        self._failure_error: Exception | None = None
        self._queue: queue.Queue[tuple[npt.NDArray[np.uint8], int] | None] | None = None
        self._encoder: threading.Thread | None = None
        if real_time:
            frames = min(round(float(rate) * QUEUE_SECONDS), QUEUE_BYTES // (3 * width * height))
            self._queue = queue.Queue(maxsize=max(2, frames))
            self._encoder = threading.Thread(target=self._encode_queued, name="video-file-encoder", daemon=True)
            self._encoder.start()

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
        self._raise_failure()
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
        self._last_pts = pts
        if self._queue is None:
            self._encode(image, pts)
            self._raise_failure()
            return
        try:
            self._queue.put_nowait((image.copy(), pts))  # a copy: the caller may draw the next frame into it
        except queue.Full:
            self.frames_left_out += 1

    def _encode_queued(self) -> None:
        """The encoder thread (live): each queued frame into the file, until close() queues None."""
        assert self._queue is not None
        while (item := self._queue.get()) is not None:
            if self.failure is not None:  # after a failure the rest is only drained
                continue
            try:
                self._encode(*item)
            except Exception as err:  # a thread that died would leave close() waiting on a full queue
                logger.exception("%s: encoding a frame failed", self.path)
                self.failure, self._failure_error = self._written_until(err, item[1]), err

    def _encode(self, image: npt.NDArray[np.uint8], pts: int) -> None:
        """Encode and mux one frame; a failure is kept in `failure` (raised by the next send or close)."""
        image = letterbox(image, self._stream.width, self._stream.height)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
        frame.pts = pts
        frame.time_base = self._time_base
        try:
            packets = self._stream.encode(frame)
            with self._lock:
                if self._closed:  # closed from another thread meanwhile
                    return
                for packet in packets:
                    self._container.mux(packet)
        except (av.error.FFmpegError, OSError) as err:
            self.failure, self._failure_error = self._written_until(err, pts), err
            return
        self.frames_written += 1

    def _raise_failure(self) -> None:
        """Tell the failure once: the caller drops this sink (the other outputs go on) and says it in one line."""
        if self.failure is not None and not self._failure_told:
            self._failure_told = True
            raise VideoWriteError(self.failure, _disk_full(self._failure_error))

    def _written_until(self, err: Exception, pts: int) -> str:
        """One line: what stopped the video at frame time `pts`, and how much of it is there
        (fragmented: playable to there)."""
        seconds = (pts + 1) / self._rate
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
        if self._encoder is not None and self._queue is not None:
            self._queue.put(None)  # after the frames still queued: they go in first
            self._encoder.join()
            self._encoder = None
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
                    self.failure, self._failure_error = self._written_until(err, self._last_pts), err
                logger.debug("%s: closing after a failure: %s", self.path, err)
        if self.frames_left_out:
            logger.warning(
                "%s: %d frames were left out of the video: this machine could not encode them as fast as they came",
                self.path,
                self.frames_left_out,
            )
        if self.frames_written == 0:
            # Nothing was shown (the run failed at its start): an empty file would only block the
            # next run's --out ("already exists").
            self.path.unlink(missing_ok=True)
        self._raise_failure()
        if self.frames_written:
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
