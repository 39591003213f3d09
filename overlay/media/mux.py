"""Putting the original sound back under an annotated video (`analyze --video` encodes the pictures alone first).

The annotated video's packets are copied as they are; the sound is copied too when MP4
can hold it (AAC, MP3), else re-encoded to AAC. Sound is shifted so that it lines up with
the first video frame, as it did in the original. The result is written to a temporary
name and renamed into place, so a failure never leaves a half-written file.
"""

from __future__ import annotations

import heapq
import logging
import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.container import InputContainer, OutputContainer

from overlay.errors import OverlayError
from overlay.files.private import create_private

logger = logging.getLogger(__name__)

COPYABLE_AUDIO = ("aac", "mp3")


def add_sound(video_only: Path, original: Path, target: Path, trim: bool = False) -> None:
    """Write `target`: the video of `video_only` with the first audio stream of `original`.

    With `trim` the sound stops where the video does (`run` records only part of a file).
    """
    partial = target.with_name(f".{target.name}.partial")
    try:
        with av.open(str(video_only)) as pictures, av.open(str(original)) as source:
            if not source.streams.audio:
                os.replace(video_only, target)
                return
            create_private(partial)  # owner-only, like every file holding the user's face
            until = _video_end(pictures) if trim else None
            with av.open(str(partial), "w", format="mp4") as out:
                _mux(pictures, source, out, until)
        os.replace(partial, target)
    except (av.error.FFmpegError, OSError) as err:
        partial.unlink(missing_ok=True)
        raise OverlayError(f"{target}: could not add the original sound ({err})") from err


def _video_end(pictures: InputContainer) -> float:
    """Where the video's last frame ends, in seconds (read from the packets; then back to the start)."""
    stream = pictures.streams.video[0]
    end = 0.0
    for packet in pictures.demux(stream):
        if packet.pts is not None:
            end = max(end, _seconds(packet.pts + (packet.duration or 0), packet.time_base))
    pictures.seek(0)
    return end


def _mux(pictures: InputContainer, source: InputContainer, out: OutputContainer, until: float | None) -> None:
    video_in = pictures.streams.video[0]
    audio_in = source.streams.audio[0]
    video_out = out.add_stream_from_template(video_in)
    offset = _video_start(source)  # the original's first frame is the annotated video's time 0
    transcode = audio_in.codec_context.name not in COPYABLE_AUDIO
    if transcode:
        audio_out = out.add_stream("aac", rate=audio_in.rate or 48_000)
        audio_packets = _encoded_audio(source, audio_in, audio_out, offset)
    else:
        audio_out = out.add_stream_from_template(audio_in)
        audio_packets = _copied_audio(source, audio_in, offset)
    videos = ((_seconds(p.dts, p.time_base), 0, p) for p in pictures.demux(video_in) if p.dts is not None)
    audios = (
        (_seconds(p.dts, p.time_base), 1, p)
        for p in audio_packets
        if until is None or _seconds(p.pts, p.time_base) < until
    )
    # Interleaved by time, as players expect; each packet goes to its output stream.
    for _, kind, packet in heapq.merge(videos, audios, key=lambda item: (item[0], item[1])):
        packet.stream = video_out if kind == 0 else audio_out
        out.mux(packet)
    if transcode:
        out.mux(audio_out.encode(None))  # what the encoder still holds


def _video_start(container: InputContainer) -> float:
    if not container.streams.video:
        return 0.0
    stream = container.streams.video[0]
    if stream.start_time is None or stream.time_base is None:
        return 0.0
    return float(stream.start_time * stream.time_base)


def _seconds(value: int | None, base: Fraction | None) -> float:
    return float(value * base) if value is not None and base is not None else 0.0


def _copied_audio(source: InputContainer, stream: av.AudioStream, offset: float) -> Iterator[Any]:
    assert stream.time_base is not None
    shift = round(offset / stream.time_base)
    for packet in source.demux(stream):
        if packet.dts is None or packet.pts is None:
            continue  # the demuxer's end-of-stream marker
        packet.pts -= shift
        packet.dts -= shift
        if packet.pts >= 0:
            yield packet


def _encoded_audio(
    source: InputContainer, stream: av.AudioStream, encoder: av.AudioStream, offset: float
) -> Iterator[Any]:
    for frame in source.decode(stream):
        if frame.time is not None and frame.time < offset:
            continue
        frame.pts = None  # the encoder numbers its own samples from 0
        yield from encoder.encode(frame)
