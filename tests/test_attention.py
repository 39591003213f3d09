"""Eyes and head in the product: the face stage reads head pose and eye contact, a look away
(or the face leaving) over a second is one event, the session sums it up, `run --calibrate`
calibrates eye contact and keeps it, and the analysis of a real clip records it all."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest

from overlay.attention.calibration_store import load_calibration
from overlay.face.stage import FaceAnalysis, FaceStage
from overlay.records import VideoFrame
from overlay.render.draw import OverlaySettings, OverlayState
from overlay.render.layouts import Renderer
from overlay.render.state import attention_line
from overlay.session.reading import read_session
from overlay.session.recorder import SessionRecorder
from overlay.session.summary import summarize
from overlay.session.timeline import TimelineWriter
from tests.conftest import run_cli


def _frames(clip: Path, seconds: float) -> list[npt.NDArray[np.uint8]]:
    with av.open(str(clip)) as container:
        rate = float(container.streams.video[0].average_rate or 25)
        images = []
        for frame in container.decode(video=0):
            images.append(frame.to_ndarray(format="bgr24"))
            if len(images) >= seconds * rate:
                break
    return images


def test_a_face_that_leaves_for_two_seconds_is_one_look_away_in_the_session(shared_data: Path, tmp_path: Path) -> None:
    clip = _frames(shared_data / "video" / "talking" / "3.mp4", 1.5)
    empty = np.zeros_like(clip[0])
    fps = 25.0
    sequence = [*clip, *([empty] * int(2 * fps)), *clip]
    stage = FaceStage()
    path = tmp_path / "s.sqlite"
    with TimelineWriter(path, {"kind": "test"}, origin=0.0) as writer:
        recorder = SessionRecorder(writer)
        for index, image in enumerate(sequence):
            result = stage.analyze(VideoFrame(image, index / fps, index))
            recorder.face(result, image)
            if index == len(clip) // 2:
                assert result.head is not None and result.eye_contact is not None
                assert abs(result.head.yaw) < 25 and result.eye_contact.probability > 0.5  # she faces the camera
        recorder.looked_away(stage.finish())
    session = read_session(path)
    away = [e for e in session.events if e.kind == "looked_away"]
    assert len(away) == 1 and "face lost" in away[0].detail
    assert away[0].t == pytest.approx(len(clip) / fps, abs=0.1)
    attention = summarize(session).attention
    assert attention is not None and attention.looked_away == 1
    assert attention.looked_away_s == pytest.approx(2.0, abs=0.2)
    expected_present = 2 * len(clip) / len(sequence)
    assert attention.face_present_share == pytest.approx(expected_present, abs=0.08)
    assert attention.eye_contact_share is not None and attention.eye_contact_share > 0.8


def test_analyze_records_eyes_and_head_and_sums_them_up(shared_data: Path, tmp_path: Path) -> None:
    result = run_cli(["analyze", str(shared_data / "video" / "talking" / "3.mp4"), "--out", str(tmp_path), "--json"])
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stdout.strip().splitlines()[0])  # the file's line (the batch's summary follows)
    attention = line["attention"]
    assert attention["face_present_share"] > 0.95 and attention["eye_contact_share"] > 0.8
    assert attention["looked_away"] == 0 and 0 < attention["head_movement_deg"] < 20
    session = read_session(Path(line["timeline"]))
    rows = session.attention
    assert 8 * session.duration_s <= len(rows) <= 10 * session.duration_s + 1  # up to 10 a second (25 fps: 8.3)
    assert np.nanmax(np.abs(rows.yaw)) < 30 and not np.isnan(rows.eye_contact).all()


def test_run_calibrate_makes_a_private_calibration_that_later_runs_use(
    shared_data: Path, tmp_path: Path, isolated_calibration: Path, isolated_sessions: Path
) -> None:
    clip = shared_data / "video" / "talking" / "3.mp4"
    base = ["run", "--camera", str(clip), "--mic", "off", "--sink", "file", "--width", "640", "--height", "360"]
    result = run_cli([*base, "--out", str(tmp_path / "a.mp4"), "--calibrate", "--seconds", "4.5"])
    assert result.returncode == 0, result.stderr
    assert "look into the camera for 3 s" in result.stderr and "eye contact calibrated" in result.stderr
    assert stat.S_IMODE(isolated_calibration.stat().st_mode) == 0o600
    calibration = load_calibration()
    assert calibration is not None and calibration.frames >= 10
    assert calibration.probability_after >= calibration.probability_before  # it moves her toward eye contact
    sessions = sorted(isolated_sessions.glob("*.sqlite"))
    events = [e.kind for e in read_session(sessions[-1]).events]
    assert "eye_contact_calibrated" in events
    # A damaged calibration costs only the calibration: one warning, the run goes on.
    isolated_calibration.write_text("{not json", encoding="utf-8")
    again = run_cli([*base, "--out", str(tmp_path / "b.mp4"), "--seconds", "1"])
    assert again.returncode == 0, again.stderr
    assert "calibration cannot be used" in again.stderr and "Traceback" not in again.stderr


def _analysis(looking: bool | None, away_since: float | None = None, calibrating: bool = False) -> FaceAnalysis:
    from overlay.attention.eye_contact import LookAwayState
    from tests.fakes import HAPPY, NO_BLINKS

    state = LookAwayState(looking=looking, share=0.5, counted_s=10.0, away_since=away_since)
    return FaceAnalysis(10.0, 250, (), HAPPY, HAPPY, NO_BLINKS, (), attention=state, calibrating=calibrating)


def test_the_cue_says_eye_contact_or_how_long_the_look_away_has_lasted() -> None:
    assert attention_line(_analysis(True)) == "eye contact"
    assert attention_line(_analysis(False, away_since=7.6)) == "looking away 2 s"
    assert attention_line(_analysis(False, away_since=9.5)) == ""  # a glance: not yet a look away
    assert attention_line(_analysis(None)) == "" and attention_line(None) == ""
    assert attention_line(_analysis(True, calibrating=True)) == "calibrating: look into the camera"


def test_the_compact_card_shows_the_cue_only_when_asked_and_the_detailed_layout_shows_it() -> None:
    picture = np.full((720, 1280, 3), 90, np.uint8)
    state = OverlayState(analysis_on=True, attention="looking away 3 s")
    plain = Renderer("compact", OverlaySettings()).draw(picture, OverlayState(analysis_on=True))
    assert np.array_equal(Renderer("compact", OverlaySettings()).draw(picture, state), plain)  # off by default
    cued = Renderer("compact", OverlaySettings(compact_attention=True)).draw(picture, state)
    assert np.any(cued != plain)
    detailed = Renderer("detailed", OverlaySettings())
    detailed.draw(picture, state)
    assert "attention" in detailed.detailed_boxes
