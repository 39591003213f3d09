"""The pictures of a recording, each with its presentation time from the container (PyAV).

For analysing files: a frame's time is its own timestamp on the file's clock, not its index
divided by a nominal rate, so a variable-frame-rate recording (phones record that way: the
rate drops in low light and when the phone is busy) lines up with its sound and its words.
The live path plays files through `overlay.sources.video_file`, which paces (and loops) these.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt

from overlay.errors import DataError

logger = logging.getLogger(__name__)

MIN_SIDE = 32  # pixels; smaller frames cannot hold a face worth reading
FALLBACK_FPS = 30.0
UNREAD_WARNING_S = 0.5  # video that could not be read, under which nothing is said


@dataclass(frozen=True)
class TimedFrame:
    """BGR pixels, presentation time in seconds on the file's clock, and the frame's number."""

    image: npt.NDArray[np.uint8]
    time: float
    index: int


class VideoFrames:
    """Decode the first video stream of `path` in order; use as a context manager.

    Opening decodes the first frame, so a file that is not a video, or whose video cannot be
    decoded, fails here with a one-line DataError. Damage further on is decoded past where the
    decoder can (`damaged_packets`); how much of the stated duration could not be read is
    `unread_seconds()` once iterated. Iterate, or call next_frame(), which can pass over frames
    that are already late without turning them into pixels.
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
        stated = float(rate) if rate else math.nan
        self.rate_known = math.isfinite(stated) and stated > 0
        self.fps = stated if self.rate_known else FALLBACK_FPS
        self.truncated = False  # the container could not be read to its end
        self.damaged_packets = 0  # skipped, decoding went on
        self.last_seconds = -1.0  # time of the last frame decoded
        self.frames_decoded = 0  # those passed over included
        self._decoded = self._decode()
        try:
            first = next(self._decoded, None)
        except BaseException:
            self._container.close()
            raise
        if first is None:
            self._container.close()
            raise DataError(
                f"{path}: not a readable video (corrupt, truncated or an unsupported codec); "
                "try re-encoding it, e.g. ffmpeg -i IN -c:v libx264 OUT.mp4"
            )
        self._first: tuple[Any, float, int] | None = first
        self.width, self.height = int(first[0].width), int(first[0].height)
        if min(self.width, self.height) < MIN_SIDE:
            self._container.close()
            raise DataError(
                f"{path}: its frames are {self.width}x{self.height} pixels, too small to hold a face "
                f"(at least {MIN_SIDE}x{MIN_SIDE} needed); use the original recording"
            )
        self.start_seconds = first[1]

    @property
    def duration_seconds(self) -> float:
        """From the container's header (inf when it does not say)."""
        stream = self._stream
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        if self._container.duration is not None:
            return self._container.duration / av.time_base
        return math.inf

    def __iter__(self) -> Iterator[TimedFrame]:
        while (frame := self.next_frame()) is not None:
            yield frame

    def next_frame(self, not_before: float = -math.inf) -> TimedFrame | None:
        """The next frame timed at or after `not_before` (None at the end); those before it are
        decoded (the next ones need them) but never turned into pixels, which costs as much again."""
        while True:
            decoded, self._first = self._first or next(self._decoded, None), None
            if decoded is None:
                return None
            frame, t, index = decoded
            if t >= not_before:
                return TimedFrame(np.asarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8), t, index)

    def _decode(self) -> Iterator[tuple[Any, float, int]]:
        """Decoded frames with their times and numbers, packet by packet: a damaged packet is
        skipped (counted) and decoding goes on past it, as far as the decoder can; damage the
        demuxer cannot pass ends the video there."""
        index = 0
        last = -math.inf
        for packet in self._packets():
            try:
                frames = packet.decode()
            except (av.error.FFmpegError, ValueError) as err:
                self.damaged_packets += 1
                logger.debug("%s: a damaged packet skipped (%s)", self.path, err)
                continue
            for frame in frames:
                if frame.pts is not None and frame.time_base is not None:
                    t = float(frame.pts * frame.time_base)
                else:  # no timestamp (raw streams): one nominal period after the last
                    t = 0.0 if index == 0 else last + 1 / self.fps
                if t <= last:  # a repeated or out-of-order stamp: keep time moving forward
                    t = last + 1e-3
                last = t
                self.last_seconds = t
                self.frames_decoded = index + 1
                yield frame, t, index
                index += 1
        if index == 0 and self.damaged_packets:
            raise DataError(
                f"{self.path}: its video cannot be decoded ({self.damaged_packets} damaged packets); "
                "re-encode it, e.g. ffmpeg -i IN -c:v libx264 OUT.mp4"
            )

    def _packets(self) -> Iterator[Any]:
        """The video stream's packets, then an empty one that flushes the decoder; a demuxer
        error (a file cut short, garbage where the next packet should be) ends them."""
        try:
            yield from self._container.demux(self._stream)
        except (av.error.FFmpegError, ValueError) as err:
            self.truncated = True
            logger.debug("%s: the container cannot be read past %.1f s (%s)", self.path, self.last_seconds, err)

    def unread_seconds(self) -> float:
        """How much of the duration the container states was not decoded (after iterating)."""
        stated = self.duration_seconds
        if not math.isfinite(stated) or self.last_seconds < 0:
            return 0.0
        read = self.last_seconds - self.start_seconds + 1 / self.fps
        damaged = self.damaged_packets / self.fps  # about one frame each
        return max(0.0, stated - read) + damaged

    def unread_line(self) -> str | None:
        """One line when a noticeable part of the stated duration could not be read (after iterating)."""
        unread = self.unread_seconds()
        if unread < UNREAD_WARNING_S:
            return None
        return f"{self.path}: {unread:.1f} s of its {self.duration_seconds:.1f} s of video could not be read (damaged)"

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> VideoFrames:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class NoVideoTrackError(DataError):
    """The file has no pictures (perhaps sound only)."""
