"""The face stage in a live run: what it publishes for the overlay, fusion and the session."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final, Protocol

from overlay.runtime.stages import StageSpec

if TYPE_CHECKING:
    from overlay.face.stage import FaceAnalysis
    from overlay.records import VideoFrame
    from overlay.runtime.readings import Readings

FACE_FRESH_S: Final = 2.0  # `status` calls the face active while its reading is this recent


class Analyzer(Protocol):
    def analyze(self, frame: VideoFrame) -> FaceAnalysis: ...


def face_stage(make: Callable[[], Analyzer]) -> StageSpec:
    return StageSpec("face-analysis", "face", "frames", make, _handle, status=_status, counts=("analyses",))


def _handle(analyzer: Analyzer, frame: VideoFrame, readings: Readings) -> None:
    result = analyzer.analyze(frame)
    if readings.paused.is_set():
        return  # begun before the pause: not shown, not recorded
    readings.publish("face", result)
    readings.count("analyses")
    if result.expression is not None:
        readings.fusion.observe("face", result.expression, result.timestamp)
    if readings.recorder is not None:
        readings.recorder.face(result, frame.image)


def _status(readings: Readings, now: float) -> bool:
    latest: FaceAnalysis | None = readings.latest("face")
    return latest is not None and latest.expression is not None and now - latest.timestamp < FACE_FRESH_S
