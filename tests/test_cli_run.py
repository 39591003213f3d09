"""`emotion-overlay run` as a user starts it, with a video file as the camera."""

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import cv2
import pytest

from overlay.face.dlib import DEFAULT_LANDMARKS_PATH
from tests.conftest import run_cli

needs_landmarks = pytest.mark.skipif(not DEFAULT_LANDMARKS_PATH.is_file(), reason="libdlib-data not installed")


@needs_landmarks
def test_annotated_file_from_a_talking_clip(shared_data: Path, tmp_path: Path) -> None:
    clip = shared_data / "video" / "talking" / "2.mp4"
    out = tmp_path / "annotated.mp4"
    result = run_cli(
        ["run", "--camera", str(clip), "--sink", "file", "--out", str(out), "--width", "640", "--height", "360"]
    )
    assert result.returncode == 0, result.stderr
    capture = cv2.VideoCapture(str(out))
    with av.open(str(out)) as written:  # counted, not estimated from the length (the sound is a little longer)
        assert written.streams.video[0].codec_context.name == "h264"
        frames = sum(1 for _ in written.decode(video=0))
    source_frames = int(cv2.VideoCapture(str(clip)).get(cv2.CAP_PROP_FRAME_COUNT))
    ok, first = capture.read()
    assert ok and first.shape == cv2.VideoCapture(str(clip)).read()[1].shape  # the file keeps the clip's size
    # Every input frame went out, none waited for analysis; a busy machine's hiccup (over
    # 0.25 s) makes the file skip the frames that are already late, and the last line says so.
    late = re.search(r"(\d+) late frames of the file skipped", result.stderr)
    skipped = int(late.group(1)) if late else 0
    assert frames + skipped == source_frames and skipped <= 10, result.stderr
    assert "analyses/s" in result.stderr


@needs_landmarks
def test_sigterm_stops_within_a_second(shared_data: Path, tmp_path: Path) -> None:
    clip = shared_data / "video" / "talking" / "1.mp4"
    command = [sys.executable, "-m", "overlay", "run", "--camera", str(clip), "--loop"]
    command += ["--sink", "file", "--out", str(tmp_path / "o.mp4")]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    _wait_until_frames_are_written(tmp_path / "o.mp4")  # running, not still loading its models
    time.sleep(1)
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=10)
    assert time.monotonic() - sent < 1.5
    assert process.returncode == 0, stderr
    assert cv2.VideoCapture(str(tmp_path / "o.mp4")).read()[0]  # the file was closed properly


def _wait_until_frames_are_written(video: Path, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not (video.exists() and video.stat().st_size > 0):
        assert time.monotonic() < deadline, f"no frames written to {video} in {timeout_s} s"
        time.sleep(0.1)


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_missing_video_file(tmp_path: Path) -> None:
    result = run_cli(["run", "--camera", str(tmp_path / "none.mp4"), "--sink", "file"])
    assert result.returncode == 1
    assert "no such video file" in _one_line(result.stderr)


def test_corrupt_video_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(5000))
    result = run_cli(["run", "--camera", str(bad), "--sink", "file", "--out", str(tmp_path / "o.mp4")])
    assert result.returncode == 1
    assert "not a readable video" in _one_line(result.stderr)


def test_absent_camera_index(tmp_path: Path) -> None:
    result = run_cli(["run", "--camera", "7", "--sink", "file", "--out", str(tmp_path / "o.mp4")])
    assert result.returncode == 1
    assert "camera 7 could not be opened" in _one_line(result.stderr)


def test_missing_landmark_file(tmp_path: Path) -> None:
    result = run_cli(["run", "--camera", "0", "--landmarks", str(tmp_path / "x.dat")])
    assert result.returncode == 1
    assert "libdlib-data" in _one_line(result.stderr)


@needs_landmarks
def test_missing_virtual_camera_explains_the_setup(shared_data: Path) -> None:
    result = run_cli(["run", "--camera", str(shared_data / "video" / "talking" / "1.mp4"), "--sink", "vcam"])
    assert result.returncode == 1
    assert "installer/linux/virtual-camera.sh" in _one_line(result.stderr)


def _frame(path: Path, index: int) -> "cv2.typing.MatLike":
    capture = cv2.VideoCapture(str(path))
    capture.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, frame = capture.read()
    assert ok, path
    return frame


@needs_landmarks
def test_overlay_elements_switch_off_in_the_config(shared_data: Path, tmp_path: Path, isolated_config: Path) -> None:
    clip = shared_data / "video" / "talking" / "3.mp4"
    isolated_config.write_text(
        "[overlay]\nface_boxes = false\nexpression_bars = false\nblinks = false\nindicator = false\nvoice = false\n"
        "fused = false\ncaptions = false\n"
    )
    bare = tmp_path / "bare.mp4"
    assert (
        run_cli(["run", "--camera", str(clip), "--sink", "file", "--out", str(bare), "--seconds", "1"]).returncode == 0
    )
    isolated_config.write_text("")
    drawn = tmp_path / "drawn.mp4"
    assert (
        run_cli(["run", "--camera", str(clip), "--sink", "file", "--out", str(drawn), "--seconds", "1"]).returncode == 0
    )
    late = 20  # by then the first analysis is on screen
    source = _frame(clip, late).astype(int)

    def changed_share(video: Path) -> float:
        """The share of pixels drawn over (changed by more than coding noise)."""
        return float((abs(_frame(video, late).astype(int) - source).max(axis=2) > 40).mean())

    assert changed_share(bare) < 0.005  # nothing drawn: only coding noise
    assert changed_share(drawn) > 0.03  # panels placed around the face


def test_an_output_that_cannot_open_leaves_the_others(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    out = tmp_path / "o.mp4"
    clip = shared_data / "video" / "talking" / "1.mp4"
    result = run_cli(
        ["run", "--camera", str(clip), "--sink", "preview", "--sink", "file", "--out", str(out), "--seconds", "1"]
    )
    assert result.returncode == 0, result.stderr
    assert "no display for the preview window" in result.stderr and "going on with the other outputs" in result.stderr
    assert cv2.VideoCapture(str(out)).read()[0]


@needs_landmarks
def test_a_video_without_sound_runs_with_voice_off(tmp_path: Path) -> None:
    import av
    import numpy as np

    silent = tmp_path / "silent.mp4"
    with av.open(str(silent), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height = 320, 240
        for i in range(25):
            frame = av.VideoFrame.from_ndarray(np.full((240, 320, 3), 90, np.uint8), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    out = tmp_path / "o.mp4"
    result = run_cli(["run", "--camera", str(silent), "--sink", "file", "--out", str(out)])
    assert result.returncode == 0, result.stderr
    assert "has no audio track, so voice and words are off" in result.stderr and "voice off" in result.stderr
    assert cv2.VideoCapture(str(out)).read()[0]


@needs_landmarks
def test_a_talking_clip_is_heard_as_well_as_seen(shared_data: Path, tmp_path: Path) -> None:
    clip = shared_data / "video" / "talking" / "2.mp4"
    result = run_cli(["run", "--camera", str(clip), "--sink", "file", "--out", str(tmp_path / "o.mp4")])
    assert result.returncode == 0, result.stderr
    summary = result.stderr.strip().splitlines()[-1]
    windows = int(re.findall(r"(\d+) voice windows?\b", summary)[0])
    utterances = int(re.findall(r"(\d+) utterances?\b", summary)[0])
    assert windows >= 5 and utterances >= 1  # 5 s of speech: a window every 0.5 s after the first 2 s
    off = run_cli(["run", "--camera", str(clip), "--mic", "off", "--sink", "file", "--out", str(tmp_path / "p.mp4")])
    assert off.returncode == 0 and "voice off" in off.stderr


def test_a_run_that_fails_at_its_start_leaves_no_empty_out_file_behind(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.mp4"
    clip = str(shared_data / "video" / "talking" / "1.mp4")
    failed = run_cli(["run", "--camera", clip, "--sink", "file", "--out", str(out), "--recognizer", "vosk"])
    assert failed.returncode == 1
    line = _one_line(failed.stderr)
    assert "no Vosk model is installed" in line and "ModelError" not in line
    assert not out.exists()  # it would block the next run ("already exists")
    again = run_cli(["run", "--camera", clip, "--sink", "file", "--out", str(out), "--seconds", "2"])
    assert again.returncode == 0, again.stderr
    assert out.stat().st_size > 0
