"""Whisper (faster-whisper on CTranslate2, int8) behind the asr contract, with live captions.

Whisper decodes whole stretches of audio; it has no streaming mode. So:
- only speech reaches it: Silero voice activity cuts the stream into utterances
  (`speech_gate.py`), so silence and noise cost nothing and cannot be "transcribed";
- while an utterance is open it is re-decoded from its start every `interval` seconds, and
  the words two consecutive hypotheses agree on are committed (LocalAgreement-2,
  `local_agreement.py`): captions while speaking;
- one decode costs about the same whatever the audio's length (the encoder always hears
  30 s), so the interval is what sets the CPU cost: it follows the measured wall time of a
  decode (`DecodePace`), which keeps recognition within its share of a core on a slow or
  busy CPU, and the log says when that makes captions slower than intended;
- when the utterance closes it is decoded once more with word timestamps: the final text,
  checked against Whisper's failure modes (`whisper_filters.py`). No decode is conditioned
  on earlier text (a wrong word must not spread). Whisper leaves out many "um"s and "uh"s; a
  disfluent prompt (`final_prompt`, OpenAI's advice) makes it write more of them (fillers said
  by espeak-ng found 6 -> 12 of 13, bench/delivery.py) but it also made Whisper add closing
  phrases nobody said ("We'll see you next time.", "Bye, sir."): flite's sentences went from
  WER 0.000 to 0.039 (bench/speech_recognition.py, `whisper-fillers`). Captions come first, so
  no decode is given a prompt unless a caller asks for it.

The model is a local folder (`emotion-overlay models pull whisper-tiny.en`); the Hugging
Face hub that faster-whisper would otherwise consult is switched off before it is imported.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from asr.contract import SAMPLE_RATE, Partial, RecognizerError, Utterance, Word
from asr.local_agreement import LocalAgreement
from asr.speech_gate import ClosedUtterance, GateSettings, SileroStream, StreamWindows, UtteranceGate
from asr.whisper_filters import (
    FilterSettings,
    SegmentView,
    level_dbfs,
    repeated_run_cut,
    segment_rejection,
    stock_phrase_rejection,
    tidy,
)

logger = logging.getLogger(__name__)

MODEL_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")
# Partial captions are meant to change at least this often; a slower pace is logged.
INTENDED_INTERVAL_S = 1.5


@dataclass(frozen=True)
class WhisperSettings:
    model_dir: Path
    threads: int = 1  # CTranslate2 intra-op threads (bench/speech_recognition.py measures 1 vs 2)
    partial_beam: int = 1  # greedy while speaking: the tail is tentative anyway
    # Beam 5 for the final text: on espeak-ng's hard voices WER 0.42 against 0.51 greedy, at the
    # same CPU for continuous talk (0.368 / 0.365 of a core) and +0.02 s latency; partials stay greedy.
    final_beam: int = 5
    cpu_share: float = 0.25  # wall seconds of partial decoding per second of speech, at most
    min_interval_s: float = 1.0
    max_interval_s: float = 5.0
    first_partial_s: float = 0.6  # speech heard before the first partial decode
    ending_silence_s: float = 0.2  # a pause this long probably ends the utterance: no partial, the final comes soon
    gate: GateSettings = field(default_factory=GateSettings)
    filters: FilterSettings = field(default_factory=FilterSettings)
    final_prompt: str | None = None  # text the final decode continues from (e.g. DISFLUENT_PROMPT); partials get none


# A prompt in the style Whisper should write: with it, filler sounds are kept (OpenAI's prompting guide).
DISFLUENT_PROMPT = "Umm, let me think like, hmm... Okay, here's what I'm, like, thinking."


def check_model_folder(path: Path) -> None:
    """Raise RecognizerError naming what is missing from a faster-whisper model folder."""
    hint = "pull it again with `emotion-overlay models pull whisper-tiny.en`"
    if not path.is_dir():
        raise RecognizerError(f"Whisper model folder {path} does not exist; {hint}")
    missing = [name for name in MODEL_FILES if not (path / name).is_file()]
    if missing:
        raise RecognizerError(f"Whisper model folder {path} is incomplete (missing {', '.join(missing)}); {hint}")


class DecodePace:
    """How often the open utterance may be re-decoded: the measured decode time over the CPU share."""

    def __init__(self, cpu_share: float, floor_s: float, ceiling_s: float) -> None:
        self._share, self._floor, self._ceiling = cpu_share, floor_s, ceiling_s
        self.cost_s: float | None = None  # smoothed wall seconds of one decode

    def observe(self, wall_s: float) -> None:
        self.cost_s = wall_s if self.cost_s is None else 0.7 * self.cost_s + 0.3 * wall_s

    @property
    def interval_s(self) -> float:
        if self.cost_s is None:
            return self._floor
        return min(self._ceiling, max(self._floor, self.cost_s / self._share))


def _open_model(settings: WhisperSettings) -> Any:
    check_model_folder(settings.model_dir)
    # faster-whisper imports huggingface_hub, which reads these when imported: never go online.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"
    try:
        from faster_whisper import WhisperModel
    except ImportError as err:
        raise RecognizerError(f"faster-whisper is not installed ({err}); reinstall emotion-overlay") from err
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)  # it logs every decode at INFO
    # Every decode makes a (disabled) tqdm bar, whose first use creates a multiprocessing lock
    # registered with the parent's resource tracker; a speech child ended at stop leaves it
    # behind ("leaked semaphore" at exit). A thread lock does the same job here.
    from tqdm import tqdm

    tqdm.set_lock(threading.RLock())
    try:
        return WhisperModel(
            str(settings.model_dir),
            device="cpu",
            compute_type="int8",
            cpu_threads=settings.threads,
            num_workers=1,
            local_files_only=True,
        )
    except Exception as err:  # CTranslate2 raises RuntimeError/ValueError with long messages
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise RecognizerError(
            f"Whisper could not load {settings.model_dir} ({reason}); the model may be corrupt: "
            "pull it again with `emotion-overlay models pull whisper-tiny.en`"
        ) from err


class WhisperRecognizer:
    def __init__(self, settings: WhisperSettings) -> None:
        self.settings = settings
        self._model = _open_model(settings)
        self._vad = SileroStream()
        self.name = f"whisper:{settings.model_dir.name}"
        self._pace = DecodePace(settings.cpu_share, settings.min_interval_s, settings.max_interval_s)
        self._logged_interval = settings.min_interval_s
        self._warned_slow = False
        self._final_cost = DecodePace(1.0, 0.0, 60.0)  # smoothed wall seconds of a final decode
        self.decode_seconds: list[tuple[str, float]] = []  # ("partial" | "final", wall s), newest last, for benchmarks
        self._start_stream()

    def _start_stream(self) -> None:
        self._vad.reset()
        self._windows = StreamWindows()
        self._gate = UtteranceGate(self.settings.gate)
        self._agreement = LocalAgreement()
        self._stream_start: float | None = None
        self._decoded_samples = 0  # of the open utterance, at its last partial decode
        self._partials_held = False

    @property
    def partial_interval_s(self) -> float:
        return self._pace.interval_s

    def feed(self, samples: npt.NDArray[np.float32], timestamp: float) -> list[Partial | Utterance]:
        if self._stream_start is None:
            self._stream_start = timestamp
        events = self._gate_windows(self._windows.cut(samples))
        if self._partial_due():
            events += self._partial()
        return events

    def _gate_windows(self, windows: npt.NDArray[np.float32]) -> list[Partial | Utterance]:
        """Voice activity over whole windows; the final of each utterance they close."""
        events: list[Partial | Utterance] = []
        for window, probability in zip(windows, self._vad.probabilities(windows), strict=True):
            closed = self._gate.push(window, float(probability))
            if closed is not None:
                events += self._final(closed)
        return events

    @property
    def open_seconds(self) -> float:
        return self._gate.open.seconds if self._gate.open is not None else 0.0

    def finish(self, quick: bool = False) -> list[Utterance]:
        events = [e for e in self._gate_windows(self._windows.flush()) if isinstance(e, Utterance)]
        closed = self._gate.close()
        if closed is not None:
            # quick: the words already on screen, without the final decode (stopping on a busy machine).
            events += self._quick_final(closed) if quick and self._agreement.text else self._final(closed)
        self._start_stream()
        return events

    # -- decoding ----------------------------------------------------------------------------

    def _origin(self, start_sample: int) -> float:
        assert self._stream_start is not None
        return self._stream_start + start_sample / SAMPLE_RATE

    def expected_close_s(self) -> float:
        if self._gate.open is None:
            return 0.0
        return self._final_cost.cost_s if self._final_cost.cost_s is not None else self._pace.cost_s or 0.0

    def hold_partials(self) -> None:
        self._partials_held = True

    def warm_up(self) -> None:
        """The first decode costs about twice a later one (allocations, caches): spend it on
        nothing, so that it is neither the first caption's delay nor the pace's first figure."""
        quiet = np.random.default_rng(0).normal(0.0, 1e-3, SAMPLE_RATE).astype(np.float32)
        segments, _ = self._model.transcribe(quiet, language="en", beam_size=1, without_timestamps=True)
        for _ in segments:
            pass

    def _partial_due(self) -> bool:
        utterance = self._gate.open
        if self._partials_held or utterance is None or utterance.trailing_silence_s >= self.settings.ending_silence_s:
            return False
        if self._decoded_samples == 0:
            return utterance.speech_windows * 512 / SAMPLE_RATE >= self.settings.first_partial_s
        return (utterance.samples - self._decoded_samples) / SAMPLE_RATE >= self._pace.interval_s

    def _partial(self) -> list[Partial | Utterance]:
        utterance = self._gate.open
        assert utterance is not None
        started = time.perf_counter()
        segments = self._decode(utterance.audio(), self.settings.partial_beam, words=False)
        spent = time.perf_counter() - started
        self.decode_seconds.append(("partial", spent))
        self._pace.observe(spent)
        self._log_pace()
        self._decoded_samples = utterance.samples
        words = [w for segment in segments for w in segment.text.split()]
        words = words[: repeated_run_cut(words, self.settings.filters.max_repeats)]
        self._agreement.update(words)
        text = self._agreement.text
        return [Partial(text, self._origin(utterance.start_sample + utterance.samples))] if text else []

    def _log_pace(self) -> None:
        interval = self._pace.interval_s
        if abs(interval - self._logged_interval) < 0.25 * self._logged_interval:
            return
        self._logged_interval = interval
        cost = self._pace.cost_s or 0.0
        level = logging.INFO
        if interval > INTENDED_INTERVAL_S and not self._warned_slow:
            self._warned_slow, level = True, logging.WARNING  # once; later changes at INFO
        logger.log(
            level,
            "a Whisper decode takes %.2f s here: partial captions every %.1f s, "
            "to keep recognition near %.0f %% of a core",
            cost,
            interval,
            100 * self.settings.cpu_share,
        )

    def _final(self, closed: ClosedUtterance) -> list[Utterance]:
        self._agreement.reset()
        self._decoded_samples = 0
        started = time.perf_counter()
        segments = self._decode(closed.audio, self.settings.final_beam, words=True, prompt=self.settings.final_prompt)
        spent = time.perf_counter() - started
        self.decode_seconds.append(("final", spent))
        self._final_cost.observe(spent)
        origin = self._origin(closed.start_sample)
        words = [
            Word(
                tidy(w.word), origin + float(w.start), origin + max(float(w.end), float(w.start)), _unit(w.probability)
            )
            for segment in segments
            for w in (segment.words or ())
            if tidy(w.word)
        ]
        words = words[: repeated_run_cut([w.text for w in words], self.settings.filters.max_repeats)]
        text = " ".join(w.text for w in words)
        if not text:
            return []
        why = stock_phrase_rejection(
            text,
            [w.confidence for w in words],
            max(s.no_speech_prob for s in segments),
            level_dbfs(closed.audio),
            self.settings.filters,
        )
        if why:
            logger.info("dropped Whisper output: %s", why)
            return []
        return [Utterance(text, words[0].start, words[-1].end, tuple(words), self.name)]

    def _quick_final(self, closed: ClosedUtterance) -> list[Utterance]:
        origin = self._origin(closed.start_sample)
        text = self._agreement.text
        self._agreement.reset()
        return [Utterance(text, origin, origin + len(closed.audio) / SAMPLE_RATE, (), self.name)]

    def _decode(self, audio: npt.NDArray[np.float32], beam: int, words: bool, prompt: str | None = None) -> list[Any]:
        """The believed segments of one decode of `audio` (faster-whisper Segments)."""
        segments, _ = self._model.transcribe(
            audio,
            language="en",
            task="transcribe",
            beam_size=beam,
            best_of=1,
            temperature=0.0,  # no sampling fallback: a doubtful decode is dropped, not re-rolled
            condition_on_previous_text=False,
            initial_prompt=prompt,
            without_timestamps=not words,
            word_timestamps=words,
            vad_filter=False,  # gated already
        )
        return list(_believed(segments, self.settings.filters))


def _believed(segments: Iterable[Any], settings: FilterSettings) -> Iterable[Any]:
    for segment in segments:
        why = segment_rejection(
            SegmentView(segment.text, segment.avg_logprob, segment.no_speech_prob, segment.compression_ratio), settings
        )
        if why:
            logger.info("dropped Whisper output %r: %s", tidy(segment.text), why)
            continue
        yield segment


def _unit(probability: float) -> float:
    return min(1.0, max(0.0, float(probability)))
