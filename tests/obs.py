"""A real OBS Studio for tests: Debian's obs-studio 29 headless under Xvfb, websocket on, password set.

Each ObsInstance has its own HOME (so its own global.ini, scene collection and logs), its
own Xvfb display, a free port and a random password. start(), stop() (SIGTERM, then
SIGKILL) and kill() (as a crash) can be called in any order; close() always ends both
processes and removes the folder. What OBS prints goes to obs-output.txt in that HOME, and
an OBS that ended by itself is noted in unexpected_exits when start() runs again.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

OBS = Path("/usr/bin/obs")
XVFB = "Xvfb"

GLOBAL_INI = """\
[General]
FirstRun=true
LastVersion=486539266
EnableAutoUpdates=false
ConfirmOnExit=false

[BasicWindow]
SysTrayEnabled=true
SysTrayWhenStarted=true
SysTrayMinimizeToTray=true

[OBSWebSocket]
FirstLoad=false
ServerEnabled=true
ServerPort={port}
AlertsEnabled=false
AuthRequired=true
ServerPassword={password}
"""


_OPENCV_QT_VARIABLES = ("QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR", "LD_LIBRARY_PATH")


class ObsUnavailable(RuntimeError):
    """OBS or Xvfb is missing or does not come up on this machine."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


class ObsInstance:
    def __init__(self, scripts: list[dict[str, Any]] | None = None, env: dict[str, str] | None = None) -> None:
        if not OBS.exists():
            raise ObsUnavailable(f"{OBS} not installed (apt-get install obs-studio; .ci/run does)")
        if shutil.which(XVFB) is None:
            raise ObsUnavailable("Xvfb not installed (apt-get install xvfb xauth)")
        self.home = Path(tempfile.mkdtemp(prefix="obs-home-"))
        self.port = free_port()
        self.password = secrets.token_urlsafe(12)
        self.config_dir = self.home / ".config" / "obs-studio"
        self.config_dir.mkdir(parents=True)
        (self.config_dir / "global.ini").write_text(GLOBAL_INI.format(port=self.port, password=self.password))
        if scripts is not None:
            self._write_scene_collection(scripts)
        self._extra_env = dict(env or {})
        self.display = 0  # Xvfb's, once started
        self._xvfb: subprocess.Popen[bytes] | None = None
        self.unexpected_exits: list[int | None] = []  # exit statuses of OBS processes that ended by themselves
        self._obs: subprocess.Popen[bytes] | None = None
        try:
            self._start_xvfb()
            self.start()
        except BaseException:
            self.close()
            raise

    @property
    def env(self) -> dict[str, str]:
        # Importing cv2 points Qt at OpenCV's own bundled Qt plugins and libraries; OBS aborts on them.
        inherited = {k: v for k, v in os.environ.items() if k not in _OPENCV_QT_VARIABLES}
        return (
            inherited
            | self._extra_env
            | {
                "HOME": str(self.home),
                "XDG_CONFIG_HOME": str(self.home / ".config"),
                "DISPLAY": f":{self.display}",
                "LIBGL_ALWAYS_SOFTWARE": "1",
                "QT_QPA_PLATFORM": "xcb",
            }
        )

    def _write_scene_collection(self, scripts: list[dict[str, Any]]) -> None:
        """A minimal scene collection ("Untitled") whose scripts-tool loads `scripts` at start-up."""
        scenes = self.config_dir / "basic" / "scenes"
        scenes.mkdir(parents=True)
        scene = {
            "name": "Scene",
            "id": "scene",
            "versioned_id": "scene",
            "settings": {"items": [], "id_counter": 0, "custom_size": False},
        }
        collection = {
            "name": "Untitled",
            "current_scene": "Scene",
            "current_program_scene": "Scene",
            "scene_order": [{"name": "Scene"}],
            "sources": [scene],
            "groups": [],
            "transitions": [],
            "modules": {"scripts-tool": scripts},
        }
        (scenes / "Untitled.json").write_text(json.dumps(collection))

    def _start_xvfb(self) -> None:
        """Xvfb on a display number it picks itself (-displayfd), so parallel test runs never collide."""
        read_end, write_end = os.pipe()
        with os.fdopen(read_end, "rb") as pipe:
            try:
                self._xvfb = subprocess.Popen(
                    [XVFB, "-displayfd", str(write_end), "-screen", "0", "1280x720x24", "-nolisten", "tcp"],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    pass_fds=(write_end,),
                )
            finally:
                os.close(write_end)
            number = pipe.readline().strip()  # written once the display accepts clients; empty if it died
        if not number.isdigit():
            raise ObsUnavailable("Xvfb did not start")
        self.display = int(number)

    def start(self, timeout: float = 30.0) -> None:
        """Start OBS and wait until its websocket port accepts connections."""
        if self.running:
            return
        if self._obs is not None:  # it ended without stop() or kill(): a crash, which tests should see
            self.unexpected_exits.append(self._obs.returncode)
        command = [str(OBS), "--minimize-to-tray", "--disable-shutdown-check", "--multi"]
        with open(self.home / "obs-output.txt", "ab") as output:  # OBS's own messages, for a crash
            self._obs = subprocess.Popen(
                command, env=self.env, cwd=self.home, stdout=output, stderr=output, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            if self._obs.poll() is not None:
                raise ObsUnavailable(f"OBS exited at start-up with status {self._obs.returncode}: {self.output_tail()}")
            if time.monotonic() > deadline:
                raise ObsUnavailable(f"OBS did not open its websocket port in {timeout:.0f} s: {self.log_tail()}")
            time.sleep(0.1)

    @property
    def pid(self) -> int | None:
        return self._obs.pid if self.running and self._obs is not None else None

    @property
    def running(self) -> bool:
        return self._obs is not None and self._obs.poll() is None

    def stop(self) -> None:
        """End OBS as a user closing it would (SIGTERM), killing it if it hangs."""
        if self._obs is None:
            return
        if self._obs.poll() is None:
            self._obs.send_signal(signal.SIGTERM)
            try:
                self._obs.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._obs.kill()
                self._obs.wait(timeout=10)
        self._obs = None
        self._wait_port_closed()

    def kill(self) -> None:
        """End OBS as a crash would (SIGKILL)."""
        if self._obs is None:
            return
        if self._obs.poll() is None:
            self._obs.kill()
            self._obs.wait(timeout=10)
        self._obs = None
        self._wait_port_closed()

    def _wait_port_closed(self) -> None:
        deadline = time.monotonic() + 5
        while port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def logs(self) -> str:
        """All of OBS's log files in this HOME, oldest first."""
        folder = self.config_dir / "logs"
        if not folder.is_dir():
            return ""
        return "\n".join(p.read_text(errors="replace") for p in sorted(folder.glob("*.txt")))

    def output_tail(self, lines: int = 15) -> str:
        """The end of what OBS printed (a crash report goes there, not to its log file)."""
        path = self.home / "obs-output.txt"
        text = path.read_text(errors="replace") if path.exists() else ""
        return " | ".join(text.strip().splitlines()[-lines:])

    def log_tail(self, lines: int = 8) -> str:
        return " | ".join(self.logs().strip().splitlines()[-lines:])

    def close(self) -> None:
        try:
            self.stop()
        finally:
            if self._xvfb is not None and self._xvfb.poll() is None:
                self._xvfb.terminate()
                try:
                    self._xvfb.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._xvfb.kill()
                    self._xvfb.wait(timeout=5)
            shutil.rmtree(self.home, ignore_errors=True)


def start_obs_or_skip(scripts: list[dict[str, Any]] | None = None, env: dict[str, str] | None = None) -> ObsInstance:
    """An OBS for a test module; skips (with the reason) only where OBS cannot run at all."""
    import pytest

    try:
        return ObsInstance(scripts=scripts, env=env)
    except ObsUnavailable as err:
        pytest.skip(f"OBS cannot run here: {err}")


def wait_until(condition: Any, timeout: float = 10.0, every: float = 0.05) -> bool:
    """Poll `condition()` until it is true or `timeout` passes; its last answer."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(every)


def write_grey_clip(path: Path, seconds: float = 2.0, fps: int = 15) -> Path:
    """A small silent MP4 to play as the camera where no face is needed."""
    import av
    import numpy as np

    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = 320, 240
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(np.full((240, 320, 3), 90 + i % 20, np.uint8), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path
