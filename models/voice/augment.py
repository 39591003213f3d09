"""Waveform augmentation that makes studio speech (RAVDESS) sound like real microphones.

Every step is drawn independently per training window: speed perturbation (pitch and tempo
together, 0.9-1.1x), room reverberation (synthetic exponentially decaying impulse
responses, RT60 0.15-0.8 s), band-limiting (telephone-like high-pass and low-pass), additive
noise at 5-20 dB SNR (white, pink, brown, hum, or babble made of other training speakers),
and gain (-12..+6 dB, with the clipping a hot microphone gives).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from scipy import signal

from models.voice.noise import add_noise, coloured_noise, hum
from overlay.voice.features import SAMPLE_RATE

Audio = npt.NDArray[np.float32]
SPEEDS = ((10, 11), (19, 20), (20, 19), (11, 10))  # resample ratios up/down: 1.1, 1.05, 0.95, 0.9 x speed


def speed_perturb(x: Audio, rng: np.random.Generator) -> Audio:
    up, down = SPEEDS[rng.integers(len(SPEEDS))]
    return signal.resample_poly(x, up, down).astype(np.float32)


def reverberate(x: Audio, rng: np.random.Generator) -> Audio:
    rt60 = rng.uniform(0.15, 0.8)
    n = int(rt60 * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    rir = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)  # -60 dB at rt60
    rir[0] = 1.0 / rng.uniform(0.3, 1.0)  # direct path, louder than the room when close
    wet = signal.fftconvolve(x, rir)[: len(x)]
    return (wet * (np.abs(x).max() / (np.abs(wet).max() + 1e-9))).astype(np.float32)


def band_limit(x: Audio, rng: np.random.Generator) -> Audio:
    low = rng.uniform(80, 400)
    high = rng.uniform(3000, 7500)
    sos = signal.butter(4, [low, high], btype="bandpass", fs=SAMPLE_RATE, output="sos")
    return signal.sosfilt(sos, x).astype(np.float32)


def augment(x: Audio, rng: np.random.Generator, babble_source: Callable[[int], Audio]) -> Audio:
    """One random microphone-like version of x. `babble_source(n)` gives n samples of other speech."""
    if rng.random() < 0.5:
        x = speed_perturb(x, rng)
    if rng.random() < 0.3:
        x = reverberate(x, rng)
    if rng.random() < 0.3:
        x = band_limit(x, rng)
    if rng.random() < 0.7:
        n = len(x)
        kind = rng.integers(5)
        if kind < 3:
            noise = coloured_noise(n, float(kind), rng)
        elif kind == 3:
            noise = hum(n, rng)
        else:
            noise = sum((babble_source(n) for _ in range(3)), np.zeros(n, dtype=np.float32))
        x = add_noise(x, noise, rng.uniform(5, 20))
    gain = 10 ** (rng.uniform(-12, 6) / 20)
    return np.clip(x * gain, -1.0, 1.0).astype(np.float32)
