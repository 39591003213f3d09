"""Every registered sink, source, face detector and batch engine keeps its contract (as
pyvirtualcam's tests run over BACKENDS).

A sink either opens and then takes frames (or readings) and closes twice without harm, or
it cannot open here and says why in one line; the registry is what the config and the
command line offer. A camera value goes to the source that claims it. A face detector finds
the face in a real frame and fits 68 points inside it.
"""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from overlay.analysis.engines import ENGINES
from overlay.config import Config, ConfigError, load_config
from overlay.errors import OverlayError
from overlay.face.detect import DETECTORS, open_detector
from overlay.face.dlib import DEFAULT_LANDMARKS_PATH
from overlay.render.draw import OverlayState
from overlay.sinks.base import SINKS, SinkContext, open_sink
from overlay.sources.base import SOURCES, SourceContext, open_camera
from overlay.sources.video_file import VideoFileSource
from tests.conftest import run_cli
from tests.fakes import make_clip


def _events(kind: str, detail: str) -> None:
    pass


@pytest.mark.parametrize("name", list(SINKS))
def test_each_sink_opens_takes_its_input_and_closes_twice_or_says_why_in_one_line(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OBS_WEBSOCKET_PASSWORD", "")
    config = Config()
    config = dataclasses.replace(
        config,
        output=dataclasses.replace(config.output, file=str(tmp_path / "out.mp4")),
        obs=dataclasses.replace(config.obs, port=1),  # nothing listens there
    )
    try:
        sink = open_sink(name, SinkContext(config, 320, 240, 25.0, _events))
    except OverlayError as err:
        assert str(err) and "\n" not in str(err)
        return
    frame = np.zeros((240, 320, 3), np.uint8)
    for _ in range(3):
        if SINKS[name].takes == "frames":
            sink.send(frame)  # type: ignore[union-attr]
        else:
            sink.show(OverlayState())  # type: ignore[union-attr]
    sink.close()
    sink.close()
    if name == "file":
        capture = cv2.VideoCapture(str(tmp_path / "out.mp4"))
        assert capture.read()[0]


def test_the_sink_registry_is_what_the_config_and_the_command_line_offer(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    for name, spec in SINKS.items():
        assert hasattr(importlib.import_module(spec.module), "open_sink")
        path.write_text(f'[output]\nsinks = ["{name}"]\n')
        assert load_config(path).output.sinks == (name,)
    path.write_text('[output]\nsinks = ["fax"]\n')
    with pytest.raises(ConfigError, match="a list of " + ", ".join(SINKS)):
        load_config(path)
    usage = run_cli(["run", "--help"]).stdout
    assert "{" + ",".join(SINKS) + "}" in usage.replace("\n", "").replace(" ", "")


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("obs:Video Capture Device", "obs"),
        ("talk.mp4", "file"),
        ("clip.MOV", "file"),
        ("0", "camera"),
        ("Logi", "camera"),
    ],
)
def test_each_camera_value_goes_to_the_source_that_claims_it(value: str, kind: str) -> None:
    claimed = next(name for name, module in SOURCES if importlib.import_module(module).claims(value))
    assert claimed == kind


def test_a_video_file_opens_through_the_registry_and_closes_twice(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "a.mp4", frames=5)
    source = open_camera(str(clip), SourceContext(Config(), loop=False, on_event=_events))
    assert isinstance(source, VideoFileSource)
    frame = source.read()
    assert frame is not None and frame.image.shape == (source.height, source.width, 3)
    source.close()
    source.close()


@pytest.mark.parametrize("name", list(DETECTORS))
def test_each_face_detector_finds_the_face_and_fits_68_points_inside_it(name: str, shared_data: Path) -> None:
    if name == "dlib" and not DEFAULT_LANDMARKS_PATH.is_file():
        pytest.skip(f"{DEFAULT_LANDMARKS_PATH} absent (Debian package libdlib-data)")
    detector, fitter = open_detector(name, None)
    with VideoFileSource(shared_data / "video" / "talking" / "1.mp4", paced=False) as source:
        frame = source.read()
    assert frame is not None
    gray = np.asarray(cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
    scale = 320 / gray.shape[1]
    small = np.asarray(cv2.resize(gray, (320, round(gray.shape[0] * scale)), interpolation=cv2.INTER_AREA), np.uint8)
    boxes = detector.detect(small)
    assert len(boxes) == 1
    cx, cy, side = (v / scale for v in boxes[0])
    points = fitter.fit(gray, cx, cy, side)
    assert points.shape == (68, 2) and points.dtype == np.float32
    assert np.all(np.abs(points - (cx, cy)) < side)  # inside (about) the box it was given
    assert detector.detect(np.zeros_like(small)) == []


@pytest.mark.parametrize("name", list(ENGINES))
def test_each_engine_gives_one_outcome_per_file_and_closes_twice_or_says_why_in_one_line(
    name: str, tmp_path: Path
) -> None:
    """Without --address the Ray engine starts a cluster of this machine's own (and stops it)."""
    from overlay.analysis.batch import FAILED, OK, FileJob
    from overlay.analysis.engines import EngineOptions, open_engine
    from overlay.analysis.recordings import AnalyzeSettings
    from tests.media import write_silent_clip

    settings = AnalyzeSettings(timeline_folder=tmp_path / "sessions")
    jobs = [FileJob(write_silent_clip(tmp_path / "quiet.mp4", seconds=1.0)), FileJob(tmp_path / "missing.mp4")]
    try:
        engine = open_engine(name, EngineOptions(settings, workers=2))
    except OverlayError as err:
        assert str(err) and "\n" not in str(err)
        return
    try:
        outcomes = {Path(o.file).name: o.status for o in engine.run(jobs)}
    finally:
        engine.close()
        engine.close()
    assert outcomes == {"quiet.mp4": OK, "missing.mp4": FAILED}
    assert len(list((tmp_path / "sessions").glob("quiet-*.sqlite"))) == 1
