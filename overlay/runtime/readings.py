"""What the analysis stages have read so far: the board a live run's stages publish to.

Each stage (overlay.runtime.stages.StageSpec) publishes its newest result under its own key,
the modality it reads (overlay.labels.MODALITIES), by swapping one reference; hands its
probabilities to fusion; and writes its rows through the session recorder. The video thread
reads the board on every frame (overlay.render.state) without a lock: it sees the old value
or the new one, never half of either.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from overlay.fusion import LiveFusion
    from overlay.session.recorder import SessionRecorder


class Readings:
    def __init__(self, fusion: LiveFusion, recorder: SessionRecorder | None = None) -> None:
        self.fusion = fusion
        self.recorder = recorder  # None when no session is recorded
        self.paused = threading.Event()  # the privacy switch: nothing read now is shown or kept
        self._latest: dict[str, Any] = {}
        self.counts: dict[str, int] = {}  # what the stages produced, e.g. {"analyses": 812}
        self.backends: dict[str, str] = {}  # which backend a stage runs, e.g. {"text": "pocketsphinx:en-us"}
        # A stage whose work runs in a process of its own reports its CPU and memory here.
        self.cpu_seconds: dict[str, float] = {}
        self.peak_rss_mb: dict[str, float] = {}

    def latest(self, key: str) -> Any | None:
        return self._latest.get(key)

    def publish(self, key: str, value: Any) -> None:
        self._latest[key] = value

    def count(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n  # one writer per name: no lock needed

    def clear(self) -> None:
        """Forget what is shown (analysis paused)."""
        self._latest.clear()
