"""Which cameras exist, and choosing one by index or by (part of) its name.

OpenCV opens cameras by index only and cannot name them. On Linux the kernel names every
V4L2 device in sysfs (/sys/class/video4linux/videoN/name, e.g. "Logitech BRIO" or our own
"Emotion Overlay" loopback), so cameras are listed and matched from there; elsewhere the
first indices are probed and named "camera N".
"""

from __future__ import annotations

import logging
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from overlay.sources.device_names import pick_by_name

logger = logging.getLogger(__name__)

SYSFS_VIDEO = Path("/sys/class/video4linux")
PROBED_INDICES = 4


@dataclass(frozen=True)
class CameraDevice:
    index: int
    name: str
    path: str  # /dev/videoN on Linux, "" elsewhere


def list_cameras(sysfs_root: Path = SYSFS_VIDEO) -> list[CameraDevice]:
    """Cameras that can be opened by index, in index order."""
    if sys.platform.startswith("linux"):
        return _linux_cameras(sysfs_root)
    return _probed_cameras()


def _linux_cameras(root: Path) -> list[CameraDevice]:
    cameras = []
    for entry in sorted(root.glob("video*"), key=lambda p: int(re.sub(r"\D", "", p.name) or 0)):
        match = re.fullmatch(r"video(\d+)", entry.name)
        if match is None:
            continue
        # UVC cameras add a second node per camera for metadata; its sysfs "index" is 1, and
        # it cannot deliver frames, so it is not offered.
        if _read(entry / "index") not in ("", "0"):
            continue
        name = _read(entry / "name") or entry.name
        cameras.append(CameraDevice(int(match.group(1)), name, f"/dev/{entry.name}"))
    return cameras


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


def _probed_cameras() -> list[CameraDevice]:
    import cv2

    cameras = []
    for index in range(PROBED_INDICES):
        capture = cv2.VideoCapture(index)
        if capture.isOpened():
            cameras.append(CameraDevice(index, f"camera {index}", ""))
        capture.release()
    return cameras


def resolve_camera(spec: str, cameras: list[CameraDevice] | None = None) -> int:
    """The index for `spec`: an index as given, or the one camera whose name contains it.

    An exact name (any case) wins over partial matches; no match or several give a
    DataError listing the cameras there are.
    """
    if spec.strip().isdigit():
        return int(spec)
    cameras = list_cameras() if cameras is None else cameras
    return pick_by_name(spec, [(c.index, c.name) for c in cameras], "camera")
