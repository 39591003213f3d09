"""The preview window: shown on a real (virtual) X display, refused clearly without one."""

import os
import shutil
import subprocess
import time
from collections.abc import Iterator

import numpy as np
import pytest

from overlay.sinks.preview import PreviewError, PreviewSink


@pytest.fixture
def x_display(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A private Xvfb server (Debian xvfb), as the desktop the window opens on."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb not installed (the CI set-up installs it)")
    display = f":{100 + os.getpid() % 400}"
    server = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x720x24", "-nolisten", "tcp"])
    try:
        for _ in range(100):
            if os.path.exists(f"/tmp/.X11-unix/X{display[1:]}"):
                break
            time.sleep(0.05)
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
