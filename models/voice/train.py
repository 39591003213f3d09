"""Train the voice emotion model on RAVDESS speech, speaker-independently.

Actors 01-16 train, actors 17-20 validate (model selection); no actor is on both sides.
One command reproduces the shipped model (seeded; see MODEL_CARD.md for the figures):

    pip install -e '.[train]'
    python models/voice/train.py --out runs/voice

Each epoch draws `--crops` random 2 s windows around the speech of every training file and
passes each through a random microphone simulation (augment.py), then log-mel features
(overlay.voice.features) and SpecAugment masks. Validation scores whole files the way
`eval voice` does (mean over the speech windows), clean and with 10 dB of noise added.
Writes best.pt (EMA weights with the best clean val accuracy + macro-F1), log.jsonl and
summary.json to --out; runs/ is kept out of git.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
from augment import augment
from network import VoiceEmotionNet

from models.voice.noise import add_noise, coloured_noise
from overlay.analysis.metrics import ClassificationReport, classification_report
from overlay.labels import EMOTIONS
from overlay.voice.activity import VoiceActivityDetector
from overlay.voice.dataset import load_labelled_speech
from overlay.voice.features import WINDOW_SAMPLES, log_mel
from overlay.voice.windows import clip_probabilities, speech_windows

DEFAULT_DATA = Path(
    os.environ.get("EMOTION_OVERLAY_DATA", Path(__file__).resolve().parents[2] / ".." / "shared" / "data")
)
VAL_NOISE_SNR_DB = 10.0


def noisy_copy(samples: np.ndarray, seed: int) -> np.ndarray:
    """The validation noise condition: pink noise at 10 dB SNR, fixed per file."""
    rng = np.random.default_rng(seed)
    return add_noise(samples, coloured_noise(len(samples), 1.0, rng), VAL_NOISE_SNR_DB)


class TrainingWindows(Dataset[tuple[torch.Tensor, int]]):
    def __init__(self, clips: list[np.ndarray], spans: list[tuple[int, int]], labels: np.ndarray, crops: int) -> None:
        self.clips, self.spans, self.labels, self.crops = clips, spans, labels, crops
        self.rng = np.random.default_rng()

    def __len__(self) -> int:
        return len(self.clips) * self.crops

    def babble(self, n: int) -> np.ndarray:
        clip = self.clips[self.rng.integers(len(self.clips))]
        start = self.rng.integers(max(1, len(clip) - n))
        out = np.zeros(n, dtype=np.float32)
        piece = clip[start : start + n]
        out[: len(piece)] = piece / (np.abs(piece).max() + 1e-6)
        return out

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        i = index % len(self.clips)
        clip, (first, last) = self.clips[i], self.spans[i]
        # A window centred anywhere in the speech, with room for speed perturbation.
        margin = int(WINDOW_SAMPLES * 0.6)
        centre = int(self.rng.integers(first, max(first + 1, last)))
        segment = clip[max(0, centre - margin) : centre + margin]
        segment = augment(segment, self.rng, self.babble)
        offset = int(self.rng.integers(0, max(1, len(segment) - WINDOW_SAMPLES)))
        features = log_mel(segment[offset : offset + WINDOW_SAMPLES])
        return torch.from_numpy(features[None]), int(self.labels[i])


def seed_worker(worker_id: int) -> None:
    dataset = torch.utils.data.get_worker_info().dataset  # type: ignore[union-attr]
    dataset.rng = np.random.default_rng(torch.initial_seed() % 2**32)


def spec_augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Two frequency masks (<= 8 bands) and two time masks (<= 25 frames) per window, filled with its mean."""
    b, _, n_mels, n_frames = x.shape
    fill = x.mean(dim=(1, 2, 3), keepdim=True)
    mel_idx = torch.arange(n_mels).view(1, 1, -1, 1)
    frame_idx = torch.arange(n_frames).view(1, 1, 1, -1)
    mask = torch.zeros_like(x, dtype=torch.bool)
    for size, axis_len, idx in ((8, n_mels, mel_idx), (25, n_frames, frame_idx)):
        for _ in range(2):
            width = torch.randint(0, size + 1, (b, 1, 1, 1), generator=gen)
            start = (torch.rand(b, 1, 1, 1, generator=gen) * (axis_len - width)).long()
            mask |= (idx >= start) & (idx < start + width)
    return torch.where(mask, fill.expand_as(x), x)


@torch.no_grad()
def evaluate(model: nn.Module, windows: list[np.ndarray], labels: np.ndarray) -> ClassificationReport:
    model.eval()
    stacked = torch.from_numpy(np.concatenate(windows))
    probs = torch.cat([torch.softmax(model(stacked[i : i + 256]), 1) for i in range(0, len(stacked), 256)]).numpy()
    bounds = np.cumsum([0] + [len(w) for w in windows])
    predictions = [int(clip_probabilities(probs[a:b]).argmax()) for a, b in itertools.pairwise(bounds)]
    return classification_report(labels, np.asarray(predictions))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA / "ravdess_speech")
    parser.add_argument("--out", type=Path, default=Path("runs/voice"))
    parser.add_argument("--val-actors", default="17,18,19,20")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--crops", type=int, default=4, help="random windows per training file per epoch")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3, help="peak AdamW learning rate")
    parser.add_argument("--weight-decay", type=float, default=0.05)
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--precision", choices=("auto", "bf16", "fp32"), default="auto")
    args = parser.parse_args()

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    bf16 = args.precision == "bf16" or (
        args.precision == "auto" and torch.backends.cpu.get_cpu_capability() == "AVX512"
    )
    args.out.mkdir(parents=True, exist_ok=True)

    data = load_labelled_speech(args.data)
    val_actors = {int(a) for a in args.val_actors.split(",")}
    is_val = np.isin(data.actors, sorted(val_actors))
    vad = VoiceActivityDetector()
    train_clips, train_spans = [], []
    for clip, val in zip(data.clips, is_val, strict=True):
        if not val:
            train_clips.append(clip.samples)
            train_spans.append(vad.speech_span(clip.samples) or (0, len(clip.samples)))
    y_train = data.labels[~is_val]
    y_val = data.labels[is_val]
    val_clean, val_noisy = [], []
    for index in np.flatnonzero(is_val):
        samples = data.clips[index].samples
        for target, audio in ((val_clean, samples), (val_noisy, noisy_copy(samples, int(index)))):
            target.append(speech_windows(audio, vad, fall_back_to_all=True).inputs)
    counts = np.bincount(y_train, minlength=len(EMOTIONS))
    print(
        f"train {len(y_train)} files (actors {sorted(set(data.actors[~is_val].tolist()))}); "
        f"val {len(y_val)} files (actors {sorted(val_actors)}); counts {counts.tolist()}; bf16 {bf16}",
        flush=True,
    )

    class_weights = torch.tensor(counts, dtype=torch.float32) ** -0.5
    criterion = nn.CrossEntropyLoss(weight=class_weights / class_weights.mean(), label_smoothing=args.label_smoothing)
    model = VoiceEmotionNet()
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.99), use_buffers=True)
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=args.lr
    )
    dataset = TrainingWindows(train_clips, train_spans, y_train, args.crops)
    loader = DataLoader(
        dataset,
        batch_size=args.batch,
        shuffle=True,
        drop_last=True,
        num_workers=args.workers,
        worker_init_fn=seed_worker,
        persistent_workers=args.workers > 0,
        generator=torch.Generator().manual_seed(args.seed),
    )
    total_steps = args.epochs * len(loader)
    warmup = 2 * len(loader)

    def lr_at(step: int) -> float:
        if step < warmup:
            return args.lr * (step + 1) / warmup
        return 0.5 * args.lr * (1 + math.cos(math.pi * (step - warmup) / (total_steps - warmup)))

    gen = torch.Generator().manual_seed(args.seed)
    best_score, step = -1.0, 0
    log = (args.out / "log.jsonl").open("w")
    for epoch in range(1, args.epochs + 1):
        started = time.time()
        model.train()
        total_loss, correct = 0.0, 0
        for xb, yb in loader:
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = model(spec_augment(xb, gen))
                loss = criterion(logits, yb)
            correct += int((logits.argmax(1) == yb).sum())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            ema.update_parameters(model)
            total_loss += loss.item()
            step += 1
        clean = evaluate(ema.module, val_clean, y_val)
        noisy = evaluate(ema.module, val_noisy, y_val)
        record = {
            "epoch": epoch,
            "loss": total_loss / len(loader),
            "train_accuracy": correct / (len(loader) * args.batch),
            "lr": lr_at(step - 1),
            "val_accuracy": clean.accuracy,
            "val_macro_f1": clean.macro_f1,
            "val_noisy_accuracy": noisy.accuracy,
            "seconds": time.time() - started,
        }
        log.write(json.dumps(record) + "\n")
        log.flush()
        print(json.dumps(record), flush=True)
        score = clean.accuracy + clean.macro_f1
        if score > best_score:
            best_score = score
            torch.save(
                {
                    "state_dict": ema.module.state_dict(),
                    "epoch": epoch,
                    "args": vars(args) | {"data": str(args.data), "out": str(args.out)},
                },
                args.out / "best.pt",
            )
    log.close()
    best = torch.load(args.out / "best.pt", weights_only=False)
    model.load_state_dict(best["state_dict"])
    clean = evaluate(model, val_clean, y_val)
    noisy = evaluate(model, val_noisy, y_val)
    summary = {
        "best_epoch": best["epoch"],
        "val_actors": sorted(val_actors),
        "val": clean.to_json(),
        "val_noisy_10db": noisy.to_json(),
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(
        json.dumps(
            {
                "best_epoch": best["epoch"],
                "val_accuracy": clean.accuracy,
                "val_macro_f1": clean.macro_f1,
                "val_noisy_accuracy": noisy.accuracy,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
