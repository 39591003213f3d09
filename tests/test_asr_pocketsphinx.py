"""The offline fallback recognizer on speech with known words (flite) and on real talking clips."""

from pathlib import Path

import numpy as np
import pytest

from asr.contract import Partial, Utterance
from asr.pocketsphinx_backend import PocketSphinxRecognizer
from overlay.media.audio_file import read_audio
from tests.flite import flite_available, synthesise
from tests.wer import word_error_rate, word_errors

needs_flite = pytest.mark.skipif(not flite_available(), reason="flite not installed (the CI set-up installs it)")
SENTENCES = (
    "I am so happy to see you today",
    "Thank you very much for your help",
    "The meeting starts at nine in the morning",
    "Please open the window before you leave",
)


def stream(samples: np.ndarray, start: float = 50.0, block: int = 1600) -> list[Partial | Utterance]:
    recognizer = PocketSphinxRecognizer()
    results: list[Partial | Utterance] = []
    for i in range(0, len(samples), block):
        results += recognizer.feed(samples[i : i + block], start + i / 16000)
    return results + list(recognizer.finish())


def with_silence(speech: np.ndarray, before: float = 0.5, after: float = 1.0) -> np.ndarray:
    return np.concatenate([np.zeros(int(before * 16000), np.float32), speech, np.zeros(int(after * 16000), np.float32)])


def test_word_error_rate_arithmetic() -> None:
    assert word_errors("kids are talking by the door", "kids talking by a door now") == (3, 6)
    assert word_error_rate([("a b", "a b"), ("c d", "c")]) == pytest.approx(0.25)


@needs_flite
def test_flite_sentences_are_transcribed_with_few_errors() -> None:
    pairs = []
    for sentence in SENTENCES:
        finals = [r for r in stream(with_silence(synthesise(sentence))) if isinstance(r, Utterance)]
        pairs.append((sentence, " ".join(u.text for u in finals)))
    assert word_error_rate(pairs) <= 0.15, pairs  # measured 0.04 on 36 flite utterances (bench/asr.py)


@needs_flite
def test_partials_come_first_and_the_final_soon_after_speech_ends() -> None:
    speech = synthesise("I am so happy to see you today")
    audio = with_silence(speech, before=1.0, after=2.0)
    recognizer = PocketSphinxRecognizer()
    first_partial = final_at = None
    final: Utterance | None = None
    for i in range(0, len(audio), 1600):
        for result in recognizer.feed(audio[i : i + 1600], i / 16000):
            if isinstance(result, Partial) and first_partial is None:
                first_partial = i / 16000
            if isinstance(result, Utterance):
                final, final_at = result, (i + 1600) / 16000
    assert final is not None and final_at is not None and first_partial is not None
    speech_end = 1.0 + len(speech) / 16000
    assert first_partial < speech_end  # captions move while the person speaks
    assert final_at - speech_end <= 1.5  # the target
    assert 0.8 <= final.start <= 1.6 and speech_end - 0.6 <= final.end <= speech_end + 0.3
    assert [w.start for w in final.words] == sorted(w.start for w in final.words)
    assert all(0.0 <= w.confidence <= 1.0 for w in final.words)


@needs_flite
def test_a_stream_that_ends_mid_sentence_still_gives_its_words() -> None:
    speech = synthesise("Thank you very much for your help")
    results = stream(np.concatenate([np.zeros(8000, np.float32), speech[: len(speech) * 2 // 3]]))
    finals = [r for r in results if isinstance(r, Utterance)]
    assert finals and "thank" in finals[0].text


def test_noise_gives_no_words() -> None:
    noise = (np.random.default_rng(0).standard_normal(16000 * 4) * 0.01).astype(np.float32)
    assert [r for r in stream(noise) if isinstance(r, Utterance)] == []


@needs_flite
def test_a_very_long_utterance_is_handled() -> None:
    """A minute of talking without a pause: words keep coming, nothing stalls or fails."""
    sentence = synthesise("we need to talk about the budget and the plans for next year")
    speech = np.tile(sentence, int(60 * 16000 / len(sentence)) + 1)[: 60 * 16000]
    finals = [r for r in stream(with_silence(speech)) if isinstance(r, Utterance)]
    words = " ".join(u.text for u in finals).split()
    assert len(words) > 100 and words.count("budget") >= 10


def test_a_talking_clip_gives_plausible_words(shared_data: Path) -> None:
    clip = read_audio(shared_data / "video" / "talking" / "2.mp4")
    text = " ".join(r.text for r in stream(clip.samples) if isinstance(r, Utterance))
    words = text.split()
    assert len(words) >= 5
    common = {"the", "a", "of", "to", "and", "in", "is", "that", "it", "we", "i", "you", "for", "this", "why"}
    assert common & set(words), text


@needs_flite
def test_a_stream_cut_just_as_speech_begins_finishes_cleanly() -> None:
    # Pausing the overlay or a file ending can cut the sound a moment after speech starts.
    speech = synthesise("Thank you very much for your help")
    for cut_s in np.arange(0.40, 0.60, 0.01):  # 0.49 s once made the decoder return no segments at all
        results = stream(np.concatenate([np.zeros(8000, np.float32), speech[: int(cut_s * 16000)]]))
        assert all(isinstance(r, Partial | Utterance) for r in results)


def test_a_quick_finish_gives_the_words_so_far_at_a_fraction_of_the_cost(shared_data: Path) -> None:
    """Stopping on a busy machine: the utterance in progress closed without the final pass."""
    import time

    clip = read_audio(shared_data / "video" / "talking" / "1.mp4")
    talking = clip.samples[: int(2.5 * 16000)]  # mid-sentence
    costs, texts, next_texts = {}, {}, {}
    for quick in (False, True):
        recognizer = PocketSphinxRecognizer()
        for i in range(0, len(talking), 1600):
            recognizer.feed(talking[i : i + 1600], 10.0 + i / 16000)
        assert recognizer.open_seconds > 1.5  # the sentence is still going
        started = time.process_time()
        [utterance] = recognizer.finish(quick=quick)
        costs[quick], texts[quick] = time.process_time() - started, utterance.text
        assert recognizer.open_seconds == 0.0
        assert 10.0 <= utterance.start < utterance.end <= 12.6
        # And it goes on: the next stream is heard as after a full finish (the skipped pass is caught up first).
        again = recognizer.feed(talking, 20.0) + list(recognizer.finish())
        next_texts[quick] = [r.text for r in again if isinstance(r, Utterance)]
    assert next_texts[True] == next_texts[False] and next_texts[True], next_texts
    # Both decode the endpointer's held-back last 0.3 s; only the full one runs the best-path search.
    assert costs[True] < 0.6 * costs[False], costs
    assert len(set(texts[True].split()) & set(texts[False].split())) >= 3, texts  # mostly the same words
