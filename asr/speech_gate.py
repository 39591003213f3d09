"""Voice activity gating for recognizers that decode whole utterances (Whisper): which audio is
speech, cut into utterances, so that silence and noise never reach the decoder.

The voice activity model is Silero VAD (v6, the ONNX file that ships inside faster-whisper),
run as a stream: 512-sample windows (32 ms) with 64 samples of context and its LSTM state
carried from call to call, which gives exactly the probabilities of a whole-file pass
(checked in tests/test_speech_gate.py). It is level-independent enough that quiet and
compressed speech passes; a pre-roll keeps soft onsets (a breathy "h", a fading "s") that
score under the threshold in the windows before the word.

`UtteranceGate` is the segmentation alone (probabilities in, utterance events out), so its
rules are tested without a model.
"""

from __future__ import annotations

import collections
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from asr.contract import SAMPLE_RATE, RecognizerError

WINDOW = 512  # samples per voice-activity decision (Silero's size at 16 kHz)
CONTEXT = 64  # samples of the previous window the model sees with each window
WINDOW_S = WINDOW / SAMPLE_RATE

Samples = npt.NDArray[np.float32]


@dataclass(frozen=True)
class GateSettings:
    # Lower than Silero's own 0.5 / 0.35: strong emotional speech (RAVDESS's strong-intensity
    # angry, fearful, sad takes) peaks at 0.4-0.6 and was lost whole; loud white noise stays
    # under 0.35, and what gets through is Whisper's to reject (whisper_filters).
    onset: float = 0.3  # speech probability that opens an utterance
    offset: float = 0.2  # below this a window counts as silence
    # Screamed or shouted speech that Silero scores near 0 (0.0-0.25 on RAVDESS's strong fearful
    # takes at -10 to -20 dBFS): a window this much louder than the background (the quietest
    # tenth of the last 3 s) counts as voiced too, when it is loud in itself. Steady noise never
    # is: it is its own background.
    rescue_above_floor_db: float = 30.0
    rescue_min_dbfs: float = -30.0
    pre_roll_s: float = 0.4  # audio kept from before the onset: soft starts are not cut
    close_after_s: float = 0.5  # silence that ends an utterance
    long_s: float = 15.0  # once an utterance is this long...
    long_close_after_s: float = 0.2  # ...a shorter pause ends it
    max_s: float = 28.0  # and here it is cut regardless (Whisper hears 30 s at most)
    min_speech_s: float = 0.25  # shorter bursts (a click, a cough) are dropped undecoded
    tail_s: float = 0.2  # of the closing silence, kept with the utterance


@dataclass
class OpenUtterance:
    """Audio of the utterance in progress, from its first kept sample."""

    start_sample: int  # on the stream's sample count
    chunks: list[Samples] = field(default_factory=list)
    samples: int = 0
    speech_windows: int = 0
    silence_run: int = 0  # windows of silence at the end

    def add(self, window: Samples, speech: bool) -> None:
        self.chunks.append(window)
        self.samples += len(window)
        self.speech_windows += speech
        self.silence_run = 0 if speech else self.silence_run + 1

    def audio(self, drop_windows: int = 0) -> Samples:
        chunks = self.chunks[: len(self.chunks) - drop_windows] if drop_windows else self.chunks
        return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)

    @property
    def seconds(self) -> float:
        return self.samples / SAMPLE_RATE

    @property
    def trailing_silence_s(self) -> float:
        return self.silence_run * WINDOW_S


@dataclass(frozen=True)
class ClosedUtterance:
    start_sample: int
    audio: Samples
    speech_s: float


class UtteranceGate:
    """Windows with their speech probabilities in; the utterance in progress and closed ones out."""

    def __init__(self, settings: GateSettings | None = None) -> None:
        self.settings = settings or GateSettings()
        self._pre_roll: collections.deque[Samples] = collections.deque(
            maxlen=max(1, round(self.settings.pre_roll_s / WINDOW_S))
        )
        self._next_sample = 0
        self._levels: collections.deque[float] = collections.deque(maxlen=round(3.0 / WINDOW_S))
        self.open: OpenUtterance | None = None

    def _loud(self, window: Samples) -> bool:
        """Far louder than the background of the last 3 s, and loud in itself (see GateSettings)."""
        level = float(10.0 * np.log10(np.mean(np.square(window, dtype=np.float64)) + 1e-12))
        known = len(self._levels) >= round(0.75 / WINDOW_S)  # a background needs a moment to be known
        floor = float(np.percentile(self._levels, 10)) if known else level
        self._levels.append(level)
        s = self.settings
        return known and level >= s.rescue_min_dbfs and level - floor >= s.rescue_above_floor_db

    def push(self, window: Samples, probability: float) -> ClosedUtterance | None:
        """One window; the utterance it closes, if any (too short ones are dropped, None)."""
        s = self.settings
        start = self._next_sample
        self._next_sample += len(window)
        loud = self._loud(window)
        if self.open is None:
            if probability < s.onset and not loud:
                self._pre_roll.append(window)
                return None
            kept = list(self._pre_roll)
            self._pre_roll.clear()
            self.open = OpenUtterance(start - sum(len(w) for w in kept), kept, sum(len(w) for w in kept))
            self.open.add(window, True)
            return None
        utterance = self.open
        utterance.add(window, probability >= s.offset or loud)
        pause = utterance.trailing_silence_s
        if (
            pause >= s.close_after_s
            or (utterance.seconds >= s.long_s and pause >= s.long_close_after_s)
            or utterance.seconds >= s.max_s
        ):
            return self.close()
        return None

    def close(self) -> ClosedUtterance | None:
        """End the utterance in progress (end of stream, or a rule above)."""
        utterance, self.open = self.open, None
        if utterance is None:
            return None
        keep_tail = round(self.settings.tail_s / WINDOW_S)
        drop = max(0, utterance.silence_run - keep_tail)
        speech_s = utterance.speech_windows * WINDOW_S
        if speech_s < self.settings.min_speech_s:
            return None
        return ClosedUtterance(utterance.start_sample, utterance.audio(drop), speech_s)


def silero_model_path() -> Path:
    """Silero VAD as faster-whisper ships it (its `assets` folder)."""
    try:
        from faster_whisper.utils import get_assets_path
    except ImportError as err:
        raise RecognizerError(f"faster-whisper is not installed ({err}); reinstall emotion-overlay") from err
    return Path(get_assets_path()) / "silero_vad_v6.onnx"


class SileroStream:
    """Speech probabilities of consecutive 512-sample windows, the model's state carried over."""

    def __init__(self, path: Path | None = None) -> None:
        os.environ["ORT_DISABLE_TELEMETRY"] = "1"  # before onnxruntime starts: nothing leaves the machine
        import onnxruntime as ort

        path = path or silero_model_path()
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 4
        try:
            self._session: Any = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own untyped errors
            raise RecognizerError(
                f"the voice activity model {path} cannot be loaded ({err}); reinstall emotion-overlay"
            ) from err
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), np.float32)
        self._c = np.zeros((1, 1, 128), np.float32)
        self._context = np.zeros((1, CONTEXT), np.float32)

    def probabilities(self, windows: Samples) -> Samples:
        """`windows`: shape (n, 512); one probability each."""
        if len(windows) == 0:
            return np.zeros(0, np.float32)
        contexts = np.concatenate([self._context, windows[:-1, -CONTEXT:]])
        batch = np.ascontiguousarray(np.concatenate([contexts, windows], axis=1), dtype=np.float32)
        out, self._h, self._c = self._session.run(None, {"input": batch, "h": self._h, "c": self._c})
        self._context = windows[-1:, -CONTEXT:].copy()
        return np.asarray(out, np.float32).reshape(-1)


class StreamWindows:
    """Cuts fed audio of any length into 512-sample windows, keeping the remainder for next time."""

    def __init__(self) -> None:
        self._rest = np.zeros(0, np.float32)

    def cut(self, samples: Samples) -> Samples:
        audio = np.concatenate([self._rest, samples.astype(np.float32, copy=False)])
        whole = len(audio) // WINDOW * WINDOW
        self._rest = audio[whole:]
        return audio[:whole].reshape(-1, WINDOW)

    def flush(self) -> Samples:
        """The remainder padded with silence to one window (end of stream), or nothing."""
        if len(self._rest) == 0:
            return np.zeros((0, WINDOW), np.float32)
        window = np.zeros(WINDOW, np.float32)
        window[: len(self._rest)] = self._rest
        self._rest = np.zeros(0, np.float32)
        return window[None]
