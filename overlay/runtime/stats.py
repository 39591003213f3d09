"""What a live run counts: its figures and events, bounded so that memory stays flat for days."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from overlay.records import Event


@dataclass(frozen=True)
class PipelineEvent:
    timestamp: float
    kind: Event
    detail: str


LATENCIES_KEPT = 18_000  # the newest ten minutes at 30 fps: percentiles for `status` and the bench
EVENTS_KEPT = 1_000  # the newest events in memory; all of them are in the timeline


@dataclass
class PipelineStats:
    """Figures of one run, for `status`, the timeline and bench/live.py (bounded: a run may last days)."""

    frames_out: int = 0
    frames_dropped_for_analysis: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # what the stages produced, e.g. {"analyses": 812}
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # by stage (its thread, or its child process)
    peak_rss_mb: dict[str, float] = field(default_factory=dict)  # of a stage's child process
    latencies_ms: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCIES_KEPT))
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
