"""Typed records that flow between the pipeline's stages.

Every record carries a capture timestamp in seconds from one clock, time.monotonic(), so
that stages can be lined up by when things happened rather than when they arrived.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class VideoFrame:
    """One captured frame: BGR uint8 pixels, capture time (time.monotonic()), running index."""

    image: npt.NDArray[np.uint8]
    timestamp: float
    index: int

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])
