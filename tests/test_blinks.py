"""Blink counting on synthetic eye-landmark sequences with known blinks."""

import numpy as np
import numpy.typing as npt
import pytest

from overlay.face.blinks import BlinkDetector, BlinkSettings, eye_aspect_ratio, eye_openness, mean_eye_aspect_ratio

FPS = 30.0


def face_with_ear(
    ear: float, left_ear: float | None = None, shift: float = 0.0, right_width: float = 30.0
) -> npt.NDArray[np.float64]:
    """68 landmarks whose eyes have the given aspect ratios (other points are irrelevant),
    moved right by `shift` pixels; the right eye (points 36-41) `right_width` wide."""
    points = np.zeros((68, 2))
    for start, x0, width, eye_ear in (
        (36, 100.0, right_width, ear),
        (42, 160.0, 30.0, ear if left_ear is None else left_ear),
    ):
        half = eye_ear * width / 2
        x0 += shift
        points[start : start + 6] = [
            (x0, 50), (x0 + width / 3, 50 - half), (x0 + 2 * width / 3, 50 - half),
            (x0 + width, 50), (x0 + 2 * width / 3, 50 + half), (x0 + width / 3, 50 + half),
        ]  # fmt: skip
    return points


def run(detector: BlinkDetector, ears: list[float | None], start: float = 0.0) -> list[str]:
    kinds = []
    for i, ear in enumerate(ears):
        landmarks = None if ear is None else face_with_ear(ear)
        kinds += [event.kind for event in detector.update(start + i / FPS, landmarks)]
    return kinds


def open_eyes(seconds: float, ear: float = 0.30, seed: int = 0) -> list[float | None]:
    rng = np.random.default_rng(seed)
    return list(ear + rng.normal(0, 0.008, int(seconds * FPS)))


def closing(seconds: float, ear: float = 0.30) -> list[float | None]:
    return [ear * 0.2] * round(seconds * FPS)


def test_ear_of_an_open_and_a_shut_eye() -> None:
    assert eye_aspect_ratio(face_with_ear(0.3)[36:42]) == pytest.approx(0.3)
    assert mean_eye_aspect_ratio(face_with_ear(0.05)) == pytest.approx(0.05)


def test_counts_each_blink_once() -> None:
    detector = BlinkDetector()
    ears = open_eyes(3)
    for k in range(5):
        ears += closing(0.15) + open_eyes(2, seed=k + 1)
    assert run(detector, ears) == ["blink"] * 5
    assert detector.state().blink_count == 5


def test_double_blink_counts_two() -> None:
    detector = BlinkDetector()
    ears = open_eyes(3) + closing(0.1) + open_eyes(0.15) + closing(0.1) + open_eyes(1)
    events = []
    for i, ear in enumerate(ears):
        events += detector.update(i / FPS, face_with_ear(ear) if ear is not None else None)
    assert [e.kind for e in events] == ["blink", "blink"]
    assert events[0].end < events[1].start
    assert all(0.05 <= e.duration <= 0.2 for e in events)


@pytest.mark.parametrize("open_ear", [0.22, 0.36])
def test_baseline_adapts_to_the_person(open_ear: float) -> None:
    # Narrow and wide eyes: the same relative closing is a blink for both.
    detector = BlinkDetector()
    ears = open_eyes(3, open_ear) + closing(0.2, open_ear) + open_eyes(1, open_ear)
    assert run(detector, ears) == ["blink"]
    state = detector.state()
    assert state.baseline == pytest.approx(open_ear, rel=0.1)


def test_long_closure_is_eyes_closed_not_a_blink() -> None:
    detector = BlinkDetector()
    ears = open_eyes(3) + closing(0.3) + open_eyes(1)
    ears_closed = closing(2.0)
    kinds = run(detector, ears + ears_closed)
    assert kinds == ["blink"]
    assert detector.state().eyes_closed
    kinds = run(detector, open_eyes(0.5), start=len(ears + ears_closed) / FPS)
    assert kinds == ["eyes_closed"]
    assert detector.state().blink_count == 1
    assert not detector.state().eyes_closed


def test_noise_and_half_closed_eyes_are_not_blinks() -> None:
    detector = BlinkDetector()
    squint = [0.30 * 0.84] * 10  # between the close and reopen thresholds: hysteresis
    rng = np.random.default_rng(3)
    ears = open_eyes(3) + squint + list(0.30 + rng.normal(0, 0.015, 300))
    assert run(detector, ears) == []


def test_a_squint_longer_than_a_blink_is_a_new_open_level_not_closed_eyes() -> None:
    # Below the close threshold but nowhere near shut, for longer than a blink (a change of
    # view, a smile): learned as the open level; the blinks after it count against it.
    detector = BlinkDetector()
    squint = open_eyes(2, ear=0.30 * 0.72, seed=1)
    ears = open_eyes(2) + squint + closing(0.15, ear=0.30 * 0.72) + open_eyes(1, ear=0.30 * 0.72, seed=2)
    kinds = []
    for i, ear in enumerate(ears):
        kinds += [event.kind for event in detector.update(i / FPS, face_with_ear(ear) if ear is not None else None)]
        assert not detector.state().eyes_closed
    assert kinds == ["blink"]


@pytest.mark.parametrize("open_ear", [0.21, 0.30, 0.38])
@pytest.mark.parametrize("lead_s", [0.0, 0.3])
def test_a_blink_in_the_first_second_is_reported(open_ear: float, lead_s: float) -> None:
    # From the first frame, even when the stream starts on the blink: the population prior
    # stands in for the baseline until the person's own is learned.
    detector = BlinkDetector()
    ears = open_eyes(lead_s, open_ear) + closing(0.15, open_ear) + open_eyes(2, open_ear)
    events = []
    for i, ear in enumerate(ears):
        events += detector.update(i / FPS, face_with_ear(ear) if ear is not None else None)
    assert [e.kind for e in events] == ["blink"]
    assert events[0].start < 1.0


def test_stream_that_starts_with_closed_eyes_reports_them() -> None:
    detector = BlinkDetector()
    assert run(detector, closing(1.0) + open_eyes(1)) == ["eyes_closed"]


def test_glasses_on_and_off_add_no_blinks() -> None:
    # Glasses on: the face jumps in the picture (a hand, a cut) and the eyes read narrower;
    # off again later. The level is learned again at once: no false blink, and a blink
    # 0.3 s after each change is still counted.
    detector = BlinkDetector()
    segments = [(0.30, 0.0), (0.23, 25.0), (0.33, 0.0)]  # (open EAR, face position)
    events = []
    i = 0
    for n, (open_ear, shift) in enumerate(segments):
        ears = open_eyes(0.3, open_ear, seed=n) + closing(0.15, open_ear) + open_eyes(2, open_ear, seed=n + 5)
        for ear in ears:
            events += detector.update(i / FPS, face_with_ear(ear, shift=shift) if ear is not None else None)
            i += 1
    assert [e.kind for e in events] == ["blink"] * 3
    segment_s = 0.3 + 0.15 + 2
    for n, event in enumerate(events):  # each where its closing is, not from the change
        assert event.start == pytest.approx(n * segment_s + 0.3, abs=0.05)


def test_a_change_of_view_without_a_jump_adds_no_blink() -> None:
    # The head tilts slowly or the camera's view changes without the face jumping: a step
    # down of the open level, held, is learned (no blink, no eyes closed); a step up too.
    detector = BlinkDetector()
    ears = open_eyes(2, 0.34) + open_eyes(2, 0.25, seed=1) + open_eyes(2, 0.34, seed=2)
    assert run(detector, ears) == []
    assert not detector.state().eyes_closed


def test_a_hidden_eye_is_left_out() -> None:
    # The head turned: the right eye is seen a third as wide and its fitted lids are noise;
    # the left eye's blinks are counted, the right eye's false closings are not.
    detector = BlinkDetector()
    rng = np.random.default_rng(5)
    lefts = open_eyes(2)
    for k in range(3):
        lefts += closing(0.15) + open_eyes(1.5, seed=k + 1)
    events = []
    for i, left in enumerate(lefts):
        assert left is not None
        right = float(rng.uniform(0.05, 0.4))
        events += detector.update(i / FPS, face_with_ear(right, left_ear=left, right_width=10.0))
    assert [e.kind for e in events] == ["blink"] * 3


def test_eye_openness_reads_the_eyes_the_camera_sees() -> None:
    both, eyes = eye_openness(face_with_ear(0.2, left_ear=0.3))
    assert both == pytest.approx(0.25) and eyes == "both"
    left, eyes = eye_openness(face_with_ear(0.05, left_ear=0.3, right_width=12.0))
    assert left == pytest.approx(0.3) and eyes == "left"


def test_lost_face_mid_closing_counts_nothing() -> None:
    detector = BlinkDetector()
    ears = open_eyes(3) + closing(0.1) + [None] * 5 + open_eyes(1)
    assert run(detector, ears) == []


def test_blinks_per_minute_over_the_sliding_window() -> None:
    detector = BlinkDetector()
    ears = open_eyes(3)
    for k in range(20):  # one blink every 3 s = 20 per minute
        ears += closing(0.15) + open_eyes(2.85, seed=k)
    run(detector, ears)
    rate = detector.state().blinks_per_minute
    assert rate is not None and rate == pytest.approx(20, abs=2)


def test_rate_is_withheld_until_enough_time_is_seen() -> None:
    detector = BlinkDetector()
    run(detector, open_eyes(3) + closing(0.15) + open_eyes(2))
    assert detector.state().blinks_per_minute is None


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(ValueError):
        BlinkSettings(close_ratio=0.9, reopen_ratio=0.8)
    with pytest.raises(ValueError):
        BlinkSettings(min_blink_s=1.0, max_blink_s=0.5)
