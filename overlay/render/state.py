"""What the overlay shows at a moment, built one way for the live pipeline and for recordings.

Both have, at time `now`, the face stage's newest analysis, the newest voice estimate, the
final utterances heard so far and the fused reading; this module turns them into the
OverlayState every layout draws, with one rule for what is still fresh enough to show.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Final

from overlay.render.draw import Captions, OverlayState

if TYPE_CHECKING:
    from overlay.delivery.stage import DeliveryReading
    from overlay.face.stage import FaceAnalysis
    from overlay.fusion import FusedState
    from overlay.records import TextEstimate, VoiceEstimate
    from overlay.runtime.readings import Readings
    from overlay.speech.live import Words

VOICE_FRESH_S: Final = 2.5  # a voice estimate is drawn until this long after its window ended
CAPTION_LINES: Final = 2  # final utterances kept on screen
CAPTION_FRESH_S: Final = 8.0  # a final caption is drawn until this long after it was said
DELIVERY_FRESH_S: Final = 30.0  # the delivery line is drawn until this long after the last words it counts


def fresh_voice(voice: VoiceEstimate | None, now: float) -> VoiceEstimate | None:
    """The voice estimate while it is fresh enough to draw, else None."""
    return voice if voice is not None and now - voice.end <= VOICE_FRESH_S else None


def captions_at(finals: Iterable[TextEstimate], now: float, partial: str, recognizer: str) -> Captions:
    """The last CAPTION_LINES final utterances that had ended by `now` and are still fresh,
    and the utterance in progress."""
    said = tuple(t.text for t in finals if t.end <= now and now - t.end < CAPTION_FRESH_S)[-CAPTION_LINES:]
    return Captions(said, partial, recognizer)


def captions_as_spoken(finals: Sequence[TextEstimate], now: float, recognizer: str) -> Captions:
    """Captions of a recording, whose words' times are known beforehand: the finals that had
    ended by `now`, and the utterance being spoken up to the word being said (all of its text
    from its start where the recognizer gave no word times)."""
    speaking = next((t for t in finals if t.start <= now < t.end), None)
    partial = ""
    if speaking is not None:
        said = [w.text for w in speaking.words if w.start <= now]
        partial = " ".join(said) if speaking.words else speaking.text
    return captions_at(finals, now, partial, recognizer)


def overlay_state(
    face: FaceAnalysis | None,
    voice: VoiceEstimate | None,
    captions: Captions | None,
    fused: FusedState,
    now: float,
    hearing: bool,
    delivery: str = "",
) -> OverlayState:
    """Everything the layouts may draw at `now` (`hearing`: there is sound, so "no speech" means something)."""
    return OverlayState(
        faces=face.faces if face else (),
        expression=face.expression if face else None,
        blink=face.blink if face else None,
        voice=fresh_voice(voice, now),
        voice_enabled=hearing,
        captions=captions,
        analysis_on=True,
        fused=fused,
        delivery=delivery,
        attention=attention_line(face),
    )


def attention_line(face: FaceAnalysis | None) -> str:
    """A cue of where the user looks: the calibration prompt, "eye contact", or how long they
    have looked away (from a second on, when it counts as a look away); "" without a face reading."""
    if face is None:
        return ""
    if face.calibrating:
        return "calibrating: look into the camera"
    state = face.attention
    if state is None or state.looking is None:
        return ""
    if state.looking:
        return "eye contact"
    away = face.timestamp - state.away_since if state.away_since is not None else 0.0
    return f"looking away {away:.0f} s" if away >= 1.0 else ""


def delivery_line(reading: DeliveryReading | None, now: float) -> str:
    """The delivery line while its reading is fresh, else ""."""
    return reading.line() if reading is not None and now - reading.end < DELIVERY_FRESH_S else ""


def board_state(readings: Readings, fused: FusedState, now: float, hearing: bool) -> OverlayState:
    """What the layouts draw at `now` in a live run, from the stages' newest readings
    (overlay.runtime.readings: "face", "voice", "text", "delivery" as the stages publish them)."""
    words: Words | None = readings.latest("text")
    captions = captions_at(words.finals, now, words.partial, words.recognizer) if words is not None else None
    delivery = delivery_line(readings.latest("delivery"), now)
    return overlay_state(readings.latest("face"), readings.latest("voice"), captions, fused, now, hearing, delivery)
