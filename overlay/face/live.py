"""The face stage in a live run: what it publishes for the overlay, fusion and the session."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, Protocol

from overlay.runtime.stages import StageSpec

if TYPE_CHECKING:
    from overlay.attention.eye_contact import EyeContactCalibration, LookedAway
    from overlay.face.stage import FaceAnalysis
    from overlay.records import VideoFrame
    from overlay.runtime.readings import Readings

logger = logging.getLogger(__name__)

FACE_FRESH_S: Final = 2.0  # `status` calls the face active while its reading is this recent


class Analyzer(Protocol):
    def analyze(self, frame: VideoFrame) -> FaceAnalysis: ...

    def finish(self) -> tuple[LookedAway, ...]: ...


def face_stage(make: Callable[[], Analyzer]) -> StageSpec:
    return StageSpec(
        "face-analysis", "face", "frames", make, _handle, finish=_finish, status=_status, counts=("analyses",)
    )


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
    if result.calibration is not None:
        _keep(result.calibration)
    elif result.calibration_failed:
        logger.warning("eye contact was not calibrated: %s", result.calibration_failed)


def _keep(calibration: EyeContactCalibration) -> None:
    """Save a new calibration for later runs; a disk that refuses only costs its reuse."""
    from overlay.attention.calibration_store import save_calibration

    try:
        path = save_calibration(calibration)
    except OSError as err:
        logger.warning("eye contact calibrated for this run; it could not be saved for the next (%s)", err)
        return
    logger.warning("eye contact calibrated (%d frames; saved in %s for the next runs)", calibration.frames, path)


def _finish(analyzer: Analyzer, readings: Readings) -> None:
    """The run ends: a look away still under way is recorded up to the last frame."""
    spans = analyzer.finish()
    if readings.recorder is not None and spans:
        readings.recorder.looked_away(spans)


def _status(readings: Readings, now: float) -> bool:
    latest: FaceAnalysis | None = readings.latest("face")
    return latest is not None and latest.expression is not None and now - latest.timestamp < FACE_FRESH_S
