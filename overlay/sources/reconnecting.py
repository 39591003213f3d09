"""A camera that survives being unplugged or taken by another app.

When the wrapped source stops delivering, frames keep coming at the same rate: a dark
"camera unavailable" frame of the last size, so the meeting app shows a clear message
instead of freezing on the last picture. Meanwhile a background thread reopens the
camera with exponential backoff (0.5 s, 1 s, 2 s ... at most 5 s between tries), and
real frames resume as soon as it is back. It says so once per outage, not every try.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import cv2
import numpy as np
import numpy.typing as npt

from overlay.errors import OverlayError
from overlay.records import Event, VideoFrame
from overlay.sources.base import FrameSource

logger = logging.getLogger(__name__)

FIRST_RETRY_S = 0.5
MAX_RETRY_S = 5.0


def unavailable_frame(width: int, height: int) -> npt.NDArray[np.uint8]:
    """A dark frame saying the camera is unavailable, readable at any size."""
    image = np.full((height, width, 3), 40, dtype=np.uint8)
    scale = height / 720
    text = "camera unavailable - reconnecting"
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 1.2 * scale, max(1, round(2 * scale)))
    origin = ((width - tw) // 2, (height + th) // 2)
    cv2.putText(
        image,
        text,
        origin,
        cv2.FONT_HERSHEY_SIMPLEX,
        1.2 * scale,
        (230, 230, 230),
        max(1, round(2 * scale)),
        cv2.LINE_AA,
    )
    return image


class ReconnectingSource:
    """Wrap a camera opener; never ends by itself, only on close()."""

    def __init__(
        self,
        open_source: Callable[[], FrameSource],
        *,
        on_event: Callable[[Event, str], None] | None = None,
        first_retry_s: float = FIRST_RETRY_S,
        max_retry_s: float = MAX_RETRY_S,
    ) -> None:
        self._open = open_source
        self._on_event = on_event
        self._first_retry_s, self._max_retry_s = first_retry_s, max_retry_s
        self._source: FrameSource | None = open_source()  # the first open must work: errors go to the user
        self.fps, self.width, self.height = self._source.fps, self._source.width, self._source.height
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._reconnector: threading.Thread | None = None
        self._blank = unavailable_frame(self.width, self.height)
        self._index = 0
        self._next_blank_at = 0.0
        self.outages = 0

    def read(self) -> VideoFrame | None:
        if self._closed.is_set():
            return None
        with self._lock:
            source = self._source
        frame = source.read() if source is not None else None
        if frame is not None:
            frame = VideoFrame(frame.image, frame.timestamp, self._index)
            self._index += 1
            return frame
        if source is not None:
            self._lost(source)
        # Keep the output rate with "unavailable" frames while the camera is away.
        now = time.monotonic()
        if self._next_blank_at > now:
            time.sleep(self._next_blank_at - now)
        self._next_blank_at = max(now, self._next_blank_at) + 1.0 / self.fps
        frame = VideoFrame(self._blank, time.monotonic(), self._index)
        self._index += 1
        return frame

    def _lost(self, source: FrameSource) -> None:
        with self._lock:
            self._source = None
        source.close()
        self.outages += 1
        logger.warning("camera lost; showing 'camera unavailable' and reconnecting")
        if self._on_event is not None:
            self._on_event(Event.CAMERA_LOST, "the camera stopped delivering frames")
        self._reconnector = threading.Thread(target=self._reconnect, name="camera-reconnect", daemon=True)
        self._reconnector.start()

    def _reconnect(self) -> None:
        delay = self._first_retry_s
        while not self._closed.wait(delay):
            try:
                source = self._open()
            except OverlayError as err:
                logger.debug("camera still unavailable: %s", err)
                delay = min(self._max_retry_s, delay * 2)
                continue
            with self._lock:
                self._source = source
            logger.warning("camera back")
            if self._on_event is not None:
                self._on_event(Event.CAMERA_BACK, "the camera delivers frames again")
            return

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        if self._reconnector is not None:
            self._reconnector.join(timeout=2.0)
        with self._lock:
            if self._source is not None:
                self._source.close()
                self._source = None
