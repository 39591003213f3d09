"""Frames for analysis from a source in a real OBS (`--camera obs:SOURCE`), and the whole live path through OBS."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest

from overlay.face.dlib import DEFAULT_LANDMARKS_PATH
from overlay.obs.connection import ObsAddress, ObsConnection, ObsError
from overlay.obs.scene import remove_overlay, source_name
from overlay.session.store import SUFFIX
from overlay.sources.obs_source import ObsFrameSource
from overlay.sources.reconnecting import ReconnectingSource
from tests.obs import ObsInstance, start_obs_or_skip, wait_until

needs_landmarks = pytest.mark.skipif(not DEFAULT_LANDMARKS_PATH.is_file(), reason="libdlib-data not installed")
FACE_SOURCE = "Face Camera"


@pytest.fixture(scope="module")
def obs() -> Iterator[ObsInstance]:
    instance = start_obs_or_skip()
    yield instance
    instance.close()


@pytest.fixture
def address(obs: ObsInstance) -> ObsAddress:
    obs.start()
    return ObsAddress("127.0.0.1", obs.port, obs.password)


@pytest.fixture(scope="module")
def face_picture(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A frame of a talking clip (700x700, one face) as a picture OBS can show."""
    capture = cv2.VideoCapture(str(shared_data / "video" / "talking" / "1.mp4"))
    capture.set(cv2.CAP_PROP_POS_FRAMES, 30)
    ok, image = capture.read()
    assert ok
    path = tmp_path_factory.mktemp("obs-media") / "face.png"
    cv2.imwrite(str(path), image)
    return path


@pytest.fixture
def face_source(address: ObsAddress, face_picture: Path) -> Iterator[str]:
    """An image source in OBS's scene standing in for the webcam OBS owns."""
    with ObsConnection(address) as client:
        inputs = [i["inputName"] for i in client.request("GetInputList")["inputs"]]
        if FACE_SOURCE not in inputs:
            client.request(
                "CreateInput",
                sceneName="Scene",
                inputName=FACE_SOURCE,
                inputKind="image_source",
                inputSettings={"file": str(face_picture)},
                sceneItemEnabled=True,
            )
    yield FACE_SOURCE


@needs_landmarks
def test_frames_from_an_obs_source_reach_the_face_stage(address: ObsAddress, face_source: str) -> None:
    from overlay.face.stage import FaceStage

    source = ObsFrameSource(address, face_source, width=640, fps=10)
    try:
        assert (source.width, source.height) == (640, 640)  # 700x700 taken 640 wide, shape kept
        frames = [source.read() for _ in range(11)]
    finally:
        source.close()
    assert all(f is not None and f.image.shape == (640, 640, 3) for f in frames)
    images = [f.image for f in frames if f is not None]
    assert float(images[-1].std()) > 20  # a picture, not a black screen
    rate = (len(frames) - 1) / (frames[-1].timestamp - frames[0].timestamp)  # type: ignore[union-attr]
    assert 6 <= rate <= 11  # paced to the 10 frames/s asked for (and OBS keeps up with it)
    assert [f.index for f in frames if f is not None] == list(range(11))
    analysis = FaceStage().analyze(frames[-1])  # type: ignore[arg-type]
    assert len(analysis.faces) == 1 and analysis.expression is not None


def test_a_source_name_obs_does_not_have(address: ObsAddress, face_source: str) -> None:
    with pytest.raises(ObsError, match=r"OBS has no source named 'Webcam'; its sources are: .*'Face Camera'"):
        ObsFrameSource(address, "Webcam")


def test_obs_closing_and_coming_back_under_the_source(obs: ObsInstance, address: ObsAddress, face_source: str) -> None:
    source = ReconnectingSource(lambda: ObsFrameSource(address, face_source, fps=10), first_retry_s=0.2)
    try:
        first = source.read()
        assert first is not None and first.image.std() > 20
        obs.kill()
        frame = source.read()  # the lost frame: "camera unavailable" at the same size and rate
        assert frame is not None and frame.image.shape == first.image.shape and source.outages == 1
        obs.start()
        assert wait_until(lambda: _real(source.read()), timeout=20)
    finally:
        source.close()


def _real(frame: object) -> bool:
    return frame is not None and float(frame.image.std()) > 20  # type: ignore[attr-defined]


@needs_landmarks
def test_run_with_the_camera_and_the_overlay_in_obs(
    address: ObsAddress, face_source: str, tmp_path: Path, isolated_config: Path, isolated_sessions: Path
) -> None:
    """The whole live path through OBS: its source analysed, the reading shown in its scene, the password hidden."""
    isolated_config.write_text(f'[obs]\nport = {address.port}\npassword = "{address.password}"\n')
    out = tmp_path / "annotated.mp4"
    command = [sys.executable, "-m", "overlay", "run", "--camera", f"obs:{face_source}", "--mic", "off"]
    command += ["--sink", "obs", "--obs-layout", "detailed", "--sink", "file", "--out", str(out), "--seconds", "12"]
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=os.environ | env)
    seen: set[str] = set()
    try:
        with ObsConnection(address) as client:

            def labelled() -> bool:
                try:
                    text = client.request("GetInputSettings", inputName=source_name("label"))["inputSettings"]
                except ObsError:
                    return False
                seen.add(str(text.get("text", "")))
                return any(seen - {""})

            assert wait_until(labelled, timeout=40, every=0.25), seen
            _, stderr = process.communicate(timeout=60)
        # Cleaned up over a new connection: once (in ~20 runs) the one above, idle while the
        # run ended, was found closed; what this test checks is the run, not that connection.
        with ObsConnection(address) as client:
            remove_overlay(client)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    analyses = float(stderr.split(" analyses/s")[0].rsplit(" ", 1)[-1].strip("("))
    assert analyses > 1
    assert any(
        label.split()[0] in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral") for label in seen - {""}
    )
    assert cv2.VideoCapture(str(out)).read()[0]
    assert (tmp_path / "cache" / "emotion-overlay" / "obs" / "bars.png").is_file()
    session = next(isolated_sessions.glob(f"*{SUFFIX}"))
    with sqlite3.connect(session) as db:
        stored = dict(db.execute("SELECT key, value FROM meta").fetchall())
    settings = json.loads(stored["session"])["settings"]
    assert settings["obs"]["password"] == "********" and address.password not in json.dumps(stored)
    assert json.loads(stored["session"])["source"] == f"obs:{face_source}"
