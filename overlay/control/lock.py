"""The one running overlay: its single-instance lock and its state file, in the runtime folder.

`run` holds an exclusive lock (flock) on `overlay.lock` for as long as it lives. The kernel
drops it when the process dies, even by `kill -9`, so a stale lock cannot block the next
start; a leftover state file is simply overwritten. The state file `overlay.json` (owner
only) holds the control server's port and token and the pid. The runtime folder is
$EMOTION_OVERLAY_RUNTIME, else the platform's per-user state folder.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import IO, Any, Final

import platformdirs

from overlay.errors import OverlayError
from overlay.files.lock import try_lock
from overlay.files.private import private_dir

logger = logging.getLogger(__name__)

RUNTIME_ENV: Final = "EMOTION_OVERLAY_RUNTIME"
LOCK_NAME: Final = "overlay.lock"
STATE_NAME: Final = "overlay.json"
LOG_NAME: Final = "overlay.log"


class AlreadyRunningError(OverlayError):
    pass


class NotRunningError(OverlayError):
    pass


def runtime_dir() -> Path:
    override = os.environ.get(RUNTIME_ENV)
    folder = Path(override) if override else Path(platformdirs.user_state_dir("emotion-overlay", appauthor=False))
    try:
        return private_dir(folder)
    except OSError as err:
        where = RUNTIME_ENV if override else "XDG_STATE_HOME"
        raise OverlayError(
            f"{folder}: the state folder (lock, log, control file) cannot be made ({err.strerror}); "
            f"check {where} and that folder's permissions"
        ) from None


# ---------------------------------------------------------------- the lock


class InstanceLock:
    """Held by the running process; acquire() fails with the running process's pid."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or runtime_dir()
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        handle = open(self.folder / LOCK_NAME, "a+", encoding="utf-8")  # noqa: SIM115 - held for the process's life
        if not try_lock(handle):
            handle.close()
            state = read_state(self.folder)
            pid = state.get("pid", "?") if state else "?"
            raise AlreadyRunningError(
                f"emotion-overlay is already running (pid {pid}); `emotion-overlay status` shows it, "
                "`emotion-overlay stop` stops it"
            )
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing drops the lock
            self._handle = None


def is_running(folder: Path | None = None) -> bool:
    """Whether some process holds the lock (without taking it for more than a moment)."""
    folder = folder or runtime_dir()
    with open(folder / LOCK_NAME, "a+", encoding="utf-8") as handle:
        return not try_lock(handle)  # closing the handle drops the lock if we got it


def process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if sys.platform == "win32":  # pragma: no cover - os.kill(pid, 0) would end the process there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def clear_stale_state(folder: Path | None = None) -> None:
    """Remove the state file a dead process left (call only when nobody holds the lock)."""
    with contextlib.suppress(OSError):
        ((folder or runtime_dir()) / STATE_NAME).unlink()


def read_state(folder: Path | None = None) -> dict[str, Any] | None:
    try:
        data = json.loads(((folder or runtime_dir()) / STATE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_state(folder: Path, state: dict[str, Any]) -> None:
    """Owner-only, written whole (a reader never sees half a file)."""
    partial = folder / f".{STATE_NAME}.partial"
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(state, handle)
    os.replace(partial, folder / STATE_NAME)
