"""Nothing leaves the machine: the app makes no network look-up, even where a library would."""

import os
import sys
from pathlib import Path

import pytest

from tests.netns import netns_available, run_offline

pytestmark = pytest.mark.skipif(not netns_available(), reason="needs unshare (root or user namespaces) and iproute2")

TELEMETRY_CACHE = Path(".cache/Microsoft/DeveloperTools/.onnxruntime")


def _fresh_home(tmp_path: Path, name: str) -> dict[str, str]:
    home = tmp_path / name
    home.mkdir()
    # CI=true (set by CI runners) makes onnxruntime skip telemetry by itself: remove it, so
    # that the test sees what a user's machine does.
    env = {k: v for k, v in os.environ.items() if k not in ("ORT_DISABLE_TELEMETRY", "XDG_CACHE_HOME", "CI")}
    return env | {"HOME": str(home), "EMOTION_OVERLAY_SESSIONS": str(home / "sessions")}


def test_the_harness_sees_onnxruntime_phone_home_when_nothing_stops_it(tmp_path: Path) -> None:
    """Bare onnxruntime (no ORT_DISABLE_TELEMETRY) queues telemetry and looks up its collector."""
    env = _fresh_home(tmp_path, "bare")
    model = Path(__file__).resolve().parents[1] / "models" / "face" / "face_expression.onnx"
    lookups_log = tmp_path / "lookups.log"  # where run_offline's resolver writes
    code = (
        "import onnxruntime as ort, time, pathlib; "
        f"ort.InferenceSession({str(model)!r}, providers=['CPUExecutionProvider']); "
        f"log = pathlib.Path({str(lookups_log)!r}); "
        "deadline = time.monotonic() + 60\n"
        "while time.monotonic() < deadline and 'microsoft' not in log.read_text(): time.sleep(0.2)"
    )
    status, lookups, stderr = run_offline([sys.executable, "-c", code], tmp_path, env, timeout=120)
    assert status == 0, stderr
    assert any("microsoft.com" in name for name in lookups), lookups
    assert (Path(env["HOME"]) / TELEMETRY_CACHE).is_dir()


def test_a_live_run_with_every_model_makes_no_look_up_and_queues_no_telemetry(
    shared_data: Path, tmp_path: Path
) -> None:
    env = _fresh_home(tmp_path, "app")
    clip = shared_data / "video" / "talking" / "3.mp4"
    out = tmp_path / "annotated.mp4"
    command = [sys.executable, "-m", "overlay", "run", "--camera", str(clip), "--loop", "--sink", "file"]
    status, lookups, stderr = run_offline([*command, "--out", str(out), "--seconds", "14"], tmp_path, env, timeout=120)
    assert status == 0, stderr
    assert out.stat().st_size > 0
    assert lookups == []
    assert not (Path(env["HOME"]) / ".cache" / "Microsoft").exists()


def test_analyze_makes_no_look_up_and_queues_no_telemetry(shared_data: Path, tmp_path: Path) -> None:
    env = _fresh_home(tmp_path, "analyze")
    clip = shared_data / "video" / "talking" / "1.mp4"
    status, lookups, stderr = run_offline(
        [sys.executable, "-m", "overlay", "analyze", str(clip)], tmp_path, env, timeout=120
    )
    assert status == 0, stderr
    assert lookups == []
    assert not (Path(env["HOME"]) / ".cache" / "Microsoft").exists()
