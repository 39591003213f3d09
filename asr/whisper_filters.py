"""Whisper's known failure modes, caught on its output.

Whisper writes fluent text even when there is nothing to hear: the stock "Thank you." or
"Thanks for watching!" on near-silence, a phrase repeated until the token limit, or words
from noise. Voice activity gating keeps most of that audio away; these rules drop what gets
through, by the decoder's own signals (as openai-whisper's thresholds do: no-speech
probability with a low average log-probability, gzip compression ratio), by repeated
n-grams and, for the stock phrases alone, by how faint or unsure the evidence was.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from asr.local_agreement import word_key

# Phrases Whisper produces from silence or noise (from its subtitle training data).
STOCK_PHRASES = frozenset(
    {
        "thank you",
        "thank you very much",
        "thanks",
        "thanks for watching",
        "thank you for watching",
        "thank you so much for watching",
        "please subscribe",
        "subscribe",
        "you",
        "bye",
        "bye bye",
        "okay",
        "oh",
        "so",
        "the end",
    }
)


@dataclass(frozen=True)
class FilterSettings:
    no_speech_prob: float = 0.6  # with a low log-probability: openai-whisper's no-speech rule
    # With the no-speech probability: openai-whisper's rule for "nothing was said".
    low_logprob: float = -1.0
    # Alone, only far lower: voice activity has already said this is speech, and hard speech
    # (accents, synthetic voices, shouting) decodes at -1 to -1.5 and is still mostly right.
    guess_logprob: float = -2.0
    compression_ratio: float = 2.4  # gzip ratio over which the text is a loop
    max_repeats: int = 2  # consecutive repeats of an n-gram kept (more is a loop)
    stock_faint_dbfs: float = -45.0  # a stock phrase from audio this faint is not believed
    stock_min_probability: float = 0.6  # nor one whose words average less than this
    stock_no_speech_prob: float = 0.3  # nor one the model itself doubts was speech


@dataclass(frozen=True)
class SegmentView:
    """What the filters read of one decoded segment."""

    text: str
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float


def segment_rejection(segment: SegmentView, settings: FilterSettings) -> str | None:
    """Why the segment is not believed (None: kept)."""
    if segment.no_speech_prob > settings.no_speech_prob and segment.avg_logprob < settings.low_logprob:
        return f"no speech (p={segment.no_speech_prob:.2f})"
    if segment.compression_ratio > settings.compression_ratio:
        return f"repetitive (compression ratio {segment.compression_ratio:.1f})"
    if segment.avg_logprob < settings.guess_logprob:
        return f"a guess (average log-probability {segment.avg_logprob:.2f})"
    return None


def stock_phrase_rejection(
    text: str, word_probabilities: list[float], no_speech_prob: float, level_dbfs: float, settings: FilterSettings
) -> str | None:
    """A stock phrase is kept only with clear evidence: loud enough, confident, speech by the model's own account."""
    if " ".join(word_key(w) for w in text.split() if word_key(w)) not in STOCK_PHRASES:
        return None
    mean_probability = sum(word_probabilities) / len(word_probabilities) if word_probabilities else 0.0
    if level_dbfs < settings.stock_faint_dbfs:
        return f"stock phrase {text!r} from faint audio ({level_dbfs:.0f} dBFS)"
    if mean_probability < settings.stock_min_probability:
        return f"stock phrase {text!r} with word confidence {mean_probability:.2f}"
    if no_speech_prob > settings.stock_no_speech_prob:
        return f"stock phrase {text!r} the model doubts was speech (p={no_speech_prob:.2f})"
    return None


def repeated_run_cut(words: list[str], max_repeats: int) -> int:
    """How many words to keep: up to the first n-gram (n <= 6) repeated more than `max_repeats`
    times in a row, plus those repeats (a decoding loop); len(words) when there is none."""
    keys = [word_key(w) for w in words]
    for start in range(len(keys)):
        for n in range(1, 7):
            gram = keys[start : start + n]
            if len(gram) < n:
                break
            repeats = 1
            while keys[start + repeats * n : start + (repeats + 1) * n] == gram:
                repeats += 1
            if repeats > max_repeats:
                return start + max_repeats * n
    return len(words)


def level_dbfs(audio: npt.NDArray[np.float32]) -> float:
    """RMS level in dB relative to full scale (-inf for silence)."""
    if len(audio) == 0:
        return -math.inf
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
    return 20.0 * math.log10(rms) if rms > 0 else -math.inf


_SPACES = re.compile(r"\s+")


def tidy(text: str) -> str:
    return _SPACES.sub(" ", text).strip()
