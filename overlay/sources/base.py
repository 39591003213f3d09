"""Where frames and sound come from: the contracts every source follows, and the registry that picks one.

FrameSource
    `fps`, `width`, `height`: what read() delivers (a camera reports what it granted).
    read() is called on the video thread in a loop; it blocks until the next frame (a camera's
    or a paced file's rate) and returns a VideoFrame stamped on time.monotonic() when it was
    captured, or None when the source has ended (a file without --loop). A camera that goes
    away must not raise: ReconnectingSource turns that into "camera unavailable" frames.
    close() is called exactly once, after the last read(); it is idempotent.
AudioSource
    read(timeout) returns the next 16 kHz mono AudioBlock or None after `timeout` seconds
    without one; blocks are queued without loss between reads, and `overflows` counts what
    the device itself dropped. close() as above.

Opening: `--camera VALUE` (or [camera] device) is offered to each entry of SOURCES in
order; the first whose module's claims(value) is true opens it with open_source(value,
context). A new kind of camera is one module with those two functions plus one line here.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

from overlay.errors import OverlayError

if TYPE_CHECKING:
    from overlay.config import Config
    from overlay.records import AudioBlock, Event, VideoFrame

logger = logging.getLogger(__name__)


class FrameSource(Protocol):
    fps: float
    width: int
    height: int

    def read(self) -> VideoFrame | None: ...
    def close(self) -> None: ...


class AudioSource(Protocol):
    overflows: int
    sample_rate: int

    def read(self, timeout: float) -> AudioBlock | None: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class SourceContext:
    """What a source may need when it opens."""

    config: Config
    loop: bool  # replay a file from the start when it ends
    on_event: Callable[[Event, str], None]  # (kind, detail) for the timeline


SOURCES: Final = (
    ("obs", "overlay.sources.obs_source"),  # obs:NAME, a source in OBS
    ("file", "overlay.sources.video_file"),  # a video file played as the camera
    ("camera", "overlay.sources.camera"),  # a webcam by index or (part of) its name; takes the rest
)


def open_camera(value: str, context: SourceContext) -> FrameSource:
    """The frame source that `--camera value` names."""
    for _, module_name in SOURCES:
        module = importlib.import_module(module_name)
        if module.claims(value):
            source: FrameSource = module.open_source(value, context)
            return source
    raise AssertionError("the last entry of SOURCES claims every value")


def open_audio(microphone: str, frames: FrameSource, context: SourceContext) -> AudioSource | None:
    """The sound to analyse: a video file's own track, a microphone, or none ("off").

    With "auto", a missing track or microphone turns voice off with a warning (the face goes
    on); a microphone asked for by name or index must open.
    """
    from overlay.media.audio_file import NoAudioTrackError, read_audio
    from overlay.sources.file_audio import FileAudioSource
    from overlay.sources.microphone import MicrophoneSource
    from overlay.sources.microphone_devices import resolve_microphone
    from overlay.sources.video_file import VideoFileSource, video_start_seconds

    if microphone == "off":
        return None
    if microphone == "auto" and isinstance(frames, VideoFileSource):
        try:
            clip = read_audio(frames.path)
        except NoAudioTrackError as err:
            logger.warning("%s", err)
            return None
        loop = frames.duration_seconds if frames.loop else None
        return FileAudioSource(clip, lambda: frames.origin, video_start_seconds(frames.path), loop_seconds=loop)
    try:
        return MicrophoneSource(
            resolve_microphone(None if microphone == "auto" else microphone), on_event=context.on_event
        )
    except OverlayError as err:
        if microphone != "auto":
            raise
        logger.warning("%s; voice is off", err)
        return None
