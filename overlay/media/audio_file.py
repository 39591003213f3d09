"""Reading audio from recordings: WAV, FLAC, MP3, OGG and the audio track of MP4/MOV/MKV/AVI.

Decoded with PyAV: its wheels carry their own FFmpeg libraries, so every one of these formats
reads the same on Linux, macOS and Windows without a system ffmpeg, and frames come with
presentation timestamps, which line the audio up with the video of the same file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

from overlay.errors import DataError
from overlay.voice.features import SAMPLE_RATE

logger = logging.getLogger(__name__)


class NoAudioTrackError(DataError):
    """The file is a readable video without sound: the face still works, voice is off."""


@dataclass(frozen=True)
class AudioClip:
    """16 kHz mono float32 samples in [-1, 1].

    `start_seconds` is the presentation time of the first sample on the file's own clock, the
    clock the file's video frames use, so sample i plays at start_seconds + i / sample_rate.
    """

    samples: npt.NDArray[np.float32]
    sample_rate: int
    start_seconds: float
    path: Path
    truncated: bool = False

    @property
    def duration_seconds(self) -> float:
        return len(self.samples) / self.sample_rate


def read_audio(path: Path, sample_rate: int = SAMPLE_RATE) -> AudioClip:
    """Decode the first audio stream of `path`, mixed to mono and resampled to `sample_rate`.

    Raises DataError (one line, what to do) for a missing, unreadable or non-media file and
    NoAudioTrackError for a file without sound. A file cut short mid-stream gives the audio
    before the damage, with `truncated` set and a warning logged.
    """
    if not path.is_file():
        raise DataError(f"{path}: no such file; check the path")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: not a readable audio or video file ({err}); convert it to WAV or MP4") from err
    with container:
        if not container.streams.audio:
            raise NoAudioTrackError(f"{path}: has no audio track, so voice and words are off for it")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        chunks: list[npt.NDArray[np.float32]] = []
        start_seconds: float | None = None
        truncated = False
        try:
            for frame in container.decode(stream):
                if start_seconds is None and frame.pts is not None and frame.time_base is not None:
                    start_seconds = float(frame.pts * frame.time_base)
                chunks.extend(_samples(out) for out in resampler.resample(frame))
            chunks.extend(_samples(out) for out in resampler.resample(None))
        except (av.error.FFmpegError, ValueError) as err:
            if not chunks:
                raise DataError(
                    f"{path}: its audio cannot be decoded ({err}); convert it to 16-bit WAV "
                    "(e.g. ffmpeg -i IN -ac 1 -ar 16000 OUT.wav)"
                ) from err
            truncated = True
            logger.warning("%s: audio damaged after %.2f s (%s); using what came before", path, _seconds(chunks), err)
    if not chunks:
        raise DataError(f"{path}: its audio track is empty")
    samples = np.concatenate(chunks)
    return AudioClip(samples, sample_rate, start_seconds or 0.0, path, truncated)


def _samples(frame: av.AudioFrame) -> npt.NDArray[np.float32]:
    return np.asarray(frame.to_ndarray(), dtype=np.float32).reshape(-1)


def _seconds(chunks: list[npt.NDArray[np.float32]]) -> float:
    return sum(len(c) for c in chunks) / SAMPLE_RATE
