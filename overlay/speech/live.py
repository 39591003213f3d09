"""The words path in a live run: captions, text estimates for fusion, utterances for the session."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

from overlay.render.state import CAPTION_LINES
from overlay.runtime.stages import StageSpec

if TYPE_CHECKING:
    from overlay.records import AudioBlock, TextEstimate
    from overlay.runtime.readings import Readings
    from overlay.speech.stage import SpeechEvents

NAME: Final = "speech-recognition"
SPEECH_DRAIN_S: Final = 0.5  # at stop, what is queued for speech recognition is still heard for this long


class SpeechAnalyzer(Protocol):
    recognizer_name: str

    def feed(self, block: AudioBlock) -> SpeechEvents: ...
    def finish(self) -> SpeechEvents: ...


@dataclass(frozen=True)
class Words:
    """What the captions show: the recognizer, its last final utterances, the one in progress."""

    recognizer: str
    finals: tuple[TextEstimate, ...] = ()  # at most CAPTION_LINES, oldest first
    partial: str = ""


def speech_stage(make: Callable[[], SpeechAnalyzer]) -> StageSpec:
    # Speech recognition must hear everything: a slow recognizer falls behind rather than skip words.
    return StageSpec(
        NAME,
        "text",
        "sound",
        make,
        _handle,
        _finish,
        _status,
        counts=("utterances",),
        hears_to_the_end=True,
        drain_s=SPEECH_DRAIN_S,
    )


def _handle(analyzer: SpeechAnalyzer, block: AudioBlock, readings: Readings) -> None:
    _publish(analyzer, analyzer.feed(block), readings)


def _finish(analyzer: SpeechAnalyzer, readings: Readings) -> None:
    _publish(analyzer, analyzer.finish(), readings)  # the last words before the end
    # A child process does the work: count its CPU instead of this thread's waiting.
    child_cpu = getattr(analyzer, "cpu_seconds", None)
    if child_cpu is not None:
        readings.cpu_seconds[NAME] = float(child_cpu)
        readings.peak_rss_mb[NAME] = float(getattr(analyzer, "peak_rss_mb", 0.0))


def _publish(analyzer: SpeechAnalyzer, events: SpeechEvents, readings: Readings) -> None:
    readings.backends["text"] = analyzer.recognizer_name
    words: Words = readings.latest("text") or Words(analyzer.recognizer_name)
    finals, partial = words.finals, words.partial
    if events.partial is not None:
        partial = events.partial.text
    for final in events.finals:
        finals, partial = (*finals, final)[-CAPTION_LINES:], ""
        readings.count("utterances")
        readings.fusion.observe("text", final.probabilities, final.end)
        if readings.recorder is not None:
            readings.recorder.utterance(final)
    readings.publish("text", Words(analyzer.recognizer_name, finals, partial))


def _status(readings: Readings, now: float) -> str | None:
    return readings.backends.get("text") or None  # which recognizer writes the words
