"""Speech with known timing for the delivery tests and bench/delivery.py: espeak-ng at a set rate,
phrases joined by silences of known length, and a synthetic voice with a pitch contour of our choosing.

Made at run time (in memory or a temporary folder); nothing here is committed.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

RATE = 16_000
SILENT_BELOW = 1e-3  # espeak-ng's silence is digital zero; its speech never stays this quiet for long


# The first Harvard sentences list (IEEE 1969, public domain): sentences of known words.
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


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def espeak(text: str, wpm: int = 150, voice: str = "en-us", ssml: bool = False) -> npt.NDArray[np.float32]:
    """`text` spoken by espeak-ng at `wpm` (its -s), 16 kHz mono, the silence it adds around it cut off."""
    from overlay.media.audio_file import read_audio

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "speech.wav"
        command = ["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(out), *(["-m"] if ssml else []), text]
        subprocess.run(command, check=True, capture_output=True)
        return trimmed(read_audio(out).samples)


def trimmed(samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    sounding = np.flatnonzero(np.abs(samples) > SILENT_BELOW)
    return samples[sounding[0] : sounding[-1] + 1] if len(sounding) else samples[:0]


@dataclass(frozen=True)
class Spoken:
    """Audio made of phrases and silences: each phrase's [start, end) and each pause's (start, length), in seconds."""

    samples: npt.NDArray[np.float32]
    phrases: tuple[tuple[float, float], ...]
    pauses: tuple[tuple[float, float], ...]
    words: int


def joined(
    phrases: Sequence[npt.NDArray[np.float32]], pauses_s: Sequence[float], words: int, lead_s: float = 0.5
) -> Spoken:
    """The phrases with pauses_s[i] of silence after phrase i (one fewer than phrases), lead_s before and after."""
    parts = [np.zeros(round(lead_s * RATE), np.float32)]
    spans: list[tuple[float, float]] = []
    pauses: list[tuple[float, float]] = []
    at = len(parts[0])
    for i, phrase in enumerate(phrases):
        spans.append((at / RATE, (at + len(phrase)) / RATE))
        parts.append(phrase)
        at += len(phrase)
        gap = round((pauses_s[i] if i < len(phrases) - 1 else lead_s) * RATE)
        if i < len(phrases) - 1:
            pauses.append((at / RATE, gap / RATE))
        parts.append(np.zeros(gap, np.float32))
        at += gap
    return Spoken(np.concatenate(parts), tuple(spans), tuple(pauses), words)


def synthetic_voice(f0_hz: npt.NDArray[np.float64], seed: int = 0) -> npt.NDArray[np.float32]:
    """A vowel-like voice following the pitch contour `f0_hz` (one value per sample): a glottal
    pulse train through three formant resonators, in syllables of about 0.2 s."""
    phase = np.cumsum(f0_hz / RATE)
    pulses = np.diff(np.floor(phase), prepend=0.0)  # one impulse per period
    source = np.convolve(pulses, np.exp(-np.arange(40) / 6.0))[: len(pulses)]  # a decaying glottal pulse
    voice = np.zeros_like(source)
    for formant, bandwidth in ((700.0, 110.0), (1220.0, 120.0), (2600.0, 160.0)):
        voice += _resonate(source, formant, bandwidth)
    t = np.arange(len(voice)) / RATE
    syllables = 0.03 + 0.97 * np.sin(2 * np.pi * 2.25 * t) ** 2  # syllables: loud, then 30 dB down between them
    rng = np.random.default_rng(seed)
    voice = voice * syllables + rng.normal(0.0, 1e-4, len(voice))
    scaled: npt.NDArray[np.float32] = (0.3 * voice / np.max(np.abs(voice))).astype(np.float32)
    return scaled


def _resonate(x: npt.NDArray[np.float64], hz: float, bandwidth: float) -> npt.NDArray[np.float64]:
    """A two-pole resonator (a formant) at `hz`."""
    r = np.exp(-np.pi * bandwidth / RATE)
    a1, a2 = -2 * r * np.cos(2 * np.pi * hz / RATE), r * r
    y = np.zeros_like(x)
    for i in range(len(x)):
        y[i] = x[i] - a1 * (y[i - 1] if i else 0.0) - a2 * (y[i - 2] if i > 1 else 0.0)
    return y
