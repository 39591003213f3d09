"""Starting the overlay at login on Linux: a systemd user unit, `emotion-overlay service install|uninstall|status`.

The unit runs `emotion-overlay run` (settings from the config file) in the user's session,
restarts it on failure (at most 5 times in 5 minutes, so a missing camera does not spin),
and logs to the journal (`journalctl --user -u emotion-overlay`). It stops with SIGTERM,
which closes the session timeline properly. `start`/`stop`/`status` still work on it,
through the same control server. On macOS and Windows see installer/macos and
installer/windows (launchd agent, Task Scheduler).
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from overlay.errors import OverlayError

logger = logging.getLogger(__name__)

UNIT_NAME: Final = "emotion-overlay.cli.service"


def unit_dir() -> Path:
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "systemd" / "user"


def run_command() -> list[str]:
    """How the service starts the overlay: the installed command, else this Python with -m overlay."""
    script = Path(sys.executable).parent / "emotion-overlay"
    if script.is_file():
        return [str(script), "run"]
    return [sys.executable, "-m", "overlay", "run"]


def unit_text(command: list[str] | None = None, config: Path | None = None) -> str:
    exec_start = " ".join(shlex.quote(part) for part in (command or run_command()))
    environment = f"Environment={shlex.quote(f'EMOTION_OVERLAY_CONFIG={config}')}\n" if config else ""
    return f"""[Unit]
Description=emotion-overlay: live emotion overlay into the virtual camera
After=graphical-session.target pipewire.service pulseaudio.service
StartLimitIntervalSec=300
StartLimitBurst=5

[Service]
Type=simple
ExecStart={exec_start}
{environment}Environment=PYTHONUNBUFFERED=1
Restart=on-failure
RestartSec=5
KillSignal=SIGTERM
TimeoutStopSec=20

[Install]
WantedBy=default.target
"""


@dataclass(frozen=True)
class ServiceResult:
    unit: Path
    activated: bool  # systemd took it (enabled and started); else `manual` says what to run
    manual: tuple[str, ...] = ()


def _systemctl(*args: str) -> subprocess.CompletedProcess[str] | None:
    """systemctl --user ...; None when there is no systemd user instance to talk to."""
    if shutil.which("systemctl") is None:
        return None
    try:
        result = subprocess.run(["systemctl", "--user", *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0 and "Failed to connect to bus" in result.stderr:
        return None
    return result


def install(start: bool = True, config: Path | None = None) -> ServiceResult:
    folder = unit_dir()
    path = folder / UNIT_NAME
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(unit_text(config=config), encoding="utf-8")
    except OSError as err:
        raise OverlayError(f"{path}: cannot write the service unit ({err.strerror})") from None
    steps = ("daemon-reload", "enable --now " + UNIT_NAME) if start else ("daemon-reload", "enable " + UNIT_NAME)
    for step in steps:
        result = _systemctl(*step.split())
        if result is None:
            return ServiceResult(path, False, tuple(f"systemctl --user {s}" for s in steps))
        if result.returncode != 0:
            raise OverlayError(f"systemctl --user {step} failed: {result.stderr.strip().splitlines()[-1:]}")
    logger.info("installed and enabled %s", path)
    return ServiceResult(path, True)


def uninstall() -> ServiceResult:
    path = unit_dir() / UNIT_NAME
    if not path.exists():
        return ServiceResult(path, True)  # nothing installed: nothing to undo
    manual: tuple[str, ...] = ()
    result = _systemctl("disable", "--now", UNIT_NAME)
    if result is None:
        manual = (f"systemctl --user disable --now {UNIT_NAME}",)
    path.unlink(missing_ok=True)
    _systemctl("daemon-reload")
    return ServiceResult(path, result is not None, manual)


def status() -> str:
    path = unit_dir() / UNIT_NAME
    if not path.exists():
        return "not installed (emotion-overlay service install)"
    active = _systemctl("is-active", UNIT_NAME)
    enabled = _systemctl("is-enabled", UNIT_NAME)
    if active is None or enabled is None:
        return f"installed at {path}; systemd's user instance is not reachable from here"
    return f"installed at {path}: {enabled.stdout.strip() or 'unknown'}, {active.stdout.strip() or 'unknown'}"
