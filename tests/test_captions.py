"""Captions: a session's utterances as SRT and WebVTT cues that read back to what was said, and when."""

from __future__ import annotations

import itertools
import random

import pytest

from overlay.session.captions import MAX_LINE_CHARS, MAX_LINES, Cue, captions_text, cues, to_srt, to_vtt
from overlay.session.reading import Session, Utterance, read_session
from tests.sessions_data import UTTERANCES, parse_captions, write_session


def said(start: float, end: float, text: str) -> Utterance:
    return Utterance(start, end, text, "vosk", (1 / 7,) * 7, "neutral")


def assert_ordered(read: list[tuple[float, float, tuple[str, ...]]]) -> None:
    """Each cue has a length, and none starts before the one before it has ended."""
    for start, end, _ in read:
        assert start < end
    for (_, end, _), (start, _, _) in itertools.pairwise(read):
        assert end <= start


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    return read_session(write_session(tmp_path_factory.mktemp("sessions")))


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_captions_read_back_to_the_sessions_utterances(session: Session, fmt: str) -> None:
    read = parse_captions(captions_text(session.utterances, fmt), fmt)
    assert len(read) == len(UTTERANCES)
    for (start, end, lines), (said_start, said_end, words, _) in zip(read, UTTERANCES, strict=True):
        assert " ".join(lines) == words  # tags, quotes and ampersands as recorded
        # The session's clock: seconds since it began (the writer's origin of 100 s taken off).
        assert start == pytest.approx(said_start, abs=0.001) and end == pytest.approx(said_end, abs=0.001)
        assert 1 <= len(lines) <= MAX_LINES and all(len(line) <= MAX_LINE_CHARS for line in lines)
    assert_ordered(read)


def test_overlaps_and_cues_without_length_are_clamped() -> None:
    found = cues(
        [
            said(1.0, 3.0, "runs over"),  # past the next one's start: cut there
            said(2.5, 4.0, "next"),
            said(4.0, 4.0, "no length"),  # shown until the next one starts (at most UNTIMED_MS)
            said(4.5, 5.0, "first of two"),  # two starting at once: the second 1 ms later
            said(4.5, 6.0, "second of two"),
            said(6.5, 6.6, "   "),  # nothing said: no cue
            said(7.0, 6.5, "ends before\nit starts"),  # the last one: shown for UNTIMED_MS
        ]
    )
    assert [(c.start_ms, c.end_ms, " ".join(c.lines)) for c in found] == [
        (1000, 2500, "runs over"),
        (2500, 4000, "next"),
        (4000, 4500, "no length"),
        (4500, 4501, "first of two"),
        (4501, 6000, "second of two"),
        (7000, 8000, "ends before it starts"),
    ]


def test_an_utterance_that_ends_where_the_next_begins_keeps_its_times() -> None:
    found = cues([said(1.0, 2.0, "one"), said(2.0, 3.0, "two")])
    assert [(c.start_ms, c.end_ms) for c in found] == [(1000, 2000), (2000, 3000)]


def test_two_lines_are_balanced_and_a_long_utterance_is_split_in_time_proportion() -> None:
    (cue,) = cues([said(0.0, 2.0, "the last project was hard and we lost the client")])
    assert cue.lines == ("the last project was hard", "and we lost the client")
    words = " ".join(f"word{i}" for i in range(60))  # 409 characters: five or more cues
    found = cues([said(10.0, 30.0, words)])
    assert len(found) >= 5
    assert " ".join(line for c in found for line in c.lines) == words
    assert all(1 <= len(c.lines) <= MAX_LINES and all(len(line) <= MAX_LINE_CHARS for line in c.lines) for c in found)
    assert found[0].start_ms == 10_000 and found[-1].end_ms == 30_000
    assert all(a.end_ms == b.start_ms for a, b in itertools.pairwise(found))  # one after the other, no gap
    characters = [sum(len(line) for line in c.lines) for c in found]
    for c, n in zip(found, characters, strict=True):
        assert (c.end_ms - c.start_ms) / 20_000 == pytest.approx(n / sum(characters), abs=0.002)
    # Just over two lines: two cues of about equal length, not two full lines and a stub of a last word.
    transcript = "the heart of why california commercial district watches my own dreams and growing up"
    halves = [" ".join(c.lines) for c in cues([said(0.24, 4.87, transcript)])]
    assert len(halves) == 2 and abs(len(halves[0]) - len(halves[1])) < 10
    long_word = "x" * (MAX_LINE_CHARS + 10)  # never cut inside a word
    assert [line for c in cues([said(0.0, 1.0, f"see {long_word} here")]) for line in c.lines] == [
        "see",
        long_word,
        "here",
    ]


def test_vtt_escapes_its_markup_and_srt_writes_text_as_it_is() -> None:
    found = [Cue(0, 1500, ('<b>tags</b> & "quotes"',)), Cue(3_723_004, 3_723_999, ("later",))]
    assert to_vtt(found) == (
        'WEBVTT\n\n00:00:00.000 --> 00:00:01.500\n&lt;b&gt;tags&lt;/b&gt; &amp; "quotes"\n\n'
        "01:02:03.004 --> 01:02:03.999\nlater\n"
    )
    assert to_srt(found) == (
        '1\n00:00:00,000 --> 00:00:01,500\n<b>tags</b> & "quotes"\n\n2\n01:02:03,004 --> 01:02:03,999\nlater\n'
    )


def test_no_utterances_give_a_file_without_cues() -> None:
    assert captions_text([], "srt") == "" and parse_captions("", "srt") == []
    assert captions_text([], "vtt") == "WEBVTT\n" and parse_captions("WEBVTT\n", "vtt") == []
    with pytest.raises(ValueError, match="unknown caption format"):
        captions_text([], "ass")


@pytest.mark.parametrize("seed", range(5))
def test_any_utterances_give_ordered_cues_with_all_their_words(seed: int) -> None:
    rng = random.Random(seed)
    utterances = []
    for _ in range(200):
        start = round(rng.uniform(0, 300), rng.choice([0, 1, 3]))
        end = start + rng.choice([-1.0, 0.0, 0.001, 0.3, 2.0, 9.0])  # backwards, none, 1 ms, overlapping
        words = (rng.choice(["yes", "no", "a", "rather longer words", "&", "<i>"]) for _ in range(rng.randint(0, 40)))
        text = " ".join(words)
        utterances.append(said(start, end, text))
    for fmt in ("srt", "vtt"):
        read = parse_captions(captions_text(utterances, fmt), fmt)
        assert_ordered(read)
        spoken = [u for u in sorted(utterances, key=lambda u: (u.start, u.end, u.text)) if u.text.strip()]
        assert " ".join(line for _, _, lines in read for line in lines) == " ".join(u.text for u in spoken)


def test_the_parser_in_these_tests_is_strict() -> None:
    good = to_srt([Cue(0, 1000, ("a",)), Cue(1000, 2000, ("b",))])
    assert len(parse_captions(good, "srt")) == 2
    for broken in (good.replace("2\n", "3\n"), good.replace(",000", ".000"), good.replace("\n\n", "\n")):
        with pytest.raises(AssertionError):
            parse_captions(broken, "srt")
    with pytest.raises(AssertionError):
        parse_captions(to_vtt([Cue(0, 1000, ("a",))]), "srt")
    with pytest.raises(AssertionError):
        parse_captions("WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n<b>raw</b>\n", "vtt")
