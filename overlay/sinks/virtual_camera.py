"""The annotated video as a virtual camera that Zoom, Meet and Teams can pick.

pyvirtualcam drives v4l2loopback on Linux and the OBS virtual camera on Windows and macOS.
The output has a fixed size and frame rate, as meeting apps expect; frames of another size
are letterboxed into it, never stretched.
"""

from __future__ import annotations

import logging
import sys

import numpy as np
import numpy.typing as npt

from overlay.errors import OverlayError
from overlay.sinks.base import SinkContext
from overlay.sinks.letterbox import letterbox

logger = logging.getLogger(__name__)

CARD_LABEL = "Emotion Overlay"
if sys.platform.startswith("linux"):
    SETUP_HINT = (
        f'no "{CARD_LABEL}" v4l2loopback device; set it up once with `bash installer/linux/virtual-camera.sh` '
        f'(or `sudo modprobe v4l2loopback devices=1 video_nr=10 card_label="{CARD_LABEL}" exclusive_caps=1`), '
        "or use another sink (--sink file, --sink preview)"
    )
else:
    SETUP_HINT = "install OBS Studio 28+ and start its virtual camera once, or use another sink (--sink file)"


class VirtualCameraError(OverlayError):
    """The virtual camera device is missing or refused the format."""


class VirtualCameraSink:
    """Send BGR frames to a virtual camera of fixed size and rate. close() is idempotent."""

    def __init__(
        self, width: int, height: int, fps: float, *, device: str | None = None, backend: str | None = None
    ) -> None:
        import pyvirtualcam  # imported on use: it probes devices at import on some platforms

        self.width, self.height, self.fps = width, height, fps
        if device is None and backend is None:
            device = _our_loopback_device()
        try:
            self._camera = pyvirtualcam.Camera(
                width, height, fps, fmt=pyvirtualcam.PixelFormat.BGR, device=device, backend=backend
            )
        except RuntimeError as err:
            raise VirtualCameraError(f"virtual camera unavailable: {SETUP_HINT} ({err})") from err
        self.device = self._camera.device
        self._closed = False
        logger.info("virtual camera %s: %dx%d at %.1f fps", self.device, width, height, fps)

    def send(self, image: npt.NDArray[np.uint8]) -> None:
        if self._closed:
            return
        frame = letterbox(image, self.width, self.height)
        self._camera.send(np.ascontiguousarray(frame))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._camera.close()


def _our_loopback_device() -> str | None:
    """On Linux, the /dev/videoN named CARD_LABEL (ours, not another app's loopback); else pyvirtualcam's choice."""
    if not sys.platform.startswith("linux"):
        return None
    from overlay.sources.camera_devices import list_cameras

    for camera in list_cameras():
        if camera.name == CARD_LABEL:
            return camera.path
    return None


def open_sink(context: SinkContext) -> VirtualCameraSink:
    """The configured camera size ([camera] width/height) at the source's rate."""
    return VirtualCameraSink(context.config.camera.width, context.config.camera.height, context.fps)
