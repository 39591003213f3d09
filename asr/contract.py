"""The contract every recognizer follows: 16 kHz mono audio in; partial hypotheses and final
utterances (with word times and confidences) out; `finish()` at the end of a stream.

Times are capture times on the caller's clock: the caller passes the capture time of the
first sample of every chunk it feeds, and the recognizer converts its own stream-relative
times with it. Chunks must be contiguous; after a gap the caller calls finish() and goes on
(the next chunk's timestamp starts a new stream).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 16_000


class RecognizerError(Exception):
    """The recognizer cannot be used (model missing, partial or corrupt); the message says what to do."""


@dataclass(frozen=True)
class Word:
    text: str
    start: float
    end: float
    confidence: float  # 0..1


@dataclass(frozen=True)
class Partial:
    """The recognizer's current guess at the utterance in progress; replaced by the next one."""

    text: str
    timestamp: float  # capture time of the latest audio it reflects


@dataclass(frozen=True)
class Utterance:
    """A finished stretch of speech, never revised."""

    text: str
    start: float
    end: float
    words: tuple[Word, ...]
    backend: str


class Recognizer(Protocol):
    name: str  # e.g. "vosk:vosk-model-small-en-us-0.15" or "pocketsphinx:en-us"

    def feed(self, samples: npt.NDArray[np.float32], timestamp: float) -> list[Partial | Utterance]:
        """Recognize more audio (16 kHz mono float in [-1, 1]); `timestamp`: capture time of samples[0]."""
        ...

    @property
    def open_seconds(self) -> float:
        """How long the utterance in progress is so far (0 when none): what finish() has to close."""
        ...

    def finish(self, quick: bool = False) -> list[Utterance]:
        """Flush the utterance in progress, if any (end of stream, or before a gap).

        `quick`: close it at the words the recognizer already has, without its final pass
        (stopping on a busy machine, where that pass could take seconds). Less exact; a
        backend whose final step is cheap ignores it.
        """
        ...


@runtime_checkable
class DecodesWhole(Protocol):
    """What a recognizer that decodes whole utterances (Whisper) adds: closing the utterance in
    progress costs one decode, whatever its length, and its partial decodes can be held (at
    stop, when there is no time for them)."""

    def expected_close_s(self) -> float:
        """Wall seconds that finish() is expected to take now (0 when no utterance is open)."""
        ...

    def hold_partials(self) -> None:
        """No more partial decodes until the stream is finished."""
        ...

    def warm_up(self) -> None:
        """One decode of nothing, so that the first real one is not slow (call once, after loading)."""
        ...


def to_pcm16(samples: npt.NDArray[np.float32]) -> bytes:
    """Little-endian 16-bit PCM, what both engines read."""
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
