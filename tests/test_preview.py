"""The preview window: shown on a real (virtual) X display, refused clearly without one."""

import os
import shutil
import subprocess
import time
from collections.abc import Iterator

import cv2
import numpy as np
import pytest

from overlay.sinks.preview import PreviewError, PreviewSink, fit_within, screen_size


@pytest.fixture(scope="module")
def x_display() -> Iterator[str]:
    """A private Xvfb server (Debian xvfb), as the desktop the window opens on: one for the
    module, since OpenCV's GUI keeps its X connection for the life of the process."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb not installed (the CI set-up installs it)")
    display = f":{100 + os.getpid() % 400}"
    server = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x720x24", "-nolisten", "tcp"])
    try:
        for _ in range(100):
            if os.path.exists(f"/tmp/.X11-unix/X{display[1:]}"):
                break
            time.sleep(0.05)
        with pytest.MonkeyPatch.context() as monkeypatch:
            monkeypatch.setenv("DISPLAY", display)
            monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
            yield display
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_frames_appear_in_a_window(x_display: str) -> None:
    sink = PreviewSink(title="test preview")
    frame = np.zeros((360, 640, 3), dtype=np.uint8)
    for i in range(10):
        frame[:] = i * 20
        sink.send(frame)
    assert sink.frames_shown == 10 and not sink.closed  # the window stayed open
    sink.close()
    sink.send(frame)  # a closed preview ignores frames instead of failing the pipeline
    assert sink.frames_shown == 10


def test_without_a_display_it_says_what_to_use_instead(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(PreviewError, match=r"no display for the preview window.*--sink vcam"):
        PreviewSink()


def test_the_window_opens_at_the_frames_size_within_the_screen(x_display: str) -> None:
    assert screen_size() == (1280, 720)  # the Xvfb screen, read through Xlib
    for frame_size, expected in (((640, 360), (640, 360)), ((1920, 1080), (1152, 648))):
        sink = PreviewSink(title=f"size {frame_size}")
        sink.send(np.zeros((frame_size[1], frame_size[0], 3), dtype=np.uint8))
        for _ in range(20):  # let the window manager-less X server settle
            cv2.waitKey(10)
        _, _, width, height = cv2.getWindowImageRect(sink.title)
        assert (width, height) == expected
        sink.close()
    assert fit_within(640, 480, (3840, 2160)) == (640, 480)  # never grown
