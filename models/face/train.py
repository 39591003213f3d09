"""Train the face expression model on FER2013 (train split), select on the val split.

One command reproduces the shipped model (seeded; see MODEL_CARD.md for the figures):

    pip install -e '.[train]'
    python models/face/train.py --out runs/face

Runs on a CPU (bf16 autocast where the CPU supports it: ~65 s an epoch on 2 cores of an
AMD EPYC Zen 4) or a CUDA GPU. Writes best.pt (the EMA weights with the best val score),
log.jsonl (one line per epoch) and summary.json to --out; runs/ is kept out of git.
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

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from network import FaceExpressionNet

from overlay.face_dataset import load_labelled_faces
from overlay.labels import EMOTIONS
from overlay.metrics import classification_report

DEFAULT_DATA = Path(
    os.environ.get("EMOTION_OVERLAY_DATA", Path(__file__).resolve().parents[2] / ".." / "shared" / "data")
)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random flip, rotation (+-15 deg), scale (+-15 %), shift (+-10 %), brightness, contrast
    and gamma, on a batch [B, 1, 48, 48] in [0, 1].

    No sensor noise or sharp-edged occluders: inputs are softened to the training images'
    sharpness (overlay.face_input), so such high-frequency content never reaches the model.
    """
    b = x.shape[0]
    dev = x.device

    def uniform(lo: float, hi: float, *shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=gen, device=dev) * (hi - lo) + lo

    angle = uniform(-15, 15, b) * math.pi / 180
    scale = uniform(0.85, 1.15, b)
    flip = torch.where(torch.rand(b, generator=gen, device=dev) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [
            torch.stack([cos * flip, -sin, uniform(-0.2, 0.2, b)], dim=1),
            torch.stack([sin * flip, cos, uniform(-0.2, 0.2, b)], dim=1),
        ],
        dim=1,
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)

    contrast = uniform(0.6, 1.4, b, 1, 1, 1)
    brightness = uniform(-0.2, 0.2, b, 1, 1, 1)
    x = ((x - 0.5) * contrast + 0.5 + brightness).clamp(0, 1)
    gamma = torch.exp(uniform(-0.4, 0.4, b, 1, 1, 1))
    x = x.clamp_min(1e-4) ** gamma
    return x.clamp(0, 1)


@torch.no_grad()
def predict(model: nn.Module, inputs: torch.Tensor, batch: int = 512) -> torch.Tensor:
    model.eval()
    return torch.cat([torch.softmax(model(inputs[i : i + batch]), 1) for i in range(0, len(inputs), batch)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA / "fer2013", help="folder with train/ and val/")
    parser.add_argument("--out", type=Path, default=Path("runs/face"))
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.02, help="peak SGD learning rate")
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--precision", choices=("auto", "bf16", "fp32"), default="auto")
    parser.add_argument("--warmup-epochs", type=float, default=2.0)
    parser.add_argument("--init", type=Path, help="start from this checkpoint's weights (a second cosine cycle)")
    args = parser.parse_args()

    seed_everything(args.seed)
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    bf16 = args.precision == "bf16" or (
        args.precision == "auto" and (device.type == "cuda" or torch.backends.cpu.get_cpu_capability() == "AVX512")
    )
    args.out.mkdir(parents=True, exist_ok=True)

    train = load_labelled_faces(args.data / "train")
    val = load_labelled_faces(args.data / "val")
    x_train = torch.from_numpy(train.inputs).to(device)
    y_train = torch.from_numpy(train.labels).to(device)
    x_val = torch.from_numpy(val.inputs).to(device)
    counts = np.bincount(train.labels, minlength=len(EMOTIONS))
    print(
        f"train {len(y_train)} {dict(zip(EMOTIONS, counts.tolist(), strict=True))}; "
        f"val {len(x_val)}; device {device}; bf16 {bf16}",
        flush=True,
    )

    # Rare classes (disgust: 436 images) get more weight, but only by 1/sqrt(count):
    # full inverse-frequency weights cost accuracy on the common classes.
    class_weights = torch.tensor(counts, dtype=torch.float32) ** -0.5
    class_weights = (class_weights / class_weights.mean()).to(device)
    criterion = nn.CrossEntropyLoss(weight=class_weights, label_smoothing=args.label_smoothing)

    model = FaceExpressionNet()
    if args.init is not None:
        model.load_state_dict(torch.load(args.init, map_location="cpu", weights_only=False)["state_dict"])
    model = model.to(device).to(memory_format=torch.channels_last)
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.998), use_buffers=True)
    decay, no_decay = [], []
    for p in model.parameters():
        (no_decay if p.ndim == 1 else decay).append(p)
    optimizer = torch.optim.SGD(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr,
        momentum=0.9,
        nesterov=True,
    )
    steps_per_epoch = len(y_train) // args.batch
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
        order = torch.randperm(len(y_train), generator=gen, device=device)
        total_loss = 0.0
        for i in range(steps_per_epoch):
            idx = order[i * args.batch : (i + 1) * args.batch]
            xb = augment(x_train[idx], gen).contiguous(memory_format=torch.channels_last)
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                loss = criterion(model(xb), y_train[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            ema.update_parameters(model)
            total_loss += loss.item()
            step += 1
        report = classification_report(val.labels, predict(ema.module, x_val).argmax(1).cpu().numpy())
        score = report.accuracy + report.macro_f1
        record = {
            "epoch": epoch,
            "loss": total_loss / steps_per_epoch,
            "lr": lr_at(step - 1),
            "val_accuracy": report.accuracy,
            "val_macro_f1": report.macro_f1,
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
    probs = predict(model, x_val)
    flipped = predict(model, torch.flip(x_val, dims=[3]))
    plain = classification_report(val.labels, probs.argmax(1).cpu().numpy())
    tta = classification_report(val.labels, (probs + flipped).argmax(1).cpu().numpy())
    summary = {"best_epoch": best["epoch"], "val": plain.to_json(), "val_with_flip_tta": tta.to_json()}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(
        f"best epoch {best['epoch']}: val accuracy {plain.accuracy:.4f} macro-F1 {plain.macro_f1:.4f}; "
        f"with flip TTA {tta.accuracy:.4f} / {tta.macro_f1:.4f}",
        flush=True,
    )


if __name__ == "__main__":
    main()
