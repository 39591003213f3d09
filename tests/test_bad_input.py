"""Bad input a careful user tries: each gets one clear line (never a traceback), and nothing is lost."""

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from overlay.session.review_server import ReviewServer
from tests.conftest import run_cli
from tests.fakes import make_clip
from tests.media import write_wav
from tests.sessions_data import write_session


def one_error_line(result: subprocess.CompletedProcess[str], code: int = 1) -> str:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, result.stderr
    return errors[0]


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--smoothing", "-1"], "--smoothing must be >= 0, not -1.0"),
        (["--seconds", "0"], "more than 0 seconds"),
        (["--seconds", "-1"], "more than 0 seconds, got -1"),
        (["--width", "100000"], "--width must be 16 to 7680, not 100000"),
        (["--height", "0"], "--height must be 16 to 7680, not 0"),
        (["--fps", "fast"], "expected a whole number, got 'fast'"),
        (["--obs-port", "70000"], "--obs-port must be 1 to 65535, not 70000"),
        (["--obs-elements", "label,mood"], "--obs-elements must be a list of label"),
    ],
)
def test_impossible_run_flags_are_refused_at_once(tmp_path: Path, flags: list[str], said: str) -> None:
    clip = make_clip(tmp_path / "clip.mp4")
    started = time.monotonic()
    result = run_cli(["run", "--camera", str(clip), "--sink", "file", "--out", str(tmp_path / "o.mp4"), *flags])
    assert said in one_error_line(result, code=2)
    assert time.monotonic() - started < 20 and not (tmp_path / "o.mp4").exists()


def test_run_never_overwrites_its_input_nor_an_existing_file_without_force(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mp4", frames=30, size=(160, 120))
    original = clip.read_bytes()
    link = tmp_path / "same-file.mp4"
    link.hardlink_to(clip)  # the same file under another name: refused by inode, not by string
    for out in (clip, link):
        for force in ([], ["--force"]):
            result = run_cli(
                ["run", "--camera", str(clip), "--sink", "file", "--out", str(out), "--mic", "off", *force]
            )
            assert "is the input video itself" in one_error_line(result)
    assert clip.read_bytes() == original
    existing = tmp_path / "earlier.mp4"
    existing.write_bytes(b"an earlier recording")
    common = ["run", "--camera", str(clip), "--sink", "file", "--out", str(existing), "--mic", "off"]
    assert "already exists; pass --force" in one_error_line(run_cli(common))
    assert existing.read_bytes() == b"an earlier recording"
    replaced = run_cli([*common, "--force"])
    assert replaced.returncode == 0, replaced.stderr
    assert existing.stat().st_size > 1000


def test_unusable_videos_are_named_for_what_they_are(tmp_path: Path) -> None:
    tiny = tmp_path / "tiny.mp4"
    with av.open(str(tiny), "w") as container:  # a 2x2 clip (the smallest an encoder takes)
        stream = container.add_stream("mpeg4", rate=25)
        stream.width = stream.height = 2
        stream.pix_fmt = "yuv420p"
        for _ in range(5):
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.zeros((2, 2, 3), np.uint8), format="bgr24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    out = str(tmp_path / "o.mp4")
    result = run_cli(["run", "--camera", str(tiny), "--sink", "file", "--out", out])
    assert "too small to hold a face" in one_error_line(result)
    folder = tmp_path / "recordings.mp4"
    folder.mkdir()
    assert "is a folder" in one_error_line(run_cli(["run", "--camera", str(folder), "--sink", "file", "--out", out]))


def test_a_video_whose_header_says_a_thousandth_of_a_frame_a_second_is_refused_quickly(tmp_path: Path) -> None:
    slow = tmp_path / "slow.mp4"
    with av.open(str(slow), "w") as container:
        stream = container.add_stream("mpeg4", rate=Fraction(1, 1000))
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i in range(5):
            frame = av.VideoFrame.from_ndarray(np.full((120, 160, 3), 40 * i, np.uint8), format="bgr24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    started = time.monotonic()
    result = run_cli(["run", "--camera", str(slow), "--sink", "file", "--out", str(tmp_path / "o.mp4")])
    assert "frames a second" in one_error_line(result)
    assert time.monotonic() - started < 30


def test_config_problems_are_one_line(isolated_config: Path, tmp_path: Path) -> None:
    isolated_config.write_text("[obs]\nport = 99999\n")
    assert "obs.port must be 1 to 65535" in one_error_line(run_cli(["run", "--sink", "obs"]))
    missing = tmp_path / "nowhere.toml"
    result = run_cli(["--config", str(missing), "run", "--sink", "file"])
    assert "no such config file" in one_error_line(result)


def test_eval_refuses_negative_text_labels_and_skips_unscorable_audio(shared_data: Path, tmp_path: Path) -> None:
    tsv = tmp_path / "dev.tsv"
    tsv.write_text("I am thrilled\t17\tx1\nthis is awful\t-1\tx2\n")
    assert "label ids must be numbers 0-27" in one_error_line(run_cli(["eval", "text", "--data", str(tsv)]))
    voices = tmp_path / "voices"
    voices.mkdir()
    good = next((shared_data / "ravdess_speech" / "Actor_01").glob("*.flac"))
    shutil.copy(good, voices / good.name)
    write_wav(voices / "03-01-05-01-01-01-02.wav", np.zeros(1, np.float32))  # one sample
    write_wav(voices / "03-01-04-01-01-01-03.wav", np.zeros(16_000 * 3, np.float32))  # three silent seconds
    result = run_cli(["eval", "voice", "--data", str(voices), "--json"])
    assert result.returncode == 0, result.stderr
    assert '"n": 1' in result.stdout


def test_review_opens_sessions_named_with_spaces_and_accents(isolated_sessions: Path) -> None:
    session_id = "2026-11-25_20-31-07_Übung mit Leerzeichen"
    write_session(isolated_sessions, session_id)
    with ReviewServer(isolated_sessions) as server:
        url = f"{server.base_url}api/sessions/{urllib.parse.quote(session_id)}?token={server.token}"
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.status == 200 and b"utterances" in response.read()


def test_analyze_messages_speak_of_files_not_cameras(tmp_path: Path) -> None:
    result = run_cli(["analyze", str(tmp_path / "missing.mp4")])
    line = one_error_line(result)
    assert "missing.mp4" in line and "--camera" not in line


def test_export_to_dash_writes_standard_output(isolated_sessions: Path, tmp_path: Path) -> None:
    write_session(isolated_sessions)
    result = subprocess.run(
        [sys.executable, "-m", "overlay", "export", "latest", "--format", "json", "--out", "-"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.lstrip().startswith("{") and not (tmp_path / "-").exists()


def test_run_on_a_sound_only_file_says_it_has_no_picture_and_what_to_do(tmp_path: Path) -> None:
    sound = tmp_path / "voice.wav"
    with wave.open(str(sound), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        tone = (0.3 * np.sin(2 * np.pi * 220 * np.arange(32_000) / 16_000) * 32767).astype("<i2")
        out.writeframes(tone.tobytes())
    result = run_cli(["run", "--camera", str(sound), "--sink", "file", "--out", str(tmp_path / "o.mp4")])
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "has no picture, only sound" in lines[0] and "emotion-overlay analyze" in lines[0]
    assert "corrupt" not in lines[0]


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_analyze_refuses_a_pipe_or_a_device_in_one_line_instead_of_reading_it_forever(
    kind: str, tmp_path: Path
) -> None:
    target = Path("/dev/zero")
    if kind == "fifo":
        target = tmp_path / "pipe.mp4"
        os.mkfifo(target)
    started = time.monotonic()
    result = run_cli(["analyze", str(target), "--json"])
    assert time.monotonic() - started < 60
    assert result.returncode == 1
    (row,) = [json.loads(line) for line in result.stdout.splitlines()][:-1]
    assert row["status"] == "failed" and "not a regular file" in row["error"]


@pytest.mark.parametrize("command", [["status"], ["run", "--seconds", "1"], ["start"]])
def test_a_state_folder_that_cannot_be_made_is_one_line(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("EMOTION_OVERLAY_RUNTIME", str(blocker / "state"))
    result = run_cli(command)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "the state folder" in lines[0] and "Traceback" not in result.stderr, result.stderr


def test_doctor_reports_a_state_folder_that_cannot_be_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("EMOTION_OVERLAY_RUNTIME", str(blocker / "state"))
    result = run_cli(["doctor", "--json"])
    assert "Traceback" not in result.stderr
    checks = {check["name"]: check for check in json.loads(result.stdout)["checks"]}
    assert checks["state folder"]["status"] == "fail" and "cannot be made" in checks["state folder"]["detail"]


def test_output_names_that_say_another_format_are_refused(shared_data: Path, tmp_path: Path) -> None:
    clip = str(shared_data / "video" / "talking" / "1.mp4")
    for name in ("o.avi", "o.txt"):
        line = one_error_line(run_cli(["run", "--camera", clip, "--sink", "file", "--out", str(tmp_path / name)]))
        assert "name ending in .mp4" in line
        assert not (tmp_path / name).exists()
    line = one_error_line(run_cli(["analyze", clip, "--summary", str(tmp_path / "summary.xlsx")]))
    assert ".csv or .parquet" in line and not (tmp_path / "summary.xlsx").exists()


def test_an_empty_session_file_is_called_empty(isolated_sessions: Path) -> None:
    (isolated_sessions / "blank.sqlite").write_bytes(b"")
    line = one_error_line(run_cli(["export", "blank", "--format", "csv", "--out", "-"]))
    assert "an empty file" in line and "SQLite" not in line
    assert (isolated_sessions / "blank.sqlite").stat().st_size == 0  # left untouched


def test_a_config_that_is_not_utf8_is_told_so(isolated_config: Path) -> None:
    isolated_config.write_bytes('[camera]\ndevice = "caméra"\n'.encode("latin-1"))
    line = one_error_line(run_cli(["config", "show"]))
    assert "not UTF-8" in line and "permissions" not in line


def test_a_wrong_file_given_to_models_pull_is_left_as_it_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMOTION_OVERLAY_MODELS", str(tmp_path / "models"))
    mine = tmp_path / "vosk.zip"
    mine.write_bytes(b"not the model" * 100)
    line = one_error_line(run_cli(["models", "pull", "vosk-model-small-en-us-0.15", "--file", str(mine)]))
    assert "deleted" not in line and "nothing was installed" in line
    assert mine.read_bytes() == b"not the model" * 100
