"""Frames for analysis taken from a source in OBS (`--camera obs:SOURCE`), so OBS and the analysis share one camera.

OBS usually owns the webcam (a Video Capture Device source) and a second program cannot open
it as well. GetSourceScreenshot asks OBS to render the source (as OBS shows it: its crop and
filters included) and return it as an image; this source decodes that into BGR frames.

Rate and size (measured, README "OBS"): only JPEG is fast enough (PNG and BMP take 4-15 times
longer). A 640x360 JPEG shot takes ~25-32 ms (30-40 a second at most), 1280x720 ~100 ms
(10 a second). Every shot costs OBS CPU time on its WebSocket thread, on a machine that may be
streaming. So the default is frames 640 pixels wide (the height follows the source's shape;
never enlarged) at 10 a second: the face stage analyses about that many anyway, blinks are
still seen (a blink lasts 100-400 ms), and OBS pays little. [obs] capture_width and
capture_fps change it.

read() paces itself to `fps` (or as fast as OBS answers, when slower). Each frame's
timestamp is the middle of its request (the moment OBS rendered it lies between send and
answer). When OBS goes away or the source is deleted read() returns None; wrapped in
overlay.sources.reconnecting.ReconnectingSource (as the CLI does) the video goes on with
"camera unavailable" frames while it reconnects with backoff. The first connection must work,
so that a wrong name or password is reported at once.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Callable
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

from overlay.obs.connection import NOT_FOUND, ObsAddress, ObsConnection, ObsError, ObsRequestError
from overlay.records import VideoFrame
from overlay.sources.base import FrameSource, SourceContext

logger = logging.getLogger(__name__)

PREFIX: Final = "obs:"
DEFAULT_WIDTH: Final = 640
DEFAULT_FPS: Final = 10.0
JPEG_QUALITY: Final = 85


def parse_obs_camera(camera: str) -> str | None:
    """The OBS source name in "obs:NAME", else None."""
    return camera[len(PREFIX) :] if camera.startswith(PREFIX) else None


class ObsFrameSource:
    """A FrameSource (overlay.sources.base) reading one OBS source by screenshots. close() is idempotent."""

    def __init__(
        self,
        address: ObsAddress,
        source: str,
        *,
        width: int = DEFAULT_WIDTH,
        fps: float = DEFAULT_FPS,
        connect: Callable[[ObsAddress], ObsConnection] = ObsConnection,
    ) -> None:
        if not source:
            raise ObsError("--camera obs: needs the name of a source in OBS, e.g. --camera 'obs:Video Capture Device'")
        self.source, self.fps = source, fps
        self._connection = connect(address)
        self._index = 0
        self._next_at = 0.0
        self._closed = False
        try:
            native = self._shot(None, None)
        except ObsRequestError as err:
            if err.code == NOT_FOUND:
                problem = f"OBS has no source named {source!r}; {self._names_hint()}"
            else:
                problem = f"OBS cannot give frames of {source!r}: {err.comment}"
            self._connection.close()
            raise ObsError(problem) from None
        except BaseException:
            self._connection.close()
            raise
        native_h, native_w = native.shape[:2]
        self.width = min(width, native_w)
        self.height = max(2, round(native_h * self.width / native_w / 2) * 2)  # even, for encoders downstream
        logger.info(
            "OBS source %r: %dx%d, taken as %dx%d at up to %.0f frames/s",
            source,
            native_w,
            native_h,
            self.width,
            self.height,
            fps,
        )

    def _names_hint(self) -> str:
        try:
            names = [i["inputName"] for i in self._connection.request("GetInputList")["inputs"]]
        except ObsError:
            return "check the name in OBS's Sources list"
        if not names:
            return "OBS has no sources yet; add your camera as a Video Capture Device in OBS"
        shown = ", ".join(repr(n) for n in names[:12]) + (" ..." if len(names) > 12 else "")
        return f"its sources are: {shown}"

    def _shot(self, width: int | None, height: int | None) -> npt.NDArray[np.uint8]:
        size = {"imageWidth": width, "imageHeight": height} if width and height else {}
        answer = self._connection.request(
            "GetSourceScreenshot",
            sourceName=self.source,
            imageFormat="jpg",
            imageCompressionQuality=JPEG_QUALITY,
            **size,
        )
        data = str(answer.get("imageData", ""))
        try:
            encoded = base64.b64decode(data.partition(",")[2], validate=True)
        except (binascii.Error, ValueError):
            raise ObsError(f"OBS sent an unreadable image of {self.source!r}") from None
        image = cv2.imdecode(np.frombuffer(encoded, dtype=np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise ObsError(f"OBS sent an unreadable image of {self.source!r}")
        return np.asarray(image, dtype=np.uint8)

    def read(self) -> VideoFrame | None:
        if self._closed:
            return None
        now = time.monotonic()
        if self._next_at > now:
            time.sleep(self._next_at - now)
        self._next_at = max(now, self._next_at) + 1.0 / self.fps
        sent = time.monotonic()
        try:
            image = self._shot(self.width, self.height)
        except ObsError as err:
            logger.warning("no more frames from OBS source %r: %s", self.source, err)
            return None
        frame = VideoFrame(image, (sent + time.monotonic()) / 2, self._index)
        self._index += 1
        return frame

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._connection.close()


def claims(camera: str) -> bool:
    return parse_obs_camera(camera) is not None


def open_source(camera: str, context: SourceContext) -> FrameSource:
    """`--camera obs:NAME`: frames by GetSourceScreenshot, reconnected like a camera when OBS goes away."""
    from overlay.obs.connection import configured_address
    from overlay.sources.reconnecting import ReconnectingSource

    name, obs = camera[len(PREFIX) :], context.config.obs
    address = configured_address(obs)
    return ReconnectingSource(
        lambda: ObsFrameSource(address, name, width=obs.capture_width, fps=obs.capture_fps),
        on_event=context.on_event,
    )
