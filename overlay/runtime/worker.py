"""One supervised analysis thread: the loop every stage of the live pipeline runs in.

A StageWorker takes inputs (from a LatestSlot or a queue), feeds them to its stage, and
lets `process` publish what came out. The stage is built lazily on the worker's own thread
(its models load there) and rebuilt after a fault: an exception is logged with its
traceback, reported through `on_fault` (a "stage_restarted" event), and the worker pauses
`restart_pause_s` before building a new stage, so a stage that always fails costs little.
The worker's CPU time is counted (for `status` and bench/live.py).

Stopping: once `stopping` is set the worker ends after the item in hand; with `drain_s` it
first takes what is still queued for up to that many seconds (speech recognition should
hear the last words, but `stop` must not wait for a backlog a loaded machine built up), and
`finish(stage)` runs last.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

In = TypeVar("In")
S = TypeVar("S")

POLL_S = 0.1  # how long take() waits, so a stop is seen within this


@dataclass(frozen=True)
class WorkerControl:
    """What all of one pipeline's workers share."""

    stopping: threading.Event
    on_fault: Callable[[str], None]  # "face: ValueError: ..." -> a "stage_restarted" event
    restart_pause_s: float = 1.0


class StageWorker(Generic[In, S]):
    def __init__(
        self,
        name: str,
        take: Callable[[float], In | None],
        make_stage: Callable[[], S],
        process: Callable[[S, In], None],
        control: WorkerControl,
        *,
        skip: Callable[[], bool] | None = None,
        drain_s: float = 0.0,
        finish: Callable[[S], None] | None = None,
    ) -> None:
        self.name = name  # the thread's name, e.g. "face-analysis"; its first word names the stage in events
        self._take = take
        self._make_stage = make_stage
        self._process = process
        self._stopping = control.stopping
        self._on_fault = control.on_fault
        self._restart_pause_s = control.restart_pause_s
        self._skip = skip
        self._drain_s = drain_s
        self.left_at_stop = 0  # items still queued when the drain time ran out
        self._finish = finish
        self.cpu_seconds = 0.0
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _loop(self) -> None:
        stage: S | None = None
        drain_until: float | None = None
        while True:
            if self._stopping.is_set():
                drain_until = drain_until or time.monotonic() + self._drain_s
                if time.monotonic() >= drain_until:
                    break
            # Once stopping, nothing more will be queued (a stage that hears to the end is told
            # only after the last block): an empty queue means done, without waiting a poll.
            item = self._take(0.0 if drain_until is not None else POLL_S)
            if item is None:
                if self._stopping.is_set():
                    break
                continue
            if self._skip is not None and self._skip():
                continue
            cpu_started = time.thread_time()
            try:
                if stage is None:
                    stage = self._make_stage()
                self._process(stage, item)
            except Exception as err:
                stage_name = self.name.split("-")[0]
                logger.exception("%s failed; restarting the stage in %.1f s", self.name, self._restart_pause_s)
                self._on_fault(f"{stage_name}: {type(err).__name__}: {err}")
                stage = None
                self._stopping.wait(self._restart_pause_s)
            self.cpu_seconds += time.thread_time() - cpu_started
        while self._drain_s > 0 and self._stopping.is_set() and self._take(0.0) is not None:
            self.left_at_stop += 1
        if self.left_at_stop:
            logger.warning("%s: %d queued items left unheard at stop (behind)", self.name, self.left_at_stop)
        if stage is not None and self._finish is not None:
            self._finish(stage)
