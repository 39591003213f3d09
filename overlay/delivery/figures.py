"""Delivery in figures, from the phrases heard (overlay.delivery.sound) and the words recognised:
one set of rules for the live line, the session summary, the export and the review page.

- Speaking time: the phrases and the pauses between them shorter than `long_pause_s`; a
  longer pause is not speaking time (someone who stops for 10 s does not slow their pace).
- Pace: words per minute of speaking time; live over the last `pace_window_s`, afterwards per
  utterance (its words over its span) and for the session. Filler sounds are not words.
- Pauses: the silences between phrases; those of `long_pause_s` or more are long pauses.
- Fillers per minute: per minute of speaking time, as the pace.
- Pitch range: each phrase's (overlay.delivery.pitch); the session's is the median of its
  phrases'. A phrase is monotone when its range is under `monotone_below_st`, or under
  `speaker_share` of the speaker's own median range: narrow for this voice.
- Loudness: the level of the speech (dBFS, its power averaged over the phrases); too quiet
  under `quiet_below_dbfs`, clipping when more than `clipping_share` of its samples hit full scale.
- Talk share: the phrases' time over the session's.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from overlay.delivery.fillers import SOUNDS, find_fillers
from overlay.delivery.pitch import semitones
from overlay.delivery.sound import SoundSettings


@dataclass(frozen=True)
class FigureSettings:
    long_pause_s: float = 2.0
    pace_window_s: float = 30.0  # the live pace's window
    min_pace_speech_s: float = 5.0  # less speaking time than this in a window gives no pace
    comfortable_wpm: tuple[float, float] = (100.0, 165.0)  # Microsoft Speaker Coach's advice
    monotone_below_st: float = 3.0  # read speech spans 4-10 st a phrase (bench/delivery.py); espeak-ng flat 0.9
    speaker_share: float = 0.5
    quiet_below_dbfs: float = -40.0
    clipping_share: float = 0.001


@dataclass(frozen=True)
class DeliverySettings:
    sound: SoundSettings = field(default_factory=SoundSettings)
    figures: FigureSettings = field(default_factory=FigureSettings)


@dataclass(frozen=True)
class TimedWord:
    text: str  # as the recognizer wrote it (punctuation kept: overlay.delivery.fillers reads it)
    start: float
    end: float


@dataclass(frozen=True)
class PhraseSpan:
    """What the figures need of a phrase (overlay.delivery.sound.Phrase, or a timeline row)."""

    start: float
    end: float
    pitch_low_hz: float | None
    pitch_high_hz: float | None
    level_dbfs: float
    clipped: float
    pitch_hz: float | None = None  # the median
    speech_s: float = 0.0  # of its time, what was speech

    @property
    def range_semitones(self) -> float | None:
        if self.pitch_low_hz is None or self.pitch_high_hz is None:
            return None
        return semitones(self.pitch_low_hz, self.pitch_high_hz)


@dataclass(frozen=True)
class TimedFiller:
    word: str
    start: float
    end: float


@dataclass(frozen=True)
class DeliveryFigures:
    """A session's delivery (None where there was nothing to measure it on)."""

    speaking_s: float
    pace_wpm: float | None
    words: int
    pauses: tuple[tuple[float, float], ...]  # (start, length) of every pause
    long_pauses: tuple[tuple[float, float], ...]
    fillers: tuple[TimedFiller, ...]
    fillers_per_minute: float | None
    pitch_range_semitones: float | None
    monotone: bool | None
    level_dbfs: float | None
    too_quiet: bool | None
    clipping: bool | None
    talk_share: float | None

    def to_json(self) -> dict[str, Any]:
        def rounded(value: float | None, digits: int = 1) -> float | None:
            return None if value is None else round(value, digits)

        return {
            "speaking_s": round(self.speaking_s, 2),
            "pace_wpm": rounded(self.pace_wpm),
            "pauses": len(self.pauses),
            "long_pauses": [[round(start, 2), round(length, 2)] for start, length in self.long_pauses],
            "fillers": len(self.fillers),
            "fillers_per_minute": rounded(self.fillers_per_minute, 2),
            "pitch_range_semitones": rounded(self.pitch_range_semitones, 2),
            "monotone": self.monotone,
            "level_dbfs": rounded(self.level_dbfs),
            "too_quiet": self.too_quiet,
            "clipping": self.clipping,
            "talk_share": rounded(self.talk_share, 3),
        }


# The keys of DeliveryFigures.to_json(), in its order (a session without the figures has None for each).
DELIVERY_KEYS: Final = (
    "speaking_s",
    "pace_wpm",
    "pauses",
    "long_pauses",
    "fillers",
    "fillers_per_minute",
    "pitch_range_semitones",
    "monotone",
    "level_dbfs",
    "too_quiet",
    "clipping",
    "talk_share",
)


def is_word(text: str) -> bool:
    """Whether a recognised token counts towards the pace (not a filler sound, not bare punctuation)."""
    plain = "".join(c for c in text.lower() if c.isalnum() or c == "'")
    return bool(plain) and plain not in SOUNDS


def pauses_between(phrases: Sequence[PhraseSpan]) -> list[tuple[float, float]]:
    """(start, length) of the silence between each two consecutive phrases."""
    return [(a.end, b.start - a.end) for a, b in itertools.pairwise(phrases) if b.start > a.end]


def speaking_time(
    phrases: Sequence[PhraseSpan], settings: FigureSettings, window: tuple[float, float] | None = None
) -> float:
    """Seconds of the phrases and of the pauses under long_pause_s between them, within `window` if given."""
    low, high = window if window is not None else (-np.inf, np.inf)

    def inside(start: float, end: float) -> float:
        return max(0.0, min(end, high) - max(start, low))

    total = sum(inside(p.start, p.end) for p in phrases)
    total += sum(inside(s, s + n) for s, n in pauses_between(phrases) if n < settings.long_pause_s)
    return float(total)


def utterance_fillers(utterances: Iterable[Sequence[TimedWord]]) -> list[TimedFiller]:
    """Every filler of the utterances (each a run of words as the recognizer wrote them), with its time."""
    found: list[TimedFiller] = []
    for words in utterances:
        for filler in find_fillers([w.text for w in words]):
            last = words[filler.index + filler.count - 1]
            found.append(TimedFiller(filler.word, words[filler.index].start, last.end))
    return found


def pace(words: int, speaking_s: float) -> float | None:
    return words * 60.0 / speaking_s if speaking_s > 0 else None


def window_pace(
    phrases: Sequence[PhraseSpan],
    utterances: Sequence[Sequence[TimedWord]],
    end: float,
    settings: FigureSettings,
) -> tuple[float | None, float | None]:
    """Pace and fillers per minute over the pace window ending at `end`; (None, None) with too little speech in it."""
    (wpm,), (fillers,) = pace_series(phrases, utterances, np.array([end]), settings)
    return wpm, fillers


def pace_series(
    phrases: Sequence[PhraseSpan],
    utterances: Sequence[Sequence[TimedWord]],
    times: npt.NDArray[np.float64],
    settings: FigureSettings,
) -> tuple[list[float | None], list[float | None]]:
    """Pace and fillers per minute over the pace window ending at each of `times` (None where
    the window held less than min_pace_speech_s of speaking time)."""
    spans = [(p.start, p.end) for p in phrases]
    spans += [(s, s + n) for s, n in pauses_between(phrases) if n < settings.long_pause_s]
    starts = np.array([a for a, _ in spans], np.float64)
    lengths = np.array([b - a for a, b in spans], np.float64)

    def spoken_by(t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Speaking time before each of `t` (the spans do not overlap)."""
        if not len(starts):
            return np.zeros(len(t))
        spoken: npt.NDArray[np.float64] = np.clip(t[:, None] - starts[None, :], 0.0, lengths[None, :]).sum(axis=1)
        return spoken

    words = np.sort([w.start for u in utterances for w in u if is_word(w.text)])
    fillers = np.sort([f.start for f in utterance_fillers(utterances)])
    low = times - settings.pace_window_s
    spoken = spoken_by(times) - spoken_by(low)
    counted = np.searchsorted(words, times, "left") - np.searchsorted(words, low, "left")
    said = np.searchsorted(fillers, times, "left") - np.searchsorted(fillers, low, "left")
    enough = spoken >= settings.min_pace_speech_s
    minutes = np.where(enough, spoken, 1.0) / 60.0
    return (
        [float(n / m) if ok else None for n, m, ok in zip(counted, minutes, enough, strict=True)],
        [float(n / m) if ok else None for n, m, ok in zip(said, minutes, enough, strict=True)],
    )


def monotone_flags(ranges: Sequence[float | None], settings: FigureSettings) -> list[bool | None]:
    """Whether each phrase's range is narrow for this speaker (None where a phrase had no range)."""
    known = [r for r in ranges if r is not None]
    if not known:
        return [None] * len(ranges)
    limit = max(settings.monotone_below_st, settings.speaker_share * float(np.median(known)))
    return [None if r is None else r < limit for r in ranges]


def delivery_figures(
    phrases: Sequence[PhraseSpan],
    utterances: Sequence[Sequence[TimedWord]],
    duration_s: float,
    settings: FigureSettings | None = None,
) -> DeliveryFigures:
    """The session's figures from all its phrases (in order) and its utterances' words."""
    settings = settings or FigureSettings()
    spoken = speaking_time(phrases, settings)
    words = sum(1 for u in utterances for w in u if is_word(w.text))
    fillers = utterance_fillers(utterances)
    pauses = pauses_between(phrases)
    ranges = [r for r in (p.range_semitones for p in phrases) if r is not None]
    pitch_range = float(np.median(ranges)) if ranges else None
    level, clipped = _loudness(phrases)
    heard = bool(phrases)
    return DeliveryFigures(
        speaking_s=spoken,
        pace_wpm=pace(words, spoken) if utterances else None,
        words=words,
        pauses=tuple(pauses),
        long_pauses=tuple((s, n) for s, n in pauses if n >= settings.long_pause_s),
        fillers=tuple(fillers),
        fillers_per_minute=len(fillers) * 60.0 / spoken if spoken > 0 and utterances else None,
        pitch_range_semitones=pitch_range,
        monotone=None if pitch_range is None else pitch_range < settings.monotone_below_st,
        level_dbfs=level,
        too_quiet=None if level is None else level < settings.quiet_below_dbfs,
        clipping=None if clipped is None else clipped > settings.clipping_share,
        talk_share=min(1.0, sum(p.end - p.start for p in phrases) / duration_s) if heard and duration_s > 0 else None,
    )


def _loudness(phrases: Sequence[PhraseSpan]) -> tuple[float | None, float | None]:
    """The speech's level (power averaged, weighted by each phrase's length) and clipped share."""
    lengths = np.array([p.end - p.start for p in phrases], np.float64)
    if not len(lengths) or lengths.sum() <= 0:
        return None, None
    power = np.array([10.0 ** (p.level_dbfs / 10.0) for p in phrases])
    level = float(10.0 * np.log10(max(float(np.average(power, weights=lengths)), 1e-20)))
    return level, float(np.average([p.clipped for p in phrases], weights=lengths))
