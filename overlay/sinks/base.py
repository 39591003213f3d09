"""Where the overlay goes: the two sink contracts, and the registry that names every sink.

FrameSink (the virtual camera, an MP4 file, the preview window)
    send(image) is called on the video thread once per output frame with the annotated
    frame (BGR uint8, the source's size). It must return well within a frame period and
    never wait on anything slow; a sink that needs time keeps its own thread. Raising drops
    this sink (logged, recorded as a "sink_failed" event); the other outputs go on.
StateSink (OBS, which draws the reading with its own sources)
    show(state) is called on the video thread for every frame with the OverlayState drawn
    on it; it must only hand the state over (keep the newest) and return at once.
Both: close() is called exactly once, after the last send/show (also after one raised),
and is idempotent. Opening a sink whose device or program is missing raises an
OverlayError whose one line says what to do.

SINKS maps each name (`--sink NAME`, [output] sinks) to the one module of that sink, which
has `open_sink(context)`; the config's choices, the command line's and `status` read it, so
a new sink is one file plus one line here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal, Protocol

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from overlay.config import Config
    from overlay.records import Event
    from overlay.render.draw import OverlayState


class FrameSink(Protocol):
    def send(self, image: npt.NDArray[np.uint8]) -> None: ...
    def close(self) -> None: ...


class StateSink(Protocol):
    def show(self, state: OverlayState) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class SinkContext:
    """What a sink may need when it opens: the settings, the source's picture, where events go."""

    config: Config
    width: int
    height: int
    fps: float
    on_event: Callable[[Event, str], None]
    sound_rate: int | None = None  # the sound the run hears (samples/s), None when it hears none


@dataclass(frozen=True)
class SinkSpec:
    module: str  # has open_sink(context) -> FrameSink | StateSink
    takes: Literal["frames", "state"]
    help: str


SINKS: Final = {
    "vcam": SinkSpec("overlay.sinks.virtual_camera", "frames", "the virtual camera meeting apps pick"),
    "file": SinkSpec("overlay.sinks.video_file", "frames", "an MP4 file (--out)"),
    "preview": SinkSpec("overlay.sinks.preview", "frames", "a window on this desktop"),
    "obs": SinkSpec("overlay.sinks.obs", "state", "sources in an OBS scene"),
}


def sink_name(sink: object) -> str:
    """The name a sink is registered under (what --sink takes), from the module it comes from."""
    module = type(sink).__module__
    return next((name for name, spec in SINKS.items() if spec.module == module), type(sink).__name__)


def open_sink(name: str, context: SinkContext) -> FrameSink | StateSink:
    """Open the sink registered as `name` (an OverlayError when it cannot)."""
    sink: FrameSink | StateSink = importlib.import_module(SINKS[name].module).open_sink(context)
    return sink
