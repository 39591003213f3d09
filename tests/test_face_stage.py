"""The face stage on real talking clips: faces, expressions and blink state per frame."""

from pathlib import Path

import numpy as np
import pytest

from overlay.face.blinks import BlinkEvent
from overlay.face.dlib import DEFAULT_LANDMARKS_PATH
from overlay.face.stage import FaceStage
from overlay.sources.video_file import VideoFileSource

pytestmark = pytest.mark.skipif(not DEFAULT_LANDMARKS_PATH.is_file(), reason="libdlib-data not installed")


def test_talking_clip_gives_expressions_with_frame_timestamps(shared_data: Path) -> None:
    stage = FaceStage()
    results = []
    with VideoFileSource(shared_data / "video" / "talking" / "2.mp4", paced=False) as source:
        while (frame := source.read()) is not None and frame.index < 60:
            analysis = stage.analyze(frame)
            assert analysis.timestamp == frame.timestamp and analysis.frame_index == frame.index
            results.append(analysis)
    with_face = [r for r in results if r.expression is not None]
    assert len(with_face) >= 55
    for r in with_face:
        assert r.expression is not None and r.expression.shape == (7,)
        assert float(r.expression.sum()) == pytest.approx(1.0, abs=1e-4)
    # Smoothing: the displayed estimate moves less from frame to frame than the raw one.
    raw = np.array([r.raw_expression for r in with_face])
    smooth = np.array([r.expression for r in with_face])
    assert np.abs(np.diff(smooth, axis=0)).mean() < np.abs(np.diff(raw, axis=0)).mean()


def test_no_face_means_no_expression(shared_data: Path) -> None:
    stage = FaceStage()
    with VideoFileSource(shared_data / "video" / "face_presence" / "no_face.mp4", paced=False) as source:
        while (frame := source.read()) is not None and frame.index < 30:
            analysis = stage.analyze(frame)
            assert analysis.faces == () and analysis.expression is None


def test_blinks_on_a_real_clip_are_plausible(shared_data: Path) -> None:
    # Checked by eye: eye crops around each detected blink in this 8 s clip show a double
    # blink in its first 1.5 s (shut at 0.96 s and again at 1.32 s, half open between) and
    # two more blinks (at 4.5 s and 6.8 s), and no other closing.
    stage = FaceStage()
    events: list[BlinkEvent] = []
    with VideoFileSource(shared_data / "video" / "talking" / "WDA_KatieHill_000.mp4", paced=False) as source:
        fps = source.fps
        while (frame := source.read()) is not None:
            timed = type(frame)(frame.image, frame.index / fps, frame.index)  # clip time, not decode time
            events += stage.analyze(timed).blink_events
    assert [e.kind for e in events] == ["blink"] * 4
    assert [round(e.start, 1) for e in events] == pytest.approx([0.9, 1.3, 4.5, 6.8], abs=0.2)


def test_a_4k_frame_is_tracked_on_a_smaller_copy_and_reported_in_frame_pixels(shared_data: Path) -> None:
    """A 4K camera: analysis works on a scaled copy, faces still land where they are in the picture."""
    import cv2

    from overlay.face.stage import ANALYSIS_MAX_SIDE
    from overlay.records import VideoFrame

    with VideoFileSource(shared_data / "video" / "talking" / "2.mp4", paced=False) as source:
        frame = source.read()
    assert frame is not None
    scale = 3840 / frame.image.shape[1]
    big = np.asarray(cv2.resize(frame.image, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC), dtype=np.uint8)
    assert max(big.shape[:2]) > ANALYSIS_MAX_SIDE
    small_result = FaceStage().analyze(frame)
    big_result = FaceStage().analyze(VideoFrame(big, frame.timestamp, frame.index))
    assert small_result.faces and big_result.faces
    assert big_result.expression is not None and small_result.expression is not None
    small_box = np.array(small_result.faces[0].box, dtype=float) * scale
    assert np.abs(np.array(big_result.faces[0].box) - small_box).max() < 0.06 * 3840 * 0.25  # same face, same place
    assert int(np.argmax(big_result.expression)) == int(np.argmax(small_result.expression))
