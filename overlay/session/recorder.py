"""What a session records of each reading, at the rates the timeline keeps them.

Shared by the live pipeline and `analyze`, so a live session and an analysed recording
have the same timeline. Each method only queues rows (TimelineWriter never blocks).
"""

from __future__ import annotations

from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

from overlay.attention.eye_contact import LookedAway
from overlay.attention.summary import looked_away_detail
from overlay.delivery.sound import Phrase
from overlay.delivery.stage import DeliveryEvents, words_of
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
        if self._due("face", t, FACE_RECORD_HZ):
            if result.expression is not None:
                self.writer.add_estimate(t, "face", result.expression)
            head, contact = result.head, result.eye_contact
            self.writer.add_attention(
                t,
                None if head is None else head.yaw,
                None if head is None else head.pitch,
                None if head is None else head.roll,
                None if contact is None else contact.probability,
            )
        self.looked_away(result.looked_away)
        if result.calibration is not None:
            calibration = result.calibration
            self.writer.add_event(
                t,
                Event.EYE_CONTACT_CALIBRATED,
                f"{calibration.frames} frames; eye contact read {calibration.probability_before:.0%} -> "
                f"{calibration.probability_after:.0%} while looking into the camera",
            )
        for blink in result.blink_events:
            self.writer.add_blink(blink.start, blink.end, blink.kind)
        if self.thumbnails and result.faces and self._due("thumbnail", t, THUMBNAIL_HZ):
            thumbnail = face_thumbnail(image, result.faces[0].box)
            if thumbnail is not None:
                self.writer.add_thumbnail(t, thumbnail)

    def looked_away(self, spans: tuple[LookedAway, ...]) -> None:
        """Looked-away spans that ended: on a frame, or closed by the end of a recording."""
        for span in spans:
            self.writer.add_event(span.start, Event.LOOKED_AWAY, looked_away_detail(span.duration, span.face_lost))

    def voice(self, estimate: VoiceEstimate) -> None:
        if estimate.probabilities is not None:
            self.writer.add_estimate(estimate.end, "voice", estimate.probabilities)

    def utterance(self, text: TextEstimate) -> None:
        self.writer.add_utterance(text.start, text.end, text.text, text.recognizer, text.probabilities)
        self.writer.add_estimate(text.end, "text", text.probabilities)
        confidences = [w.confidence for w in text.words] if text.words else None
        words = words_of(text)  # spread over the utterance where the recognizer gave no times (confidence -1)
        self.writer.add_words(
            text.start,
            ((w.text, w.start, w.end, confidences[i] if confidences else -1.0) for i, w in enumerate(words)),
        )

    def phrase(self, phrase: Phrase) -> None:
        self.writer.add_phrase(phrase)

    def long_pause(self, start: float, end: float) -> None:
        self.writer.add_event(start, Event.LONG_PAUSE, f"{end - start:.1f} s without speaking")

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


def record_delivery(events: DeliveryEvents, recorder: SessionRecorder) -> None:
    """The phrases the delivery stage ended, and an event for each long pause before one."""
    for pause in events.pauses:
        if pause.long:
            recorder.long_pause(pause.start, pause.end)
    for phrase in events.phrases:
        recorder.phrase(phrase)
