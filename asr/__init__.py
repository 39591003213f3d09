"""Offline speech recognition behind one small contract (see README.md in this folder)."""

from asr.contract import Partial, Recognizer, RecognizerError, Utterance, Word

__all__ = ["Partial", "Recognizer", "RecognizerError", "Utterance", "Word"]
