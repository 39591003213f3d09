"""The annotated video written to an MP4 file (video only; the original audio joins later)."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from overlay.errors import OverlayError
from overlay.sinks.letterbox import letterbox

logger = logging.getLogger(__name__)


class VideoFileSink:
    """Write BGR frames of one size to `path` at `fps` (MPEG-4 part 2, readable everywhere)."""

    def __init__(self, path: Path, width: int, height: int, fps: float) -> None:
        self.path, self.width, self.height = path, width, height
        if not path.parent.is_dir():
            raise OverlayError(f"{path.parent}: no such folder for the output video; create it or pass another --out")
        self._writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (width, height))
        if not self._writer.isOpened():
            raise OverlayError(f"{path}: cannot write a video there; check the name (.mp4) and permissions")
        self._closed = False
        self.frames_written = 0

    def send(self, image: npt.NDArray[np.uint8]) -> None:
        if self._closed:
            return
        image = letterbox(image, self.width, self.height)
        self._writer.write(image)
        self.frames_written += 1

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._writer.release()
            logger.info("wrote %d frames to %s", self.frames_written, self.path)
