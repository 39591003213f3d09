"""Fine-tune MiniLM-L6 on GoEmotions (train) for the project's 7 labels; select on dev.

    pip install -e '.[train]'
    python models/text/train.py --out runs/text

Trains on the single-label subset of the train split (rows whose labels map to exactly one
of the 7 classes through GoEmotions' Ekman grouping), with class weights 1/sqrt(count), a
linear warm-up then cosine decay, and length-bucketed batches (comments are short; padding
to a fixed length would waste most of the compute). Scores the dev single-label subset
twice an epoch and keeps the best (accuracy + macro-F1). Writes best.pt, log.jsonl and
summary.json to --out. With --fine-labels-weight W > 0 it trains on every row instead:
the 7-label loss on the single-label rows, plus W x a binary cross-entropy over GoEmotions'
own 28 labels from an auxiliary head (training only; the exported network is unchanged),
so the multi-label rows and the finer labels teach the encoder too. With --teacher CKPT ...
it also distils: every training row's 7-label distribution from the average of those
fine-tuned runs (an ensemble, softened by --temperature) is a second target, weighted by
--distill-weight (Hinton et al. 2015), so one network learns what several agree on. With
--transcript-rate P each row is read, with probability P at each step, the way a speech
recognizer would write it (lower case, no punctuation or emoji: `as_transcript`), because
in the app the model reads transcripts, not comments.
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
from transformers import AutoTokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from network import TextEmotionNet, pretrained_dir

from overlay.analysis.metrics import ClassificationReport, classification_report
from overlay.labels import EMOTIONS
from overlay.speech.text_dataset import (
    check_mapping_file,
    load_goemotions,
    project_labels,
    read_goemotions_rows,
    transcripts_of,
)

DEFAULT_DATA = Path(
    os.environ.get("EMOTION_OVERLAY_DATA", Path(__file__).resolve().parents[2] / ".." / "shared" / "data")
)
MAX_TOKENS = 128
FINE_LABELS = 28  # GoEmotions' own labels, for --fine-labels-weight


def batches(lengths: np.ndarray, batch: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled batches of similar-length rows: sort within random chunks of 50 batches."""
    order = rng.permutation(len(lengths))
    out = []
    chunk = batch * 50
    for start in range(0, len(order), chunk):
        part = order[start : start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        out += [part[i : i + batch] for i in range(0, len(part), batch)]
    rng.shuffle(out)  # type: ignore[arg-type]
    return out


def pad(ids: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(x) for x in ids)
    input_ids = torch.zeros(len(ids), width, dtype=torch.long)
    mask = torch.zeros(len(ids), width, dtype=torch.long)
    for i, x in enumerate(ids):
        input_ids[i, : len(x)] = torch.tensor(x)
        mask[i, : len(x)] = 1
    return input_ids, mask


@torch.no_grad()
def logits(model: nn.Module, ids: list[list[int]]) -> torch.Tensor:
    """The model's logits [N, 7] for token ids, in batches of similar length."""
    model.eval()
    order = np.argsort([len(x) for x in ids])
    out = torch.zeros(len(ids), len(EMOTIONS))
    for start in range(0, len(order), 128):
        rows = order[start : start + 128]
        input_ids, mask = pad([ids[i] for i in rows])
        out[torch.from_numpy(rows)] = model(input_ids, mask).float()
    return out


def evaluate(model: nn.Module, ids: list[list[int]], labels: np.ndarray) -> ClassificationReport:
    return classification_report(labels, logits(model, ids).argmax(1).numpy())


def teacher_log_probs(checkpoints: list[Path], ids: list[list[int]], temperature: float) -> torch.Tensor:
    """The ensemble's softened log-probabilities [N, 7]: the mean of its members' probabilities."""
    total = torch.zeros(len(ids), len(EMOTIONS))
    for path in checkpoints:
        total += torch.softmax(member_logits(path, ids) / temperature, dim=1)
    return (total / len(checkpoints)).log()


def member_logits(checkpoint: Path, ids: list[list[int]]) -> torch.Tensor:
    """One run's logits for the training rows, cached beside its checkpoint (minutes per run)."""
    cache = checkpoint.with_name(f"train_logits_{len(ids)}.pt")
    if cache.exists():
        return torch.load(cache)
    started = time.time()
    member = TextEmotionNet()
    member.load_state_dict(torch.load(checkpoint, map_location="cpu", weights_only=False)["state_dict"])
    out = logits(member, ids)
    torch.save(out, cache)
    print(f"teacher {checkpoint}: {time.time() - started:.0f} s", flush=True)
    return out


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(teacher || student) at the temperature, times T^2 so its gradients keep their scale."""
    student_log_probs = torch.log_softmax(student / temperature, dim=1)
    return nn.functional.kl_div(student_log_probs, teacher, log_target=True, reduction="batchmean") * temperature**2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA / "goemotions")
    parser.add_argument("--out", type=Path, default=Path("runs/text"))
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--head-lr", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--label-smoothing", type=float, default=0.05)
    parser.add_argument("--class-weight-power", type=float, default=0.5, help="class weights 1/count^power")
    parser.add_argument(
        "--fine-labels-weight",
        type=float,
        default=0.0,
        help="also train on every row (multi-label ones too) with an auxiliary head over GoEmotions' 28 labels "
        "(binary cross-entropy, this weight); 0: off, single-label rows only",
    )
    parser.add_argument("--teacher", type=Path, nargs="+", default=[], help="checkpoints of runs to distil from")
    parser.add_argument("--distill-weight", type=float, default=1.0, help="weight of the distillation loss")
    parser.add_argument("--temperature", type=float, default=2.0, help="softens teacher and student for distillation")
    parser.add_argument(
        "--transcript-rate",
        type=float,
        default=0.0,
        help="probability that a row is read as a transcript (lower case, no punctuation) at a step",
    )
    parser.add_argument("--init", type=Path, help="start from this checkpoint's weights (a further, gentler cycle)")
    parser.add_argument("--limit", type=int, help="use only this many training rows (smoke tests)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    bf16 = torch.backends.cpu.get_cpu_capability() == "AVX512"
    args.out.mkdir(parents=True, exist_ok=True)
    check_mapping_file(args.data / "ekman_mapping.json")

    dev = load_goemotions(args.data / "dev.tsv")
    tokenizer = AutoTokenizer.from_pretrained(str(pretrained_dir()))
    encode = lambda texts: tokenizer(list(texts), truncation=True, max_length=MAX_TOKENS)["input_ids"]  # noqa: E731
    fine = args.fine_labels_weight > 0
    if fine:
        # Every row; the 7-label loss sees the single-label ones (-1 marks the others).
        rows = read_goemotions_rows(args.data / "train.tsv")
        train_texts = tuple(text for text, _ in rows)
        mapped = [project_labels(ids) for _, ids in rows]
        y_train = np.array([min(m) if len(m) == 1 else -1 for m in mapped], dtype=np.int64)
        y_fine = np.zeros((len(rows), FINE_LABELS), dtype=np.float32)
        for row, (_, ids) in enumerate(rows):
            y_fine[row, ids] = 1.0
    else:
        train = load_goemotions(args.data / "train.tsv")
        train_texts, y_train = train.texts, train.labels
        y_fine = np.zeros((len(y_train), FINE_LABELS), dtype=np.float32)
    train_ids, dev_ids = encode(train_texts), encode(dev.texts)
    transcript_ids = encode(transcripts_of(train_texts)) if args.transcript_rate else train_ids
    if args.limit:
        train_ids, y_train, y_fine = train_ids[: args.limit], y_train[: args.limit], y_fine[: args.limit]
        transcript_ids = transcript_ids[: args.limit]
    lengths = np.array([len(x) for x in train_ids])
    teacher = teacher_log_probs(args.teacher, train_ids, args.temperature) if args.teacher else None
    counts = np.bincount(y_train[y_train >= 0], minlength=len(EMOTIONS))
    print(
        f"train {len(train_ids)} rows {counts.tolist()}, mean {lengths.mean():.1f} tokens; "
        f"dev {len(dev_ids)}; bf16 {bf16}",
        flush=True,
    )

    weights = torch.tensor(np.maximum(counts, 1), dtype=torch.float32) ** -args.class_weight_power
    criterion = nn.CrossEntropyLoss(
        weight=weights / weights.mean(), label_smoothing=args.label_smoothing, ignore_index=-1
    )
    fine_criterion = nn.BCEWithLogitsLoss()
    model = TextEmotionNet()
    # The auxiliary head is training-only: it is not part of the exported network.
    fine_head = nn.Linear(model.encoder.config.hidden_size, FINE_LABELS)
    if args.init is not None:
        model.load_state_dict(torch.load(args.init, map_location="cpu", weights_only=False)["state_dict"])
    head = list(model.classifier.parameters()) + (list(fine_head.parameters()) if fine else [])
    encoder_decay = [p for n, p in model.encoder.named_parameters() if p.ndim > 1]
    encoder_no_decay = [p for n, p in model.encoder.named_parameters() if p.ndim <= 1]
    optimizer = torch.optim.AdamW(
        [
            {"params": encoder_decay, "lr": args.lr, "weight_decay": args.weight_decay},
            {"params": encoder_no_decay, "lr": args.lr, "weight_decay": 0.0},
            {"params": head, "lr": args.head_lr, "weight_decay": 0.0},
        ]
    )
    peak = [group["lr"] for group in optimizer.param_groups]
    rng = np.random.default_rng(args.seed)
    spoken_rng = np.random.default_rng(args.seed + 1)  # its own, so runs without it batch as before
    steps_per_epoch = math.ceil(len(train_ids) / args.batch)
    total = max(1, int(args.epochs * steps_per_epoch))  # at least one step, so best.pt exists
    warmup = max(1, int(0.06 * total))
    eval_every = max(1, steps_per_epoch // 2)

    best, step, started = -1.0, 0, time.time()
    log = (args.out / "log.jsonl").open("w")
    running = 0.0
    while step < total:
        for rows in batches(lengths, args.batch, rng):
            if step >= total:
                break
            model.train()
            scale = (
                (step + 1) / warmup
                if step < warmup
                else 0.5 * (1 + math.cos(math.pi * (step - warmup) / (total - warmup)))
            )
            for group, lr in zip(optimizer.param_groups, peak, strict=True):
                group["lr"] = lr * scale
            spoken = spoken_rng.random(len(rows)) < args.transcript_rate
            input_ids, mask = pad(
                [transcript_ids[i] if say else train_ids[i] for i, say in zip(rows, spoken, strict=True)]
            )
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                if fine:
                    pooled = model.dropout(model.embed(input_ids, mask))
                    labels = torch.from_numpy(y_train[rows])
                    student = model.classifier(pooled).float()
                    loss = args.fine_labels_weight * fine_criterion(
                        fine_head(pooled).float(), torch.from_numpy(y_fine[rows])
                    )
                    if bool((labels >= 0).any()):
                        loss = loss + criterion(student, labels)
                else:
                    student = model(input_ids, mask).float()
                    loss = criterion(student, torch.from_numpy(y_train[rows]))
                if teacher is not None:
                    loss = loss + args.distill_weight * distillation_loss(
                        student, teacher[torch.from_numpy(rows)], args.temperature
                    )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            running += loss.item()
            step += 1
            if step % eval_every == 0 or step == total:
                report = evaluate(model, dev_ids, dev.labels)
                record = {
                    "step": step,
                    "epoch": step / steps_per_epoch,
                    "loss": running / eval_every,
                    "dev_accuracy": report.accuracy,
                    "dev_macro_f1": report.macro_f1,
                    "minutes": (time.time() - started) / 60,
                }
                running = 0.0
                log.write(json.dumps(record) + "\n")
                log.flush()
                print(json.dumps(record), flush=True)
                if report.accuracy + report.macro_f1 > best:
                    best = report.accuracy + report.macro_f1
                    torch.save(
                        {
                            "state_dict": model.state_dict(),
                            "fine_head": fine_head.state_dict() if fine else None,
                            "step": step,
                            "args": vars(args)
                            | {
                                "data": str(args.data),
                                "out": str(args.out),
                                "init": str(args.init),
                                "teacher": [str(path) for path in args.teacher],
                            },
                        },
                        args.out / "best.pt",
                    )
    log.close()
    checkpoint = torch.load(args.out / "best.pt", weights_only=False)
    model.load_state_dict(checkpoint["state_dict"])
    report = evaluate(model, dev_ids, dev.labels)
    (args.out / "summary.json").write_text(
        json.dumps({"best_step": checkpoint["step"], "dev": report.to_json()}, indent=2)
    )
    print(
        json.dumps({"best_step": checkpoint["step"], "dev_accuracy": report.accuracy, "dev_macro_f1": report.macro_f1}),
        flush=True,
    )


if __name__ == "__main__":
    main()
