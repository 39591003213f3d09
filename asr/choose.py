"""Choosing a recognizer: an installed Vosk model first (the engine the product is built
around), then Whisper, then PocketSphinx, which works offline as installed but gets many
words of real speech wrong. The choice and its reason are returned, so the app can log
them, show them with the captions and `doctor` can say them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from asr.contract import Recognizer, RecognizerError

logger = logging.getLogger(__name__)

RECOGNIZERS: Final = ("auto", "vosk", "whisper", "pocketsphinx")


@dataclass(frozen=True)
class RecognizerChoice:
    recognizer: str = "auto"  # one of RECOGNIZERS
    vosk_models: tuple[Path, ...] = ()  # installed model folders, preferred first
    whisper_models: tuple[Path, ...] = ()
    threads: int = 1  # Whisper's CPU threads


@dataclass(frozen=True)
class Plan:
    """Which engine and model folder the choice comes to, and why (before anything is loaded)."""

    engine: str  # "vosk" | "whisper" | "pocketsphinx"
    model: Path | None
    why: str


def plan_recognizer(choice: RecognizerChoice) -> Plan:
    """What `open_recognizer` will open; RecognizerError when the engine asked for has no model."""
    if choice.recognizer not in RECOGNIZERS:
        raise RecognizerError(f"unknown recognizer {choice.recognizer!r}; choose one of {', '.join(RECOGNIZERS)}")
    vosk = next((p for p in choice.vosk_models if p.is_dir()), None)
    whisper = next((p for p in choice.whisper_models if p.is_dir()), None)
    asked = {"vosk": (vosk, "vosk-model-small-en-us-0.15"), "whisper": (whisper, "whisper-tiny.en")}
    if choice.recognizer in asked:
        model, example = asked[choice.recognizer]
        if model is None:
            raise RecognizerError(
                f"recognizer = {choice.recognizer}, but no {choice.recognizer.capitalize()} model is installed; "
                f"run `emotion-overlay models pull {example}` or choose --recognizer auto"
            )
        return Plan(choice.recognizer, model, "asked for")
    if choice.recognizer == "pocketsphinx":
        return Plan("pocketsphinx", None, "asked for")
    if vosk is not None:
        return Plan("vosk", vosk, "a Vosk model is installed")
    if whisper is not None:
        return Plan("whisper", whisper, "no Vosk model installed; Whisper is")
    return Plan(
        "pocketsphinx",
        None,
        "no Vosk or Whisper model installed (less accurate; `emotion-overlay models pull whisper-tiny.en`)",
    )


def open_recognizer(choice: RecognizerChoice) -> tuple[Recognizer, str]:
    """The chosen recognizer, loaded, and why it was chosen.

    A broken model raises RecognizerError (it is not skipped: it was installed to be used).
    """
    plan = plan_recognizer(choice)
    if plan.engine == "vosk":
        from asr.vosk_backend import VoskRecognizer

        assert plan.model is not None
        recognizer: Recognizer = VoskRecognizer(plan.model)
    elif plan.engine == "whisper":
        from asr.whisper_backend import WhisperRecognizer, WhisperSettings

        assert plan.model is not None
        recognizer = WhisperRecognizer(WhisperSettings(plan.model, threads=choice.threads))
    else:
        from asr.pocketsphinx_backend import PocketSphinxRecognizer

        recognizer = PocketSphinxRecognizer()
    logger.info("speech recognition: %s (%s)", recognizer.name, plan.why)
    return recognizer, plan.why
