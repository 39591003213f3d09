"""`emotion-overlay doctor`: every check answers, and what is wrong comes with its fix."""

import json
from pathlib import Path

from tests.conftest import run_cli


def checks_of(stdout: str) -> dict[str, dict[str, str]]:
    return {c["name"]: c for c in json.loads(stdout)["checks"]}


def test_doctor_checks_everything_the_overlay_needs() -> None:
    result = run_cli(["doctor", "--json"])
    checks = checks_of(result.stdout)
    for name in ("python", "onnxruntime", "cv2", "dlib", "av", "models", "landmarks", "speech", "camera"):
        assert name in checks
    for name in ("microphone", "virtual camera", "obs", "data folder", "config"):
        assert name in checks
    assert all(c["status"] in ("ok", "warn", "fail") for c in checks.values())
    assert all(c["fix"] for c in checks.values() if c["status"] != "ok")  # nothing wrong without its fix
    assert checks["models"]["status"] == "ok" and "sha256 verified" in checks["models"]["detail"]
    assert result.returncode == (0 if json.loads(result.stdout)["ok"] else 1)
    human = run_cli(["doctor"])
    assert human.returncode == result.returncode and "models" in human.stdout


def test_a_broken_config_and_a_missing_landmark_file_fail_with_the_fix(isolated_config: Path, tmp_path: Path) -> None:
    isolated_config.write_text("[face]\nsmoothing_seconds = 'soon'\n")
    result = run_cli(["doctor"])
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    failing = [i for i, line in enumerate(lines) if line.startswith("FAIL")]
    assert len(failing) == 1 and "face.smoothing_seconds" in lines[failing[0]]
    assert lines[failing[0] + 1].strip().startswith("fix: emotion-overlay config")
    isolated_config.write_text(f"[face]\nlandmarks = '{tmp_path / 'nowhere.dat'}'\n")
    checks = checks_of(run_cli(["doctor", "--json"]).stdout)
    assert checks["landmarks"]["status"] == "fail" and "libdlib-data" in checks["landmarks"]["fix"]


def test_a_session_folder_others_can_read_is_flagged(isolated_sessions: Path) -> None:
    isolated_sessions.chmod(0o755)
    check = checks_of(run_cli(["doctor", "--json"]).stdout)["data folder"]
    assert check["status"] == "warn" and check["fix"] == f"chmod 700 {isolated_sessions}"
