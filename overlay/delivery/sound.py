"""The sound side of delivery: 10 ms hops of audio in; their level, whether they are speech, their
pitch; and the stretches of speech between pauses (phrases) out.

Speech per hop: WebRTC's voice activity detector (10 ms frames) AND a level gate, as the voice
path decides (overlay.voice.activity): its level over 50 ms at least `min_above_floor_db` over
the background and above `min_level_dbfs`, so steady noise is not speech. The background is
tracked as the minimum of that level, rising slowly (`floor_rise_db_per_s`): speech dips to it
between words, while a quietest tenth over a few seconds read a long unbroken sentence's own
soft ends as background and cut them off (pauses 0.1-0.2 s too long on espeak-ng's soft voice). Pitch is
tracked only on speech hops (overlay.delivery.pitch), which keeps the cost to speech.

A phrase is speech up to a silence of `min_pause_s`: shorter gaps (a stop consonant, a breath
between words) stay inside it; a longer one is a pause, and its length is known once the
next phrase begins. A burst of less than `min_speech_s` of speech (a click, a knock) is no
phrase. A gap in the audio (a reconnected microphone) closes the phrase in progress.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import webrtcvad

from overlay.delivery.pitch import HOP, HOP_S, SAMPLE_RATE, PitchFigures, PitchSettings, PitchTracker, pitch_figures

logger = logging.getLogger(__name__)

MAX_GAP_S = 0.1  # a larger jump between consecutive blocks' timestamps is a gap in the audio
CLIPPED_AT = 0.99  # a sample this close to full scale was probably clipped
SMOOTH_HOPS = 5  # the level gate hears 50 ms at a time
FLOOR_LIMIT_DBFS = -100.0  # digital silence counts as this quiet: the background rises from here


@dataclass(frozen=True)
class ActivitySettings:
    aggressiveness: int = 2  # webrtcvad's 0 (permissive) .. 3 (strict); 3 cut the ends of soft words short
    min_level_dbfs: float = -65.0
    # Speech stands this far over the background (50 ms levels). The background follows each dip
    # in the sound at once and rises slowly between them, so that seconds of unbroken speech are
    # not taken for it. 9 dB and 1 dB/s found the most pauses in speech under pink noise at 20 and
    # 10 dB SNR (6 dB: 32 and 28 of 36; 9 dB: 35 and 27), the same on clean speech.
    min_above_floor_db: float = 9.0
    floor_rise_db_per_s: float = 1.0
    min_pause_s: float = 0.4  # a silence this long ends a phrase: a pause
    min_speech_s: float = 0.1  # less speech than this is no phrase


@dataclass(frozen=True)
class SoundSettings:
    activity: ActivitySettings = field(default_factory=ActivitySettings)
    pitch: PitchSettings = field(default_factory=PitchSettings)


@dataclass(frozen=True)
class Hops:
    """Consecutive 10 ms hops: start times, level (dBFS), speech or not, pitch (Hz, 0 unvoiced), clipped samples."""

    t: npt.NDArray[np.float64]
    level_dbfs: npt.NDArray[np.float32]
    speech: npt.NDArray[np.bool_]
    hz: npt.NDArray[np.float32]
    clipped: npt.NDArray[np.int32]

    def __len__(self) -> int:
        return len(self.t)


@dataclass(frozen=True)
class Phrase:
    """A stretch of speech [start, end) between pauses: how much of it was speech, its pitch, its
    level over the speech (dBFS) and the share of its samples at full scale."""

    start: float
    end: float
    speech_s: float
    pitch: PitchFigures | None
    level_dbfs: float
    clipped: float

    @property
    def length_s(self) -> float:
        return self.end - self.start


class HopAnalyzer:
    """Audio blocks in (any length), the hops they complete out; keeps what a hop still needs."""

    def __init__(self, settings: SoundSettings | None = None) -> None:
        self.settings = settings or SoundSettings()
        activity = self.settings.activity
        if not 0 <= activity.aggressiveness <= 3:
            raise ValueError(f"aggressiveness must be 0..3, not {activity.aggressiveness}")
        self._vad = webrtcvad.Vad(activity.aggressiveness)
        self.pitch = PitchTracker(self.settings.pitch)
        self._floor: float | None = None  # dBFS, the background level
        self._recent_power = np.full(SMOOTH_HOPS - 1, 10.0 ** (FLOOR_LIMIT_DBFS / 10.0))
        self.reset()

    def reset(self) -> None:
        """Forget the audio so far (after a gap): the next block starts a new stream."""
        # What each hop's pitch frame reaches back to before the hop.
        self._history = np.zeros(self.pitch.frame_length - HOP, np.float32)
        self._pending = np.zeros(0, np.float32)
        self._pending_t = 0.0
        self.next_t: float | None = None  # capture time just after the audio so far

    def feed(self, samples: npt.NDArray[np.float32], timestamp: float) -> Hops:
        if self.next_t is not None and abs(timestamp - self.next_t) > MAX_GAP_S:
            self.reset()
        if not len(self._pending):
            self._pending_t = timestamp
        self._pending = np.concatenate([self._pending, samples.astype(np.float32, copy=False)])
        self.next_t = timestamp + len(samples) / SAMPLE_RATE
        n = len(self._pending) // HOP
        if n == 0:
            return _no_hops()
        audio = self._pending[: n * HOP]
        t = (self._pending_t + np.arange(n) * HOP_S).astype(np.float64)
        self._pending = self._pending[n * HOP :]
        self._pending_t += n * HOP_S
        hops = np.clip(audio, -1.0, 1.0).reshape(n, HOP)
        level = (10.0 * np.log10(np.maximum(np.mean(np.square(hops, dtype=np.float64), axis=1), 1e-20))).astype(
            np.float32
        )
        speech = self._speech(hops, level)
        reach = np.concatenate([self._history, audio])
        self._history = reach[len(reach) - len(self._history) :]
        hz = np.zeros(n, np.float32)
        voiced = np.flatnonzero(speech)
        if len(voiced):
            # Each hop's pitch frame ends where the hop ends (no look-ahead: nothing waits for later audio).
            frames = np.lib.stride_tricks.sliding_window_view(reach, self.pitch.frame_length)[::HOP]
            hz[voiced] = self.pitch.pitch(frames[voiced])
        clipped = np.count_nonzero(np.abs(hops) >= CLIPPED_AT, axis=1).astype(np.int32)
        return Hops(t, level, speech, hz, clipped)

    def _speech(self, hops: npt.NDArray[np.float32], level: npt.NDArray[np.float32]) -> npt.NDArray[np.bool_]:
        activity = self.settings.activity
        rise = activity.floor_rise_db_per_s * HOP_S
        # The level over the last SMOOTH_HOPS hops: noise flickers from hop to hop, speech holds for syllables.
        power = np.concatenate([self._recent_power, 10.0 ** (level.astype(np.float64) / 10.0)])
        window = np.lib.stride_tricks.sliding_window_view(power, SMOOTH_HOPS).mean(axis=1)
        self._recent_power = power[len(power) - (SMOOTH_HOPS - 1) :]
        smooth = np.maximum(10.0 * np.log10(np.maximum(window, 1e-20)), FLOOR_LIMIT_DBFS)
        floors = np.empty(len(level), np.float64)
        floor = self._floor
        for i, value in enumerate(smooth.tolist()):
            floor = value if floor is None else min(value, floor + rise)
            floors[i] = floor
        self._floor = floor
        loud = (level >= activity.min_level_dbfs) & (smooth >= floors + activity.min_above_floor_db)
        speech = np.zeros(len(hops), dtype=bool)
        if loud.any():
            pcm = (hops * 32767.0).astype("<i2")
            for index in np.flatnonzero(loud).tolist():
                speech[index] = self._vad.is_speech(pcm[index].tobytes(), SAMPLE_RATE)
        return speech


def _no_hops() -> Hops:
    return Hops(np.zeros(0), np.zeros(0, np.float32), np.zeros(0, bool), np.zeros(0, np.float32), np.zeros(0, np.int32))


@dataclass
class _OpenPhrase:
    start: float
    last_speech_end: float
    speech_hops: int = 0
    power: float = 0.0  # summed mean-square of its speech hops
    clipped: int = 0  # samples at full scale in its speech hops
    hz: list[float] = field(default_factory=list)  # of its hops so far (0: unvoiced, or not speech)


class PhraseTracker:
    """Hops in, phrases out as each one ends (a silence of min_pause_s after it, or the end of the stream)."""

    def __init__(self, settings: SoundSettings | None = None) -> None:
        self.settings = settings or SoundSettings()
        self._open: _OpenPhrase | None = None

    def open_span(self) -> tuple[float, float] | None:
        """The phrase in progress so far: its start and its last speech (None when there is none)."""
        return (self._open.start, self._open.last_speech_end) if self._open is not None else None

    def push(self, hops: Hops) -> list[Phrase]:
        closed: list[Phrase] = []
        min_pause = self.settings.activity.min_pause_s
        for i in range(len(hops)):
            t = float(hops.t[i])
            phrase = self._open
            if not hops.speech[i]:
                if phrase is not None and t + HOP_S - phrase.last_speech_end >= min_pause:
                    closed += self.finish()
                elif phrase is not None:
                    phrase.hz.append(0.0)  # a gap inside the phrase: the pitch's voiced runs end here
                continue
            if phrase is None:
                phrase = self._open = _OpenPhrase(t, t + HOP_S)
            phrase.last_speech_end = t + HOP_S
            phrase.speech_hops += 1
            phrase.power += 10.0 ** (float(hops.level_dbfs[i]) / 10.0)
            phrase.clipped += int(hops.clipped[i])
            phrase.hz.append(float(hops.hz[i]))
        return closed

    def finish(self) -> list[Phrase]:
        """The phrase in progress, closed at its last speech (end of stream, a gap in it, a pause)."""
        phrase, self._open = self._open, None
        if phrase is None or phrase.speech_hops * HOP_S < self.settings.activity.min_speech_s - 1e-9:
            return []
        level = 10.0 * np.log10(max(phrase.power / phrase.speech_hops, 1e-20))
        return [
            Phrase(
                phrase.start,
                phrase.last_speech_end,
                round(phrase.speech_hops * HOP_S, 3),
                pitch_figures(np.asarray(phrase.hz, np.float32), self.settings.pitch),
                float(level),
                phrase.clipped / (phrase.speech_hops * HOP),
            )
        ]
