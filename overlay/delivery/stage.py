"""The delivery stage: every audio block in, the phrases and pauses it ends out; with the final
utterances the words path has written, the live pace and fillers.

Per block it measures each 10 ms hop (level, speech, pitch on speech only) and follows the
phrases (overlay.delivery.sound). Final utterances are handed over as the recognizer writes
them (`hear`); it keeps the phrases and words of the last pace window, so its memory and
per-block cost stay flat however long the session.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

from overlay.delivery.figures import DeliverySettings, PhraseSpan, TimedWord, monotone_flags, window_pace
from overlay.delivery.sound import MAX_GAP_S, HopAnalyzer, Phrase, PhraseTracker
from overlay.records import AudioBlock, TextEstimate

logger = logging.getLogger(__name__)

KEPT_PHRASES = 200  # for the speaker's own pitch range (monotone is narrow for this voice)


@dataclass(frozen=True)
class Pause:
    start: float
    end: float
    long: bool

    @property
    def length_s(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class DeliveryReading:
    """The live line: pace and fillers per minute over the last window (None while too little
    was said), the last phrase's pitch range and whether it was monotone for this voice, and
    its level. `end`: the capture time up to which words are known."""

    end: float
    wpm: float | None
    fillers_per_minute: float | None
    pitch_range_semitones: float | None
    monotone: bool | None
    level_dbfs: float | None

    def line(self) -> str:
        """What the overlay shows, e.g. "142 wpm, 2 fillers/min"; "" before there is a pace."""
        if self.wpm is None:
            return ""
        fillers = self.fillers_per_minute or 0.0
        per_minute = f"{fillers:.0f}" if fillers >= 10 or fillers == 0 else f"{fillers:.1f}"
        return f"{self.wpm:.0f} wpm, {per_minute} fillers/min"  # ASCII: the overlay's Hershey fonts have no "·"


@dataclass(frozen=True)
class DeliveryEvents:
    phrases: list[Phrase]
    pauses: list[Pause]


def phrase_span(phrase: Phrase) -> PhraseSpan:
    pitch = phrase.pitch
    return PhraseSpan(
        phrase.start,
        phrase.end,
        pitch.low_hz if pitch else None,
        pitch.high_hz if pitch else None,
        phrase.level_dbfs,
        phrase.clipped,
        pitch.median_hz if pitch else None,
        phrase.speech_s,
    )


def words_of(text: TextEstimate) -> tuple[TimedWord, ...]:
    """An utterance's words with their times; spread evenly over it where the recognizer gave none."""
    if text.words:
        return tuple(TimedWord(w.text, w.start, w.end) for w in text.words)
    tokens = text.text.split()
    step = (text.end - text.start) / max(1, len(tokens))
    return tuple(TimedWord(t, text.start + i * step, text.start + (i + 1) * step) for i, t in enumerate(tokens))


class DeliveryStage:
    def __init__(self, settings: DeliverySettings | None = None) -> None:
        self.settings = settings or DeliverySettings()
        self._hops = HopAnalyzer(self.settings.sound)
        self._tracker = PhraseTracker(self.settings.sound)
        self._phrases: deque[PhraseSpan] = deque(maxlen=KEPT_PHRASES)
        self._utterances: deque[tuple[TimedWord, ...]] = deque()
        self._last_end: float | None = None  # of the last phrase: where the next pause starts
        self._heard_until = float("-inf")  # the end of the last final utterance handed over

    def feed(self, block: AudioBlock) -> DeliveryEvents:
        """Measure a block; the phrases it ended and the pauses before them."""
        phrases: list[Phrase] = []
        expected = self._hops.next_t
        if expected is not None and abs(block.timestamp - expected) > MAX_GAP_S:
            logger.info("audio gap of %.2f s; the phrase in progress ends there", block.timestamp - expected)
            phrases += self._tracker.finish()
        phrases += self._tracker.push(self._hops.feed(block.samples, block.timestamp))
        return self._events(phrases)

    def finish(self) -> DeliveryEvents:
        """The phrase in progress, closed (end of the stream)."""
        return self._events(self._tracker.finish())

    def _events(self, phrases: list[Phrase]) -> DeliveryEvents:
        pauses: list[Pause] = []
        for phrase in phrases:
            if self._last_end is not None and phrase.start > self._last_end:
                long = phrase.start - self._last_end >= self.settings.figures.long_pause_s
                pauses.append(Pause(self._last_end, phrase.start, long))
            self._last_end = phrase.end
            self._phrases.append(phrase_span(phrase))
        return DeliveryEvents(phrases, pauses)

    def hear(self, finals: tuple[TextEstimate, ...] | list[TextEstimate]) -> bool:
        """Take the final utterances not seen yet (the words path's newest, in order); whether any was new."""
        new = [f for f in finals if f.end > self._heard_until]
        for final in new:
            self._utterances.append(words_of(final))
            self._heard_until = final.end
        return bool(new)

    def reading(self) -> DeliveryReading:
        """The live figures, as of the last words heard."""
        settings = self.settings.figures
        end = self._heard_until
        while self._utterances and (
            not self._utterances[0] or self._utterances[0][-1].end < end - settings.pace_window_s
        ):
            self._utterances.popleft()
        phrases = list(self._phrases)
        wpm, fillers = None, None
        if self._utterances:
            speaking = self._tracker.open_span()  # a long utterance cut while its phrase goes on
            spans = [*phrases, PhraseSpan(*speaking, None, None, 0.0, 0.0)] if speaking else phrases
            wpm, fillers = window_pace(spans, list(self._utterances), end, settings)
        last = phrases[-1] if phrases else None
        monotone = monotone_flags([p.range_semitones for p in phrases], settings)[-1] if phrases else None
        return DeliveryReading(
            end, wpm, fillers, last.range_semitones if last else None, monotone, last.level_dbfs if last else None
        )
