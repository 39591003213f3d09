"""Speech recognition on this machine: word error rate, real-time factor, latency to a final result.

    python bench/speech_recognition.py [--json]

Speech with known words: 12 sentences spoken by flite's three voices (slt, rms, awb);
RAVDESS actors 17-20, whose files all say "Kids are talking by the door" or "Dogs are
sitting by the door" in eight emotions (240 files); and, where Debian's espeak-ng is
installed, the first Harvard sentences list (IEEE 1969, phonetically balanced, public
domain) in three espeak-ng voices, another synthesiser with other words. Every recognizer installed is measured:
PocketSphinx always; a Vosk model when `emotion-overlay models pull` has fetched one.
Audio is streamed in 100 ms blocks with a second of silence after each sentence, as live.
Real-time factor: processing seconds / audio seconds, one thread. Latency: audio time from
the end of speech to the block that produced the final result, plus that block's processing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from asr.contract import Recognizer, Utterance
from asr.pocketsphinx_backend import PocketSphinxRecognizer
from asr.vosk_backend import VoskRecognizer
from overlay.media.audio_file import read_audio
from overlay.models.store import find_spec, installed_path
from overlay.voice.activity import VoiceActivityDetector
from overlay.voice.dataset import load_labelled_speech, parse_ravdess_name
from tests.flite import VOICES, flite_available, synthesise
from tests.wer import word_error_rate

DEFAULT_DATA = Path(os.environ.get("EMOTION_OVERLAY_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
SENTENCES = (
    "I am so happy to see you today",
    "I am so angry about this",
    "This is the worst day of my life",
    "Thank you very much for your help",
    "Please open the window before you leave",
    "The meeting starts at nine in the morning",
    "I am afraid of what might happen next",
    "That was a wonderful surprise",
    "We need to talk about the budget",
    "I really miss my family",
    "Can you send me the report by Friday",
    "Nothing about this makes any sense to me",
)
HARVARD_LIST_1 = (
    "The birch canoe slid on the smooth planks",
    "Glue the sheet to the dark blue background",
    "It is easy to tell the depth of a well",
    "These days a chicken leg is a rare dish",
    "Rice is often served in round bowls",
    "The juice of lemons makes fine punch",
    "The box was thrown beside the parked truck",
    "The hogs were fed chopped corn and garbage",
    "Four hours of steady work faced us",
    "A large size in stockings is hard to sell",
)
ESPEAK_VOICES = ("en-us", "en-us+f3", "en-gb")
STATEMENTS = {1: "kids are talking by the door", 2: "dogs are sitting by the door"}
BLOCK = 1600


def espeak(text: str, voice: str) -> np.ndarray:
    """`text` spoken by espeak-ng, as 16 kHz mono float samples."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(out), text], check=True, capture_output=True)
        return read_audio(out).samples


def recognize(recognizer: Recognizer, samples: np.ndarray) -> tuple[str, float, list[float]]:
    """Transcript, processing seconds and latencies (s) of one utterance streamed with 1 s of silence after it."""
    span = VoiceActivityDetector().speech_span(samples)
    speech_end = span[1] / 16000 if span else len(samples) / 16000
    audio = np.concatenate([np.zeros(8000, np.float32), samples, np.zeros(16000, np.float32)])
    words, busy, latencies = [], 0.0, []
    for start in range(0, len(audio), BLOCK):
        began = time.perf_counter()
        results = recognizer.feed(audio[start : start + BLOCK], 100.0 + start / 16000)
        spent = time.perf_counter() - began
        busy += spent
        for result in results:
            if isinstance(result, Utterance):
                words.append(result.text)
                block_end = (start + BLOCK) / 16000 - 0.5
                latencies.append(block_end - speech_end + spent)
    began = time.perf_counter()
    words += [u.text for u in recognizer.finish()]
    busy += time.perf_counter() - began
    return " ".join(words), busy, latencies


def measure(recognizer: Recognizer, items: list[tuple[str, np.ndarray]]) -> dict[str, float]:
    pairs, busy, audio, latencies = [], 0.0, 0.0, []
    for reference, samples in items:
        text, spent, lat = recognize(recognizer, samples)
        pairs.append((reference, text))
        busy += spent
        audio += len(samples) / 16000 + 1.5
        latencies += lat
    return {
        "wer": round(word_error_rate(pairs), 4),
        "real_time_factor": round(busy / audio, 4),
        "final_latency_s_median": round(statistics.median(latencies), 3) if latencies else float("nan"),
        "final_latency_s_max": round(max(latencies), 3) if latencies else float("nan"),
        "utterances": len(items),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA / "ravdess_speech")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    sets: dict[str, list[tuple[str, np.ndarray]]] = {}
    if flite_available():
        sets["flite"] = [(s, synthesise(s, v)) for v in VOICES for s in SENTENCES]
    if shutil.which("espeak-ng"):
        sets["espeak"] = [(s, espeak(s, v)) for v in ESPEAK_VOICES for s in HARVARD_LIST_1]
    ravdess = load_labelled_speech(args.data, frozenset({17, 18, 19, 20}))
    sets["ravdess"] = [
        (STATEMENTS[parse_ravdess_name(c.path.stem).statement], c.samples)  # type: ignore[union-attr]
        for c in ravdess.clips
    ]

    recognizers: dict[str, Recognizer] = {"pocketsphinx": PocketSphinxRecognizer()}
    for name in ("vosk-model-small-en-us-0.15", "vosk-model-en-us-0.22-lgraph"):
        path = installed_path(find_spec(name))
        if path is not None:
            recognizers[name] = VoskRecognizer(path)
    results = {r: {s: measure(rec, items) for s, items in sets.items()} for r, rec in recognizers.items()}
    if args.json:
        print(json.dumps(results))
        return
    for recognizer, by_set in results.items():
        for name, figures in by_set.items():
            print(
                f"{recognizer:>30} {name:>8}: WER {figures['wer']:.3f}  RTF {figures['real_time_factor']:.3f}  "
                f"final after speech end: median {figures['final_latency_s_median']:.2f} s, "
                f"max {figures['final_latency_s_max']:.2f} s  ({figures['utterances']} utterances)"
            )


if __name__ == "__main__":
    main()
