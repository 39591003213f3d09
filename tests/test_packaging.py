"""The wheel carries everything: a non-editable install into a fresh venv evaluates, checks, analyses, exports."""

import json
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

from tests.conftest import REPO_ROOT, run_cli, write_image
from tests.fakes import make_clip
from tests.media import tone, write_wav


def test_the_installed_wheel_evaluates_checks_analyses_and_exports_on_its_own(tmp_path: Path) -> None:
    wheel_dir = tmp_path / "wheel"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheel_dir),
            str(REPO_ROOT),
        ],
        check=True,
        timeout=300,
    )
    (wheel,) = wheel_dir.glob("emotion_overlay-*.whl")

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    env_python = env_dir / "bin" / "python"
    # Dependencies come from this test environment (no network in tests); the project
    # itself only from the wheel. A path added by a .pth is not scanned for further .pth
    # files, so this environment's editable install of the project stays invisible.
    env_site = Path(
        subprocess.run(
            [str(env_python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (env_site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(env_python),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
        timeout=300,
    )

    where = subprocess.run(
        [
            str(env_python),
            "-c",
            "import overlay.models.bundled as m, asr; print(m.__file__); print(asr.__file__); "
            "print(m.bundled_model_path('face', 'face_expression.onnx')); "
            "print(m.bundled_model_path('voice', 'voice_emotion.onnx')); "
            "print(m.bundled_model_path('text', 'text_emotion.onnx')); "
            "print(m.bundled_model_path('text', 'text_tokenizer.json'))",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout.split()
    assert all(Path(p).is_relative_to(env_dir) for p in where), where

    faces = tmp_path / "faces"
    for i in range(3):
        write_image(faces / "happy" / f"{i}.png", seed=i)
    texts = tmp_path / "dev.tsv"
    texts.write_text("I am so happy for you\t17\tx1\nThis is disgusting\t11\tx2\n", encoding="utf-8")
    voices = tmp_path / "voices"
    voices.mkdir()
    for name in ("03-01-05-01-01-01-01.wav", "03-01-03-01-02-01-02.wav"):  # angry, happy
        write_wav(voices / name, tone(2.5, freq=220.0))

    for modality, data, rows in (("face", faces, 3), ("text", texts, 2), ("voice", voices, 2)):
        result = run_cli(
            ["eval", modality, "--data", str(data), "--json"],
            cwd=tmp_path,
            executable=[str(env_dir / "bin" / "emotion-overlay")],
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["n"] == rows, modality

    # The rest of what a user does first, from the installed wheel only: check the set-up,
    # analyse a short clip, and export the session as the self-contained HTML report (which
    # needs the review page and its charting library inside the wheel).
    installed = [str(env_dir / "bin" / "emotion-overlay")]
    doctor = run_cli(["doctor", "--json"], cwd=tmp_path, executable=installed)
    checks = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert checks["models"]["status"] == "ok", checks["models"]
    clip = make_clip(tmp_path / "clip.mp4", frames=30, fps=15.0, size=(320, 240))
    analyzed = run_cli(["analyze", str(clip), "--json"], cwd=tmp_path, executable=installed)
    assert analyzed.returncode == 0, analyzed.stderr
    session = json.loads(analyzed.stdout.splitlines()[0])["session"]
    report = tmp_path / "report.html"
    export = ["export", session, "--format", "html", "--out", str(report)]
    exported = run_cli(export, cwd=tmp_path, executable=installed)
    assert exported.returncode == 0, exported.stderr
    assert "uPlot" in report.read_text(encoding="utf-8")
    script = env_site / "overlay" / "obs_scripts" / "emotion_overlay_obs.py"  # for OBS > Tools > Scripts
    assert script.read_text(encoding="utf-8") == (REPO_ROOT / "obs_scripts" / "emotion_overlay_obs.py").read_text()
