"""The words path: audio -> speech recognizer -> captions, and each final utterance -> text emotion.

The recognizer is a Vosk model when one is installed (`emotion-overlay models pull
vosk-model-small-en-us-0.15`), otherwise PocketSphinx, which works offline out of the box
but makes more mistakes; which one ran is logged, shown with the captions and recorded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from asr.contract import Partial, Recognizer, RecognizerError, Utterance
from overlay.errors import ModelError
from overlay.records import AudioBlock, TextEstimate
from overlay.speech.text_model import TextEmotionModel

logger = logging.getLogger(__name__)

VOSK_PREFERENCE = ("vosk-model-small-en-us-0.15", "vosk-model-en-us-0.22-lgraph")
GAP_S = 0.1  # a larger jump between consecutive blocks ends the utterance in progress


def open_recognizer(vosk_model: str | None = None) -> Recognizer:
    """The named (or first installed) Vosk model of the model store, else PocketSphinx."""
    from asr.choose import open_recognizer as choose_recognizer
    from overlay.models.store import find_spec, installed_path

    installed = [installed_path(find_spec(name)) for name in ((vosk_model,) if vosk_model else VOSK_PREFERENCE)]
    found = [path for path in installed if path is not None]
    if vosk_model and not found:
        logger.warning("Vosk model %s is not installed; using PocketSphinx", vosk_model)
    elif not found:
        logger.info(
            "no Vosk model installed; captions come from PocketSphinx (less accurate). "
            "For better ones: emotion-overlay models pull vosk-model-small-en-us-0.15"
        )
    try:
        return choose_recognizer(found)
    except RecognizerError as err:  # asr stands alone; here its error becomes one the CLI prints as a line
        raise ModelError(str(err)) from None


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
                finals.append(TextEstimate(result.start, result.end, result.text, probabilities, result.backend))
        return SpeechEvents(partial, finals)
