"""Reading audio from recordings: WAV, FLAC, MP3, OGG and the audio track of MP4/MOV/MKV/AVI.

Decoded with PyAV: its wheels carry their own FFmpeg libraries, so every one of these formats
reads the same on Linux, macOS and Windows without a system ffmpeg, and frames come with
presentation timestamps, which line the audio up with the video of the same file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt

from overlay.errors import DataError
from overlay.records import AudioBlock
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
    with AudioStream(path, sample_rate=sample_rate) as stream:
        chunks = list(stream.chunks())
    return AudioClip(np.concatenate(chunks), sample_rate, stream.start_seconds, path, stream.truncated)


class AudioStream:
    """The first audio track of a file, decoded as it is read: for long recordings, whose
    whole sound would not fit in memory (an hour at 16 kHz is 230 MB of float32).

    Opening checks what read_audio checks (the same one-line errors, and the first audio is
    decoded at once, so a file with an undecodable track fails here, not half-way). Read it
    once, with chunks() or blocks(); `start_seconds`, `samples_read` and `truncated` describe
    what was read.
    """

    def __init__(self, path: Path, sample_rate: int = SAMPLE_RATE) -> None:
        if not path.is_file():
            raise DataError(f"{path}: no such file; check the path")
        self.path, self.sample_rate = path, sample_rate
        try:
            self._container = av.open(str(path))
        except (av.error.FFmpegError, UnicodeDecodeError) as err:
            raise DataError(f"{path}: not a readable audio or video file ({err}); convert it to WAV or MP4") from err
        if not self._container.streams.audio:
            self._container.close()
            raise NoAudioTrackError(f"{path}: has no audio track, so voice and words are off for it")
        self.start_seconds = 0.0
        self.samples_read = 0
        self.truncated = False
        self.damaged_packets = 0  # heard as silence; decoding went on
        self._decoded = self._decode()
        try:
            self._first = next(self._decoded, None)
        except BaseException:
            self._container.close()
            raise
        if self._first is None:
            self._container.close()
            raise DataError(f"{path}: its audio track is empty")

    @property
    def duration_seconds(self) -> float:
        """Of what has been read so far (all of it, once read to the end)."""
        return self.samples_read / self.sample_rate

    def chunks(self) -> Iterator[npt.NDArray[np.float32]]:
        """The samples in the decoder's own pieces, in order."""
        if self._first is None:
            return
        first, self._first = self._first, None
        self.samples_read += len(first)
        yield first
        for chunk in self._decoded:
            self.samples_read += len(chunk)
            yield chunk

    def blocks(self, block_s: float) -> Iterator[AudioBlock]:
        """Consecutive blocks of `block_s` seconds (the last may be shorter), each stamped with
        the presentation time of its first sample on the file's clock."""
        size = max(1, round(block_s * self.sample_rate))
        pending: list[npt.NDArray[np.float32]] = []
        held = emitted = 0
        for chunk in self.chunks():
            pending.append(chunk)
            held += len(chunk)
            if held < size:
                continue
            joined = np.concatenate(pending)
            whole = len(joined) - len(joined) % size
            for start in range(0, whole, size):
                yield self._block(joined[start : start + size], emitted)
                emitted += size
            pending, held = [joined[whole:]], len(joined) - whole
        if held:
            yield self._block(np.concatenate(pending), emitted)

    def _block(self, samples: npt.NDArray[np.float32], offset: int) -> AudioBlock:
        return AudioBlock(samples, self.start_seconds + offset / self.sample_rate, self.sample_rate)

    def _decode(self) -> Iterator[npt.NDArray[np.float32]]:
        """Decoded packet by packet: a damaged packet becomes silence of its length (the sound
        after it keeps its time) and decoding goes on; damage the demuxer cannot pass ends it."""
        stream = self._container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=self.sample_rate)
        started = False
        for packet in self._packets(stream):
            try:
                frames = packet.decode()
            except (av.error.FFmpegError, ValueError) as err:
                if not started:
                    raise DataError(
                        f"{self.path}: its audio cannot be decoded ({err}); convert it to 16-bit WAV "
                        "(e.g. ffmpeg -i IN -ac 1 -ar 16000 OUT.wav)"
                    ) from err
                self.damaged_packets += 1
                if packet.duration and packet.time_base is not None:
                    yield np.zeros(round(float(packet.duration * packet.time_base) * self.sample_rate), np.float32)
                continue
            for frame in frames:
                if not started and frame.pts is not None and frame.time_base is not None:
                    self.start_seconds = float(frame.pts * frame.time_base)
                started = True
                for out in resampler.resample(frame):
                    yield _samples(out)
        for out in resampler.resample(None):
            yield _samples(out)
        if self.damaged_packets:
            logger.warning("%s: %d damaged audio packets heard as silence", self.path, self.damaged_packets)

    def _packets(self, stream: Any) -> Iterator[Any]:
        try:
            yield from self._container.demux(stream)
        except (av.error.FFmpegError, ValueError) as err:
            self.truncated = True
            logger.warning(
                "%s: audio cannot be read past %.2f s (%s); using what came before",
                self.path,
                self.duration_seconds,
                err,
            )

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> AudioStream:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _samples(frame: av.AudioFrame) -> npt.NDArray[np.float32]:
    return np.asarray(frame.to_ndarray(), dtype=np.float32).reshape(-1)
