"""Train the face expression model on FER2013 train, with FER+ votes as targets; select on val.

One command reproduces the shipped model (seeded; see MODEL_CARD.md for the figures):

    pip install -e '.[train]'
    python models/face/train.py --out runs/face

Targets (--labels): `ferplus` (default): the 10 FER+ annotators' votes over the 7 labels as
a soft target (images whose votes are mostly unknown / not-a-face are left out); `fer2013`:
FER2013's own label, one-hot with label smoothing; `mixed`: the mean of the two.
Model selection: val accuracy + macro-F1 against the FER+ majority label (ties, contempt,
unknown and not-a-face left out), the reference the project is judged on.

Runs on a CPU (bf16 autocast where the CPU supports it) or a CUDA GPU. Writes best.pt (the
EMA weights with the best val score), log.jsonl (one line per epoch) and summary.json to
--out; runs/ is kept out of git.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from network import FaceExpressionNet

from overlay.analysis.metrics import classification_report
from overlay.face.dataset import load_ferplus_votes, load_labelled_faces
from overlay.labels import EMOTIONS

DEFAULT_DATA = Path(
    os.environ.get("EMOTION_OVERLAY_DATA", Path(__file__).resolve().parents[2] / ".." / "shared" / "data")
)


def cpu_has_bf16() -> bool:
    """Whether this CPU computes in bf16 natively (AVX512-BF16 or AMX): without it, bf16
    autocast is emulated and ~3x slower than fp32 (measured on an AVX-512 Xeon)."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random framing and picture quality, on a batch [B, 1, 48, 48] in [0, 1].

    Framing: flip, rotation (+-15 deg), scale (0.8-1.25: tighter and looser crops than
    FER2013's), shift (+-12 %), border replicated, so the model does not depend on the exact
    crop geometry. Quality: a third of the batch is shrunk to 12-40 px and enlarged again (a
    small or far face, a cheap webcam), a quarter gets sensor noise, a fifth a grey patch
    (a hand, glasses glare); brightness, contrast and gamma for lighting.
    """
    b = x.shape[0]
    dev = x.device

    def uniform(lo: float, hi: float, *shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=gen, device=dev) * (hi - lo) + lo

    def chosen(p: float) -> torch.Tensor:
        return torch.rand(b, generator=gen, device=dev) < p

    angle = uniform(-15, 15, b) * math.pi / 180
    scale = torch.exp(uniform(math.log(0.8), math.log(1.25), b))
    flip = torch.where(chosen(0.5), -1.0, 1.0)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [
            torch.stack([cos * flip, -sin, uniform(-0.24, 0.24, b)], dim=1),
            torch.stack([sin * flip, cos, uniform(-0.24, 0.24, b)], dim=1),
        ],
        dim=1,
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)

    low_res = chosen(0.33)
    if low_res.any():
        side = int(torch.randint(12, 41, (1,), generator=gen, device=dev).item())
        small = F.interpolate(x[low_res], size=(side, side), mode="area")
        x[low_res] = F.interpolate(small, size=x.shape[-2:], mode="bilinear", align_corners=False)

    contrast = uniform(0.6, 1.4, b, 1, 1, 1)
    brightness = uniform(-0.2, 0.2, b, 1, 1, 1)
    x = ((x - 0.5) * contrast + 0.5 + brightness).clamp(0, 1)
    gamma = torch.exp(uniform(-0.4, 0.4, b, 1, 1, 1))
    x = x.clamp_min(1e-4) ** gamma

    noisy = chosen(0.25).view(b, 1, 1, 1)
    sigma = uniform(0.0, 0.05, b, 1, 1, 1)
    x = x + noisy * sigma * torch.randn(x.shape, generator=gen, device=dev)

    patched = torch.nonzero(chosen(0.2)).flatten().tolist()
    for i in patched:
        h, w = (int(v) for v in torch.randint(8, 21, (2,), generator=gen, device=dev))
        top, left = (int(v) for v in torch.randint(0, 48 - 20, (2,), generator=gen, device=dev))
        x[i, :, top : top + h, left : left + w] = float(torch.rand(1, generator=gen, device=dev))
    return x.clamp(0, 1)


def training_targets(
    kind: str, fer2013_labels: np.ndarray, votes: np.ndarray, smoothing: float
) -> tuple[np.ndarray, np.ndarray]:
    """Soft targets [N, 7] for the chosen label source, and which images to train on.

    FER+ targets are the vote shares over the 7 labels; images whose votes are mostly not
    one of them (unknown, not a face, contempt) or that have no FER+ row are left out of
    `ferplus` and get FER2013's label alone in `mixed`.
    """
    n, k = len(fer2013_labels), len(EMOTIONS)
    onehot = np.full((n, k), smoothing / k, dtype=np.float32)
    onehot[np.arange(n), fer2013_labels] += 1.0 - smoothing
    emotion_votes = votes.sum(1)
    has_votes = emotion_votes >= 5  # at least half of the 10 annotators saw one of the 7
    shares = np.where(has_votes[:, None], votes / np.maximum(emotion_votes, 1)[:, None], onehot)
    if kind == "fer2013":
        return onehot, np.ones(n, dtype=bool)
    if kind == "ferplus":
        return shares.astype(np.float32), has_votes
    return (0.5 * shares + 0.5 * onehot).astype(np.float32), np.ones(n, dtype=bool)


@torch.no_grad()
def predict(model: nn.Module, inputs: torch.Tensor, batch: int = 512) -> torch.Tensor:
    model.eval()
    return torch.cat([torch.softmax(model(inputs[i : i + batch]), 1) for i in range(0, len(inputs), batch)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA / "fer2013", help="folder with train/ and val/")
    parser.add_argument("--out", type=Path, default=Path("runs/face"))
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.03, help="peak SGD learning rate")
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--label-smoothing", type=float, default=0.1, help="for FER2013's one-hot labels")
    parser.add_argument("--labels", choices=("ferplus", "fer2013", "mixed"), default="ferplus")
    parser.add_argument("--ferplus", type=Path, help="FER+ votes CSV (default: DATA/ferplus_votes.csv)")
    parser.add_argument("--class-weight-power", type=float, default=0.35, help="weights = class share ^ -power")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--precision", choices=("auto", "bf16", "fp32"), default="auto")
    parser.add_argument("--warmup-epochs", type=float, default=2.0)
    parser.add_argument("--ema-decay", type=float, default=0.998, help="weight EMA per step (0.99 for short runs)")
    parser.add_argument("--init", type=Path, help="start from this checkpoint's weights (a second cosine cycle)")
    args = parser.parse_args()

    seed_everything(args.seed)
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    bf16 = args.precision == "bf16" or (args.precision == "auto" and (device.type == "cuda" or cpu_has_bf16()))
    args.out.mkdir(parents=True, exist_ok=True)

    train = load_labelled_faces(args.data / "train")
    val = load_labelled_faces(args.data / "val")
    ferplus_csv = args.ferplus or args.data / "ferplus_votes.csv"
    targets, keep = training_targets(
        args.labels, train.labels, load_ferplus_votes(ferplus_csv, train.paths).votes, args.label_smoothing
    )
    val_majority = load_ferplus_votes(ferplus_csv, val.paths).majority
    scored = val_majority >= 0
    x_train = torch.from_numpy(train.inputs[keep]).to(device)
    t_train = torch.from_numpy(targets[keep]).to(device)
    x_val = torch.from_numpy(val.inputs).to(device)
    mass = targets[keep].sum(0)
    print(
        f"train {len(x_train)} of {len(train.labels)} ({args.labels} targets; class mass "
        f"{dict(zip(EMOTIONS, mass.round().astype(int).tolist(), strict=True))}); "
        f"val {len(x_val)} ({int(scored.sum())} with a FER+ majority); device {device}; bf16 {bf16}",
        flush=True,
    )

    # Rare classes (disgust, fear) get more weight, but only by share^-power: full
    # inverse-frequency weights cost accuracy on the common classes.
    class_weights = torch.tensor(mass / mass.sum(), dtype=torch.float32) ** -args.class_weight_power
    class_weights = (class_weights / class_weights.mean()).to(device)

    def criterion(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        weighted = target * class_weights
        return -(weighted * F.log_softmax(logits.float(), 1)).sum(1).sum() / weighted.sum()

    def val_report(net: nn.Module) -> Any:
        predicted = predict(net, x_val).argmax(1).cpu().numpy()
        return classification_report(val_majority[scored], predicted[scored]), classification_report(
            val.labels, predicted
        )

    model = FaceExpressionNet()
    if args.init is not None:
        model.load_state_dict(torch.load(args.init, map_location="cpu", weights_only=False)["state_dict"])
    model = model.to(device).to(memory_format=torch.channels_last)
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(args.ema_decay), use_buffers=True)
    decay, no_decay = [], []
    for p in model.parameters():
        (no_decay if p.ndim == 1 else decay).append(p)
    optimizer = torch.optim.SGD(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr,
        momentum=0.9,
        nesterov=True,
    )
    steps_per_epoch = len(x_train) // args.batch
    total_steps = args.epochs * steps_per_epoch
    warmup = max(1, int(args.warmup_epochs * steps_per_epoch))

    def lr_at(step: int) -> float:
        if step < warmup:
            return args.lr * (step + 1) / warmup
        return 0.5 * args.lr * (1 + math.cos(math.pi * (step - warmup) / (total_steps - warmup)))

    gen = torch.Generator(device=device).manual_seed(args.seed)
    best_score, step = -1.0, 0
    log = (args.out / "log.jsonl").open("w")
    for epoch in range(1, args.epochs + 1):
        started = time.time()
        model.train()
        order = torch.randperm(len(x_train), generator=gen, device=device)
        total_loss = 0.0
        for i in range(steps_per_epoch):
            idx = order[i * args.batch : (i + 1) * args.batch]
            xb = augment(x_train[idx], gen).contiguous(memory_format=torch.channels_last)
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                loss = criterion(model(xb), t_train[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            ema.update_parameters(model)
            total_loss += loss.item()
            step += 1
        report, own = val_report(ema.module)
        score = report.accuracy + report.macro_f1
        record = {
            "epoch": epoch,
            "loss": total_loss / steps_per_epoch,
            "lr": lr_at(step - 1),
            "val_ferplus_accuracy": report.accuracy,
            "val_ferplus_macro_f1": report.macro_f1,
            "val_fer2013_accuracy": own.accuracy,
            "val_fer2013_macro_f1": own.macro_f1,
            "seconds": time.time() - started,
        }
        log.write(json.dumps(record) + "\n")
        log.flush()
        print(json.dumps(record), flush=True)
        if score > best_score:
            best_score = score
            torch.save(
                {
                    "state_dict": ema.module.state_dict(),
                    "epoch": epoch,
                    "args": vars(args) | {"data": str(args.data), "out": str(args.out), "init": str(args.init)},
                },
                args.out / "best.pt",
            )
    log.close()

    best = torch.load(args.out / "best.pt", weights_only=False)
    model.load_state_dict(best["state_dict"])
    ferplus, own = val_report(model)
    summary = {
        "best_epoch": best["epoch"],
        "labels": args.labels,
        "val_ferplus": ferplus.to_json(),
        "val_fer2013": own.to_json(),
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(
        f"best epoch {best['epoch']}: val (FER+ majority) accuracy {ferplus.accuracy:.4f} macro-F1 "
        f"{ferplus.macro_f1:.4f}; val (FER2013 labels) {own.accuracy:.4f} / {own.macro_f1:.4f}",
        flush=True,
    )


if __name__ == "__main__":
    main()
