"""installer/linux/virtual-camera.sh: its steps, checked with --dry-run (no root or kernel module here)."""

import subprocess
from pathlib import Path

from tests.conftest import REPO_ROOT

SCRIPT = REPO_ROOT / "installer" / "linux" / "virtual-camera.sh"


def dry_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), "--dry-run", *args], capture_output=True, text=True, check=False)


def test_the_device_is_named_for_meeting_apps_and_loaded_now_and_at_boot() -> None:
    result = dry_run()
    assert result.returncode == 0, result.stderr
    steps = [line for line in result.stdout.splitlines() if line.startswith("+ ")]
    options = 'options v4l2loopback devices=1 video_nr=10 card_label="Emotion Overlay" exclusive_caps=1'
    assert any("apt-get install" in s and "v4l2loopback-dkms" in s for s in steps)
    assert any(s.startswith("+ write /etc/modprobe.d/") and options in s for s in steps)  # options at boot
    assert any(s.startswith("+ write /etc/modules-load.d/") and s.endswith(": v4l2loopback") for s in steps)
    assert steps[-1].endswith("modprobe v4l2loopback")  # and loaded now, after the options are in place


def test_uninstall_undoes_it() -> None:
    result = dry_run("--uninstall")
    assert result.returncode == 0, result.stderr
    assert "modprobe -r v4l2loopback" in result.stdout
    assert "rm -f /etc/modprobe.d/emotion-overlay-v4l2loopback.conf" in result.stdout


def test_unknown_options_are_refused(tmp_path: Path) -> None:
    result = dry_run("--now")
    assert result.returncode == 2 and "unknown option --now" in result.stderr
