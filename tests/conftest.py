"""Shared fixtures. Tests that need ../shared/data find it through `shared_data` only."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.pulse import VirtualMicrophone

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def isolated_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test (and the CLI it starts) reads its own config path, never the user's settings."""
    path = tmp_path_factory.mktemp("config") / "config.toml"
    monkeypatch.setenv("EMOTION_OVERLAY_CONFIG", str(path))
    return path


@pytest.fixture(autouse=True)
def isolated_sessions(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Sessions recorded by a test (and the CLI it starts) go to a folder of its own, never the user's."""
    folder = tmp_path_factory.mktemp("sessions")
    monkeypatch.setenv("EMOTION_OVERLAY_SESSIONS", str(folder))
    return folder


@pytest.fixture(autouse=True)
def isolated_calibration(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The eye-contact calibration a test's run reads and writes: its own, never the user's."""
    path = tmp_path_factory.mktemp("calibration") / "eye_contact_calibration.json"
    monkeypatch.setenv("EMOTION_OVERLAY_CALIBRATION", str(path))
    return path


@pytest.fixture(autouse=True)
def isolated_runtime(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The running-process lock and control file of a test's overlay, apart from a real one's."""
    folder = tmp_path_factory.mktemp("runtime")
    monkeypatch.setenv("EMOTION_OVERLAY_RUNTIME", str(folder))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))  # analyze's scratch timelines
    return folder


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The project's training/test data (EMOTION_OVERLAY_DATA, default ../shared/data)."""
    root = Path(os.environ.get("EMOTION_OVERLAY_DATA", REPO_ROOT.parent / "shared" / "data"))
    if not root.is_dir():
        pytest.skip(f"shared data not found at {root} (set EMOTION_OVERLAY_DATA); a user's clone has none")
    return root


@pytest.fixture(scope="session")
def fer_val(shared_data: Path) -> Path:
    path = shared_data / "fer2013" / "val"
    if not path.is_dir():
        pytest.skip(f"FER2013 val split not found at {path}")
    return path


def write_image(path: Path, seed: int, size: int = 64, channels: int = 3) -> Path:
    """A made-up image (smooth noise) for tests that need files, not faces."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (8, 8, channels), dtype=np.uint8)
    image = cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image):
        raise RuntimeError(f"could not write {path}")
    return path


def run_cli(
    args: Sequence[str], cwd: Path | None = None, executable: Sequence[str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the command line as a user would, in a child process."""
    command = list(executable or [sys.executable, "-m", "overlay"]) + list(args)
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=300, check=False)


@pytest.fixture(scope="module")
def virtual_mic() -> Iterator[VirtualMicrophone]:
    """A PulseAudio virtual microphone for this test module, with PortAudio pointed at it."""
    try:
        mic = VirtualMicrophone()
    except RuntimeError as err:
        pytest.skip(str(err))
    saved = {key: os.environ.get(key) for key in mic.env}
    os.environ.update(mic.env)
    import sounddevice

    sounddevice._terminate()  # PortAudio lists devices once; look again now that the server runs
    sounddevice._initialize()
    yield mic
    mic.close()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def whisper_model() -> Path:
    """The installed Whisper model folder (`emotion-overlay models pull whisper-tiny.en`; the
    installer and .ci/run pull it). CI must have it: there a missing model fails the test."""
    from overlay.models.store import find_spec, installed_path

    path = installed_path(find_spec("whisper-tiny.en"))
    if path is None:
        message = "whisper-tiny.en is not installed; run `emotion-overlay models pull whisper-tiny.en`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path
