"""A one-item hand-over where the newest item wins: how the video thread offers frames to analysis."""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestSlot(Generic[T]):
    """put() never blocks and replaces what is waiting (counted in `dropped`); take() waits up to `timeout`."""

    def __init__(self) -> None:
        self._item: T | None = None
        self._ready = threading.Condition()
        self.dropped = 0

    def put(self, item: T) -> None:
        with self._ready:
            if self._item is not None:
                self.dropped += 1
            self._item = item
            self._ready.notify()

    def take(self, timeout: float) -> T | None:
        with self._ready:
            if self._item is None:
                self._ready.wait(timeout)
            item, self._item = self._item, None
            return item
