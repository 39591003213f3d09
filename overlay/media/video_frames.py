"""The pictures of a recording, each with its presentation time from the container (PyAV).

For analysing files: a frame's time is its own timestamp on the file's clock, not its index
divided by a nominal rate, so a variable-frame-rate recording (phones record that way: the
rate drops in low light and when the phone is busy) lines up with its sound and its words.
The live path plays files through `overlay.sources.video_file` instead (paced, looped).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

from overlay.errors import DataError

logger = logging.getLogger(__name__)

MIN_SIDE = 32  # pixels; smaller frames cannot hold a face worth reading
FALLBACK_FPS = 30.0


@dataclass(frozen=True)
class TimedFrame:
    """BGR pixels, presentation time in seconds on the file's clock, and the frame's number."""

    image: npt.NDArray[np.uint8]
    time: float
    index: int


class VideoFrames:
    """Decode the first video stream of `path` in order; use as a context manager.

    Opening decodes the first frame, so a file that is not a video, or whose video cannot be
    decoded, fails here with a one-line DataError. A file damaged further on gives the frames
    before the damage (with `truncated` set and a warning).
    """

    def __init__(self, path: Path) -> None:
        if path.is_dir():
            raise DataError(f"{path}: is a folder, not a video file; pass a video file")
        if not path.is_file():
            raise DataError(f"{path}: no such video file; check the path")
        self.path = path
        try:
            self._container = av.open(str(path))
        except (av.error.FFmpegError, UnicodeDecodeError) as err:
            raise DataError(f"{path}: not a readable video ({err}); re-encode it, e.g. ffmpeg -i IN OUT.mp4") from err
        if not self._container.streams.video:
            self._container.close()
            raise NoVideoTrackError(f"{path}: has no video track")
        self._stream = self._container.streams.video[0]
        rate = self._stream.average_rate or self._stream.guessed_rate
        self.fps = float(rate) if rate and math.isfinite(float(rate)) and float(rate) > 0 else FALLBACK_FPS
        self.truncated = False
        self._frames = self._decode()
        try:
            self._first = next(self._frames, None)
        except BaseException:
            self._container.close()
            raise
        if self._first is None:
            self._container.close()
            raise DataError(
                f"{path}: not a readable video (corrupt, truncated or an unsupported codec); "
                "try re-encoding it, e.g. ffmpeg -i IN -c:v libx264 OUT.mp4"
            )
        self.height, self.width = (int(side) for side in self._first.image.shape[:2])
        if min(self.width, self.height) < MIN_SIDE:
            self._container.close()
            raise DataError(
                f"{path}: its frames are {self.width}x{self.height} pixels, too small to hold a face "
                f"(at least {MIN_SIDE}x{MIN_SIDE} needed); use the original recording"
            )
        self.start_seconds = self._first.time

    @property
    def duration_seconds(self) -> float:
        """From the container's header (inf when it does not say): for progress only."""
        stream = self._stream
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        if self._container.duration is not None:
            return self._container.duration / av.time_base
        return math.inf

    def __iter__(self) -> Iterator[TimedFrame]:
        if self._first is not None:
            first, self._first = self._first, None
            yield first
        yield from self._frames

    def _decode(self) -> Iterator[TimedFrame]:
        index = 0
        last = -math.inf
        try:
            for frame in self._container.decode(self._stream):
                if frame.pts is not None and frame.time_base is not None:
                    t = float(frame.pts * frame.time_base)
                else:  # no timestamp (raw streams): one nominal period after the last
                    t = 0.0 if index == 0 else last + 1 / self.fps
                if t <= last:  # a repeated or out-of-order stamp: keep time moving forward
                    t = last + 1e-3
                last = t
                yield TimedFrame(np.asarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8), t, index)
                index += 1
        except (av.error.FFmpegError, ValueError) as err:
            if index == 0:
                raise DataError(
                    f"{self.path}: its video cannot be decoded ({err}); "
                    "re-encode it, e.g. ffmpeg -i IN -c:v libx264 OUT.mp4"
                ) from err
            self.truncated = True
            logger.warning("%s: video damaged after frame %d (%s); using what came before", self.path, index, err)

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> VideoFrames:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class NoVideoTrackError(DataError):
    """The file has no pictures (perhaps sound only)."""
