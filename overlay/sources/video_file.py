"""A video file (MP4, MOV, AVI, MKV) played as if it were a camera.

Frames are paced at the file's own frame rate against the monotonic clock (or delivered
as fast as they decode, for analysing recordings), optionally looped. Each frame's
timestamp is the clock reading when it was delivered, as a camera frame's would be.

A paced file plays in real time even when this machine decodes it more slowly than its
rate (a 4K recording, say): frames that are already late are skipped, as a camera drops
them, so the picture keeps time with the file's sound and captions never run ahead; the
first skip is warned about once.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

from overlay.errors import DataError
from overlay.records import VideoFrame
from overlay.sources.base import FrameSource, SourceContext

logger = logging.getLogger(__name__)

FALLBACK_FPS = 30.0
# Rates a real recording can have; below MIN_FPS a paced read would sleep for seconds per
# frame (a broken header reading 0.001 fps meant a 1000 s sleep that no signal could end).
MIN_FPS, MAX_FPS = 1.0, 240.0
MIN_SIDE = 32  # pixels; smaller frames cannot hold a face worth reading
LATE_S = 0.25  # a frame this late is skipped rather than shown late (shorter hiccups are caught up)
# What `--camera` treats as a file even before checking that it exists (so a typo says "no such file").
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".m4v", ".webm")


class VideoFileSource:
    """Read frames from a video file; use as a context manager or call close()."""

    def __init__(
        self,
        path: Path,
        *,
        loop: bool = False,
        paced: bool = True,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.path = path
        self.loop = loop
        self.paced = paced
        self._clock = clock
        self._sleep = sleep
        if path.is_dir():
            raise DataError(f"{path}: is a folder, not a video file; pass a video file")
        if not path.is_file():
            raise DataError(f"{path}: no such video file; check the path")
        self._capture = cv2.VideoCapture(str(path))
        first = self._capture.read()[1] if self._capture.isOpened() else None
        if first is None:
            self._capture.release()
            if _sound_only(path):
                raise DataError(
                    f"{path}: has no picture, only sound, and --camera needs a video; analyse the recording "
                    f"with `emotion-overlay analyze {path}`, or speak live with the webcam and --mic"
                )
            raise DataError(
                f"{path}: not a readable video (corrupt, truncated or an unsupported codec); "
                "try re-encoding it, e.g. ffmpeg -i IN -c:v libx264 OUT.mp4"
            )
        self._pending: np.ndarray | None = first
        if min(first.shape[:2]) < MIN_SIDE:
            self._capture.release()
            raise DataError(
                f"{path}: its frames are {first.shape[1]}x{first.shape[0]} pixels, too small to hold a face "
                f"(at least {MIN_SIDE}x{MIN_SIDE} needed); use the original recording"
            )
        fps = float(self._capture.get(cv2.CAP_PROP_FPS))
        if not math.isfinite(fps) or fps <= 0:
            logger.warning("%s: frame rate unknown (%r); playing at %.0f fps", path, fps, FALLBACK_FPS)
            fps = FALLBACK_FPS
        elif not MIN_FPS <= fps <= MAX_FPS:
            self._capture.release()
            raise DataError(
                f"{path}: its header gives {fps:g} frames a second, which no recording has ({MIN_FPS:g}-{MAX_FPS:g}); "
                "re-encode it with its real rate, e.g. ffmpeg -i IN -r 30 OUT.mp4"
            )
        self.fps = fps
        self.width = int(first.shape[1])
        self.height = int(first.shape[0])
        self._index = 0
        self._started: float | None = None
        self._closed = False
        self.frames_skipped = 0  # to keep time with a file that decodes slower than it plays
        self.frames_damaged = 0  # could not be decoded: from the damage to the end the header states
        self._told_damage = False
        self._warned_slow = False

    @property
    def origin(self) -> float | None:
        """The clock reading when the first frame was delivered (frame i is due at origin + i / fps)."""
        return self._started

    @property
    def duration_seconds(self) -> float:
        frames = float(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
        return frames / self.fps if frames > 0 else math.inf

    def read(self) -> VideoFrame | None:
        """The next frame, waiting until it is due when paced; None at the end of the file."""
        if self._closed:
            return None
        image = self._pending if self._pending is not None else self._next_image()
        self._pending = None
        if image is None:
            return None
        now = self._clock()
        if self._started is None:
            self._started = now
        elif self.paced:
            due = self._started + self._index / self.fps
            if due > now:
                self._sleep(due - now)
                now = self._clock()
            elif now - due > max(LATE_S, 2 / self.fps):
                image = self._catch_up(now)
                if image is None:
                    return None
        frame = VideoFrame(image=np.asarray(image, dtype=np.uint8), timestamp=now, index=self._index)
        self._index += 1
        return frame

    def _catch_up(self, now: float) -> np.ndarray | None:
        """Skip the frame in hand and those whose time has passed; the frame due now (None at the end)."""
        assert self._started is not None  # only called for a frame after the first
        due_now = int((now - self._started) * self.fps)
        self._index += 1  # the late frame already decoded
        self.frames_skipped += 1
        while self._index < due_now and self._capture.grab():  # decode only, no colour conversion
            self._index += 1
            self.frames_skipped += 1
        if self.frames_skipped and not self._warned_slow:
            self._warned_slow = True
            logger.warning(
                "%s: this machine cannot play %dx%d at %.0f fps in real time; frames are skipped to keep time "
                "with the sound (a smaller copy of the file avoids this)",
                self.path,
                self.width,
                self.height,
                self.fps,
            )
        return self._next_image()

    def _next_image(self) -> np.ndarray | None:
        ok, image = self._capture.read()
        if ok:
            return image
        self._tell_damage()
        if self.loop and self._index > 0:
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, image = self._capture.read()
            if ok:
                return image
        logger.info("%s: end of video after %d frames", self.path, self._index)
        return None

    def _tell_damage(self) -> None:
        """A read failed before the end the header states: say once, in one line, how much of
        the video could not be played. (OpenCV cannot decode past a damaged stretch of a
        long-GOP H.264 file; `analyze`, which decodes with PyAV packet by packet, can.)"""
        total = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
        position = int(self._capture.get(cv2.CAP_PROP_POS_FRAMES))
        if self._told_damage or total <= 0 or position >= total - self.fps * 0.5:
            return
        self._told_damage = True
        self.frames_damaged = total - position
        logger.warning(
            "%s: %.1f s of its %.1f s of video could not be read (damaged); played up to %.1f s "
            "(`emotion-overlay analyze` decodes past damage)",
            self.path,
            self.frames_damaged / self.fps,
            total / self.fps,
            position / self.fps,
        )

    def close(self) -> None:
        """Release the file; safe to call more than once."""
        if not self._closed:
            self._closed = True
            self._capture.release()

    def __enter__(self) -> VideoFileSource:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def video_start_seconds(path: Path) -> float:
    """Presentation time of the file's first video frame (containers may start video after audio)."""
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            if stream.start_time is None or stream.time_base is None:
                return 0.0
            return float(stream.start_time * stream.time_base)
    except (av.error.FFmpegError, IndexError):
        return 0.0


def claims(camera: str) -> bool:
    """A video file's name, even before it exists (so a typo says "no such file", not "no such camera")."""
    return Path(camera).suffix.lower() in VIDEO_SUFFIXES or Path(camera).exists()


def open_source(camera: str, context: SourceContext) -> FrameSource:
    return VideoFileSource(Path(camera), loop=context.loop)


def _sound_only(path: Path) -> bool:
    """Whether `path` is a media file with sound and no picture (a recording of a voice)."""
    import av

    try:
        with av.open(str(path)) as container:
            return not container.streams.video and bool(container.streams.audio)
    except (av.error.FFmpegError, OSError, ValueError):
        return False
