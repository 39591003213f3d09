"""Export the trained voice model to ONNX, verify it, measure it and write its JSON card.

    python models/voice/export.py --checkpoint runs/voice/best.pt

Writes models/voice/voice_emotion.onnx and voice_emotion.json. Checks that onnxruntime gives
the same probabilities as PyTorch on real windows, scores the exported file on the held-out
actors through the app's own code (overlay.analysis.evaluation.evaluate_voice), clean and with 10 dB
of pink noise, and times one 2 s window (features + model) on one thread.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from network import VoiceEmotionNet, WithSoftmax
from train import DEFAULT_DATA, VAL_NOISE_SNR_DB, noisy_copy

from overlay.analysis.evaluation import evaluate_voice
from overlay.labels import EMOTIONS
from overlay.models.bundled import sha256_of
from overlay.voice.activity import VoiceActivityDetector
from overlay.voice.dataset import load_labelled_speech
from overlay.voice.features import FRAMES, N_MELS, WINDOW_SAMPLES, log_mel
from overlay.voice.model import VoiceEmotionModel
from overlay.voice.windows import speech_windows

HERE = Path(__file__).resolve().parent
OPSET = 17


def write_card(path: Path, card: dict[str, object]) -> None:
    path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=Path("runs/voice/best.pt"))
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA / "ravdess_speech")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()

    checkpoint = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    train_args = checkpoint["args"]
    val_actors = sorted(int(a) for a in str(train_args["val_actors"]).split(","))
    net = VoiceEmotionNet()
    net.load_state_dict(checkpoint["state_dict"])
    exported = WithSoftmax(net).eval()
    onnx_path = args.out / "voice_emotion.onnx"
    torch.onnx.export(
        exported,
        (torch.zeros(1, 1, N_MELS, FRAMES),),
        str(onnx_path),
        opset_version=OPSET,
        dynamo=False,
        input_names=["log_mel"],
        output_names=["probs"],
        dynamic_axes={"log_mel": {0: "N"}, "probs": {0: "N"}},
    )
    onnx.checker.check_model(onnx.load(str(onnx_path)))
    parameters = sum(p.numel() for p in net.parameters())
    card: dict[str, object] = {
        "name": "voice_emotion",
        "version": "1.0.0",
        "file": onnx_path.name,
        "sha256": sha256_of(onnx_path),
        "size_bytes": onnx_path.stat().st_size,
        "labels": list(EMOTIONS),
        "input": {
            "name": "log_mel",
            "shape": ["N", 1, N_MELS, FRAMES],
            "dtype": "float32",
            "range": [-80.0, 0.0],
            "preprocessing": "overlay.voice.features.log_mel: 2.0 s of 16 kHz mono audio (zero-padded if "
            "shorter); STFT n_fft 512, 25 ms Hann window, 10 ms hop, centred; 64 mel bands 60-7600 Hz "
            "(librosa Slaney); power in dB relative to the window's maximum, floored at -80 dB. "
            "Per-window standardisation is inside the graph. Windows: 2 s every 0.5 s, scored only when "
            "overlay.voice.activity finds >= 30 % voiced 30 ms frames (WebRTC VAD, aggressiveness 3, "
            "frames below -65 dBFS never voiced).",
        },
        "output": {"name": "probs", "shape": ["N", 7], "meaning": "softmax probabilities in label order"},
        "architecture": "in-graph per-window standardisation; CNN of 4 stages x 2 conv3x3-BN-ReLU "
        "(24, 48, 96, 160 channels) with 2x2 max-pool between stages; mean over frequency; mean and max "
        "pooling over time; dropout 0.3; linear; softmax",
        "parameters": parameters,
        "opset": OPSET,
        "training": {
            "data": f"RAVDESS speech actors 01-20 except {val_actors} (train); actors {val_actors} held out "
            "for model selection (speaker-independent); calm -> neutral",
            "command": "bash models/voice/reproduce.sh",
            "args": {k: v for k, v in train_args.items() if k not in ("data", "out", "threads", "workers")},
            "best_epoch": checkpoint["epoch"],
        },
        "licence": "Non-commercial: trained on RAVDESS (Livingstone & Russo 2018, CC BY-NC-SA 4.0); "
        "the weights carry its non-commercial, share-alike terms. See MODEL_CARD.md.",
    }
    write_card(onnx_path.with_suffix(".json"), card)

    # onnxruntime must agree with PyTorch on real windows.
    speech = load_labelled_speech(args.data)
    vad = VoiceActivityDetector()
    sample = np.concatenate([speech_windows(c.samples, vad, fall_back_to_all=True).inputs for c in speech.clips[:40]])
    with torch.no_grad():
        reference = exported(torch.from_numpy(sample)).numpy()
    model = VoiceEmotionModel(onnx_path, threads=2)
    max_abs_diff = float(np.abs(model.predict(sample) - reference).max())
    if max_abs_diff > 1e-4:
        raise SystemExit(f"onnxruntime differs from PyTorch by {max_abs_diff:.2e}")

    # The held-out actors only, through the app's evaluation code.
    held_out = frozenset(val_actors)
    clean = evaluate_voice(args.data, model, actors=held_out)
    noisy = evaluate_voice(args.data, model, noise=lambda samples, index: noisy_copy(samples, index), actors=held_out)

    single = VoiceEmotionModel(onnx_path, threads=1)
    window = speech.clips[0].samples[:WINDOW_SAMPLES]
    feature_ms, model_ms = [], []
    for _ in range(120):
        started = time.perf_counter()
        features = log_mel(window)[np.newaxis, np.newaxis]
        mid = time.perf_counter()
        single.predict(features)
        feature_ms.append((mid - started) * 1000)
        model_ms.append((time.perf_counter() - mid) * 1000)

    card["verification"] = {"onnxruntime_vs_pytorch_max_abs_diff": max_abs_diff, "windows": len(sample)}
    card["metrics"] = {
        "held_out_actors": val_actors,
        "val": clean.to_json(),
        f"val_pink_noise_{VAL_NOISE_SNR_DB:.0f}db": noisy.to_json(),
        "latency_ms_per_window_one_thread_median": {
            "features": round(statistics.median(feature_ms[20:]), 3),
            "model": round(statistics.median(model_ms[20:]), 3),
        },
    }
    write_card(onnx_path.with_suffix(".json"), card)
    print(
        f"exported {onnx_path} ({onnx_path.stat().st_size / 1e6:.2f} MB, {parameters} parameters); "
        f"max |ort - torch| {max_abs_diff:.1e}; held-out actors {val_actors}: accuracy {clean.accuracy:.4f} "
        f"macro-F1 {clean.macro_f1:.4f}; with 10 dB noise {noisy.accuracy:.4f}; per 2 s window "
        f"{statistics.median(feature_ms[20:]):.2f} ms features + {statistics.median(model_ms[20:]):.2f} ms model"
    )


if __name__ == "__main__":
    main()
