"""A webcam through OpenCV, chosen by index; asks for a size and rate and reports what it got."""

from __future__ import annotations

import logging
import time

import cv2
import numpy as np

from overlay.errors import DataError
from overlay.records import VideoFrame
from overlay.sources.base import FrameSource, SourceContext

logger = logging.getLogger(__name__)


class CameraSource:
    """Frames from camera `index`; timestamps are time.monotonic() when each frame arrived."""

    def __init__(self, index: int, width: int = 1280, height: int = 720, fps: float = 30.0) -> None:
        self._capture = cv2.VideoCapture(index)
        if not self._capture.isOpened():
            self._capture.release()
            raise DataError(
                f"camera {index} could not be opened (absent, or in use by another app); "
                "check the index, close other apps using it, or pass a video file to --camera"
            )
        self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        self._capture.set(cv2.CAP_PROP_FPS, fps)
        self.width = int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        granted = float(self._capture.get(cv2.CAP_PROP_FPS))
        self.fps = granted if granted > 0 else fps
        self._index = 0
        self._closed = False
        logger.info(
            "camera %d: asked %dx%d@%.0f, got %dx%d@%.1f", index, width, height, fps, self.width, self.height, self.fps
        )

    def read(self) -> VideoFrame | None:
        if self._closed:
            return None
        ok, image = self._capture.read()
        if not ok:
            logger.warning("camera stopped delivering frames")
            return None
        frame = VideoFrame(image=np.asarray(image, dtype=np.uint8), timestamp=time.monotonic(), index=self._index)
        self._index += 1
        return frame

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._capture.release()


def claims(camera: str) -> bool:
    return True  # the last in SOURCES: an index or (part of) a camera's name


def open_source(camera: str, context: SourceContext) -> FrameSource:
    """A webcam by index or name, reopened (with "camera unavailable" frames between) when it goes away."""
    from overlay.sources.camera_devices import resolve_camera
    from overlay.sources.reconnecting import ReconnectingSource

    index, cam = resolve_camera(camera), context.config.camera
    return ReconnectingSource(lambda: CameraSource(index, cam.width, cam.height, cam.fps), on_event=context.on_event)
