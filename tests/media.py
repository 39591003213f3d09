"""Made-up media files for tests: a tone or speech-like sound, and a video whose flash and beep coincide."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
import soundfile


def tone(seconds: float, rate: int = 16_000, freq: float = 440.0, level: float = 0.3) -> npt.NDArray[np.float32]:
    t = np.arange(int(seconds * rate)) / rate
    return (level * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_wav(path: Path, samples: npt.NDArray[np.float32], rate: int = 16_000, subtype: str = "PCM_16") -> Path:
    soundfile.write(str(path), samples, rate, subtype=subtype)
    return path


def write_flash_and_beep(
    path: Path,
    *,
    seconds: float = 3.0,
    fps: int = 25,
    event_at: float = 1.6,
    audio_rate: int = 44_100,
    audio_delay: float = 0.0,
) -> Path:
    """An MP4 (MPEG-4 video + AAC) that is dark and silent except at `event_at` s of media time,
    where the picture turns white and a 1 kHz beep starts, together. `audio_delay` starts the
    audio stream that much after the video (containers often offset their streams)."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("mpeg4", rate=fps)
        video.width, video.height, video.pix_fmt = 320, 240, "yuv420p"
        audio = container.add_stream("aac", rate=audio_rate)
        audio.layout = "mono"
        for i in range(int(seconds * fps)):
            pixels = np.full((240, 320, 3), 255 if i / fps >= event_at else 10, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for packet in video.encode(frame):
                container.mux(packet)
        t = np.arange(int((seconds - audio_delay) * audio_rate)) / audio_rate + audio_delay
        sound = np.where(t >= event_at, 0.5 * np.sin(2 * np.pi * 1000 * t), 0.0).astype(np.float32)
        _write_sound(container, audio, sound, audio_rate, first_sample=round(audio_delay * audio_rate))
        _flush(container, video, audio)
    return path


def write_variable_rate_copy(source: Path, target: Path, periods_ms: tuple[int, ...] = (33, 33, 100)) -> list[float]:
    """The pictures of `source` re-encoded with frame times stepping by `periods_ms` in turn, as
    a phone records (its rate drops when the light does); no sound. Returns each frame's time."""
    times: list[float] = []
    with av.open(str(source)) as given, av.open(str(target), "w") as out:
        stream = out.add_stream("mpeg4", rate=30)
        stream.time_base = Fraction(1, 1000)
        stream.codec_context.time_base = Fraction(1, 1000)
        pts = 0
        for i, frame in enumerate(given.decode(video=0)):
            if i == 0:
                stream.width, stream.height, stream.pix_fmt = frame.width, frame.height, "yuv420p"
            picture = av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24")
            picture.pts, picture.time_base = pts, Fraction(1, 1000)
            times.append(pts / 1000)
            for packet in stream.encode(picture):
                out.mux(packet)
            pts += periods_ms[i % len(periods_ms)]
        _flush(out, stream)
    return times


def write_silent_clip(path: Path, seconds: float = 2.0, fps: int = 15) -> Path:
    """A dim picture with a sound track that holds nothing but silence."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("mpeg4", rate=fps)
        video.width, video.height, video.pix_fmt = 160, 120, "yuv420p"
        audio = container.add_stream("aac", rate=16_000)
        audio.layout = "mono"
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(np.full((120, 160, 3), 40, dtype=np.uint8), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in video.encode(frame):
                container.mux(packet)
        _write_sound(container, audio, np.zeros(int(seconds * 16_000), dtype=np.float32), 16_000)
        _flush(container, video, audio)
    return path


def _write_sound(container: Any, stream: Any, sound: npt.NDArray[np.float32], rate: int, first_sample: int = 0) -> None:
    """Mono float samples into an audio stream, in blocks of 1024, the first at `first_sample`."""
    for start in range(0, len(sound), 1024):
        block = av.AudioFrame.from_ndarray(sound[np.newaxis, start : start + 1024], format="flt", layout="mono")
        block.sample_rate, block.pts, block.time_base = rate, first_sample + start, Fraction(1, rate)
        for packet in stream.encode(block):
            container.mux(packet)


def _flush(container: Any, *streams: Any) -> None:
    for stream in streams:
        for packet in stream.encode(None):
            container.mux(packet)


def decodable(path: Path) -> tuple[int, int]:
    """(frames, damaged packets) of `path`'s video, decoding every packet FFmpeg can, as players
    do: a damaged packet is skipped, a cut file ends where the demuxer stops."""
    frames = damaged = 0
    with av.open(str(path)) as container:
        try:
            for packet in container.demux(video=0):
                try:
                    frames += len(packet.decode())
                except av.error.FFmpegError:
                    damaged += 1
        except av.error.FFmpegError:
            pass
    return frames, damaged
