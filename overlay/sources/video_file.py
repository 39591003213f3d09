"""A video file (MP4, MOV, AVI, MKV) played as if it were a camera.

Frames are decoded as `analyze` decodes them (overlay.media.video_frames: packet by packet,
past damaged stretches where the decoder can) and paced at their own times in the file against
the monotonic clock (or delivered as fast as they decode, for analysing recordings), optionally
looped. Each frame's timestamp is the clock reading when it was delivered, as a camera frame's
would be. A stretch that could not be decoded stays a gap, so the picture keeps time with the
file's sound; when the file ends, how much of its stated duration could not be read is said in
one line.

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

from overlay.errors import DataError
from overlay.media.video_frames import FALLBACK_FPS, NoVideoTrackError, TimedFrame, VideoFrames
from overlay.records import VideoFrame
from overlay.sources.base import FrameSource, SourceContext

logger = logging.getLogger(__name__)

# Rates a real recording can have; below MIN_FPS a paced read would sleep for seconds per
# frame (a broken header reading 0.001 fps meant a 1000 s sleep that no signal could end).
MIN_FPS, MAX_FPS = 1.0, 240.0
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
        self._frames = _open_frames(path)
        if not self._frames.rate_known:
            logger.warning("%s: frame rate unknown; playing at %.0f fps", path, FALLBACK_FPS)
        elif not MIN_FPS <= self._frames.fps <= MAX_FPS:
            self._frames.close()
            raise DataError(
                f"{path}: its header gives {self._frames.fps:g} frames a second, which no recording has "
                f"({MIN_FPS:g}-{MAX_FPS:g}); re-encode it with its real rate, e.g. ffmpeg -i IN -r 30 OUT.mp4"
            )
        self.fps = self._frames.fps
        self.width = self._frames.width
        self.height = self._frames.height
        self._started: float | None = None
        self._pass_start = 0.0  # seconds after the origin at which this pass of the file starts (looping)
        self._pass_index = 0  # frames of the earlier passes
        self._last = -1  # number, in this pass, of the last frame read (delivered or skipped)
        self._closed = False
        self.frames_skipped = 0  # to keep time with a file that decodes slower than it plays
        self._told_damage = False
        self._warned_slow = False

    @property
    def origin(self) -> float | None:
        """The clock reading when the first frame was delivered (a frame at t s into the file is due
        t s after it, counted from the file's first frame)."""
        return self._started

    @property
    def duration_seconds(self) -> float:
        """What the file's header states (inf when it does not say): one pass when looping."""
        return self._frames.duration_seconds

    def read(self) -> VideoFrame | None:
        """The next frame, waiting until it is due when paced; None at the end of the file."""
        if self._closed:
            return None
        timed = self._next()
        if timed is None:
            return None
        now = self._clock()
        if self._started is None:
            self._started = now
        elif self.paced:
            due = self._due(timed)
            if due > now:
                self._sleep(due - now)
                now = self._clock()
            elif now - due > max(LATE_S, 2 / self.fps):
                timed = self._catch_up(now)
                if timed is None:
                    return None
        self.frames_skipped += timed.index - self._last - 1
        self._last = timed.index
        return VideoFrame(image=timed.image, timestamp=now, index=self._pass_index + timed.index)

    def _due(self, timed: TimedFrame) -> float:
        assert self._started is not None
        return self._started + self._pass_start + timed.time - self._frames.start_seconds

    def _catch_up(self, now: float) -> TimedFrame | None:
        """Skip the frame in hand and those whose time has passed; the frame due now (None at the end)."""
        assert self._started is not None  # only called for a frame after the first
        now_in_file = now - self._started - self._pass_start + self._frames.start_seconds
        if not self._warned_slow:
            self._warned_slow = True
            logger.warning(
                "%s: this machine cannot play %dx%d at %.0f fps in real time; frames are skipped to keep time "
                "with the sound (a smaller copy of the file avoids this)",
                self.path,
                self.width,
                self.height,
                self.fps,
            )
        return self._next(not_before=now_in_file - 1 / self.fps)

    def _next(self, not_before: float = -math.inf) -> TimedFrame | None:
        """The next frame of the file (from `not_before` s into it), from its start again when looping."""
        timed = self._frames.next_frame(not_before)
        if timed is not None:
            return timed
        self.frames_skipped += self._frames.frames_decoded - self._last - 1  # passed over at the end
        self._last = self._frames.frames_decoded - 1
        self._tell_damage()
        if not self.loop or self._last < 0:
            logger.info("%s: end of video after %d frames", self.path, self._pass_index + self._last + 1)
            return None
        decoded = self._frames.last_seconds - self._frames.start_seconds + 1 / self.fps
        stated = self._frames.duration_seconds
        # A pass lasts what the header states, as the file's sound loops (what could not be read stays a gap).
        self._pass_start += stated if math.isfinite(stated) else decoded
        self._pass_index += self._last + 1
        self._last = -1
        self._frames.close()
        try:
            self._frames = VideoFrames(self.path)
        except DataError as err:  # gone or changed since it opened
            logger.warning("%s; the video ends here", err)
            return None
        return self._frames.next_frame()

    def _tell_damage(self) -> None:
        """Once, in one line: how much of the file's stated duration could not be read (damaged, cut short)."""
        if self._told_damage:
            return
        self._told_damage = True
        unread = self._frames.unread_line()
        if unread is not None:
            logger.warning("%s; the rest was played", unread)

    def close(self) -> None:
        """Release the file; safe to call more than once."""
        if not self._closed:
            self._closed = True
            self._frames.close()

    def __enter__(self) -> VideoFileSource:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _open_frames(path: Path) -> VideoFrames:
    try:
        return VideoFrames(path)
    except NoVideoTrackError:
        if _sound_only(path):
            raise DataError(
                f"{path}: has no picture, only sound, and --camera needs a video; analyse the recording "
                f"with `emotion-overlay analyze {path}`, or speak live with the webcam and --mic"
            ) from None
        raise DataError(
            f"{path}: not a readable video (corrupt, truncated or an unsupported codec); "
            "try re-encoding it, e.g. ffmpeg -i IN -c:v libx264 OUT.mp4"
        ) from None


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
