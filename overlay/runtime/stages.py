"""What the live pipeline needs of its stages, and what it is given to run (the seams of overlay.runtime.pipeline).

A face analyzer takes frames; a voice analyzer and a speech analyzer take audio blocks.
The pipeline builds each through a factory, so that a stage that fails can be rebuilt
(overlay.runtime.worker) and tests can hand in fakes (tests/fakes.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from overlay.fusion import FusionSettings
from overlay.render.draw import OverlaySettings

if TYPE_CHECKING:
    from overlay.face.stage import FaceAnalysis
    from overlay.records import AudioBlock, VideoFrame, VoiceEstimate
    from overlay.sources.base import AudioSource
    from overlay.speech.stage import SpeechEvents


class Analyzer(Protocol):
    def analyze(self, frame: VideoFrame) -> FaceAnalysis: ...


class VoiceAnalyzer(Protocol):
    def feed(self, block: AudioBlock) -> list[VoiceEstimate]: ...


class SpeechAnalyzer(Protocol):
    recognizer_name: str

    def feed(self, block: AudioBlock) -> SpeechEvents: ...
    def finish(self) -> SpeechEvents: ...


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
class LiveAudio:
    """The sound and the stages that hear it (either may be left out)."""

    source: AudioSource
    make_voice_analyzer: Callable[[], VoiceAnalyzer] | None = None
    make_speech_analyzer: Callable[[], SpeechAnalyzer] | None = None
    listeners: tuple[Callable[[AudioBlock], None], ...] = ()  # e.g. the microphone written under --sink file
