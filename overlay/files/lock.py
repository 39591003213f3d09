"""Advisory locks that the operating system drops when their holder dies, however it dies.

Used for "one overlay at a time" (overlay.control.lock) and for "this session is being
recorded" (overlay.session.timeline): a process that is killed with kill -9 leaves no stale lock.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import IO, Any

logger = logging.getLogger(__name__)


def try_lock(handle: IO[str]) -> bool:
    """Take an exclusive lock on an open file without waiting; False when another process holds it."""
    try:
        if sys.platform == "win32":  # pragma: no cover - not testable here
            import msvcrt

            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


class HolderLock:
    """A lock file that names its holder (pid and command) while a process holds it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] | None = None

    def acquire(self) -> bool:
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        handle = os.fdopen(descriptor, "r+", encoding="utf-8", buffering=1)
        if not try_lock(handle):
            handle.close()
            return False
        self._handle = handle
        holder = json.dumps({"pid": os.getpid(), "command": " ".join(sys.argv[:3])}).encode("utf-8")
        try:
            os.ftruncate(descriptor, 0)
            os.write(descriptor, holder)  # unbuffered: nothing left to fail at close
        except OSError:  # a full disk: the lock holds all the same, only unnamed
            logger.debug("could not name the holder of %s", self.path)
        return True

    def release(self) -> None:
        """Drop the lock and its file (idempotent)."""
        if self._handle is not None:
            self.path.unlink(missing_ok=True)
            self._handle.close()
            self._handle = None


def lock_holder(path: Path) -> dict[str, Any] | None:
    """Who holds the lock file at `path` ({"pid", "command"}), or None when nobody does."""
    try:
        handle = open(path, encoding="utf-8")  # noqa: SIM115 - closed below, after the lock test
    except OSError:
        return None
    with handle:
        if try_lock(handle):
            return None  # nobody holds it (closing drops the lock we just took)
        try:
            holder = json.loads(handle.read() or "{}")
        except ValueError:
            holder = {}
        return holder if isinstance(holder, dict) else {}
