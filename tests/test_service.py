"""The systemd user unit: written where systemd looks, valid for systemd, removed cleanly."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_cli


@pytest.fixture
def user_systemd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config home of its own, and no systemd user instance to reach (nothing real gets enabled)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={runtime / 'no-bus'}")
    return tmp_path / "config" / "systemd" / "user" / "emotion-overlay.cli.service"


def test_install_writes_a_valid_unit_and_says_what_systemd_needs(user_systemd: Path) -> None:
    result = run_cli(["service", "install"])
    assert result.returncode == 0, result.stderr
    unit = user_systemd.read_text()
    assert "Restart=on-failure" in unit and "StartLimitBurst=5" in unit and "WantedBy=default.target" in unit
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    assert exec_start.endswith(" run") and os.access(exec_start.split("=", 1)[1].split()[0], os.X_OK)
    assert "systemctl --user enable --now emotion-overlay.cli.service" in result.stdout
    assert "installed at" in run_cli(["service", "status"]).stdout
    if shutil.which("systemd-analyze"):
        verify = subprocess.run(
            ["systemd-analyze", "--user", "verify", str(user_systemd)], capture_output=True, text=True, check=False
        )
        assert verify.returncode == 0, verify.stderr


def test_uninstall_removes_the_unit(user_systemd: Path) -> None:
    assert run_cli(["service", "install", "--no-start"]).returncode == 0
    assert user_systemd.exists()
    result = run_cli(["service", "uninstall"])
    assert result.returncode == 0 and not user_systemd.exists()
    assert "not installed" in run_cli(["service", "status"]).stdout
