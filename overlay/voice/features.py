"""The voice model's input: a log-mel spectrogram of a fixed 2-second window of 16 kHz mono audio.

Implemented once and called by training (models/voice/), `eval voice` and the live voice stage,
so all three see the same numbers. See models/voice/MODEL_CARD.md.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

SAMPLE_RATE: Final = 16_000
WINDOW_SECONDS: Final = 2.0
HOP_SECONDS: Final = 0.5
WINDOW_SAMPLES: Final = int(SAMPLE_RATE * WINDOW_SECONDS)
HOP_SAMPLES: Final = int(SAMPLE_RATE * HOP_SECONDS)

N_MELS: Final = 64
N_FFT: Final = 512  # 32 ms
WIN_LENGTH: Final = 400  # 25 ms, the usual speech analysis frame
HOP_LENGTH: Final = 160  # 10 ms
FMIN: Final = 60.0
FMAX: Final = 7_600.0
# Level-free: each window is measured against its own loudest bin and floored 80 dB below, so
# microphone gain does not matter; the spread of levels inside the window (stress, loudness
# contrast) is kept.
TOP_DB: Final = 80.0
FRAMES: Final = 1 + WINDOW_SAMPLES // HOP_LENGTH


def _hz_to_mel(hz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Slaney's mel scale (librosa's default): linear below 1 kHz, logarithmic above."""
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(hz >= min_log_hz, min_log_mel + np.log(np.maximum(hz, 1e-10) / min_log_hz) / logstep, hz / f_sp)


def _mel_to_hz(mel: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(mel >= min_log_mel, min_log_hz * np.exp(logstep * (mel - min_log_mel)), f_sp * mel)


def mel_filterbank() -> npt.NDArray[np.float32]:
    """[N_MELS, N_FFT // 2 + 1] triangular filters, area-normalised: librosa.filters.mel's defaults
    (Slaney scale and norm), written out so the app does not load librosa (~130 MB) at run time;
    tests/test_voice_features.py checks it against librosa."""
    fft_hz = np.linspace(0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(np.array(FMIN)), _hz_to_mel(np.array(FMAX)), N_MELS + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper)) * (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


_MEL_BASIS: Final = mel_filterbank()
# A 25 ms periodic Hann window centred in the 512-point frame, as librosa.stft(win_length=400) pads it.
_WINDOW: Final = np.pad(
    np.hanning(WIN_LENGTH + 1)[:-1], ((N_FFT - WIN_LENGTH) // 2, (N_FFT - WIN_LENGTH + 1) // 2)
).astype(np.float32)


def power_spectrogram(window: npt.NDArray[np.float32]) -> npt.NDArray[np.floating]:
    """|STFT|^2 [N_FFT // 2 + 1, frames], centred frames with zero padding (librosa.stft's defaults)."""
    padded = np.pad(window.astype(np.float32), N_FFT // 2)
    count = 1 + (len(padded) - N_FFT) // HOP_LENGTH
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP_LENGTH][:count] * _WINDOW
    spectrum = np.fft.rfft(frames, axis=1)
    return np.asarray((spectrum.real**2 + spectrum.imag**2).T)


def fit_window(samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Exactly WINDOW_SAMPLES: shorter audio is zero-padded at the end, longer audio cut."""
    out = np.zeros(WINDOW_SAMPLES, dtype=np.float32)
    n = min(len(samples), WINDOW_SAMPLES)
    out[:n] = samples[:n]
    return out


def log_mel(samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """[N_MELS, FRAMES] log-mel power in dB relative to the window's maximum, in [-TOP_DB, 0].

    `samples` is one window of 16 kHz mono audio in [-1, 1]; it is fitted to WINDOW_SAMPLES.
    """
    window = fit_window(np.asarray(samples, dtype=np.float32))
    mel = _MEL_BASIS @ power_spectrogram(window)
    peak = float(mel.max())
    if peak <= 0.0:  # digital silence: no level to compare against
        return np.full((N_MELS, FRAMES), -TOP_DB, dtype=np.float32)
    db = 10.0 * np.log10(np.maximum(mel, peak * 10.0 ** (-TOP_DB / 10.0)) / peak)
    return np.asarray(np.maximum(db, -TOP_DB), dtype=np.float32)


def window_starts(n_samples: int) -> list[int]:
    """Start sample of each analysis window (WINDOW_SECONDS long, HOP_SECONDS apart) over a clip.

    A clip shorter than one window gets one window at 0 (zero-padded by log_mel); otherwise a
    last window is aligned to the clip's end so its tail is heard too.
    """
    if n_samples <= WINDOW_SAMPLES:
        return [0]
    starts = list(range(0, n_samples - WINDOW_SAMPLES + 1, HOP_SAMPLES))
    if starts[-1] + WINDOW_SAMPLES < n_samples:
        starts.append(n_samples - WINDOW_SAMPLES)
    return starts
