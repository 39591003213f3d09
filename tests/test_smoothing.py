import numpy as np
import pytest

from overlay.smoothing import ProbabilitySmoother

HAPPY = np.array([0, 0, 0, 1, 0, 0, 0], dtype=np.float32)
SAD = np.array([0, 0, 0, 0, 1, 0, 0], dtype=np.float32)


def test_half_life_is_in_seconds_whatever_the_rate() -> None:
    for rate in (10, 30):
        smoother = ProbabilitySmoother(half_life_s=0.5)
        smoother.update(0.0, HAPPY)
        out = HAPPY
        for i in range(1, int(0.5 * rate) + 1):
            out = smoother.update(i / rate, SAD)
        assert out[4] == pytest.approx(0.5, abs=0.01)  # half-way after one half-life


def test_single_frame_glitch_does_not_flip_the_top_label() -> None:
    smoother = ProbabilitySmoother(half_life_s=0.5)
    for i in range(30):
        smoother.update(i / 30, HAPPY)
    out = smoother.update(1.0, SAD)
    assert int(np.argmax(out)) == 3
    assert out.sum() == pytest.approx(1.0)


def test_zero_half_life_passes_estimates_through() -> None:
    smoother = ProbabilitySmoother(half_life_s=0.0)
    smoother.update(0.0, HAPPY)
    np.testing.assert_array_equal(smoother.update(0.03, SAD), SAD)


def test_long_gap_starts_afresh() -> None:
    smoother = ProbabilitySmoother(half_life_s=5.0, reset_after_s=2.0)
    smoother.update(0.0, HAPPY)
    np.testing.assert_array_equal(smoother.update(3.0, SAD), SAD)


def test_negative_half_life_is_rejected() -> None:
    with pytest.raises(ValueError):
        ProbabilitySmoother(half_life_s=-1)
