"""Vosk (Kaldi) streaming recognition behind the asr contract.

Vosk's own loader logs to stderr and, given a name instead of a path, downloads; and a bad
path ends in a bare `Exception("Failed to create a model")`. So the adapter only ever gives
it a folder it has checked, silences its logging, and turns its failures into one-line
RecognizerErrors. Result parsing and timing live in plain functions, tested against
recorded Vosk JSON results.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from asr.contract import SAMPLE_RATE, Partial, RecognizerError, Utterance, Word, to_pcm16

logger = logging.getLogger(__name__)

# What every Vosk model folder holds (small models have HCLr.fst + Gr.fst, big ones HCLG.fst).
REQUIRED_FILES = ("am/final.mdl", "conf/model.conf")
GRAPH_CHOICES = (("graph/HCLG.fst",), ("graph/HCLr.fst", "graph/Gr.fst"))


@contextlib.contextmanager
def _stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for a moment (C++ code writes there directly)."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def check_model_folder(path: Path) -> None:
    """Raise RecognizerError naming what is missing from a Vosk model folder."""
    hint = "pull it again with `emotion-overlay models pull NAME`"
    if not path.is_dir():
        raise RecognizerError(f"Vosk model folder {path} does not exist; {hint}")
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if not any(all((path / name).is_file() for name in choice) for choice in GRAPH_CHOICES):
        missing.append("graph/HCLG.fst or graph/HCLr.fst + graph/Gr.fst")
    if missing:
        raise RecognizerError(f"Vosk model folder {path} is incomplete (missing {', '.join(missing)}); {hint}")


def parse_partial(raw: str, timestamp: float) -> Partial | None:
    text = str(json.loads(raw).get("partial", "")).strip()
    return Partial(text, timestamp) if text else None


def parse_result(raw: str, stream_start: float, backend: str) -> Utterance | None:
    """A Vosk Result()/FinalResult() JSON as an Utterance on the caller's clock (None when empty).

    Vosk gives word times in seconds from the start of the audio fed to the recognizer.
    """
    result: dict[str, Any] = json.loads(raw)
    text = str(result.get("text", "")).strip()
    if not text:
        return None
    words = tuple(
        Word(
            text=str(w["word"]),
            start=stream_start + float(w["start"]),
            end=stream_start + float(w["end"]),
            confidence=float(w.get("conf", 1.0)),
        )
        for w in result.get("result", [])
    )
    if words:
        start, end = words[0].start, words[-1].end
    else:  # words switched off: no times, say so by a zero-length span at the stream start
        start = end = stream_start
    return Utterance(text, start, end, words, backend)


class VoskRecognizer:
    def __init__(self, model_dir: Path) -> None:
        check_model_folder(model_dir)
        import vosk

        vosk.SetLogLevel(-1)
        try:
            with _stderr_silenced():  # Kaldi prints ERROR lines even at log level -1
                self._model = vosk.Model(str(model_dir))
                # Some broken folders load but cannot decode (ivector/final.ie missing, a cut
                # graph/HCLr.fst): Vosk only fails making a recognizer, so make one now, not in feed().
                vosk.KaldiRecognizer(self._model, SAMPLE_RATE)
        except Exception as err:  # vosk raises a bare Exception
            raise RecognizerError(
                f"Vosk could not load {model_dir} ({err}); the model may be corrupt: pull it again"
            ) from err
        self._vosk = vosk
        self.name = f"vosk:{model_dir.name}"
        self._recognizer: Any = None
        self._stream_start = 0.0
        self._fed = 0
        self._since_result = 0

    def _start(self, timestamp: float) -> None:
        self._recognizer = self._vosk.KaldiRecognizer(self._model, SAMPLE_RATE)
        self._recognizer.SetWords(True)
        self._recognizer.SetPartialWords(False)
        self._stream_start, self._fed = timestamp, 0
        self._since_result = 0  # samples fed since the last utterance ended

    def feed(self, samples: npt.NDArray[np.float32], timestamp: float) -> list[Partial | Utterance]:
        if self._recognizer is None:
            self._start(timestamp)
        self._fed += len(samples)
        self._since_result += len(samples)
        now = self._stream_start + self._fed / SAMPLE_RATE
        if self._recognizer.AcceptWaveform(to_pcm16(samples)):
            self._since_result = 0
            utterance = parse_result(self._recognizer.Result(), self._stream_start, self.name)
            return [utterance] if utterance else []
        partial = parse_partial(self._recognizer.PartialResult(), now)
        return [partial] if partial else []

    @property
    def open_seconds(self) -> float:
        return self._since_result / SAMPLE_RATE if self._recognizer is not None else 0.0

    def finish(self, quick: bool = False) -> list[Utterance]:
        # `quick` is ignored: Vosk has no cheaper close. FinalResult finalises the one search
        # pass it has run all along (there is no second pass to skip).
        if self._recognizer is None:
            return []
        utterance = parse_result(self._recognizer.FinalResult(), self._stream_start, self.name)
        self._recognizer = None
        return [utterance] if utterance else []
