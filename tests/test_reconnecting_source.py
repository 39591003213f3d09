"""A camera that vanishes mid-run: the output keeps its rate, says so, and recovers."""

import time

import numpy as np
import pytest

from overlay.errors import DataError
from overlay.records import VideoFrame
from overlay.sources.reconnecting import ReconnectingSource


class FlakyCamera:
    """Delivers `frames` frames at 50 fps, then stops, like an unplugged webcam."""

    fps, width, height = 50.0, 160, 120

    def __init__(self, frames: int) -> None:
        self.left = frames
        self.closed = False

    def read(self) -> VideoFrame | None:
        if self.left == 0:
            return None
        self.left -= 1
        time.sleep(1 / self.fps)
        return VideoFrame(np.full((120, 160, 3), 200, np.uint8), time.monotonic(), 0)

    def close(self) -> None:
        self.closed = True


class CameraOpener:
    """Opens a camera that dies after `first_frames`; then fails `failures` times; then works."""

    def __init__(self, first_frames: int, failures: int) -> None:
        self.first_frames, self.failures = first_frames, failures
        self.opened: list[FlakyCamera] = []

    def __call__(self) -> FlakyCamera:
        if self.opened and self.failures > 0:
            self.failures -= 1
            raise DataError("camera 0 could not be opened")
        self.opened.append(FlakyCamera(self.first_frames if not self.opened else 10_000))
        return self.opened[-1]


def test_vanished_camera_is_bridged_and_reopened() -> None:
    opener = CameraOpener(first_frames=10, failures=2)
    events: list[str] = []
    source = ReconnectingSource(opener, on_event=lambda kind, _: events.append(kind), first_retry_s=0.05)
    frames = [source.read() for _ in range(60)]
    source.close()
    kinds = ["camera" if f is not None and f.image[0, 0, 0] == 200 else "blank" for f in frames]
    assert kinds[:10] == ["camera"] * 10
    assert "blank" in kinds[10:20]  # the outage shows the unavailable frame...
    assert kinds[-1] == "camera"  # ...until the camera is back
    assert events == ["camera_lost", "camera_back"]
    assert [f.index for f in frames if f is not None] == list(range(60))
    assert opener.opened[0].closed and opener.opened[-1].closed
    assert len(opener.opened) == 2


def test_unavailable_frames_keep_the_output_rate() -> None:
    opener = CameraOpener(first_frames=0, failures=1000)
    source = ReconnectingSource(opener, first_retry_s=10)
    started = time.monotonic()
    frames = [source.read() for _ in range(26)]
    elapsed = time.monotonic() - started
    source.close()
    assert all(f is not None and f.image.shape == (120, 160, 3) for f in frames)
    assert elapsed == pytest.approx(25 / 50.0, rel=0.25)


def test_a_camera_that_never_opens_is_an_error_at_start() -> None:
    def never() -> FlakyCamera:
        raise DataError("camera 3 could not be opened")

    with pytest.raises(DataError, match="camera 3"):
        ReconnectingSource(never)
