"""Blink detection from the eye aspect ratio (Soukupova & Cech 2016), per person.

The eye aspect ratio (EAR) of an eye's six 68-point landmarks is the mean of the two
vertical lid distances over the horizontal eye width: about 0.25-0.35 when open, lower
when shut (dlib's fitted lids rarely meet: a full closing often reads only 0.5-0.75 of the
open level). People, glasses and camera angles differ, so a closing is judged against the
person's open-eye level, the baseline: a high quantile of the last second's openness
(blinks are brief, so it stays at the open level).

From the first frame: until a second of the person is seen, the baseline is kept at least
at a population prior (`prior_open_ear`), so a stream that starts on a blink, or on closed
eyes, does not learn closed eyes as open. The baseline is learned again from the prior when
the face jumps (a cut, the face found again, glasses put on: the fitted points move by a
large share of the eye distance between two frames), when the eye that is used changes, and
when the face was lost for longer than the window.

A closing starts below `close_ratio` of the open level (the lower of the baseline and the
highest level since the last closing, so eyes that reopen only part-way can blink again)
and ends once the openness is back above `reopen_ratio` of that level, or has come back
`reopen_rise` of the way from its lowest (a blink as the head tilts reopens to a lower
level). A closing that ends within the blink window is a blink; a longer one is eyes closed.
A closing longer than a blink that settles no deeper than `shift_ratio` is a new open level
(a change of view), not closed eyes: it is dropped and the level learned again.

When one eye is seen much narrower than the other (the head turned, the eye hidden), only
the wider eye is read.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

# 68-point (iBUG 300-W) indices of each eye: corner, two upper lid, corner, two lower lid.
RIGHT_EYE = slice(36, 42)
LEFT_EYE = slice(42, 48)
EYES = slice(36, 48)

Points = list[list[float]]  # plain floats: math on a dozen points costs less than numpy's calls


def eye_aspect_ratio(eye: npt.NDArray[np.floating]) -> float:
    """EAR of one eye's six landmarks [6, 2] in the 68-point order."""
    return _ear(np.asarray(eye, dtype=np.float64).tolist())


def _ear(eye: Points) -> float:
    horizontal = math.dist(eye[0], eye[3])
    return (math.dist(eye[1], eye[5]) + math.dist(eye[2], eye[4])) / (2.0 * horizontal) if horizontal > 0 else 0.0


def mean_eye_aspect_ratio(landmarks: npt.NDArray[np.floating]) -> float:
    """Mean EAR of both eyes from 68 landmarks [68, 2]."""
    return 0.5 * (eye_aspect_ratio(landmarks[RIGHT_EYE]) + eye_aspect_ratio(landmarks[LEFT_EYE]))


def eye_openness(landmarks: npt.NDArray[np.floating], hidden_width_ratio: float = 0.6) -> tuple[float, str]:
    """The EAR of the eyes the camera sees and which they are ("both", "right" or "left"): the
    mean of both, or the wider eye's alone when the other is narrower than `hidden_width_ratio`
    of it (turned away or hidden: its fitted lids are guesses)."""
    return _openness(np.asarray(landmarks[EYES], dtype=np.float64).tolist(), hidden_width_ratio)


def _openness(eyes: Points, hidden_width_ratio: float) -> tuple[float, str]:
    right, left = eyes[:6], eyes[6:]
    right_width, left_width = math.dist(right[0], right[3]), math.dist(left[0], left[3])
    if right_width < hidden_width_ratio * left_width:
        return _ear(left), "left"
    if left_width < hidden_width_ratio * right_width:
        return _ear(right), "right"
    return 0.5 * (_ear(right) + _ear(left)), "both"


@dataclass(frozen=True)
class BlinkSettings:
    """Ratios are of the person's open-eye level; times in seconds.

    Tuned on the zju_dev blink set (10 people, each without glasses, with two kinds and
    looking up; bench/blinks.py); the results are flat around these values."""

    close_ratio: float = 0.80
    reopen_ratio: float = 0.88
    reopen_rise: float = 0.5
    min_blink_s: float = 0.05  # rejects one-frame landmark glitches at 25-30 analyses/s
    max_blink_s: float = 0.50
    # The population prior: open eyes read at least this EAR (the 5th percentile of open-eye
    # frames of zju_dev's 10 people in all 4 conditions, 3290 frames; median 0.29).
    prior_open_ear: float = 0.23
    baseline_window_s: float = 1.0
    baseline_quantile: float = 0.7
    # Openness is the mean over this last moment (3 frames at 30/s, 2 at 25/s, 1 at 10/s): landmarks
    # are whole pixels, so an eye ~6 px tall reads in steps of ~0.02; a blink's closed phase lasts longer.
    smoothing_s: float = 0.075
    shift_ratio: float = 0.65
    jump_ratio: float = 0.3  # of the distance between the eyes, between two analysed frames
    hidden_width_ratio: float = 0.6
    rate_window_s: float = 60.0

    def __post_init__(self) -> None:
        if not 0 < self.close_ratio < self.reopen_ratio < 1:
            raise ValueError("blink thresholds need 0 < close_ratio < reopen_ratio < 1")
        if not 0 <= self.min_blink_s < self.max_blink_s:
            raise ValueError("blink durations need 0 <= min_blink_s < max_blink_s")
        if self.baseline_window_s <= 0 or self.rate_window_s <= 0:
            raise ValueError("blink time constants must be positive")
        for name in ("reopen_rise", "baseline_quantile", "shift_ratio", "hidden_width_ratio"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in (0, 1]")
        if self.smoothing_s < 0 or self.prior_open_ear < 0 or self.jump_ratio <= 0:
            raise ValueError("smoothing_s and prior_open_ear must be 0 or more and jump_ratio positive")


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
class _Closing:
    since: float
    level: float  # the open level it is judged against
    lowest: float
    recent: deque[tuple[float, float]] = field(default_factory=deque)  # (time, openness) of its last moments


@dataclass
class BlinkDetector:
    """Feed (timestamp, landmarks or None) per analysed frame; read events and state."""

    settings: BlinkSettings = field(default_factory=BlinkSettings)
    blink_count: int = 0
    _first_time: float | None = None
    _last_time: float | None = None
    _last_ear: float | None = None
    _baseline: float | None = None
    _window: deque[tuple[float, float]] = field(default_factory=deque)  # (time, raw openness)
    _learning_until: float = float("-inf")  # the prior holds the baseline up until then
    _smoothing: deque[tuple[float, float]] = field(default_factory=deque)  # (time, raw openness)
    _peak: float = math.inf  # highest smoothed openness since the last closing ended (none yet: inf)
    _eyes: str = "both"
    _corners: Points | None = None
    _closing: _Closing | None = None
    _recent_blinks: deque[float] = field(default_factory=deque)

    def update(self, timestamp: float, landmarks: npt.NDArray[np.floating] | None) -> list[BlinkEvent]:
        """Process one frame; returns the events that ended on it. None: no face this frame."""
        if self._first_time is None:
            self._first_time = timestamp
        self._last_time = timestamp
        if landmarks is None:
            # A lost face ends any closing without judging it: we did not see it reopen.
            self._closing, self._corners = None, None
            self._smoothing.clear()
            return []
        s = self.settings
        points = np.asarray(landmarks[EYES], dtype=np.float64).tolist()
        ear, eyes = _openness(points, s.hidden_width_ratio)
        self._last_ear = ear
        if self._jumped(points) or eyes != self._eyes:
            self._relearn(timestamp)
        self._eyes = eyes
        while self._window and self._window[0][0] < timestamp - s.baseline_window_s:
            self._window.popleft()
        if not self._window:
            self._relearn(timestamp)  # the first frame, or the face back after a while: maybe another look
        self._window.append((timestamp, ear))
        self._smoothing.append((timestamp, ear))
        while self._smoothing[0][0] <= timestamp - s.smoothing_s:
            self._smoothing.popleft()
        openness = sum(value for _, value in self._smoothing) / len(self._smoothing)
        self._baseline = self._open_level(timestamp)
        events = self._track(timestamp, ear, openness)
        while self._recent_blinks and self._recent_blinks[0] < timestamp - s.rate_window_s:
            self._recent_blinks.popleft()
        return events

    def _jumped(self, eyes: Points) -> bool:
        """Whether the eye corners (they stay put while the lids move) jumped since the last frame."""
        corners = [eyes[0], eyes[3], eyes[6], eyes[9]]
        previous, self._corners = self._corners, corners
        if previous is None:
            return False
        between = math.dist(
            ((corners[0][0] + corners[1][0]) / 2, (corners[0][1] + corners[1][1]) / 2),
            ((corners[2][0] + corners[3][0]) / 2, (corners[2][1] + corners[3][1]) / 2),
        )
        moved = max(
            abs(a - b) for now, before in zip(corners, previous, strict=True) for a, b in zip(now, before, strict=True)
        )
        return moved > self.settings.jump_ratio * between

    def _relearn(self, timestamp: float) -> None:
        """Forget the open level (the face or the view changed); the prior holds until it is learned."""
        self._window.clear()
        self._smoothing.clear()
        self._closing = None
        self._peak = math.inf
        self._learning_until = timestamp + self.settings.baseline_window_s

    def _open_level(self, timestamp: float) -> float:
        s = self.settings
        values = sorted(ear for _, ear in self._window)
        level = values[int(s.baseline_quantile * (len(values) - 1) + 0.5)]
        return max(level, s.prior_open_ear) if timestamp < self._learning_until else level

    def _track(self, timestamp: float, ear: float, openness: float) -> list[BlinkEvent]:
        s = self.settings
        assert self._baseline is not None
        closing = self._closing
        if closing is None:
            self._peak = max(self._peak, openness)
            level = min(self._baseline, self._peak)
            if openness < s.close_ratio * level:
                self._closing = _Closing(timestamp, level, openness, deque([(timestamp, ear)]))
            return []
        closing.lowest = min(closing.lowest, openness)
        closing.recent.append((timestamp, ear))
        while closing.recent[0][0] < timestamp - s.max_blink_s / 2:
            closing.recent.popleft()
        duration = timestamp - closing.since
        reopened = min(
            s.reopen_ratio * closing.level, closing.lowest + s.reopen_rise * (closing.level - closing.lowest)
        )
        if openness > reopened:
            self._closing, self._peak = None, openness
            if duration < s.min_blink_s:
                return []
            if duration <= s.max_blink_s:
                self.blink_count += 1
                self._recent_blinks.append(timestamp)
                return [BlinkEvent(closing.since, timestamp, "blink")]
            return [BlinkEvent(closing.since, timestamp, "eyes_closed")]
        if duration > s.max_blink_s:
            settled = float(np.median([ear for _, ear in closing.recent]))
            if settled > s.shift_ratio * closing.level:
                # Not shut, only lower for longer than a blink: a new open level (a change of view).
                logger.debug("eye openness settled at %.3f (was %.3f): learning it", settled, closing.level)
                recent = list(closing.recent)
                self._relearn(timestamp)
                self._window.extend(recent)
        return []

    def state(self) -> BlinkState:
        """The current EAR, baseline, eyes-closed flag, blink count and rate."""
        rate: float | None = None
        if self._first_time is not None and self._last_time is not None:
            observed = min(self.settings.rate_window_s, self._last_time - self._first_time)
            if observed >= 10.0:  # a rate from a few seconds would swing wildly
                rate = len(self._recent_blinks) * 60.0 / observed
        long_closure = (
            self._closing is not None
            and self._last_time is not None
            and self._last_time - self._closing.since > self.settings.max_blink_s
        )
        return BlinkState(
            ear=self._last_ear,
            baseline=self._baseline,
            eyes_closed=long_closure,
            blink_count=self.blink_count,
            blinks_per_minute=rate,
        )
