"""The text model on what a recognizer writes, beside the same comments as written.

    python bench/text_on_transcripts.py [--n 300] [--recognizers whisper,pocketsphinx] [--json]

GoEmotions dev comments with one label among the project's seven (stratified: up to n/7 of
each, at most 30 words), each spoken by one of flite's voices in turn, transcribed by each
recognizer (streamed as live: 0.1 s blocks, 1 s of silence after), then classified by the
bundled text model. Read as: written (what the model was trained on), written as a
transcript (`as_transcript`: lower case, no punctuation, as PocketSphinx and Vosk write),
and each recognizer's output as it wrote it and normalised the same way. The speech stage
feeds the model what the recognizer wrote; this says whether normalising it would pay.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from asr.contract import Recognizer, Utterance
from overlay.analysis.metrics import classification_report
from overlay.speech.text_dataset import as_transcript, load_goemotions
from overlay.speech.text_model import TextEmotionModel
from tests.flite import VOICES, synthesise
from tests.recognizers import recognizer_factories
from tests.wer import word_error_rate

BLOCK = 1600
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def pick(texts: tuple[str, ...], labels: np.ndarray, n: int, seed: int = 0) -> list[int]:
    rng = np.random.default_rng(seed)
    chosen: list[int] = []
    for label in range(7):
        rows = [i for i in np.flatnonzero(labels == label) if len(texts[i].split()) <= 30]
        chosen += list(rng.permutation(rows)[: n // 7])
    return sorted(chosen)


def transcribe(recognizer: Recognizer, audio: np.ndarray) -> str:
    audio = np.concatenate([audio, np.zeros(16_000, np.float32)])
    said = []
    for start in range(0, len(audio), BLOCK):
        said += [
            e.text for e in recognizer.feed(audio[start : start + BLOCK], start / 16_000) if isinstance(e, Utterance)
        ]
    said += [u.text for u in recognizer.finish()]
    return " ".join(said)


def scores(model: TextEmotionModel, texts: list[str], labels: np.ndarray) -> dict[str, float]:
    inputs = [t if t.strip() else "." for t in texts]  # nothing heard: the model still reads something
    report = classification_report(labels, model.predict(inputs).argmax(axis=1))
    return {"accuracy": round(report.accuracy, 4), "macro_f1": round(report.macro_f1, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA / "goemotions" / "dev.tsv")
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--recognizers", default="whisper,pocketsphinx")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    data = load_goemotions(args.data)
    rows = pick(data.texts, data.labels, args.n)
    written = [data.texts[i] for i in rows]
    labels = data.labels[rows]
    audio = [synthesise(text, VOICES[k % len(VOICES)]) for k, text in enumerate(written)]
    model = TextEmotionModel()
    results: dict[str, dict[str, float]] = {
        "written": scores(model, written, labels),
        "written as transcript": scores(model, [as_transcript(t) or t for t in written], labels),
    }
    factories: dict[str, Callable[[], Recognizer]] = recognizer_factories(args.recognizers.split(","))
    for name, make in factories.items():
        recognizer = make()
        heard = [transcribe(recognizer, a) for a in audio]
        wer = word_error_rate([(as_transcript(w), h) for w, h in zip(written, heard, strict=True)])
        results[f"{name} as written"] = {**scores(model, heard, labels), "wer": round(wer, 4)}
        results[f"{name} normalised"] = scores(model, [as_transcript(h) or h for h in heard], labels)
        print(f"{name}: done", file=sys.stderr, flush=True)
    results["comments"] = {"n": len(rows)}
    if args.json:
        print(json.dumps(results))
        return
    for name, figures in results.items():
        print(f"{name:>28}: " + "  ".join(f"{k} {v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
