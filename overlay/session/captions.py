"""What was said, as subtitles: a session's final utterances as SRT or WebVTT cues.

Each utterance is one cue, timed on the session's clock (seconds since the session began;
for an analysed recording that is the recording's own clock, so the cues line up with the
file). Times are whole milliseconds, the resolution of both formats.

- Cues never overlap and never have zero or negative length: one that runs past the next
  one's start is cut there (a recognizer's word timings may overlap by a few ms), and one
  with no length of its own gets a short one (see `_timed`).
- Subtitle convention: at most MAX_LINES lines of about MAX_LINE_CHARS characters. A longer
  utterance is split into as few cues as fit, of about equal length, its time shared in
  proportion to their characters; lines are broken at spaces only (one very long word keeps
  its own long line).
- Text is as recorded, its runs of white space made single spaces (a blank line would end
  a cue). WebVTT's markup characters (&, <, >) are escaped; SRT has no escapes, so its text
  is written as it is.
"""

from __future__ import annotations

import itertools
import math
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

CAPTION_FORMATS: Final = ("srt", "vtt")
MAX_LINE_CHARS: Final = 42
MAX_LINES: Final = 2
UNTIMED_MS: Final = 1000  # shown this long (or until the next cue) when an utterance has no length


class Spoken(Protocol):
    """What a cue is made of (overlay.session.reading.Utterance is one)."""

    @property
    def start(self) -> float: ...

    @property
    def end(self) -> float: ...

    @property
    def text(self) -> str: ...


@dataclass(frozen=True)
class Cue:
    """One subtitle: shown from start_ms to end_ms (session clock), its lines top to bottom."""

    start_ms: int
    end_ms: int
    lines: tuple[str, ...]


def cues(utterances: Iterable[Spoken]) -> list[Cue]:
    """The cues of the utterances: in time order, none overlapping, each at least 1 ms long."""
    timed = _timed(utterances)
    found: list[Cue] = []
    for start, end, text in timed:
        found += _split(start, end, _chunks(text))
    return found


def _timed(utterances: Iterable[Spoken]) -> list[tuple[int, int, str]]:
    """(start ms, end ms, text) of each utterance with words, clamped so that none overlaps the next."""
    items = sorted(
        (max(0, round(u.start * 1000)), round(u.end * 1000), " ".join(u.text.split()))
        for u in utterances
        if u.text.strip()
    )
    timed: list[tuple[int, int, str]] = []
    previous_end = 0
    for i, (start, end, text) in enumerate(items):
        start = max(start, previous_end)  # only moves when an earlier cue had to be lengthened
        if end <= start:
            end = start + UNTIMED_MS  # a recognizer gave no length: show it for a moment
        if i + 1 < len(items):
            end = min(end, items[i + 1][0])  # an overlap: cut where the next one starts
        end = max(end, start + 1)  # two starting at once: the next one starts 1 ms later instead
        timed.append((start, end, text))
        previous_end = end
    return timed


def _wrap(text: str) -> list[str]:
    return textwrap.wrap(text, MAX_LINE_CHARS, break_long_words=False, break_on_hyphens=False)


def _chunks(text: str) -> list[tuple[str, ...]]:
    """The text as cues' lines: as few cues as fit MAX_LINES lines each, of about equal length
    (not full ones and a stub of a last word), lines broken at spaces."""
    words = text.split(" ")
    count = math.ceil(len(_wrap(text)) / MAX_LINES)
    while True:  # ends: one word a cue always fits
        parts = [_wrap(part) for part in _even(words, count)]
        if all(len(lines) <= MAX_LINES for lines in parts):
            return [_balanced(lines) for lines in parts]
        count += 1


def _even(words: list[str], count: int) -> list[str]:
    """The words in `count` runs of about equal characters (each at least one word)."""
    ends = list(itertools.accumulate(len(word) + 1 for word in words))  # after each word and its space
    cuts = [0]
    for k in range(1, count):
        target = ends[-1] * k / count
        candidates = range(cuts[-1] + 1, len(words) - (count - k) + 1)  # leave a word for each later run
        cuts.append(min(candidates, key=lambda i: abs(ends[i - 1] - target)))
    cuts.append(len(words))
    return [" ".join(words[a:b]) for a, b in itertools.pairwise(cuts)]


def _balanced(lines: Sequence[str]) -> tuple[str, ...]:
    """Two lines of about equal length rather than a full one and a stub (greedy wrapping's)."""
    if len(lines) != 2:
        return tuple(lines)
    words = " ".join(lines).split(" ")
    splits = [(" ".join(words[:k]), " ".join(words[k:])) for k in range(1, len(words))]
    fitting = [(top, bottom) for top, bottom in splits if max(len(top), len(bottom)) <= MAX_LINE_CHARS]
    if not fitting:  # a word longer than a line: keep the greedy lines
        return tuple(lines)
    # The most even split; of equals, the shorter line on top (the usual pyramid shape).
    return min(fitting, key=lambda pair: (max(len(pair[0]), len(pair[1])), len(pair[0])))


def _split(start: int, end: int, chunks: list[tuple[str, ...]]) -> list[Cue]:
    """One cue per chunk, [start, end) shared in proportion to their characters (each at least 1 ms)."""
    if end - start < len(chunks):  # too short to share out (a lengthened untimed one): keep it whole
        chunks = [tuple(line for chunk in chunks for line in chunk)]
    sizes = [sum(len(line) for line in chunk) for chunk in chunks]
    total, done, at = sum(sizes), 0, start
    found = []
    for i, (chunk, size) in enumerate(zip(chunks, sizes, strict=True)):
        done += size
        left = len(chunks) - 1 - i  # later chunks, each needing 1 ms
        until = end if left == 0 else min(max(start + round((end - start) * done / total), at + 1), end - left)
        found.append(Cue(at, until, chunk))
        at = until
    return found


def timestamp(ms: int, separator: str) -> str:
    """HH:MM:SS<separator>mmm (SRT: ",", WebVTT: ".")."""
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{separator}{millis:03d}"


def to_srt(found: Iterable[Cue]) -> str:
    """Numbered cues, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, a blank line after each."""
    blocks = [
        f"{n}\n{timestamp(cue.start_ms, ',')} --> {timestamp(cue.end_ms, ',')}\n" + "\n".join(cue.lines) + "\n"
        for n, cue in enumerate(found, start=1)
    ]
    return "\n".join(blocks)


def _vtt_text(line: str) -> str:
    return line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(found: Iterable[Cue]) -> str:
    """`WEBVTT`, then each cue: `HH:MM:SS.mmm --> HH:MM:SS.mmm` and its lines, a blank line before each."""
    blocks = [
        f"{timestamp(cue.start_ms, '.')} --> {timestamp(cue.end_ms, '.')}\n"
        + "\n".join(_vtt_text(line) for line in cue.lines)
        + "\n"
        for cue in found
    ]
    return "\n".join(["WEBVTT\n", *blocks])


def captions_text(utterances: Iterable[Spoken], fmt: str) -> str:
    """The utterances as a caption file in one of CAPTION_FORMATS."""
    if fmt == "srt":
        return to_srt(cues(utterances))
    if fmt == "vtt":
        return to_vtt(cues(utterances))
    raise ValueError(f"unknown caption format {fmt!r}; choose one of {', '.join(CAPTION_FORMATS)}")
