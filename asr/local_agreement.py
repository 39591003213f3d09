"""LocalAgreement-2 (Macháček et al., whisper_streaming): live captions from a recognizer that
re-decodes the utterance so far. A word is committed once two consecutive hypotheses agree
on it and on everything before it; committed words are never revised on screen, the rest
of the newest hypothesis is the tentative tail. (The final decode at the utterance's end
replaces both.)
"""

from __future__ import annotations

import re

_NOT_WORD = re.compile(r"[^\w']+")


def word_key(word: str) -> str:
    """What two hypotheses must share for a word to agree: case and punctuation aside."""
    return _NOT_WORD.sub("", word.lower())


def agreeing_prefix(first: list[str], second: list[str]) -> int:
    n = 0
    for a, b in zip(first, second, strict=False):  # up to the shorter one
        if word_key(a) != word_key(b):
            break
        n += 1
    return n


class LocalAgreement:
    def __init__(self) -> None:
        self.committed: list[str] = []
        self.tentative: list[str] = []
        self._previous: list[str] = []

    def update(self, hypothesis: list[str]) -> None:
        """A new hypothesis of the whole utterance so far (its words in order)."""
        agreed = agreeing_prefix(self._previous, hypothesis)
        if agreed > len(self.committed):
            # Committed words stay as shown, even if this hypothesis now reads them otherwise.
            self.committed += hypothesis[len(self.committed) : agreed]
        self._previous = hypothesis
        self.tentative = hypothesis[len(self.committed) :]

    @property
    def text(self) -> str:
        return " ".join(self.committed + self.tentative)

    def reset(self) -> None:
        self.committed, self.tentative, self._previous = [], [], []
