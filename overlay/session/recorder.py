"""What a session records of each reading, at the rates the timeline keeps them.

Shared by the live pipeline and `analyze`, so a live session and an analysed recording
have the same timeline. Each method only queues rows (TimelineWriter never blocks).
"""

from __future__ import annotations

from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

from overlay.face.stage import FaceAnalysis
from overlay.fusion import LiveReading
from overlay.records import Event, TextEstimate, VoiceEstimate
from overlay.session.timeline import TimelineWriter

FACE_RECORD_HZ: Final = 10.0  # face estimates (the face is read up to 30 times a second)
FUSED_RECORD_HZ: Final = 5.0  # fused states
THUMBNAIL_HZ: Final = 1.0  # face thumbnails, when asked for
THUMBNAIL_PX: Final = 96  # their height


class SessionRecorder:
    def __init__(self, writer: TimelineWriter, thumbnails: bool = False) -> None:
        self.writer = writer
        self.thumbnails = thumbnails
        self._last = {"face": -1e9, "fused": -1e9, "thumbnail": -1e9}

    def _due(self, kind: str, t: float, rate_hz: float) -> bool:
        if t - self._last[kind] < 1.0 / rate_hz - 1e-3:  # 1 ms slack: 2.4 - 2.2 is 0.19999...
            return False
        self._last[kind] = t
        return True

    def face(self, result: FaceAnalysis, image: npt.NDArray[np.uint8]) -> None:
        t = result.timestamp
        if result.expression is not None and self._due("face", t, FACE_RECORD_HZ):
            self.writer.add_estimate(t, "face", result.expression)
        for blink in result.blink_events:
            self.writer.add_blink(blink.start, blink.end, blink.kind)
        if self.thumbnails and result.faces and self._due("thumbnail", t, THUMBNAIL_HZ):
            thumbnail = face_thumbnail(image, result.faces[0].box)
            if thumbnail is not None:
                self.writer.add_thumbnail(t, thumbnail)

    def voice(self, estimate: VoiceEstimate) -> None:
        if estimate.probabilities is not None:
            self.writer.add_estimate(estimate.end, "voice", estimate.probabilities)

    def utterance(self, text: TextEstimate) -> None:
        self.writer.add_utterance(text.start, text.end, text.text, text.recognizer, text.probabilities)
        self.writer.add_estimate(text.end, "text", text.probabilities)

    def fused(self, reading: LiveReading) -> None:
        state = reading.state
        if reading.new_disagreement is not None:
            self.writer.add_event(state.timestamp, Event.DISAGREEMENT, reading.new_disagreement)
        if (
            state.probabilities is None
            or state.label is None
            or not self._due("fused", state.timestamp, FUSED_RECORD_HZ)
        ):
            return
        self.writer.add_fused(
            state.timestamp,
            state.probabilities,
            state.label,
            state.confidence,
            state.valence,
            state.arousal,
            state.weights,
        )


def face_thumbnail(image: npt.NDArray[np.uint8], box: tuple[int, int, int, int]) -> bytes | None:
    """A small JPEG of the face with a little margin, for the review page."""
    x, y, w, h = box
    pad = w // 4
    crop = image[max(0, y - pad) : y + h + pad, max(0, x - pad) : x + w + pad]
    if crop.size == 0:
        return None
    scale = THUMBNAIL_PX / crop.shape[0]
    small = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), THUMBNAIL_PX), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return encoded.tobytes() if ok else None
