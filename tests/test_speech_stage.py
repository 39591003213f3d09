"""The words path end to end: a real (virtual) microphone -> recognizer -> captions and text emotion."""

import subprocess
import time

import numpy as np
import pytest

from asr.pocketsphinx_backend import PocketSphinxRecognizer
from overlay.labels import EMOTIONS
from overlay.records import TextEstimate
from overlay.sources.microphone import MicrophoneSource
from overlay.sources.microphone_devices import resolve_microphone
from overlay.speech.stage import SpeechStage
from overlay.speech.text_model import TextEmotionModel
from tests.flite import flite_available, synthesise
from tests.pulse import VirtualMicrophone
from tests.wer import word_error_rate

SAID = {
    "I am so happy to see you today": "happy",
    "I am so angry about this": "angry",
    "I really miss my family and I feel so sad": "sad",
}


@pytest.mark.skipif(not flite_available(), reason="flite not installed (the CI set-up installs it)")
def test_spoken_sentences_become_captions_and_move_the_text_estimate(virtual_mic: VirtualMicrophone) -> None:
    stage = SpeechStage(PocketSphinxRecognizer(), TextEmotionModel())
    source = MicrophoneSource(resolve_microphone("pulse"))
    pacat = ["pacat", "--playback", "--device=vmic_sink", "--format=s16le", "--rate=16000", "--channels=1"]
    player = subprocess.Popen(pacat, stdin=subprocess.PIPE)
    assert player.stdin is not None
    pause = np.zeros(16000, np.float32)
    speech = np.concatenate([part for s in SAID for part in (synthesise(s), pause)])
    partials, finals = [], []
    try:
        deadline = time.monotonic() + 10
        while source.read(0.1) is None:
            assert time.monotonic() < deadline
        player.stdin.write((np.concatenate([pause, speech]) * 32767).astype("<i2").tobytes())
        player.stdin.flush()
        end = time.monotonic() + len(speech) / 16000 + 3.0
        while time.monotonic() < end:
            block = source.read(0.1)
            if block is None:
                continue
            events = stage.feed(block)
            partials += [events.partial] if events.partial else []
            finals += events.finals
        finals += stage.finish().finals
    finally:
        player.stdin.close()
        player.wait(timeout=10)
        source.close()
    assert partials  # captions moved while the sentences were spoken
    heard = " ".join(f.text for f in finals)
    assert word_error_rate([(" ".join(SAID), heard)]) <= 0.25, heard
    for sentence, label in SAID.items():
        estimate = best_match(finals, sentence)
        top_two = [EMOTIONS[i] for i in np.argsort(estimate.probabilities)[::-1][:2]]
        assert label in top_two, (sentence, estimate.text, top_two)
        assert estimate.recognizer == "pocketsphinx:en-us"


def best_match(finals: list[TextEstimate], sentence: str) -> TextEstimate:
    wanted = set(sentence.lower().split())
    return max(finals, key=lambda f: len(wanted & set(f.text.split())))


def test_the_last_words_are_closed_quickly_only_when_the_final_pass_would_be_slow() -> None:
    from overlay.speech.process import FinalPassPace

    time_left = 0.4
    pace = FinalPassPace()
    assert pace.fits(3.0, time_left)  # nothing measured yet: the full pass is taken
    said = np.full(7, 1 / 7, np.float32)
    pace.observe(0.5, [TextEstimate(10.0, 12.0, "two seconds of speech", said, "pocketsphinx")])  # idle: 0.25 s/s
    assert pace.fits(1.2, time_left)
    assert not pace.fits(1.2, 0.1)  # the same pass, with the stop almost due
    pace.observe(0.02, [])  # a feed that ended nothing says nothing about the pass
    pace.observe(1.5, [TextEstimate(20.0, 22.0, "the same on a busy machine", said, "pocketsphinx")])
    assert not pace.fits(1.2, time_left)
    assert pace.fits(0.0, time_left)  # nothing open: nothing to wait for
