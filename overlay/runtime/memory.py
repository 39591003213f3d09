"""Handing freed memory back to the system during a long run (glibc's `malloc_trim`).

glibc keeps what is freed for reuse instead of returning it. A frame (1.4 MB at 700x700)
starts out in a mapping of its own, but once such a block has been freed the allocator's
threshold rises past it and frames come from the heap from then on; the first moment a
frame more than ever before is alive at once (a slow encode, an analysis holding its frame)
leaves the heap a frame larger for good. Over hours resident memory then steps up though
nothing is kept. `malloc_trim(0)` gives every arena's free pages back to the kernel; a
thread of its own calls it once a minute, so the video thread never waits on it. Elsewhere
(macOS, musl) there is nothing to call and nothing runs.
"""

from __future__ import annotations

import ctypes
import logging
import sys
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

TRIM_EVERY_S = 60.0


def _find_malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the C library this process already runs on
    except (OSError, AttributeError):
        return None  # not glibc
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_MALLOC_TRIM = _find_malloc_trim()


def release_free_memory() -> bool:
    """Return the allocator's free pages to the kernel; whether this platform can (ctypes drops the GIL)."""
    if _MALLOC_TRIM is None:
        return False
    _MALLOC_TRIM(0)
    return True


class MemoryTrimmer:
    """A daemon thread that calls release_free_memory() every `every_s` until stop()."""

    def __init__(self, every_s: float = TRIM_EVERY_S) -> None:
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="memory-trim", daemon=True)
        self.trims = 0
        self.longest_ms = 0.0

    def start(self) -> None:
        if _MALLOC_TRIM is not None:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)

    def _loop(self) -> None:
        while not self._stop.wait(self._every_s):
            started = time.perf_counter()
            release_free_memory()
            self.trims += 1
            self.longest_ms = max(self.longest_ms, (time.perf_counter() - started) * 1000.0)
        logger.info("free memory handed back %d times, the longest took %.1f ms", self.trims, self.longest_ms)
