"""Blink detection from the eye aspect ratio (Soukupova & Cech 2016), per person.

The eye aspect ratio (EAR) of an eye's six 68-point landmarks is the mean of the two
vertical lid distances over the horizontal eye width: about 0.25-0.35 when open, near 0
when shut. People differ (and so do camera angles), so thresholds are relative to a
per-person open-eye baseline, learned over the first seconds and then adapted slowly
while the eyes are open. Hysteresis (close below one ratio of the baseline, reopen above a
higher one) keeps noise from counting twice. A closing that reopens within the blink
window is a blink; a longer one is reported as eyes closed, not as a blink.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

# 68-point (iBUG 300-W) indices of each eye: corner, two upper lid, corner, two lower lid.
RIGHT_EYE = slice(36, 42)
LEFT_EYE = slice(42, 48)


def eye_aspect_ratio(eye: npt.NDArray[np.floating]) -> float:
    """EAR of one eye's six landmarks [6, 2] in the 68-point order."""
    vertical = np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4])
    horizontal = np.linalg.norm(eye[0] - eye[3])
    return float(vertical / (2.0 * horizontal)) if horizontal > 0 else 0.0


def mean_eye_aspect_ratio(landmarks: npt.NDArray[np.floating]) -> float:
    """Mean EAR of both eyes from 68 landmarks [68, 2]."""
    return 0.5 * (eye_aspect_ratio(landmarks[RIGHT_EYE]) + eye_aspect_ratio(landmarks[LEFT_EYE]))


@dataclass(frozen=True)
class BlinkSettings:
    """Thresholds are fractions of the person's open-eye EAR baseline; times in seconds."""

    close_ratio: float = 0.65
    reopen_ratio: float = 0.80
    min_blink_s: float = 0.05  # rejects one-frame landmark glitches at 25-30 analyses/s
    max_blink_s: float = 0.50
    baseline_warmup_s: float = 2.0
    baseline_adapt_s: float = 30.0
    rate_window_s: float = 60.0

    def __post_init__(self) -> None:
        if not 0 < self.close_ratio < self.reopen_ratio < 1:
            raise ValueError("blink thresholds need 0 < close_ratio < reopen_ratio < 1")
        if not 0 <= self.min_blink_s < self.max_blink_s:
            raise ValueError("blink durations need 0 <= min_blink_s < max_blink_s")
        if self.baseline_warmup_s <= 0 or self.baseline_adapt_s <= 0 or self.rate_window_s <= 0:
            raise ValueError("blink time constants must be positive")


@dataclass(frozen=True)
class BlinkEvent:
    """One closing of the eyes: a blink, or (if longer than the blink window) eyes closed."""

    start: float
    end: float
    kind: str  # "blink" or "eyes_closed"

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class BlinkState:
    """What the overlay shows after each frame."""

    ear: float | None
    baseline: float | None
    eyes_closed: bool
    blink_count: int
    blinks_per_minute: float | None


@dataclass
class BlinkDetector:
    """Feed (timestamp, landmarks or None) per analysed frame; read events and state."""

    settings: BlinkSettings = field(default_factory=BlinkSettings)
    blink_count: int = 0
    _first_time: float | None = None
    _warmup: list[float] = field(default_factory=list)
    _baseline: float | None = None
    _last_time: float | None = None
    _last_ear: float | None = None
    _closed_since: float | None = None
    _recent_blinks: deque[float] = field(default_factory=deque)

    def update(self, timestamp: float, landmarks: npt.NDArray[np.floating] | None) -> list[BlinkEvent]:
        """Process one frame; returns the events that ended on it. None: no face this frame."""
        if landmarks is None:
            # A lost face ends any closing without judging it: we did not see it reopen.
            self._closed_since = None
            return []
        ear = mean_eye_aspect_ratio(landmarks)
        self._last_ear = ear
        if self._first_time is None:
            self._first_time = timestamp
        dt = 0.0 if self._last_time is None else max(0.0, timestamp - self._last_time)
        self._last_time = timestamp
        if self._baseline is None:
            self._warmup.append(ear)
            if timestamp - self._first_time >= self.settings.baseline_warmup_s and len(self._warmup) >= 5:
                # Blinks are brief, so a high percentile of the warm-up is the open-eye level.
                self._baseline = float(np.percentile(self._warmup, 75))
                logger.debug("EAR baseline %.3f from %d frames", self._baseline, len(self._warmup))
            return []
        return self._track(timestamp, ear, dt)

    def _track(self, timestamp: float, ear: float, dt: float) -> list[BlinkEvent]:
        assert self._baseline is not None
        s = self.settings
        events: list[BlinkEvent] = []
        if self._closed_since is None:
            if ear < s.close_ratio * self._baseline:
                self._closed_since = timestamp
            elif ear > s.reopen_ratio * self._baseline:
                alpha = min(1.0, dt / s.baseline_adapt_s)
                self._baseline += alpha * (ear - self._baseline)
        elif ear > s.reopen_ratio * self._baseline:
            duration = timestamp - self._closed_since
            if duration <= s.max_blink_s and duration >= s.min_blink_s:
                events.append(BlinkEvent(self._closed_since, timestamp, "blink"))
                self.blink_count += 1
                self._recent_blinks.append(timestamp)
            elif duration > s.max_blink_s:
                events.append(BlinkEvent(self._closed_since, timestamp, "eyes_closed"))
            self._closed_since = None
        while self._recent_blinks and self._recent_blinks[0] < timestamp - s.rate_window_s:
            self._recent_blinks.popleft()
        return events

    def state(self) -> BlinkState:
        """The current EAR, baseline, eyes-closed flag, blink count and rate."""
        rate: float | None = None
        if self._first_time is not None and self._last_time is not None:
            observed = min(self.settings.rate_window_s, self._last_time - self._first_time)
            if observed >= 10.0:  # a rate from a few seconds would swing wildly
                rate = len(self._recent_blinks) * 60.0 / observed
        long_closure = (
            self._closed_since is not None
            and self._last_time is not None
            and self._last_time - self._closed_since > self.settings.max_blink_s
        )
        return BlinkState(
            ear=self._last_ear,
            baseline=self._baseline,
            eyes_closed=long_closure,
            blink_count=self.blink_count,
            blinks_per_minute=rate,
        )
