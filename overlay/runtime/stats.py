"""What a live run counts: its figures and events, bounded so that memory stays flat for days."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from overlay.records import Event


@dataclass(frozen=True)
class PipelineEvent:
    timestamp: float
    kind: Event
    detail: str


LATENCIES_KEPT = 18_000  # the newest ten minutes at 30 fps: percentiles for `status` and the bench
EVENTS_KEPT = 1_000  # the newest events in memory; all of them are in the timeline


class LatencyRing:
    """The newest `capacity` latencies (ms) in one array made up front: no growth as it fills."""

    def __init__(self, capacity: int = LATENCIES_KEPT) -> None:
        self._values = np.zeros(capacity, dtype=np.float64)
        self._count = 0

    def append(self, value_ms: float) -> None:
        self._values[self._count % len(self._values)] = value_ms
        self._count += 1

    def __len__(self) -> int:
        return min(self._count, len(self._values))

    def newest(self, n: int | None = None) -> npt.NDArray[np.float64]:
        """The newest n (all kept if None), oldest first; a copy."""
        n = len(self) if n is None else min(n, len(self))
        # Indices wrap round the array: no copy of the whole ring for the newest few.
        newest: npt.NDArray[np.float64] = self._values.take(range(self._count - n, self._count), mode="wrap")
        return newest

    def __iter__(self) -> Iterator[float]:
        return iter(self.newest().tolist())


@dataclass
class PipelineStats:
    """Figures of one run, for `status`, the timeline and bench/live.py (bounded: a run may last days)."""

    frames_out: int = 0
    frames_dropped_for_analysis: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # what the stages produced, e.g. {"analyses": 812}
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # by stage (its thread, or its child process)
    peak_rss_mb: dict[str, float] = field(default_factory=dict)  # of a stage's child process
    latencies_ms: LatencyRing = field(default_factory=LatencyRing)
    started: float = 0.0
    ended: float = 0.0
    events: deque[PipelineEvent] = field(default_factory=lambda: deque(maxlen=EVENTS_KEPT))
    events_total: int = 0

    @property
    def analyses(self) -> int:
        """Frames a stage analysed (the face stage counts them)."""
        return self.counts.get("analyses", 0)

    @property
    def seconds(self) -> float:
        return max(1e-9, self.ended - self.started)


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    return round(sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * q / 100))], 1)
