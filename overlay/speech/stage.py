"""The words path: audio -> speech recognizer -> captions, and each final utterance -> text emotion.

The recognizer is chosen by asr.choose: an installed Vosk model, else Whisper (`emotion-overlay
models pull whisper-tiny.en`, which the installer runs), else PocketSphinx, which works
offline out of the box but gets many words wrong; `[speech] recognizer` (`--recognizer`)
picks one. Which one ran, and why, is logged, shown with the captions and recorded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from asr.choose import RecognizerChoice
from asr.contract import Partial, Recognizer, RecognizerError, Utterance
from overlay.errors import ModelError
from overlay.records import AudioBlock, TextEstimate
from overlay.speech.text_model import TextEmotionModel

logger = logging.getLogger(__name__)

VOSK_PREFERENCE = ("vosk-model-small-en-us-0.15", "vosk-model-en-us-0.22-lgraph")
WHISPER_PREFERENCE = ("whisper-tiny.en",)
GAP_S = 0.1  # a larger jump between consecutive blocks ends the utterance in progress


@dataclass(frozen=True)
class RecognizerSettings:
    recognizer: str = "auto"  # asr.choose.RECOGNIZERS
    threads: int = 1  # Whisper's CPU threads


def recognizer_choice(settings: RecognizerSettings) -> RecognizerChoice:
    """The settings with the model folders the model store has installed."""
    from overlay.models.store import find_spec, installed_path

    def installed(names: tuple[str, ...]) -> tuple[Path, ...]:
        return tuple(path for name in names if (path := installed_path(find_spec(name))) is not None)

    return RecognizerChoice(
        settings.recognizer, installed(VOSK_PREFERENCE), installed(WHISPER_PREFERENCE), settings.threads
    )


def open_recognizer(settings: RecognizerSettings | None = None) -> tuple[Recognizer, str]:
    """The recognizer the settings come to (asr.choose's order) and why it was chosen."""
    from asr.choose import open_recognizer as choose_recognizer

    try:
        recognizer, why = choose_recognizer(recognizer_choice(settings or RecognizerSettings()))
    except RecognizerError as err:  # asr stands alone; here its error becomes one the CLI prints as a line
        raise ModelError(str(err)) from None
    if recognizer.name.startswith("pocketsphinx"):
        logger.info("captions come from PocketSphinx: %s", why)
    return recognizer, why


@dataclass(frozen=True)
class SpeechEvents:
    partial: Partial | None
    finals: list[TextEstimate]


class SpeechStage:
    def __init__(self, recognizer: Recognizer, text_model: TextEmotionModel | None = None) -> None:
        self.recognizer = recognizer
        self.recognizer_name = recognizer.name
        self.text_model = text_model or TextEmotionModel()
        self._next_expected: float | None = None

    def feed(self, block: AudioBlock) -> SpeechEvents:
        results: list[Partial | Utterance] = []
        if self._next_expected is not None and abs(block.timestamp - self._next_expected) > GAP_S:
            results += self.recognizer.finish()
        self._next_expected = block.end
        results += self.recognizer.feed(block.samples, block.timestamp)
        return self._events(results)

    @property
    def open_seconds(self) -> float:
        """How long the utterance in progress is (what finish() has to close)."""
        return self.recognizer.open_seconds

    def finish(self, quick: bool = False) -> SpeechEvents:
        """The utterance in progress, closed (`quick`: without the recognizer's final pass)."""
        return self._events(list(self.recognizer.finish(quick=quick)))

    def _events(self, results: list[Partial | Utterance]) -> SpeechEvents:
        partial = None
        finals = []
        for result in results:
            if isinstance(result, Partial):
                partial = result
            else:
                probabilities = self.text_model.predict([result.text])[0]
                finals.append(
                    TextEstimate(result.start, result.end, result.text, probabilities, result.backend, result.words)
                )
        return SpeechEvents(partial, finals)
