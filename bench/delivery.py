"""Delivery (overlay.delivery) on audio of known truth: pace, pauses, pitch range, fillers, and the stage's cost.

    python bench/delivery.py [--json] [--rates 110,150,190] [--voices en-us,en-us+f3]
        [--recognizers whisper,whisper-fillers] [--talk-seconds 90] [--sets pace,pitch,fillers,cost]

Made at run time (nothing is committed):
- pace and pauses: ten Harvard sentences spoken by espeak-ng at each rate (-s, its words per
  minute) and voice, each cut to its sound, joined by silences of known length (0.6-3 s).
  The truth: every word over the speaking time (the sentences and the pauses under 2 s).
  Pace is measured twice: with the true words spread over each sentence (the sound side
  alone: speaking time), and with the words a recognizer wrote (end to end). Pauses: each
  inserted one must be found (its start within 0.25 s) with its length within 0.15 s;
  pauses over 0.5 s found where none was inserted are counted as false. The same with pink
  noise 20 dB under the speech (not a target).
- pitch: every phrase of those sets, espeak-ng's voice made flat and wide (SSML prosody
  range), and the talking clips (real speech): the stage's range (YIN, live, 10 ms hops) against
  librosa's pYIN run offline on the same audio over the same phrase, the same percentiles;
  per phrase, and per set as a session's figure (the median of its phrases').
- fillers: sentences with fillers said at known places and sentences using "like", "so",
  "you know", "I mean" as ordinary words, spoken by espeak-ng and flite, transcribed by each
  recognizer; precision and recall per sentence (a filler sound counts as found whatever
  spelling the recognizer chose). The talking clips have no filler reference: what each
  recognizer's words give is listed as it is.
- cost: the stage fed the talking clips back to back in 0.1 s blocks: its CPU seconds per
  second of audio (this thread's) and each block's time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.update({name: os.environ.get(name, "1") for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")})

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from asr.contract import Recognizer, Utterance
from models.voice.noise import add_noise, coloured_noise
from overlay.delivery.figures import FigureSettings, PhraseSpan, TimedWord, delivery_figures
from overlay.delivery.fillers import SOUNDS, find_fillers
from overlay.delivery.pitch import PitchSettings, pitch_figures
from overlay.delivery.sound import Phrase
from overlay.delivery.stage import DeliveryStage, Pause, phrase_span
from overlay.media.audio_file import read_audio
from overlay.records import AudioBlock
from tests.flite import flite_available, synthesise
from tests.recognizers import recognizer_factories
from tests.speech_audio import HARVARD_LIST_1, RATE, Spoken, espeak, espeak_available, joined

DEFAULT_DATA = Path(os.environ.get("EMOTION_OVERLAY_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
BLOCK = RATE // 10
HARVARD = HARVARD_LIST_1
PAUSES_S = (0.6, 0.8, 2.5, 1.0, 1.5, 3.0, 0.7, 1.2, 2.2)
# Sentences with fillers (the truth: each filler in order) and with the same words used as words.
FILLER_SENTENCES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("So, um, I think we should start with the budget.", ("so", "um")),
    ("I was, uh, going to call you yesterday.", ("uh",)),
    ("We need, like, three more people on the team.", ("like",)),
    ("Um, you know, the results were better than expected.", ("um", "you know")),
    ("It was, like, the best day of the year.", ("like",)),
    ("Uh, I mean, we could try it again tomorrow.", ("uh", "I mean")),
    ("The report is, um, almost finished.", ("um",)),
    ("So, the plan is to, uh, launch next week.", ("so", "uh")),
    ("Hmm, let me check the numbers again.", ("hmm",)),
    ("I like the new design a lot.", ()),
    ("Do you know where the station is?", ()),
    ("It was so cold that the lake froze.", ()),
    ("She looks like her mother.", ()),
    ("I mean what I say.", ()),
    ("We left early so we could park.", ()),
)
TALK_ORDER = (
    "styletalk_Obama_clip1.mp4",
    "styletalk_andrew_clip_1.mp4",
    "styletalk_andrew_clip_2.mp4",
    "styletalk_reagan_clip1.mp4",
    "WDA_KatieHill_000.mp4",
    "styletalk_KristiNoem.mp4",
    "pose_source2.mp4",
)


# ---------------------------------------------------------------- streaming


def heard(samples: npt.NDArray[np.float32], origin: float = 0.0) -> tuple[list[Phrase], list[Pause], list[float]]:
    """Phrases, pauses and each block's wall milliseconds of the stage on `samples` in 0.1 s blocks."""
    stage = DeliveryStage()
    phrases: list[Phrase] = []
    pauses: list[Pause] = []
    block_ms: list[float] = []
    for start in range(0, len(samples), BLOCK):
        began = time.perf_counter()
        events = stage.feed(AudioBlock(samples[start : start + BLOCK], origin + start / RATE))
        block_ms.append((time.perf_counter() - began) * 1000)
        phrases += events.phrases
        pauses += events.pauses
    events = stage.finish()
    return phrases + events.phrases, pauses + events.pauses, block_ms


def recognised(recognizer: Recognizer, samples: npt.NDArray[np.float32]) -> list[tuple[TimedWord, ...]]:
    """The recognizer's utterances of `samples` fed in 0.1 s blocks, as word lists (times from 0)."""
    utterances: list[Utterance] = []
    silence = np.zeros(RATE, np.float32)  # a second after the end, so the last utterance closes as live
    audio = np.concatenate([samples, silence])
    for start in range(0, len(audio), BLOCK):
        utterances += [
            e for e in recognizer.feed(audio[start : start + BLOCK], start / RATE) if isinstance(e, Utterance)
        ]
    utterances += recognizer.finish()
    return [tuple(TimedWord(w.text, w.start, w.end) for w in u.words) for u in utterances if u.words]


# ---------------------------------------------------------------- pace and pauses


def spoken_set(wpm: int, voice: str) -> Spoken:
    words = sum(len(s.split()) for s in HARVARD)
    return joined([espeak(s, wpm, voice) for s in HARVARD], PAUSES_S, words)


def true_words(spoken: Spoken) -> list[tuple[TimedWord, ...]]:
    utterances = []
    for (start, end), sentence in zip(spoken.phrases, HARVARD, strict=True):
        tokens = sentence.split()
        step = (end - start) / len(tokens)
        utterances.append(tuple(TimedWord(t, start + i * step, start + (i + 1) * step) for i, t in enumerate(tokens)))
    return utterances


def pause_errors(truth: Sequence[tuple[float, float]], found: Sequence[Pause]) -> dict[str, Any]:
    errors: list[float] = []
    missed = 0
    matched: set[int] = set()
    for start, length in truth:
        near = [i for i, p in enumerate(found) if abs(p.start - start) < 0.25]
        if not near:
            missed += 1
            continue
        matched.add(near[0])
        errors.append(abs(found[near[0]].length_s - length))
    false = [round(p.length_s, 2) for i, p in enumerate(found) if i not in matched and p.length_s > 0.5]
    return {
        "pauses": len(truth),
        "found": len(truth) - missed,
        "length_error_s_max": round(max(errors), 3) if errors else None,
        "length_error_s_median": round(statistics.median(errors), 3) if errors else None,
        "false_pauses_over_0_5_s": false,
    }


def measure_pace(rates: Sequence[int], voices: Sequence[str], recognizers: dict[str, Recognizer]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    settings = FigureSettings()
    rng = np.random.default_rng(0)
    for voice in voices:
        for wpm in rates:
            spoken = spoken_set(wpm, voice)
            speaking = sum(b - a for a, b in spoken.phrases) + sum(
                n for _, n in spoken.pauses if n < settings.long_pause_s
            )
            truth = spoken.words * 60.0 / speaking
            phrases, pauses, _ = heard(spoken.samples)
            spans = [phrase_span(p) for p in phrases]
            duration = len(spoken.samples) / RATE
            row: dict[str, Any] = {
                "espeak_s": wpm,
                "truth_wpm": round(truth, 1),
                "speaking_s_truth": round(speaking, 2),
                "speaking_s_measured": round(delivery_figures(spans, [], duration).speaking_s, 2),
            }
            measured = delivery_figures(spans, true_words(spoken), duration).pace_wpm or 0.0
            row["pace_true_words"] = round(measured, 1)
            row["pace_true_words_error"] = round(measured / truth - 1.0, 3)
            for name, recognizer in recognizers.items():
                words = recognised(recognizer, spoken.samples)
                pace = delivery_figures(spans, words, duration).pace_wpm or 0.0
                row[f"pace_{name}"] = round(pace, 1)
                row[f"pace_{name}_error"] = round(pace / truth - 1.0, 3)
                row[f"words_{name}"] = sum(len(u) for u in words)
            row["words_truth"] = spoken.words
            row.update(pause_errors(spoken.pauses, pauses))
            # The same under pink noise 20 dB below the speech (a fan in the room): not a target, said as it is.
            noisy = add_noise(spoken.samples, coloured_noise(len(spoken.samples), 1, rng), 20.0).astype(np.float32)
            found = pause_errors(spoken.pauses, heard(noisy)[1])
            row["pink_noise_20db_found"] = found["found"]
            row["pink_noise_20db_false"] = len(found["false_pauses_over_0_5_s"])
            row["pink_noise_20db_length_error_s_max"] = found["length_error_s_max"]
            results[f"{voice}@{wpm}"] = row
            print(f"pace {voice}@{wpm}: {row}", file=sys.stderr, flush=True)
    return results


# ---------------------------------------------------------------- pitch


def pyin_ranges(samples: npt.NDArray[np.float32], phrases: Sequence[PhraseSpan]) -> list[float | None]:
    """pYIN (librosa, offline, the whole audio at once) over each phrase, summarised as the stage does."""
    import librosa

    settings = PitchSettings()
    f0, voiced, _ = librosa.pyin(
        samples.astype(np.float64),
        fmin=settings.fmin_hz,
        fmax=settings.fmax_hz,
        sr=RATE,
        frame_length=1024,
        hop_length=160,
    )
    times = librosa.times_like(f0, sr=RATE, hop_length=160)
    ranges: list[float | None] = []
    for phrase in phrases:
        inside = (times >= phrase.start) & (times < phrase.end) & voiced
        figures = pitch_figures(np.nan_to_num(f0[inside]).astype(np.float32), settings)
        ranges.append(figures.range_semitones if figures else None)
    return ranges


def compare_pitch(name: str, samples: npt.NDArray[np.float32]) -> list[dict[str, Any]]:
    phrases, _, _ = heard(samples)
    spans = [phrase_span(p) for p in phrases]
    rows = []
    for span, reference in zip(spans, pyin_ranges(samples, spans), strict=True):
        ours = span.range_semitones
        if ours is None or reference is None:
            continue
        rows.append(
            {"set": name, "start": round(span.start, 2), "yin_st": round(ours, 2), "pyin_st": round(reference, 2)}
        )
    return rows


def measure_pitch(rates: Sequence[int], voices: Sequence[str], data: Path, talk_names: Sequence[str]) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for voice in voices:
        for wpm in rates:
            rows += compare_pitch(f"espeak {voice}@{wpm}", spoken_set(wpm, voice).samples)
    for shape in ("x-low", "x-high"):
        text = " ".join(HARVARD[:4])
        rows += compare_pitch(
            f"espeak range {shape}", espeak(f'<speak><prosody range="{shape}">{text}</prosody></speak>', ssml=True)
        )
    for name in talk_names:
        rows += compare_pitch(name, read_audio(data / "video" / "talking" / name).samples)
    flags = FigureSettings()
    by_set: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_set.setdefault(row["set"], []).append(row)

    def agreement(chosen: list[dict[str, Any]]) -> dict[str, Any]:
        differences = [abs(r["yin_st"] - r["pyin_st"]) for r in chosen]
        return {
            "phrases": len(chosen),
            "within_1_semitone": sum(d <= 1.0 for d in differences),
            "abs_difference_st_median": round(statistics.median(differences), 3) if differences else None,
            "abs_difference_st_p90": round(float(np.percentile(differences, 90)), 3) if differences else None,
            "abs_difference_st_max": round(max(differences), 3) if differences else None,
        }

    # A session's figure is the median of its phrases' ranges (overlay.delivery.figures).
    sessions = {
        name: (statistics.median(r["yin_st"] for r in chosen), statistics.median(r["pyin_st"] for r in chosen))
        for name, chosen in by_set.items()
    }
    return {
        "synthetic": agreement([r for r in rows if r["set"].startswith("espeak")]),
        "talking_clips": agreement([r for r in rows if not r["set"].startswith("espeak")]),
        "session_range_st_yin_pyin": {k: (round(a, 2), round(b, 2)) for k, (a, b) in sessions.items()},
        "session_abs_difference_st_max": round(max(abs(a - b) for a, b in sessions.values()), 3) if sessions else None,
        "monotone_by_set": {k: a < flags.monotone_below_st for k, (a, _) in sessions.items()},
        "worst": sorted(rows, key=lambda r: -abs(r["yin_st"] - r["pyin_st"]))[:4],
    }


# ---------------------------------------------------------------- fillers


def filler_class(word: str) -> str:
    """A filler sound is one class whatever its spelling ("um" said, "uh" written is still found)."""
    return "sound" if word in SOUNDS else word


def measure_fillers(recognizers: dict[str, Recognizer], data: Path, talk_names: Sequence[str]) -> dict[str, Any]:
    voices: dict[str, Any] = {}
    if espeak_available():
        voices["espeak"] = lambda text: espeak(text, 150)
    if flite_available():
        voices["flite"] = lambda text: synthesise(text, "slt")
    results: dict[str, Any] = {}
    for name, recognizer in recognizers.items():
        for voice, speak in voices.items():
            hits = found_n = truth_n = 0
            misses: list[str] = []
            for sentence, truth in FILLER_SENTENCES:
                words = [
                    w
                    for u in recognised(recognizer, np.concatenate([np.zeros(RATE // 2, np.float32), speak(sentence)]))
                    for w in u
                ]
                found = Counter(filler_class(f.word) for f in find_fillers([w.text for w in words]))
                expected = Counter(filler_class(f) for f in truth)
                hits += sum((found & expected).values())
                found_n += sum(found.values())
                truth_n += sum(expected.values())
                if found != expected:
                    misses.append(f"{sentence!r} -> {' '.join(w.text for w in words)!r}")
            results[f"{name}/{voice}"] = {
                "precision": round(hits / found_n, 3) if found_n else None,
                "recall": round(hits / truth_n, 3) if truth_n else None,
                "fillers_said": truth_n,
                "fillers_found": found_n,
                "mismatches": misses,
            }
            print(f"fillers {name}/{voice}: {results[f'{name}/{voice}']}", file=sys.stderr, flush=True)
        talk: dict[str, list[str]] = {}
        for clip in talk_names:
            utterances = recognised(recognizer, read_audio(data / "video" / "talking" / clip).samples)
            talk[clip] = [f.word for u in utterances for f in find_fillers([w.text for w in u])]
        results[f"{name}/talking clips (no reference)"] = talk
    return results


# ---------------------------------------------------------------- cost


def measure_cost(talk: npt.NDArray[np.float32]) -> dict[str, Any]:
    heard(talk[: 5 * RATE])  # warm: first calls allocate
    began = time.thread_time()
    _, _, block_ms = heard(talk)
    cpu = time.thread_time() - began
    return {
        "audio_s": round(len(talk) / RATE, 1),
        "cpu_share_of_one_core": round(cpu / (len(talk) / RATE), 4),
        "block_ms_median": round(statistics.median(block_ms), 3),
        "block_ms_p95": round(float(np.percentile(block_ms, 95)), 3),
        "block_ms_max": round(max(block_ms), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--rates", default="110,150,190")
    parser.add_argument("--voices", default="en-us,en-us+f3")
    parser.add_argument("--recognizers", default="whisper,whisper-fillers")
    parser.add_argument("--talk-seconds", type=float, default=90.0)
    parser.add_argument("--sets", default="pace,pitch,fillers,cost")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not espeak_available():
        parser.error("espeak-ng is not installed (Debian: apt-get install espeak-ng); it speaks the test audio")
    wanted = set(args.sets.split(","))
    rates = [int(r) for r in args.rates.split(",")]
    voices = args.voices.split(",")
    talk_names = [n for n in TALK_ORDER if (args.data / "video" / "talking" / n).is_file()]
    recognizers = {name: make() for name, make in recognizer_factories(args.recognizers.split(",")).items()}
    results: dict[str, Any] = {}
    if "cost" in wanted and talk_names:
        talk = np.concatenate([read_audio(args.data / "video" / "talking" / n).samples for n in talk_names])
        results["cost"] = measure_cost(talk[: round(args.talk_seconds * RATE)])
        print(f"cost: {results['cost']}", file=sys.stderr, flush=True)
    if "pace" in wanted:
        results["pace"] = measure_pace(rates, voices, recognizers)
    if "pitch" in wanted:
        results["pitch"] = measure_pitch(rates, voices, args.data, talk_names)
        print(f"pitch: {results['pitch']}", file=sys.stderr, flush=True)
    if "fillers" in wanted:
        results["fillers"] = measure_fillers(recognizers, args.data, talk_names)
    results["machine"] = {"load_1min_at_end": round(os.getloadavg()[0], 2)}
    if args.json:
        print(json.dumps(results))
        return
    for section, figures in results.items():
        if isinstance(figures, dict) and all(isinstance(v, dict) for v in figures.values()):
            for name, row in figures.items():
                print(f"{section:>8} {name}: " + "  ".join(f"{k} {v}" for k, v in row.items()))
        else:
            print(f"{section:>8}: {figures}")


if __name__ == "__main__":
    main()
