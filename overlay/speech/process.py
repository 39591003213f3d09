"""The words path in a process of its own.

Speech recognizers spend long stretches in C code that holds Python's global interpreter
lock; in the app's process that delayed video frames (bench/live.py: added latency p95
2.8 -> 18 ms with PocketSphinx in a thread). Here the recognizer and the text model run in
a child process: the app sends it audio blocks and collects partial and final results
without ever waiting on it. A recognizer that crashes takes only the child with it.

The child never outlives the app: a thread in it waits on the parent's process sentinel
(multiprocessing.parent_process(), portable) and ends the child within a fraction of a
second of the parent's death, however it died (kill -9 included). The app's own exit never
waits on the child either: the request queue's feeder thread is not joined at exit
(`cancel_join_thread`), so a child that stopped reading cannot hold the app up. At stop
the child's last results are due within STOP_BUDGET_S; it hears what fits and skips the
rest, and a child that still has not answered ANSWER_WAIT_S later is ended.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import queue
import resource
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from asr.contract import DecodesWhole
from overlay.errors import OverlayError
from overlay.records import AudioBlock, TextEstimate
from overlay.runtime.parent_watch import exit_with_parent
from overlay.speech.stage import RecognizerSettings, SpeechEvents

if TYPE_CHECKING:
    from overlay.speech.stage import SpeechStage

logger = logging.getLogger(__name__)

START_TIMEOUT_S = 120.0
# `stop` must end within a second, so the child's last results are due this long after
# finish() asks for them. On a loaded machine the child may still hold seconds of queued
# blocks and closing an utterance is slow (measured at load 4: 0.13-0.68 s, idle 0.04-0.23 s),
# so once stopping it hears what fits in the time left and skips the rest (logged, and the
# sound is in the recording); on an idle machine it is never behind and hears everything.
STOP_BUDGET_S = 0.4
CLOSE_RESERVE_S = 0.25  # of the budget, kept for closing the utterance in progress
# A queued block that reaches the child this much later than blocks usually do (the device's
# own latency is the usual) shows it is behind: once stopping, such blocks are skipped.
FINISH_GRACE_S = 0.25
# How long past the due time the app waits for a child stuck in one long C call, then ends it.
ANSWER_WAIT_S = 0.25


# What the parent sends the child.
@dataclass(frozen=True)
class Feed:
    block: AudioBlock


@dataclass(frozen=True)
class Finish:
    """Give the last words, then end."""


# What the child sends back.
@dataclass(frozen=True)
class Ready:
    recognizer: str
    why: str  # why this recognizer (asr.choose)


@dataclass(frozen=True)
class Heard:
    events: SpeechEvents


@dataclass(frozen=True)
class Failed:
    error: str  # one line


@dataclass(frozen=True)
class Finished:
    events: SpeechEvents  # the last words (one message: the app is waiting for it)
    cpu_seconds: float
    peak_rss_mb: float
    skipped_s: float  # sound dropped because the app was stopping and the child was behind
    quick: bool  # the last words were closed without the recognizer's final pass (it would have been slow)


Request = Feed | Finish
Result = Ready | Heard | Failed | Finished


class SpeechProcess:
    """A SpeechAnalyzer whose work happens in a child process; feed() never blocks."""

    def __init__(self, settings: RecognizerSettings | None = None) -> None:
        context = multiprocessing.get_context("spawn")
        self._requests: Any = context.Queue()
        # Results come back through a plain pipe: send() writes at once from the child's loop
        # (a Queue's feeder thread added 0.04-0.17 s to the last words' trip on a loaded machine).
        self._results, results = context.Pipe(duplex=False)
        # When the last results are due (time.monotonic(), the same clock in every process); 0 while running.
        self._stop_by: Any = context.Value("d", 0.0, lock=False)
        self._process = context.Process(
            target=_serve,
            args=(self._requests, results, self._stop_by, settings or RecognizerSettings()),
            name="speech-recognition",
            daemon=True,
        )
        with _single_threaded_libraries():
            self._process.start()
        results.close()  # the child holds the writing end now: its death reads as EOF here
        # Blocks still in the queue when the app ends are of no use to anyone: never let
        # the interpreter's exit wait for them to reach a child that may not be reading.
        self._requests.cancel_join_thread()
        started = self._next(START_TIMEOUT_S)
        if not isinstance(started, Ready):
            self._process.join(timeout=5)
            why = started.error if isinstance(started, Failed) else started
            raise OverlayError(f"speech recognition could not start: {why}")
        self.recognizer_name = started.recognizer
        self.recognizer_why = started.why
        logger.info("speech recognition: %s (%s)", started.recognizer, started.why)
        self.cpu_seconds = 0.0
        self.peak_rss_mb = 0.0

    def _next(self, timeout: float) -> Result:
        deadline = time.monotonic() + timeout
        while True:
            try:
                item: Result = self._receive(timeout=0.5)
                return item
            except queue.Empty:
                if not self._process.is_alive():
                    return Failed(f"the speech process ended (exit code {self._process.exitcode})")
                if time.monotonic() > deadline:
                    return Failed("no answer from the speech process")

    def _receive(self, timeout: float) -> Result:
        if not self._results.poll(timeout):
            raise queue.Empty
        try:
            result: Result = self._results.recv()
        except EOFError:  # the child ended; is_alive() says so next
            raise queue.Empty from None
        return result

    def feed(self, block: AudioBlock) -> SpeechEvents:
        if not self._process.is_alive():
            raise OverlayError(f"the speech process ended (exit code {self._process.exitcode})")
        self._requests.put(Feed(block))
        return self._collect()

    def _collect(self) -> SpeechEvents:
        partial = None
        finals: list[TextEstimate] = []
        while True:
            try:
                result: Result = self._receive(timeout=0.0)
            except queue.Empty:
                return SpeechEvents(partial, finals)
            if isinstance(result, Heard):
                partial = result.events.partial or partial
                finals += result.events.finals
            elif isinstance(result, Failed):
                raise OverlayError(f"speech recognition failed: {result.error}")

    def finish(self) -> SpeechEvents:
        """The last results; stops the child process."""
        self._stop_by.value = time.monotonic() + STOP_BUDGET_S  # before Finish: the backlog in front of it sees it
        self._requests.put(Finish())
        deadline = self._stop_by.value + ANSWER_WAIT_S
        partial = None
        finals: list[TextEstimate] = []
        answered = False
        while True:
            try:
                result: Result = self._receive(timeout=max(0.0, min(0.05, deadline - time.monotonic())))
            except queue.Empty:
                if not self._process.is_alive():
                    logger.warning("stopping: the speech process ended before giving its last words")
                    break
                if time.monotonic() > deadline:
                    logger.warning("stopping: the speech process did not give its last words in time (busy)")
                    break
                continue
            if isinstance(result, Heard | Finished):
                partial = result.events.partial or partial
                finals += result.events.finals
            if isinstance(result, Finished):
                answered = True
                self.cpu_seconds, self.peak_rss_mb = result.cpu_seconds, result.peak_rss_mb
                if result.skipped_s:
                    logger.warning(
                        "stopping: %.1f s of queued sound was not transcribed (the machine was behind)",
                        result.skipped_s,
                    )
                if result.quick:
                    logger.info("stopping: the last words were closed without the recognizer's final pass (busy)")
                break
            if isinstance(result, Failed):
                logger.warning("speech recognition did not finish cleanly: %s", result.error)
                break
        # Everything it had is here: end it now rather than wait for its interpreter to shut
        # down (a few hundred ms on a loaded machine, which `stop` would wait for).
        self.close(patience_s=2.0 if answered else 0.0)
        return SpeechEvents(partial, finals)

    def close(self, patience_s: float = 2.0) -> None:
        """End the child now, without waiting for its results (idempotent). It gets `patience_s`
        to end on SIGTERM; one stuck in C code or stopped never does, and is killed."""
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=patience_s)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(timeout=2)


# Read by numpy's BLAS and OpenMP as the child imports them. Left at one thread per core, they
# spun through Whisper's feature extraction: 0.375 of a core for continuous talk against 0.295
# with one thread, the same wall time (bench/speech_recognition.py --sets talk, 60 s).
CHILD_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def _single_threaded_libraries() -> Iterator[None]:
    """The environment a spawned child starts with: one BLAS/OpenMP thread (unless the user set one)."""
    saved = {name: os.environ.get(name) for name in CHILD_THREAD_VARIABLES}
    os.environ.update({name: value or "1" for name, value in saved.items()})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _start_stage(results: Any, settings: RecognizerSettings) -> SpeechStage | None:
    """The stage, its recognizer loaded and warm, Ready sent; None when it failed (Failed sent)."""
    from overlay.speech.stage import SpeechStage, open_recognizer

    try:
        recognizer, why = open_recognizer(settings)
        stage = SpeechStage(recognizer)
    except OverlayError as err:  # says what to do already
        results.send(Failed(str(err)))
        return None
    except Exception as err:  # reported to the parent as one line
        results.send(Failed(f"{type(err).__name__}: {err}"))
        return None
    results.send(Ready(stage.recognizer_name, why))
    if isinstance(stage.recognizer, DecodesWhole):
        stage.recognizer.warm_up()  # while the app starts its pipeline: blocks wait in the queue meanwhile
    return stage


def _serve(requests: Any, results: Any, stop_by: Any, settings: RecognizerSettings) -> None:
    """The child: build the stage, then answer requests until `finish`."""
    exit_with_parent()
    logging.basicConfig(level=logging.WARNING, format="emotion-overlay: %(levelname)s: %(message)s")
    stage = _start_stage(results, settings)
    if stage is None:
        return
    skipped = 0.0  # seconds of sound dropped because the app is stopping and we were behind
    pace = FinalPassPace()
    quick = False
    usual_delay = float("inf")  # the least time from a block's capture to it reaching us
    while True:
        request: Request = requests.get()
        try:
            if isinstance(request, Feed):
                now = time.monotonic()
                delay = now - request.block.end
                usual_delay = min(usual_delay, delay)
                due = stop_by.value
                # Once stopping, a block is heard only if what it may cost fits before the due time:
                # for a recognizer that decodes whole utterances, any block may close one (a decode).
                cost = 0.0
                if due and isinstance(stage.recognizer, DecodesWhole):
                    stage.recognizer.hold_partials()  # a partial decode now would eat the stop budget
                    cost = stage.recognizer.expected_close_s()
                if due and (delay - usual_delay > FINISH_GRACE_S or now + cost > due - CLOSE_RESERVE_S):
                    skipped += len(request.block.samples) / request.block.sample_rate
                    continue
                events = stage.feed(request.block)
                pace.observe(time.monotonic() - now, events.finals)
                if events.partial is not None or events.finals:
                    results.send(Heard(events))
                continue
            time_left = stop_by.value - time.monotonic()
            if isinstance(stage.recognizer, DecodesWhole):  # closing costs one decode, whatever the length
                quick = skipped > 0 or stage.recognizer.expected_close_s() >= time_left
            else:
                quick = skipped > 0 or not pace.fits(stage.open_seconds, time_left)
            last_words = stage.finish(quick=quick)
        except Exception as err:
            logging.getLogger(__name__).exception("speech recognition failed")
            results.send(Failed(f"{type(err).__name__}: {err}"))
            if isinstance(request, Feed):
                continue
            last_words = SpeechEvents(None, [])
        usage = resource.getrusage(resource.RUSAGE_SELF)
        results.send(Finished(last_words, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0, skipped, quick))
        return


class FinalPassPace:
    """How long closing an utterance takes here and now: wall seconds per second of speech,
    from the last utterance the recognizer ended while being fed (on a busy machine the same
    pass takes several times as long)."""

    def __init__(self) -> None:
        self._seconds_per_second: float | None = None  # not measured yet: the final pass is taken

    def observe(self, wall_s: float, finals: list[TextEstimate]) -> None:
        spoken = sum(final.end - final.start for final in finals)
        if spoken > 0.2:
            self._seconds_per_second = wall_s / spoken

    def fits(self, open_seconds: float, time_left_s: float) -> bool:
        """Whether the final pass over `open_seconds` of speech is expected to end in `time_left_s`."""
        expected = 0.0 if self._seconds_per_second is None else self._seconds_per_second * open_seconds
        return expected < time_left_s
