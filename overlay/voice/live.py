"""The voice stage in a live run: what it publishes for the overlay, fusion and the session."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from overlay.render.state import VOICE_FRESH_S
from overlay.runtime.stages import StageSpec

if TYPE_CHECKING:
    from overlay.records import AudioBlock, VoiceEstimate
    from overlay.runtime.readings import Readings


class VoiceAnalyzer(Protocol):
    def feed(self, block: AudioBlock) -> list[VoiceEstimate]: ...


def voice_stage(make: Callable[[], VoiceAnalyzer]) -> StageSpec:
    return StageSpec(
        "voice-analysis",
        "voice",
        "sound",
        make,
        _handle,
        status=_status,
        counts=("voice windows",),
        skip_while_paused=True,
    )


def _handle(analyzer: VoiceAnalyzer, block: AudioBlock, readings: Readings) -> None:
    for estimate in analyzer.feed(block):
        readings.publish("voice", estimate)
        readings.count("voice windows")
        if estimate.probabilities is not None:
            readings.fusion.observe("voice", estimate.probabilities, estimate.end)
        if readings.recorder is not None:
            readings.recorder.voice(estimate)


def _status(readings: Readings, now: float) -> bool:
    voice: VoiceEstimate | None = readings.latest("voice")
    return voice is not None and voice.probabilities is not None and now - voice.end < VOICE_FRESH_S
