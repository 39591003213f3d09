"""The overlay is drawn where it should be, at every common size, and switches off cleanly."""

import numpy as np
import numpy.typing as npt
import pytest

from overlay.face.blinks import BlinkState
from overlay.face.tracking import TrackedFace
from overlay.render.detailed import DetailedLayer, render
from overlay.render.draw import OverlaySettings, OverlayState
from overlay.render.placement import overlaps

PROBS = np.array([0.05, 0.02, 0.03, 0.7, 0.1, 0.05, 0.05], dtype=np.float32)
BLINK = BlinkState(ear=0.3, baseline=0.3, eyes_closed=False, blink_count=12, blinks_per_minute=17.0)


def grey_frame(width: int, height: int) -> npt.NDArray[np.uint8]:
    return np.full((height, width, 3), 128, dtype=np.uint8)


def state_with_face(width: int, height: int) -> OverlayState:
    box = (int(width * 0.6), int(height * 0.3), int(width * 0.2), int(height * 0.35))
    face = TrackedFace(box=box, landmarks=np.zeros((68, 2), np.float32), primary=True)
    return OverlayState(faces=(face,), expression=PROBS, blink=BLINK, analysis_on=True)


def changed(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    return np.asarray(np.any(a != b, axis=2), dtype=np.bool_)


@pytest.mark.parametrize(("width", "height"), [(640, 360), (1280, 720), (1920, 1080)])
def test_every_element_is_drawn_inside_the_frame_at_every_size(width: int, height: int) -> None:
    frame = grey_frame(width, height)
    out = render(frame, state_with_face(width, height), OverlaySettings())
    assert out.shape == frame.shape and out.dtype == np.uint8
    diff = changed(frame, out)
    assert diff[: height // 2, : width // 3].any()  # bars, top left
    assert diff[height - height // 8 :, : width // 3].any()  # blinks, bottom left
    assert diff[: height // 10, width - width // 4 :].any()  # indicator, top right
    # From 720 p up the bars panel scales with the frame (the same share of it); below, it keeps
    # a readable size instead (overlay.render.detailed.MIN_FONT_SCALE).
    share = diff[: height // 2, : width // 2].mean()
    assert 0.1 < share < 0.5 if height >= 720 else share > 0.5


def test_the_input_frame_is_left_untouched() -> None:
    frame = grey_frame(640, 360)
    before = frame.copy()
    render(frame, state_with_face(640, 360), OverlaySettings())
    np.testing.assert_array_equal(frame, before)


def test_switched_off_elements_are_not_drawn() -> None:
    frame = grey_frame(1280, 720)
    off = OverlaySettings(face_boxes=False, expression_bars=False, blinks=False, indicator=False)
    np.testing.assert_array_equal(render(frame, state_with_face(1280, 720), off), frame)


def test_mirrored_view_keeps_boxes_on_the_faces() -> None:
    frame = grey_frame(1280, 720)
    frame[200:450, 700:950] = 200  # a bright "face" where the box is
    state = OverlayState(faces=state_with_face(1280, 720).faces)
    only_boxes = OverlaySettings(expression_bars=False, blinks=False, indicator=False, mirror=True)
    out = render(frame, state, only_boxes)
    mirrored = frame[:, ::-1]
    diff = changed(mirrored, out)
    xs = np.nonzero(diff.any(axis=0))[0]
    x, _y, w, _h = state.faces[0].box
    assert xs.min() >= 1280 - x - w - 4 and xs.max() <= 1280 - x + 4


def test_paused_analysis_is_shown() -> None:
    frame = grey_frame(1280, 720)
    on = render(frame, OverlayState(analysis_on=True), OverlaySettings())
    paused = render(frame, OverlayState(analysis_on=False), OverlaySettings())
    assert changed(on, paused).any()


@pytest.mark.parametrize(("width", "height"), [(640, 360), (1920, 1080)])
def test_captions_wrap_inside_the_frame_at_the_bottom_clear_of_the_blink_line(width: int, height: int) -> None:
    from overlay.render.draw import Captions

    frame = grey_frame(width, height)
    long_line = "so the thing I wanted to say about the budget is that we really need to plan ahead " * 2
    state = OverlayState(captions=Captions(("hello there",), long_line, "pocketsphinx:en-us"))
    only = OverlaySettings(face_boxes=False, expression_bars=False, blinks=False, indicator=False)
    diff = changed(frame, render(frame, state, only))
    rows = np.flatnonzero(diff.any(axis=1))
    assert rows.min() > height // 2  # captions sit in the lower half
    assert rows.max() < height - int(height * 0.02)  # inside the margin
    assert (rows.max() - rows.min()) > 2 * int(34 * height / 720)  # more than one line: it wrapped
    off = OverlaySettings(face_boxes=False, expression_bars=False, blinks=False, indicator=False, captions=False)
    np.testing.assert_array_equal(render(frame, state, off), frame)  # switched off: nothing drawn
    with_blinks = DetailedLayer(OverlaySettings(face_boxes=False, expression_bars=False, indicator=False))
    with_blinks.draw(frame, OverlayState(captions=state.captions, blink=BLINK))
    assert not overlaps(with_blinks.boxes["captions"], with_blinks.boxes["blinks"])


@pytest.mark.parametrize(("width", "height"), [(640, 360), (640, 480), (700, 700), (1280, 720), (1920, 1080)])
def test_the_fused_reading_sits_top_right_clear_of_the_face_bars(width: int, height: int) -> None:
    from overlay.fusion import FusedState

    probabilities = np.array([0.05, 0.05, 0.05, 0.6, 0.05, 0.1, 0.1], np.float32)
    fused = FusedState(1.0, probabilities, "happy", 0.6, 0.5, 0.3, {"face": 0.7, "voice": 0.3}, ("face", "voice"))
    frame = grey_frame(width, height)
    layer = DetailedLayer(OverlaySettings(indicator=False))
    layer.draw(frame, OverlayState(expression=probabilities, fused=fused))
    x, y, w, _ = layer.boxes["fused"]
    assert x > width // 3 and x + w > width * 0.9 and y < height // 4  # top right
    assert not overlaps(layer.boxes["fused"], layer.boxes["face"])  # never over the bars
    without = render(frame, OverlayState(expression=probabilities), OverlaySettings(indicator=False))
    hidden = OverlaySettings(indicator=False, fused=False)
    off = render(frame, OverlayState(expression=probabilities, fused=fused), hidden)
    assert not np.any(changed(without, off))


def test_a_recordings_captions_follow_its_words_as_they_are_spoken() -> None:
    from asr.contract import Word
    from overlay.records import TextEstimate
    from overlay.render.state import captions_as_spoken

    said = np.full(7, 1 / 7, np.float32)
    words = (Word("my", 1.0, 1.2, 0.9), Word("biggest", 1.3, 1.8, 0.9), Word("weakness", 1.9, 2.5, 0.9))
    utterance = TextEstimate(1.0, 2.5, "my biggest weakness", said, "whisper:whisper-tiny.en", words)
    assert captions_as_spoken([utterance], 0.5, "w").partial == ""  # not yet said
    assert captions_as_spoken([utterance], 1.5, "w").partial == "my biggest"  # as far as it has been said
    done = captions_as_spoken([utterance], 2.6, "w")
    assert done.partial == "" and done.finals == ("my biggest weakness",)  # then a final line
    no_times = TextEstimate(1.0, 2.5, "my biggest weakness", said, "pocketsphinx:en-us")
    assert captions_as_spoken([no_times], 1.1, "p").partial == "my biggest weakness"  # shown from its start
