"""The voice model's input: a log-mel spectrogram of a fixed 2-second window of 16 kHz mono audio.

Implemented once and called by training (models/voice/), `eval voice` and the live voice stage,
so all three see the same numbers. See models/voice/MODEL_CARD.md.
"""

from __future__ import annotations

from typing import Final

import librosa
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

_MEL_BASIS: Final = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=FMIN, fmax=FMAX)
_WINDOW: Final = np.pad(np.hanning(WIN_LENGTH + 1)[:-1], ((N_FFT - WIN_LENGTH) // 2, (N_FFT - WIN_LENGTH + 1) // 2))


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
    spectrum: npt.NDArray[np.complex64] = librosa.stft(
        window, n_fft=N_FFT, hop_length=HOP_LENGTH, window=_WINDOW, center=True
    )
    power = np.abs(spectrum) ** 2
    mel = _MEL_BASIS @ power
    peak = float(mel.max())
    if peak <= 0.0:  # digital silence: no level to compare against
        return np.full((N_MELS, FRAMES), -TOP_DB, dtype=np.float32)
    db = 10.0 * np.log10(np.maximum(mel, peak * 10.0 ** (-TOP_DB / 10.0)) / peak)
    return np.asarray(db, dtype=np.float32)


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
