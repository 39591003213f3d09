"""Asking the running process (`status`, `stop`, `pause`, `resume`, the OBS script)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from overlay.control.lock import NotRunningError, is_running, process_alive, read_state, runtime_dir
from overlay.errors import OverlayError


def call(path: str, method: str = "GET", folder: Path | None = None, timeout: float = 5.0) -> dict[str, Any]:
    """Ask the running process; NotRunningError when there is none."""
    folder = folder or runtime_dir()
    state = read_state(folder)
    if not is_running(folder) or state is None or not process_alive(int(state.get("pid", 0))):
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
