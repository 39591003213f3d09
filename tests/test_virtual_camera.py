"""The real pyvirtualcam.Camera path, through a registered backend that keeps every frame."""

from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pytest
import pyvirtualcam

from overlay.sinks.letterbox import letterbox
from overlay.sinks.virtual_camera import VirtualCameraError, VirtualCameraSink


class CapturingBackend:
    """A pyvirtualcam backend (the documented contract) that records frames instead of a device."""

    instances: ClassVar[list["CapturingBackend"]] = []

    def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **kw: Any) -> None:
        self.width, self.height, self.fps, self.fourcc = width, height, fps, fourcc
        self.frames: list[npt.NDArray[np.uint8]] = []
        self.closed = False
        CapturingBackend.instances.append(self)

    def send(self, frame: npt.NDArray[np.uint8]) -> None:
        # pyvirtualcam hands backends the pixels as a flat buffer in the camera's format (BGR here).
        self.frames.append(frame.reshape(self.height, self.width, 3).copy())

    def close(self) -> None:
        self.closed = True

    def device(self) -> str:
        return "capture://test"

    def native_fourcc(self) -> int | None:
        return None


pyvirtualcam.register_backend("capture", CapturingBackend)


def test_frames_reach_the_camera_at_its_fixed_size() -> None:
    sink = VirtualCameraSink(1280, 720, 30, backend="capture")
    backend = CapturingBackend.instances[-1]
    wide = np.full((720, 1280, 3), 50, np.uint8)
    square = np.full((512, 512, 3), 200, np.uint8)
    sink.send(wide)
    sink.send(square)
    sink.close()
    sink.close()
    assert backend.closed
    assert [f.shape for f in backend.frames] == [(720, 1280, 3), (720, 1280, 3)]
    np.testing.assert_array_equal(backend.frames[0], wide)
    # The square frame is letterboxed: black bars left and right, picture in the middle.
    assert backend.frames[1][:, :100].max() == 0 and backend.frames[1][:, 640].min() == 200


def test_sending_after_close_is_ignored() -> None:
    sink = VirtualCameraSink(640, 360, 30, backend="capture")
    backend = CapturingBackend.instances[-1]
    sink.close()
    sink.send(np.zeros((360, 640, 3), np.uint8))
    assert backend.frames == []


def test_missing_device_says_how_to_set_it_up() -> None:
    # On this machine v4l2loopback cannot exist, so the real Linux backend fails.
    with pytest.raises(VirtualCameraError, match="v4l2loopback"):
        VirtualCameraSink(640, 360, 30, backend="v4l2loopback")


def test_letterbox_keeps_aspect_ratio() -> None:
    tall = np.full((400, 100, 3), 255, np.uint8)
    out = letterbox(tall, 640, 360)
    assert out.shape == (360, 640, 3)
    columns = np.nonzero(out[180].max(axis=1))[0]
    assert columns.size == pytest.approx(90, abs=2)  # 100 * 360/400
