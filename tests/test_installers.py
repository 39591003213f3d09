"""The installers: shellcheck-clean, and their steps checked with --dry-run (no root, kernel module or Mac here)."""

import plistlib
import shutil
import subprocess
from pathlib import Path

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
        next(i for i, s in enumerate(steps) if s.endswith("emotion-overlay models pull whisper-tiny.en")),
        next(i for i, s in enumerate(steps) if s.endswith("emotion-overlay service install")),
        next(i for i, s in enumerate(steps) if s.endswith("emotion-overlay doctor")),
    ]
    assert order == sorted(order)
    assert "libdlib-data" in steps[order[0]]
    without = [line for line in dry_run(LINUX, "--no-virtual-camera") if line.startswith("+ ")]
    assert not any("v4l2loopback" in s for s in without) and not any("service install" in s for s in without)


FAKE_APP = """#!/bin/sh
# A stand-in for the installed command: `models verify` says the model is not there,
# `models pull` fails the way the real one does (a progress line, then one error line).
echo "$*" >>"$(dirname "$0")/calls"
[ "$1 $2" = "models verify" ] && { echo "emotion-overlay: error: whisper-tiny.en is not installed" >&2; exit 1; }
printf 'whisper-tiny.en [##   ]   8%%\\r' >&2
echo "emotion-overlay: error: cannot download whisper-tiny.en from the host, nor with pip" >&2
exit 1
"""


def whisper_step(script: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run only the installer's Whisper step, against FAKE_APP in tmp_path/.venv/bin."""
    app = tmp_path / ".venv" / "bin" / "emotion-overlay"
    app.parent.mkdir(parents=True)
    app.write_text(FAKE_APP)
    app.chmod(0o755)
    text = script.read_text()
    if script.name == "venv.sh":  # the step is the script's last block
        step = text[text.index("# Whisper's tiny.en") :]
    else:  # a function, then its call
        begin = text.index("pull_caption_model() {")
        step = text[begin : text.index("\n}\n", begin) + 3] + "pull_caption_model whisper-tiny.en\n"
    program = f"set -euo pipefail\ndry_run=0\nVENV={tmp_path}/.venv\n{step}\necho 'installer went on'\n"
    return subprocess.run(["bash", "-c", program], cwd=tmp_path, capture_output=True, text=True, check=False)


@pytest.mark.parametrize(
    "script", [LINUX, MACOS, REPO_ROOT / "installer" / "linux" / "venv.sh"], ids=["linux", "macos", "venv.sh"]
)
def test_a_failed_whisper_pull_is_one_warning_and_the_install_goes_on(script: Path, tmp_path: Path) -> None:
    result = whisper_step(script, tmp_path)
    assert result.returncode == 0 and result.stdout.splitlines()[-1] == "installer went on", result.stderr
    assert (tmp_path / ".venv" / "bin" / "calls").read_text().splitlines() == [
        "models verify whisper-tiny.en",  # pulled only when it is not installed (or damaged)
        "models pull whisper-tiny.en",
    ]
    warnings = result.stderr.splitlines()
    assert len(warnings) == 1, result.stderr
    assert "warning: whisper-tiny.en was not installed, so captions use PocketSphinx" in warnings[0]
    assert warnings[0].endswith(": cannot download whisper-tiny.en from the host, nor with pip")


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
    app = next(
        i
        for i, line in enumerate(lines)
        if line.startswith("+ ") and "pip install -q" in line and "upgrade" not in line
    )
    whisper = next(i for i, line in enumerate(lines) if line.endswith("emotion-overlay models pull whisper-tiny.en"))
    assert app < whisper < start  # the model once the app is there, before the agent starts it
    assert any(line.startswith("+ launchctl bootout") for line in dry_run(MACOS, "--uninstall"))
