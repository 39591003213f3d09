"""A preview window on the desktop (OpenCV HighGUI), for checking the overlay without a meeting app.

Closing the window (or pressing Esc or q in it) closes the preview only; the virtual camera
and the other sinks go on.
"""

from __future__ import annotations

import logging
import os
import sys

import cv2
import numpy as np
import numpy.typing as npt

from overlay.errors import OverlayError
from overlay.sinks.base import SinkContext

logger = logging.getLogger(__name__)

WINDOW_TITLE = "Emotion Overlay preview"
_CLOSE_KEYS = (27, ord("q"))


class PreviewError(OverlayError):
    """No display to show a window on, or an OpenCV without a GUI."""


def display_available() -> bool:
    """Whether a window can appear: X11 or Wayland on Linux; always on macOS and Windows."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


class PreviewSink:
    def __init__(self, title: str = WINDOW_TITLE) -> None:
        if not display_available():
            raise PreviewError("no display for the preview window (DISPLAY is not set); use --sink vcam or --sink file")
        self.title = title
        try:
            # Without Qt's toolbar and status bar, the size given to the window is the picture's.
            cv2.namedWindow(title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
        except cv2.error as err:
            raise PreviewError(
                "this OpenCV has no window support (opencv-python-headless?); "
                "install opencv-python or use --sink vcam or --sink file"
            ) from err
        self.closed = False
        self.frames_shown = 0

    def send(self, image: npt.NDArray[np.uint8]) -> None:
        if self.closed:
            return
        if self.frames_shown == 0:
            # A resizable window opens small (~400x300, the overlay unreadable): give it the
            # frame's own size, scaled down to fit the screen.
            width, height = fit_within(image.shape[1], image.shape[0], screen_size())
            cv2.resizeWindow(self.title, width, height)
        cv2.imshow(self.title, image)
        key = cv2.waitKey(1) & 0xFF
        self.frames_shown += 1
        # The window's visibility drops below 1 once the user closes it.
        if key in _CLOSE_KEYS or cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:
            logger.info("preview window closed; the other outputs go on")
            self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                cv2.destroyWindow(self.title)
                cv2.waitKey(1)
            except cv2.error:
                pass  # already gone with the window manager


def fit_within(width: int, height: int, screen: tuple[int, int]) -> tuple[int, int]:
    """The frame's size, shrunk (never grown) to 90 % of the screen, aspect kept."""
    scale = min(1.0, 0.9 * screen[0] / width, 0.9 * screen[1] / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def screen_size() -> tuple[int, int]:
    """The X screen's size (Xlib through ctypes), else 1280x720, which nearly every screen holds."""
    fallback = (1280, 720)
    if not sys.platform.startswith("linux") or not os.environ.get("DISPLAY"):
        return fallback
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("X11")
    if name is None:
        return fallback
    xlib = ctypes.CDLL(name)
    xlib.XOpenDisplay.restype = ctypes.c_void_p
    xlib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    display = xlib.XOpenDisplay(None)
    if not display:
        return fallback
    xlib.XDefaultScreen.argtypes = xlib.XCloseDisplay.argtypes = [ctypes.c_void_p]
    xlib.XDisplayWidth.argtypes = xlib.XDisplayHeight.argtypes = [ctypes.c_void_p, ctypes.c_int]
    try:
        screen = xlib.XDefaultScreen(display)
        return int(xlib.XDisplayWidth(display, screen)), int(xlib.XDisplayHeight(display, screen))
    finally:
        xlib.XCloseDisplay(display)


def open_sink(context: SinkContext) -> PreviewSink:
    return PreviewSink()
