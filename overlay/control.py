"""Controlling the one running overlay process: a single-instance lock and a local control server.

- The lock: `run` holds an exclusive lock (flock) on `overlay.lock` in the runtime folder for
  as long as it lives. The kernel drops it when the process dies, even by `kill -9`, so a
  stale lock cannot block the next start; a leftover state file is simply overwritten.
- The control server: HTTP on 127.0.0.1 on a free port, every request carrying a random
  token (`Authorization: Bearer ...`). GET /status gives the live figures; POST /pause,
  /resume and /stop act. Port, token and pid are in `overlay.json` in the runtime folder,
  readable by the owner only, which is how `status`, `stop`, `pause` and the OBS script
  find the process.
The runtime folder is $EMOTION_OVERLAY_RUNTIME, else the platform's per-user state folder.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any, Final

import platformdirs

from overlay.errors import OverlayError
from overlay.file_lock import try_lock
from overlay.private_files import private_dir

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
    return private_dir(folder)


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


def _alive(pid: int) -> bool:
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


def _write_state(folder: Path, state: dict[str, Any]) -> None:
    """Owner-only, written whole (a reader never sees half a file)."""
    partial = folder / f".{STATE_NAME}.partial"
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(state, handle)
    os.replace(partial, folder / STATE_NAME)


# ---------------------------------------------------------------- the server


@dataclass(frozen=True)
class ControlActions:
    status: Callable[[], dict[str, Any]]
    pause: Callable[[], None]
    resume: Callable[[], None]
    stop: Callable[[], None]


class ControlServer:
    """Serves the running process's controls on 127.0.0.1 in a background thread."""

    def __init__(
        self, actions: ControlActions, folder: Path | None = None, describe: dict[str, Any] | None = None
    ) -> None:
        self.folder = folder or runtime_dir()
        self.token = secrets.token_urlsafe(24)
        self.actions = actions
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server._handle(self, "GET")

            def do_POST(self) -> None:
                server._handle(self, "POST")

            def log_message(self, format: str, *args: Any) -> None:
                logger.debug("control: " + format, *args)

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self._http.server_address[1])
        self._thread = threading.Thread(target=self._http.serve_forever, name="control-server", daemon=True)
        self._thread.start()
        _write_state(
            self.folder,
            {
                "pid": os.getpid(),
                "port": self.port,
                "token": self.token,
                "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                **(describe or {}),
            },
        )
        logger.info("control server on 127.0.0.1:%d", self.port)

    def _handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        if not secrets.compare_digest(request.headers.get("Authorization", ""), f"Bearer {self.token}"):
            self._reply(request, 403, {"error": "wrong or missing token"})
            return
        routes: dict[tuple[str, str], Callable[[], Any]] = {
            ("GET", "/status"): self.actions.status,
            ("POST", "/pause"): self.actions.pause,
            ("POST", "/resume"): self.actions.resume,
            ("POST", "/stop"): self.actions.stop,
        }
        action = routes.get((method, request.path))
        if action is None:
            self._reply(request, 404, {"error": f"no {method} {request.path}"})
            return
        result = action()
        self._reply(request, 200, result if isinstance(result, dict) else {"ok": True})

    @staticmethod
    def _reply(request: BaseHTTPRequestHandler, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        request.send_response(code)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        state = read_state(self.folder)
        if state and state.get("pid") == os.getpid():
            with contextlib.suppress(OSError):
                (self.folder / STATE_NAME).unlink()


# ---------------------------------------------------------------- the client


def call(path: str, method: str = "GET", folder: Path | None = None, timeout: float = 5.0) -> dict[str, Any]:
    """Ask the running process; NotRunningError when there is none."""
    folder = folder or runtime_dir()
    state = read_state(folder)
    if not is_running(folder) or state is None or not _alive(int(state.get("pid", 0))):
        # (A state file of a process that died is stale: a new one may be starting and not written its own yet.)
        raise NotRunningError("emotion-overlay is not running; start it with `emotion-overlay start`")
    request = urllib.request.Request(
        f"http://127.0.0.1:{state['port']}{path}",
        method=method,
        headers={"Authorization": f"Bearer {state['token']}"},
        data=b"" if method == "POST" else None,
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer: dict[str, Any] = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise OverlayError(
            f"emotion-overlay (pid {state.get('pid')}) does not answer ({err}); if it hangs, end it with kill"
        ) from None
    return {"pid": state.get("pid"), **answer}
