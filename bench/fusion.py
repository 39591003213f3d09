"""Is fusing face, voice and text better than the best single one? Measured on paired held-out data.

    python bench/fusion.py [--json] [--trials 5]

No data set has one person's face, voice and words together with labels, so triples are
made per label: each RAVDESS file of the held-out actors 17-20 (its voice estimate from
the voice model) is paired with a random FER2013 val face and a random GoEmotions dev
single-label comment of the same label (their model estimates). Scored: each modality
alone, all three fused, fused with one modality absent, and fused with one modality
replaced by an estimate of a different, random label (a wrong face, a misleading voice, a
sarcastic sentence). Accuracy and macro-F1 over 240 triples, averaged over --trials
random pairings.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from overlay.analysis.metrics import classification_report
from overlay.face.dataset import load_labelled_faces
from overlay.face.model import FaceExpressionModel
from overlay.fusion import ModalityEstimate, fuse
from overlay.labels import EMOTIONS
from overlay.speech.text_dataset import load_goemotions
from overlay.speech.text_model import TextEmotionModel
from overlay.voice.activity import VoiceActivityDetector
from overlay.voice.dataset import load_labelled_speech
from overlay.voice.model import VoiceEmotionModel
from overlay.voice.windows import clip_probabilities, speech_windows

DEFAULT_DATA = Path(os.environ.get("EMOTION_OVERLAY_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    speech = load_labelled_speech(args.data / "ravdess_speech", frozenset({17, 18, 19, 20}))
    voice_model, vad = VoiceEmotionModel(threads=2), VoiceActivityDetector()
    voice = np.stack(
        [
            clip_probabilities(voice_model.predict(speech_windows(c.samples, vad, fall_back_to_all=True).inputs))
            for c in speech.clips
        ]
    )
    faces = load_labelled_faces(args.data / "fer2013" / "val")
    face = FaceExpressionModel(threads=2).predict(faces.inputs)
    texts = load_goemotions(args.data / "goemotions" / "dev.tsv")
    text = TextEmotionModel(threads=2).predict(texts.texts)
    labels = speech.labels

    conditions: dict[str, list[list[int]]] = {}
    rng = np.random.default_rng(0)
    for _ in range(args.trials):

        def pick(pool_labels: np.ndarray, probs: np.ndarray, wanted: np.ndarray) -> np.ndarray:
            return np.stack([probs[rng.choice(np.flatnonzero(pool_labels == w))] for w in wanted])

        wrong = (labels + rng.integers(1, 7, len(labels))) % 7
        f, t = pick(faces.labels, face, labels), pick(texts.labels, text, labels)
        f_wrong, v_wrong, t_wrong = (
            pick(faces.labels, face, wrong),
            voice[[rng.choice(np.flatnonzero(labels == w)) for w in wrong]],
            pick(texts.labels, text, wrong),
        )
        sets = {
            "face alone": {"face": f},
            "voice alone": {"voice": voice},
            "text alone": {"text": t},
            "fused: face + voice + text": {"face": f, "voice": voice, "text": t},
            "fused, face absent": {"voice": voice, "text": t},
            "fused, voice absent": {"face": f, "text": t},
            "fused, text absent": {"face": f, "voice": voice},
            "fused, face wrong": {"face": f_wrong, "voice": voice, "text": t},
            "fused, voice wrong": {"face": f, "voice": v_wrong, "text": t},
            "fused, text wrong": {"face": f, "voice": voice, "text": t_wrong},
        }
        for name, parts in sets.items():
            predicted = []
            for i in range(len(labels)):
                state = fuse({m: ModalityEstimate(p[i], 0.0) for m, p in parts.items()}, now=0.0)
                predicted.append(EMOTIONS.index(state.label) if state.label else 6)
            conditions.setdefault(name, []).append(predicted)

    results = {}
    for name, runs in conditions.items():
        reports = [classification_report(labels, np.asarray(p)) for p in runs]
        results[name] = {
            "accuracy": round(float(np.mean([r.accuracy for r in reports])), 4),
            "macro_f1": round(float(np.mean([r.macro_f1 for r in reports])), 4),
        }
    if args.json:
        print(json.dumps(results))
        return
    print(f"{len(labels)} triples x {args.trials} pairings (RAVDESS actors 17-20, FER2013 val, GoEmotions dev)")
    for name, r in results.items():
        print(f"{name:>30}: accuracy {r['accuracy']:.3f}  macro-F1 {r['macro_f1']:.3f}")


if __name__ == "__main__":
    main()
