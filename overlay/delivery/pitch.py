"""Pitch: the voice's fundamental frequency per 10 ms frame (YIN, in numpy), and its range in semitones.

YIN (de Cheveigné & Kawahara 2002): the squared difference of a frame with itself shifted by
each lag, normalised by its running mean; the first lag whose normalised difference dips
under a threshold is the period, refined by a parabola through its neighbours. The
difference comes from one FFT cross-correlation per frame, for all frames of a block at once,
and only frames loud enough to be speech are analysed, so a 0.1 s block costs well under a
millisecond. bench/delivery.py checks the ranges against librosa's pYIN on the same audio.

A range is the spread between the 10th and 90th percentile of the voiced frames' pitch in
semitones (12 per doubling): the extremes (an octave error, a creak) do not decide it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

SAMPLE_RATE: Final = 16_000
HOP: Final = 160  # 10 ms
HOP_S: Final = HOP / SAMPLE_RATE
WINDOW: Final = 400  # 25 ms compared with its shifted self


@dataclass(frozen=True)
class PitchSettings:
    fmin_hz: float = 60.0  # a low male voice
    fmax_hz: float = 400.0  # a high female voice (speaking, not singing)
    threshold: float = 0.15  # YIN's dip threshold on the normalised difference
    max_aperiodicity: float = 0.3  # a frame whose best dip stays above this is unvoiced
    low_percentile: float = 10.0  # what a range spans: these percentiles of the voiced frames
    high_percentile: float = 90.0
    min_voiced_frames: int = 30  # 0.3 s of voiced frames, fewer give no range
    min_run_frames: int = 3
    octave_guard_st: float = 9.0


class PitchTracker:
    """Pitch of frames of 16 kHz mono audio; frames are HOP apart, each WINDOW + the longest lag long."""

    def __init__(self, settings: PitchSettings | None = None) -> None:
        self.settings = settings or PitchSettings()
        self.min_lag = max(2, int(SAMPLE_RATE / self.settings.fmax_hz))
        self.max_lag = int(np.ceil(SAMPLE_RATE / self.settings.fmin_hz))
        self.frame_length = WINDOW + self.max_lag
        # r[tau] reaches at most frame_length samples in: an FFT that long has no wrap-around to fear.
        self._n_fft = 1 << int(np.ceil(np.log2(self.frame_length)))

    def pitch(self, frames: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Hz of each frame (rows of frame_length samples); 0 where it is not voiced."""
        if len(frames) == 0:
            return np.zeros(0, np.float32)
        x = frames.astype(np.float64)
        head = np.fft.rfft(x[:, :WINDOW], self._n_fft)
        whole = np.fft.rfft(x, self._n_fft)
        # r[tau] = sum_j x[j] x[j + tau] over the window, for every lag at once.
        lags = self.max_lag + 1
        r = np.fft.irfft(np.conj(head) * whole, self._n_fft)[:, :lags]
        energy = np.concatenate([np.zeros((len(x), 1)), np.cumsum(x * x, axis=1)], axis=1)
        shifted = energy[:, WINDOW : WINDOW + lags] - energy[:, :lags]  # energy of x[tau : tau + WINDOW]
        difference = np.maximum(shifted[:, :1] + shifted - 2.0 * r, 0.0)
        # The cumulative mean normalised difference: 1 at lag 0, dips where the frame repeats.
        tau = np.arange(lags)
        running = np.cumsum(difference, axis=1)
        normalised = np.ones_like(difference)
        normalised[:, 1:] = difference[:, 1:] * tau[1:] / np.maximum(running[:, 1:], 1e-12)
        return self._periods(normalised)

    def _periods(self, normalised: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
        settings = self.settings
        search = normalised[:, self.min_lag : self.max_lag + 1]
        rows = np.arange(len(search))
        below = search < settings.threshold
        # The first lag under the threshold, then down to the bottom of that dip; else the lowest point.
        first = np.where(below.any(axis=1), below.argmax(axis=1), search.argmin(axis=1))
        rising = np.diff(search, axis=1) >= 0  # rising[:, k]: the curve does not fall from k to k + 1
        rising[np.arange(rising.shape[1])[None, :] < first[:, None]] = False
        lag = np.where(rising.any(axis=1), rising.argmax(axis=1), search.shape[1] - 1)
        inside = (lag > 0) & (lag + 1 < search.shape[1])
        clear = inside & (search[rows, lag] <= settings.max_aperiodicity)
        # A parabola through the dip and its neighbours puts the period between samples.
        at = np.clip(lag, 1, search.shape[1] - 2)
        a, b, c = search[rows, at - 1], search[rows, at], search[rows, at + 1]
        bend = a - 2 * b + c
        offset = np.where(bend > 1e-12, 0.5 * (a - c) / np.where(bend > 1e-12, bend, 1.0), 0.0)
        period = self.min_lag + at + np.clip(offset, -0.5, 0.5)
        return np.where(clear, SAMPLE_RATE / period, 0.0).astype(np.float32)


@dataclass(frozen=True)
class PitchFigures:
    """The pitch of a stretch of speech: its median, its low and high (percentiles) in Hz, and
    how many voiced frames they come from."""

    median_hz: float
    low_hz: float
    high_hz: float
    voiced_frames: int

    @property
    def range_semitones(self) -> float:
        return semitones(self.low_hz, self.high_hz)


def semitones(low_hz: float, high_hz: float) -> float:
    return float(12.0 * np.log2(high_hz / low_hz))


def pitch_figures(hz: npt.NDArray[np.float32], settings: PitchSettings) -> PitchFigures | None:
    """The figures of the voiced frames among `hz` (consecutive frames, 0 = unvoiced); None with too few.

    What a tracker gets wrong frame by frame is left out first: voiced runs shorter than
    `min_run_frames` (a click, the edge of a consonant), and frames more than `octave_guard_st`
    from the median, which are octave errors (a frame read at half or double the voice's pitch).
    """
    voiced = hz > 0
    edges = np.flatnonzero(np.diff(np.concatenate([[False], voiced, [False]]).astype(np.int8)))
    for start, end in zip(edges[::2], edges[1::2], strict=True):
        if end - start < settings.min_run_frames:
            voiced[start:end] = False
    kept = hz[voiced].astype(np.float64)
    if len(kept) < settings.min_voiced_frames:
        return None
    median = float(np.median(kept))
    kept = kept[np.abs(12.0 * np.log2(kept / median)) <= settings.octave_guard_st]
    if len(kept) < settings.min_voiced_frames:
        return None
    low, high = np.percentile(kept, [settings.low_percentile, settings.high_percentile])
    return PitchFigures(float(np.median(kept)), float(low), float(high), len(kept))
