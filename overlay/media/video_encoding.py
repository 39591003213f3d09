"""The encoder of the annotated MP4s: H.264 where this FFmpeg has one, MPEG-4 Part 2 otherwise.

H.264 (x264) at a constant quality keeps the overlay's sharp text and lines free of the blocks
MPEG-4 Part 2 leaves at the bitrates it is given, at about the same size or smaller. PyAV's
wheels carry libx264; an FFmpeg built without it (some distributions' builds) falls back to
MPEG-4 Part 2, which every build has, and says so once.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av

logger = logging.getLogger(__name__)

H264_ENCODER = "libx264"
FALLBACK_ENCODER = "mpeg4"  # MPEG-4 Part 2: in every FFmpeg build, readable everywhere
PIXEL_FORMAT = "yuv420p"  # what every player decodes


@dataclass(frozen=True)
class VideoEncoding:
    """How the annotated MP4's picture is encoded: x264's trade of CPU for size (the quality,
    CRF, is the same either way)."""

    preset: str
    zero_latency: bool  # each frame out as it goes in: no B-frames or look-ahead held back
    crf: int = 21  # constant quality: 18 looks lossless, 23 is x264's default; lower is larger
    h264: bool = True  # False: MPEG-4 Part 2 even where H.264 opens (to compare the two)

    def options(self) -> dict[str, str]:
        options = {"preset": self.preset, "crf": str(self.crf)}
        if self.zero_latency:
            options["tune"] = "zerolatency"
        return options


# Live: the encoder keeps up at 720p30 on a fraction of a core, and a killed run loses no more
# than its last fragment (nothing is held in a look-ahead).
LIVE = VideoEncoding(preset="superfast", zero_latency=True)
# A recording (analyze --video): B-frames and look-ahead halve the size for the same quality.
RECORDING = VideoEncoding(preset="veryfast", zero_latency=False)


def add_video_stream(
    container: Any, width: int, height: int, rate: Fraction, encoding: VideoEncoding
) -> av.VideoStream:
    """A video stream in `container` for frames of width x height (even) at `rate`: H.264 when
    its encoder opens here, else MPEG-4 Part 2. A key frame (and, in a fragmented MP4, a
    fragment) each second."""
    h264 = encoding.h264 and _opens(H264_ENCODER, width, height, rate, encoding)
    encoder = H264_ENCODER if h264 else FALLBACK_ENCODER
    stream = container.add_stream(encoder, rate=rate, options=encoding.options() if h264 else {})
    assert isinstance(stream, av.VideoStream)
    stream.width, stream.height, stream.pix_fmt = width, height, PIXEL_FORMAT
    if not h264:
        stream.bit_rate = max(1_000_000, int(width * height * float(rate) * 0.15))
    stream.codec_context.gop_size = max(1, round(float(rate)))
    return stream


_told_fallback: set[str] = set()  # said once a process: every video it writes falls back the same way


@functools.cache
def _opens(encoder: str, width: int, height: int, rate: Fraction, encoding: VideoEncoding) -> bool:
    """Whether `encoder` opens for these frames (tried on a context of its own: a stream, once
    added to a container, cannot be taken out again)."""
    try:
        probe = av.CodecContext.create(encoder, "w")
        assert isinstance(probe, av.VideoCodecContext)
        probe.width, probe.height, probe.pix_fmt = width, height, PIXEL_FORMAT
        probe.time_base = 1 / rate
        probe.options = encoding.options()
        probe.open()
    except (av.error.FFmpegError, ValueError) as err:  # an unknown encoder is a ValueError
        if encoder not in _told_fallback:
            _told_fallback.add(encoder)
            logger.warning(
                "%s (H.264) cannot be opened in this FFmpeg build (%s); videos are written as MPEG-4 Part 2, "
                "larger and blockier (PyAV's own wheels have it: pip install av)",
                encoder,
                err,
            )
        return False
    return True
