"""The running process's control server: HTTP on 127.0.0.1, every request carrying a random token.

GET /status gives the live figures; POST /pause, /resume and /stop act (`Authorization:
Bearer ...`). Port, token and pid go into the state file (overlay.control.lock), which is
how `status`, `stop`, `pause` and the OBS script find the process (overlay.control.client).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from overlay.control.lock import STATE_NAME, read_state, runtime_dir, write_state

logger = logging.getLogger(__name__)


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
        # Polled every 50 ms instead of 0.5 s: close() waits for the poll, and it is part of every stop.
        serve = functools.partial(self._http.serve_forever, poll_interval=0.05)
        self._thread = threading.Thread(target=serve, name="control-server", daemon=True)
        self._thread.start()
        write_state(
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
