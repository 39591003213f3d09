"""Temporal smoothing of probability estimates, so overlays do not flicker.

An exponential moving average in time, not in frames: its strength is a half-life in
seconds (how long until an old estimate counts half), so it behaves the same at 10 or 30
analyses per second. Zero half-life turns smoothing off.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt


@dataclass
class ProbabilitySmoother:
    half_life_s: float = 0.5
    reset_after_s: float = 2.0  # a gap this long (no face, say) starts afresh
    _value: npt.NDArray[np.float32] | None = field(default=None, repr=False)
    _time: float | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.half_life_s < 0 or self.reset_after_s <= 0:
            raise ValueError("half_life_s must be >= 0 and reset_after_s > 0")

    def update(self, timestamp: float, probabilities: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Blend in a new estimate taken at `timestamp`; returns the smoothed distribution."""
        new = np.asarray(probabilities, dtype=np.float32)
        if self._value is None or self._time is None or timestamp - self._time > self.reset_after_s:
            self._value = new.copy()
        else:
            dt = max(0.0, timestamp - self._time)
            weight = 1.0 if self.half_life_s == 0 else 1.0 - 0.5 ** (dt / self.half_life_s)
            self._value = (self._value + weight * (new - self._value)).astype(np.float32)
        self._time = timestamp
        smoothed: npt.NDArray[np.float32] = self._value.copy()
        return smoothed

    def reset(self) -> None:
        self._value = None
        self._time = None
