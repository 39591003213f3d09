"""Made-up noise for testing robustness: white/pink/brown noise, mains hum, mixing at a given SNR.

Used by the voice model's training augmentation, its card's noisy condition (pink noise at
10 dB SNR), the voice activity figures (bench/voice_activity.py) and the tests.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from overlay.voice.features import SAMPLE_RATE

Audio = npt.NDArray[np.float32]


def coloured_noise(n: int, exponent: float, rng: np.random.Generator) -> Audio:
    """Noise with power spectrum ~ 1/f^exponent (0 white, 1 pink, 2 brown), unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.maximum(np.fft.rfftfreq(n), 1.0 / n)
    noise = np.fft.irfft(spectrum / f ** (exponent / 2), n)
    return np.asarray(noise / (noise.std() + 1e-12), dtype=np.float32)


def hum(n: int, rng: np.random.Generator) -> Audio:
    base = rng.choice([50.0, 60.0])
    t = np.arange(n) / SAMPLE_RATE
    wave = sum(np.sin(2 * np.pi * base * k * t + rng.uniform(0, 6.3)) / k for k in range(1, 8))
    wave = wave + 0.3 * rng.standard_normal(n)
    return np.asarray(wave / (wave.std() + 1e-12), dtype=np.float32)


def add_noise(x: Audio, noise: Audio, snr_db: float) -> Audio:
    """x + noise scaled so that speech power / noise power = snr_db (speech power over its loud half)."""
    power = np.square(x, dtype=np.float64)
    speech_power = np.mean(power[power >= np.median(power)]) if len(x) else 0.0
    noise_power = np.mean(np.square(noise, dtype=np.float64)) + 1e-20
    scale = np.sqrt(speech_power / noise_power / 10 ** (snr_db / 10))
    return np.asarray(x + scale * noise, dtype=np.float32)


def at_level(noise: npt.NDArray[np.floating], dbfs: float) -> Audio:
    """`noise` scaled to an RMS level of `dbfs` (dB relative to full scale)."""
    rms = float(np.sqrt(np.mean(np.square(noise, dtype=np.float64)))) + 1e-12
    return (noise / rms * 10 ** (dbfs / 20)).astype(np.float32)
