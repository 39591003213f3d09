"""How the voice activity detector behaves on speech, silence and noise (figures for the model card).

    python bench/voice_activity.py [--data ../shared/data/ravdess_speech] [--json]

Speech: every 2 s window of RAVDESS actors 17-20 that lies inside the spoken part of its file
(the detection rate). Non-speech: 2 s windows of digital silence, a -70 dBFS noise floor,
white, pink and brown noise and mains hum at several levels, 100 windows each (false alarms).
A window "has speech" when the detector says so, which is when the voice model would run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.voice.noise import add_noise, at_level, coloured_noise, hum
from overlay.voice.activity import VoiceActivityDetector
from overlay.voice.dataset import load_labelled_speech
from overlay.voice.features import WINDOW_SAMPLES

DEFAULT_DATA = Path(os.environ.get("EMOTION_OVERLAY_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA / "ravdess_speech")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    vad = VoiceActivityDetector()
    rng = np.random.default_rng(0)
    results: dict[str, float] = {}

    speech = load_labelled_speech(args.data, frozenset({17, 18, 19, 20}))
    hits = noisy_hits = total = 0
    for clip in speech.clips:
        span = vad.speech_span(clip.samples)
        if span is None:
            continue
        noisy = add_noise(clip.samples, coloured_noise(len(clip.samples), 1, rng), 10.0)
        first, last = span
        for start in range(first, max(first + 1, last - WINDOW_SAMPLES + 1), WINDOW_SAMPLES // 4):
            hits += vad.is_speech(clip.samples[start : start + WINDOW_SAMPLES])
            noisy_hits += vad.is_speech(noisy[start : start + WINDOW_SAMPLES])
            total += 1
    results["speech_windows_detected"] = hits / max(1, total)
    results["speech_windows_detected_pink_noise_10db_snr"] = noisy_hits / max(1, total)

    def noise(kind: str, level: float) -> np.ndarray:
        if kind == "silence":
            return np.zeros(WINDOW_SAMPLES, np.float32)
        if kind == "hum":
            return at_level(hum(WINDOW_SAMPLES, rng), level)
        exponent = {"floor": 0.0, "white": 0.0, "pink": 1.0, "brown": 2.0}[kind]
        return at_level(coloured_noise(WINDOW_SAMPLES, exponent, rng), level)

    cases = [("digital_silence", "silence", 0.0), ("noise_floor_-70dBFS", "floor", -70.0)]
    cases += [
        (f"{k}_{level}dBFS", k, float(level)) for level in (-50, -35, -20) for k in ("white", "pink", "brown", "hum")
    ]
    for name, kind, level in cases:
        results[f"false_alarms_{name}"] = float(np.mean([vad.is_speech(noise(kind, level)) for _ in range(100)]))

    if args.json:
        print(json.dumps(results))
        return
    print(f"speech windows detected: {results['speech_windows_detected']:.3f} ({total} windows, actors 17-20)")
    print(f"  with pink noise at 10 dB SNR: {results['speech_windows_detected_pink_noise_10db_snr']:.3f}")
    for key, value in results.items():
        if key.startswith("false_alarms_"):
            print(f"false alarms on {key.removeprefix('false_alarms_'):>22}: {value:.2f}")


if __name__ == "__main__":
    main()
