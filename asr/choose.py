"""Choosing a recognizer: the first Vosk model folder that exists, else PocketSphinx (works offline as installed)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from asr.contract import Recognizer

logger = logging.getLogger(__name__)


def open_recognizer(vosk_models: Sequence[Path]) -> Recognizer:
    """A VoskRecognizer on the first of `vosk_models` that is a folder, else a PocketSphinxRecognizer.

    A broken Vosk model raises RecognizerError (it is not skipped: the user asked for it).
    """
    from asr.pocketsphinx_backend import PocketSphinxRecognizer
    from asr.vosk_backend import VoskRecognizer

    for path in vosk_models:
        if path.is_dir():
            return VoskRecognizer(path)
    return PocketSphinxRecognizer()
