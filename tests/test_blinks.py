"""Blink counting on synthetic eye-landmark sequences with known blinks."""

import numpy as np
import numpy.typing as npt
import pytest

from overlay.face.blinks import BlinkDetector, BlinkSettings, eye_aspect_ratio, mean_eye_aspect_ratio

FPS = 30.0


def face_with_ear(ear: float) -> npt.NDArray[np.float64]:
    """68 landmarks whose eyes have the given aspect ratio (other points are irrelevant)."""
    points = np.zeros((68, 2))
    for start, x0 in ((36, 100.0), (42, 160.0)):
        width, half = 30.0, ear * 30.0 / 2
        points[start : start + 6] = [
            (x0, 50), (x0 + 10, 50 - half), (x0 + 20, 50 - half),
            (x0 + width, 50), (x0 + 20, 50 + half), (x0 + 10, 50 + half),
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
    squint = [0.30 * 0.72] * 10  # between the close and reopen thresholds: hysteresis
    rng = np.random.default_rng(3)
    ears = open_eyes(3) + squint + list(0.30 + rng.normal(0, 0.015, 300))
    assert run(detector, ears) == []


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
