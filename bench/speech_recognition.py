"""Speech recognition on this machine: every available recognizer on the same audio.

    python bench/speech_recognition.py [--json] [--ravdess-actors 1-20] [--talk-seconds 90]
        [--recognizers pocketsphinx,whisper,whisper-2threads,whisper-greedy,vosk]

Sets with known words, each sentence streamed in 100 ms blocks with 0.5 s of silence before
and 1.5 s after it, as live:
- flite: 12 sentences in flite's three voices (slt, rms, awb);
- espeak: the first Harvard sentences list (IEEE 1969, public domain) in three espeak-ng voices;
- ravdess: RAVDESS actors (default 1-20: every file says "Kids are talking by the door" or
  "Dogs are sitting by the door", in eight emotions, acted).
Continuous talk: the talking clips' sound back to back (default the first 90 s), to measure
what a person speaking costs: CPU share (process CPU seconds over audio seconds, all
threads), the partial-caption interval while speaking, and the speech child's RSS (the real
`SpeechProcess`, with the text model, fed the same talk).

Latencies are taken on a simulated real-time clock: each block arrives when its audio has
been captured and is processed once the recognizer is free (the measured wall time of each
`feed`), so a decode in flight delays the blocks behind it as it would live. End of speech
-> final text: from the last voiced sample (webrtcvad) to the moment the block that produced
the final utterance has been processed. WER after normalising case and punctuation, digits
as Whisper writes them normalised to words for the sets whose references are spelled out.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

# As the app's speech child runs (overlay/speech/process.py): one BLAS/OpenMP thread, set before numpy loads.
os.environ.update({name: os.environ.get(name, "1") for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")})

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from asr.contract import Partial, Recognizer, Utterance
from overlay.media.audio_file import read_audio
from overlay.voice.activity import VoiceActivityDetector
from overlay.voice.dataset import load_labelled_speech, parse_ravdess_name
from tests.flite import VOICES, flite_available, synthesise
from tests.recognizers import recognizer_factories
from tests.speech_audio import HARVARD_LIST_1
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
ESPEAK_VOICES = ("en-us", "en-us+f3", "en-gb")
STATEMENTS = {1: "kids are talking by the door", 2: "dogs are sitting by the door"}
TALK_ORDER = (
    "styletalk_Obama_clip1.mp4",
    "uncrop_Obama.mp4",
    "styletalk_reagan_clip1.mp4",
    "WDA_AlexandriaOcasioCortez_000.mp4",
    "WDA_KatieHill_000.mp4",
    "styletalk_KristiNoem.mp4",
    "1.mp4",
    "2.mp4",
    "3.mp4",
    "4.mp4",
    "5.mp4",
)
# Whisper writes numbers as digits; the references spell the few they have.
DIGITS = {"9": "nine", "40": "forty"}
RATE = 16_000
BLOCK = 1600


def espeak(text: str, voice: str) -> np.ndarray:
    """`text` spoken by espeak-ng, as 16 kHz mono float samples."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(out), text], check=True, capture_output=True)
        return read_audio(out).samples


def spelled(text: str) -> str:
    return " ".join(DIGITS.get(word.strip(".,!?"), word) for word in text.split())


@dataclass
class Streamed:
    """One stream fed on a simulated real-time clock."""

    text: str = ""
    busy_s: float = 0.0  # wall seconds inside feed()/finish()
    final_times: list[float] = field(default_factory=list)  # clock times at which finals were out
    partial_times: list[float] = field(default_factory=list)


def stream(recognizer: Recognizer, audio: np.ndarray) -> Streamed:
    result = Streamed()
    free_at = 0.0  # when the recognizer is done with the blocks before
    texts = []
    for start in range(0, len(audio), BLOCK):
        arrives = (start + BLOCK) / RATE
        began = time.perf_counter()
        events = recognizer.feed(audio[start : start + BLOCK], 100.0 + start / RATE)
        spent = time.perf_counter() - began
        result.busy_s += spent
        free_at = max(free_at, arrives) + spent
        for event in events:
            if isinstance(event, Utterance):
                texts.append(event.text)
                result.final_times.append(free_at)
            elif isinstance(event, Partial):
                result.partial_times.append(free_at)
    began = time.perf_counter()
    texts += [u.text for u in recognizer.finish()]
    result.busy_s += time.perf_counter() - began
    result.text = " ".join(texts)
    return result


def measure_set(recognizer: Recognizer, items: list[tuple[str, np.ndarray]]) -> dict[str, float]:
    pairs, busy, audio_s, latencies, empty = [], 0.0, 0.0, [], 0
    detector = VoiceActivityDetector()
    for reference, samples in items:
        audio = np.concatenate([np.zeros(RATE // 2, np.float32), samples, np.zeros(3 * RATE // 2, np.float32)])
        span = detector.speech_span(audio)
        speech_end = span[1] / RATE if span else (RATE // 2 + len(samples)) / RATE
        heard = stream(recognizer, audio)
        pairs.append((reference, spelled(heard.text)))
        empty += not heard.text.strip()
        busy += heard.busy_s
        audio_s += len(audio) / RATE
        if heard.final_times:
            latencies.append(heard.final_times[-1] - speech_end)
    return {
        "wer": round(word_error_rate(pairs), 4),
        "no_transcript": empty,
        "real_time_factor": round(busy / audio_s, 4),
        "final_after_speech_end_s_median": round(statistics.median(latencies), 3) if latencies else float("nan"),
        "final_after_speech_end_s_p90": round(float(np.percentile(latencies, 90)), 3) if latencies else float("nan"),
        "utterances": len(items),
    }


def measure_talk(recognizer: Recognizer, audio: np.ndarray) -> dict[str, float]:
    cpu_before = time.process_time()
    heard = stream(recognizer, audio)
    cpu = time.process_time() - cpu_before
    gaps = np.diff(heard.partial_times) if len(heard.partial_times) > 1 else np.array([])
    # Gaps across an utterance boundary are not the interval while speaking: a final comes between.
    finals = np.array(heard.final_times)
    inside = [
        g
        for g, (a, b) in zip(gaps, zip(heard.partial_times, heard.partial_times[1:], strict=False), strict=True)
        if not ((finals > a) & (finals < b)).any()
    ]
    return {
        "cpu_share": round(cpu / (len(audio) / RATE), 3),
        "real_time_factor": round(heard.busy_s / (len(audio) / RATE), 3),
        "partial_interval_s_median": round(float(np.median(inside)), 2) if inside else float("nan"),
        "partial_interval_s_p90": round(float(np.percentile(inside, 90)), 2) if inside else float("nan"),
        "partials": len(heard.partial_times),
        "finals": len(heard.final_times),
        "talk_s": round(len(audio) / RATE, 1),
    }


def child_rss(recognizer: str, audio: np.ndarray) -> dict[str, float]:
    """The real speech child (recognizer + text model) fed the talk: its peak RSS and CPU."""
    from overlay.records import AudioBlock
    from overlay.speech.process import SpeechProcess
    from overlay.speech.stage import RecognizerSettings

    engine, _, variant = recognizer.partition("-")
    process = SpeechProcess(RecognizerSettings(engine, threads=2 if variant == "2threads" else 1))
    try:
        clock, began = 1000.0, time.monotonic()
        for start in range(0, len(audio), BLOCK):
            # Three times as fast as live: a recognizer within its budget keeps up (RTF < 0.35).
            time.sleep(max(0.0, began + start / RATE / 3 - time.monotonic()))
            process.feed(AudioBlock(audio[start : start + BLOCK], clock + start / RATE, RATE))
        time.sleep(3.0)  # the last blocks heard before the stop budget applies
        process.finish()
    finally:
        process.close()
    return {"child_peak_rss_mb": round(process.peak_rss_mb, 1), "child_cpu_s": round(process.cpu_seconds, 1)}


def actor_range(text: str) -> frozenset[int]:
    low, _, high = text.partition("-")
    return frozenset(range(int(low), int(high or low) + 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--ravdess-actors", type=actor_range, default=actor_range("1-20"))
    parser.add_argument("--talk-seconds", type=float, default=90.0)
    parser.add_argument("--recognizers", default="pocketsphinx,whisper,whisper-2threads,vosk")
    parser.add_argument("--sets", default="flite,espeak,ravdess,talk,child")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    wanted = set(args.sets.split(","))

    sets: dict[str, list[tuple[str, np.ndarray]]] = {}
    if "flite" in wanted and flite_available():
        sets["flite"] = [(s, synthesise(s, v)) for v in VOICES for s in SENTENCES]
    if "espeak" in wanted and shutil.which("espeak-ng"):
        sets["espeak"] = [(s, espeak(s, v)) for v in ESPEAK_VOICES for s in HARVARD_LIST_1]
    if "ravdess" in wanted:
        ravdess = load_labelled_speech(args.data / "ravdess_speech", args.ravdess_actors)
        sets["ravdess"] = [
            (STATEMENTS[parse_ravdess_name(c.path.stem).statement], c.samples)  # type: ignore[union-attr]
            for c in ravdess.clips
        ]
    talk = np.concatenate([read_audio(args.data / "video" / "talking" / name).samples for name in TALK_ORDER])
    talk = talk[: round(args.talk_seconds * RATE)]

    results: dict[str, dict[str, dict[str, float]]] = {}
    for name, make in recognizer_factories(args.recognizers.split(",")).items():
        loaded = time.perf_counter()
        recognizer = make()
        by_set: dict[str, dict[str, float]] = {"load": {"seconds": round(time.perf_counter() - loaded, 2)}}
        for set_name, items in sets.items():
            by_set[set_name] = measure_set(recognizer, items)
            print(f"{name:>18} {set_name:>8}: {by_set[set_name]}", file=sys.stderr, flush=True)
        if "talk" in wanted:
            by_set["talk"] = measure_talk(recognizer, talk)
            print(f"{name:>18}     talk: {by_set['talk']}", file=sys.stderr, flush=True)
        if "child" in wanted and name in ("pocketsphinx", "whisper", "whisper-2threads", "vosk"):
            by_set["child"] = child_rss(name, talk)
            print(f"{name:>18}    child: {by_set['child']}", file=sys.stderr, flush=True)
        results[name] = by_set
        del recognizer
    load = os.getloadavg()
    results["machine"] = {
        "load_1min": {"at_end": round(load[0], 2)},
        "rss": {"bench_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)},
    }
    if args.json:
        print(json.dumps(results))
        return
    for recognizer_name, by_set in results.items():
        for set_name, figures in by_set.items():
            print(f"{recognizer_name:>18} {set_name:>8}: " + "  ".join(f"{k} {v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
