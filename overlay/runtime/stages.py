"""The seams of overlay.runtime.pipeline: the analysis stages it runs, and what it is given.

A stage is described by a StageSpec, written in the modality's own package (face.live,
voice.live, speech.live) and listed by overlay.app; the pipeline knows no modality by name.

StageSpec.make()
    Builds the stage on its own "name" thread (its models load there); called again after
    a fault. Raising is a fault.
StageSpec.handle(stage, item, readings)
    Called for each item in turn on that thread: the newest frame ("frames": stale frames
    are dropped, never queued) or every audio block in order ("sound": none is dropped).
    It analyses the item and publishes into `readings` (overlay.runtime.readings). Raising
    is a fault: logged with its traceback, recorded as a "stage_restarted" event, and the
    stage is rebuilt after `restart_pause_s`.
StageSpec.finish(stage, readings)
    At stop, once, after the last item; may be None.
StageSpec.status(readings, now)
    Its entry under `modalities` in `emotion-overlay status`, from the thread asking.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from overlay.fusion import FusionSettings
from overlay.render.draw import OverlaySettings

if TYPE_CHECKING:
    from overlay.records import AudioBlock
    from overlay.runtime.readings import Readings
    from overlay.sources.base import AudioSource


@dataclass(frozen=True)
class StageSpec:
    name: str  # its thread's name, e.g. "face-analysis"; the first word names it in events
    key: str  # the modality it reads (overlay.labels.MODALITIES): its entry on the board and in status
    takes: Literal["frames", "sound"]
    make: Callable[[], Any]
    handle: Callable[[Any, Any, Readings], None]
    finish: Callable[[Any, Readings], None] | None = None
    status: Callable[[Readings, float], Any] = lambda readings, now: None
    counts: tuple[str, ...] = ()  # what it counts into readings.counts (the run's last line lists them)
    skip_while_paused: bool = False  # items that come while paused are dropped unhandled
    # Sound it must hear to the end (speech): it stops only once the last block is queued,
    # and what is still queued then is handled for up to drain_s.
    hears_to_the_end: bool = False
    drain_s: float = 0.0


@dataclass(frozen=True)
class PipelineSettings:
    overlay: OverlaySettings = field(default_factory=OverlaySettings)
    fusion: FusionSettings = field(default_factory=FusionSettings)
    thumbnails: bool = False  # small face pictures in the timeline, for the review page
    restart_pause_s: float = 1.0  # after a stage's fault, before it is rebuilt
    # The layout (overlay.render.LAYOUTS) of each frame sink, in order; empty: overlay.layout
    # (or "detailed") for all. Each layout in use is drawn once per frame.
    layouts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Sound:
    """What the run hears, and who else takes every block (e.g. the MP4's sound track)."""

    source: AudioSource
    listeners: tuple[Callable[[AudioBlock], None], ...] = ()
