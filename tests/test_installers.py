"""The installers: shellcheck-clean, and their steps checked with --dry-run (no root, kernel module or Mac here)."""

import plistlib
import shutil
import subprocess

import pytest

from tests.conftest import REPO_ROOT

LINUX = REPO_ROOT / "installer" / "linux" / "install.sh"
MACOS = REPO_ROOT / "installer" / "macos" / "install.sh"


def dry_run(script: object, *args: str) -> list[str]:
    result = subprocess.run(["bash", str(script), "--dry-run", *args], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed (CI installs it)")
def test_every_shell_script_passes_shellcheck() -> None:
    scripts = [*sorted(REPO_ROOT.glob("installer/**/*.sh")), REPO_ROOT / ".ci" / "run"]
    result = subprocess.run(["shellcheck", *map(str, scripts)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout


def test_linux_install_sets_up_libraries_camera_app_and_service_in_order() -> None:
    lines = dry_run(LINUX, "--service")
    steps = [line for line in lines if line.startswith("+ ")]
    order = [
        next(i for i, s in enumerate(steps) if "apt-get install" in s and "libportaudio2" in s and "ffmpeg" in s),
        next(i for i, s in enumerate(steps) if s.endswith("modprobe v4l2loopback")),  # the virtual camera
        next(i for i, s in enumerate(steps) if "-m venv" in s and "emotion-overlay/venv" in s),
        next(i for i, s in enumerate(steps) if f"pip install -q {REPO_ROOT}" in s),
        next(i for i, s in enumerate(steps) if s.startswith("+ ln -sf") and s.endswith("/.local/bin/emotion-overlay")),
        next(i for i, s in enumerate(steps) if s.endswith("emotion-overlay service install")),
        next(i for i, s in enumerate(steps) if s.endswith("emotion-overlay doctor")),
    ]
    assert order == sorted(order)
    assert "libdlib-data" in steps[order[0]]
    without = [line for line in dry_run(LINUX, "--no-virtual-camera") if line.startswith("+ ")]
    assert not any("v4l2loopback" in s for s in without) and not any("service install" in s for s in without)


def test_linux_uninstall_undoes_service_app_and_camera() -> None:
    steps = [line for line in dry_run(LINUX, "--uninstall") if line.startswith("+ ")]
    assert steps[0].endswith("emotion-overlay service uninstall")
    assert any(s.startswith("+ rm -rf") and s.endswith("emotion-overlay/venv") for s in steps)
    assert any("modprobe -r v4l2loopback" in s for s in steps)
    assert not any("apt-get" in s for s in steps)  # system packages stay: other programs may use them


def test_macos_agent_starts_at_login_and_restarts_on_failure() -> None:
    lines = dry_run(MACOS, "--service")
    start = next(i for i, line in enumerate(lines) if line.startswith("+ write ") and line.endswith(".plist:"))
    end = next(i for i in range(start, len(lines)) if lines[i] == "</plist>")
    agent = plistlib.loads("\n".join(lines[start + 1 : end + 1]).encode())
    assert agent["Label"] == "org.emotion-overlay" and agent["ProgramArguments"][-1] == "run"
    assert agent["RunAtLoad"] is True and agent["KeepAlive"] == {"SuccessfulExit": False}
    assert any(line.startswith("+ launchctl bootstrap gui/") for line in lines[end:])
    assert any("brew install python@3.11 portaudio ffmpeg" in line for line in lines)
    assert any(line.startswith("+ launchctl bootout") for line in dry_run(MACOS, "--uninstall"))
