"""A PulseAudio server with a virtual microphone: what is played into `vmic_sink` is recorded from `vmic`."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

CONFIG = """\
load-module module-native-protocol-unix
load-module module-null-sink sink_name=vmic_sink rate=16000 channels=1
load-module module-remap-source master=vmic_sink.monitor source_name=vmic
set-default-source vmic
set-default-sink vmic_sink
"""


class VirtualMicrophone:
    def __init__(self) -> None:
        if shutil.which("pulseaudio") is None or shutil.which("pacat") is None:
            raise RuntimeError("pulseaudio/pacat not installed (the CI set-up installs them)")
        self.runtime = Path(tempfile.mkdtemp(prefix="pulse-"))
        self.runtime.chmod(0o700)
        self.env = {"XDG_RUNTIME_DIR": str(self.runtime), "PULSE_RUNTIME_PATH": str(self.runtime / "pulse")}
        (self.runtime / "vmic.pa").write_text(CONFIG)
        self.start()

    def _env(self) -> dict[str, str]:
        return os.environ | self.env

    def _running(self) -> bool:
        return subprocess.run(["pactl", "info"], env=self._env(), capture_output=True, check=False).returncode == 0

    def start(self) -> None:
        command = ["pulseaudio", "-n", "--daemonize=yes", "--exit-idle-time=-1", "--disable-shm=yes"]
        config = ["-F", str(self.runtime / "vmic.pa")]
        subprocess.run([*command, *config], env=self._env(), check=True, capture_output=True, timeout=20)
        for _ in range(100):
            if self._running():
                return
            time.sleep(0.05)
        raise RuntimeError("PulseAudio did not come up")

    def stop(self) -> None:
        subprocess.run(["pulseaudio", "--kill"], env=self._env(), capture_output=True, check=False, timeout=20)
        for _ in range(100):
            if not self._running():
                return
            time.sleep(0.05)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.runtime, ignore_errors=True)
