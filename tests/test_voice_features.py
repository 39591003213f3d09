"""The voice model's input, written in numpy, is exactly librosa's log-mel (what the model card promises)."""

import librosa
import numpy as np

from overlay.voice import features as vf


def test_the_filterbank_is_librosas() -> None:
    reference = librosa.filters.mel(sr=16000, n_fft=vf.N_FFT, n_mels=vf.N_MELS, fmin=vf.FMIN, fmax=vf.FMAX)
    np.testing.assert_allclose(vf.mel_filterbank(), reference, atol=1e-7)


def test_the_spectrogram_is_librosas() -> None:
    samples = (np.random.default_rng(0).standard_normal(vf.WINDOW_SAMPLES) * 0.1).astype(np.float32)
    reference = np.abs(librosa.stft(samples, n_fft=vf.N_FFT, hop_length=vf.HOP_LENGTH, window=vf._WINDOW)) ** 2
    ours = vf.power_spectrogram(samples)
    assert ours.shape == reference.shape == (vf.N_FFT // 2 + 1, vf.FRAMES)
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-6 * reference.max())


def test_log_mel_is_level_free_and_bounded() -> None:
    t = np.arange(vf.WINDOW_SAMPLES) / vf.SAMPLE_RATE
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    loud, quiet = vf.log_mel(tone), vf.log_mel(tone * 0.01)
    np.testing.assert_allclose(loud, quiet, atol=1e-3)  # microphone gain does not matter
    assert loud.max() == 0.0 and loud.min() >= -vf.TOP_DB
    assert abs(np.argmax(loud[:, 100]) - np.argmax(vf.mel_filterbank()[:, round(440 / 8000 * 256)])) <= 1
    assert (vf.log_mel(np.zeros(100, np.float32)) == -vf.TOP_DB).all()  # silence, and short input padded


def test_windows_cover_a_clip_to_its_end() -> None:
    assert vf.window_starts(16000) == [0]
    starts = vf.window_starts(int(3.3 * 16000))
    assert starts[:3] == [0, 8000, 16000] and starts[-1] + vf.WINDOW_SAMPLES == int(3.3 * 16000)
