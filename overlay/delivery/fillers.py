"""Filler words in what the recognizer wrote: "um", "uh" and their kin always; "like", "you know",
"I mean" and "so" only where they are set off as fillers.

The sounds (um, uh, er, hmm...) are never words, so each one counts. The others are ordinary
words most of the time ("I like it", "do you know", "so that"), and the recognizer's
punctuation is what tells them apart: Whisper writes a filler "like" or "you know" between
commas ("we should, like, go"; "it's, you know, late") and a filler "so" at the start of a
sentence with a comma ("So, um, ..."). Without punctuation (Vosk, PocketSphinx) only the
sounds are found. Precision before recall: a coach that counts "I like this" as a filler is
not believed. Figures: bench/delivery.py.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

SOUNDS: Final = frozenset(
    {"um", "umm", "ummm", "uh", "uhh", "uhm", "uhhm", "er", "erm", "err", "ah", "ahh", "hmm", "hm", "mm", "mhm"}
)
# Two-word fillers: the second word must be followed by a comma (or end the utterance) for the pair to count.
PAIRS: Final = (("you", "know"), ("i", "mean"))
_LETTERS: Final = re.compile(r"[^a-z']+")
_SENTENCE_END: Final = (".", "!", "?", "…")


@dataclass(frozen=True)
class Filler:
    """A filler at tokens [index, index + count) of the text, named in its plain form ("um", "you know")."""

    index: int
    count: int
    word: str


def _plain(token: str) -> str:
    return _LETTERS.sub("", token.lower().replace("\u2019", "'"))  # a typographic apostrophe as a plain one


def _pause_after(token: str) -> bool:
    return token.rstrip().endswith((",", ";", ":", "-", "—", "…", "..."))


def find_fillers(tokens: Sequence[str]) -> list[Filler]:
    """The fillers among the words of one utterance, as the recognizer wrote them (punctuation kept)."""
    found: list[Filler] = []
    plain = [_plain(t) for t in tokens]
    i = 0
    while i < len(tokens):
        word = plain[i]
        before = tokens[i - 1] if i > 0 else ""
        set_off_before = i == 0 or _pause_after(before) or before.endswith(_SENTENCE_END)
        like = word == "like" and _pause_after(tokens[i]) and set_off_before
        so = word == "so" and _pause_after(tokens[i]) and (i == 0 or before.endswith(_SENTENCE_END))
        if word in SOUNDS or like or so:
            found.append(Filler(i, 1, word))
        elif i + 1 < len(tokens) and (word, plain[i + 1]) in PAIRS and _pair_is_filler(tokens, i, set_off_before):
            found.append(Filler(i, 2, f"{word} {plain[i + 1]}".replace("i mean", "I mean")))
            i += 1
        i += 1
    return found


def _pair_is_filler(tokens: Sequence[str], i: int, set_off_before: bool) -> bool:
    """Whether "you know" or "I mean" is a filler: followed by a comma, or ending the utterance after a comma."""
    second = tokens[i + 1]
    if _pause_after(second):
        return True
    last = i + 2 == len(tokens) or second.endswith(_SENTENCE_END)
    return last and set_off_before and i > 0
