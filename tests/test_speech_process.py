"""The speech child at stop: its last results come within the stop budget, whatever is queued."""

from __future__ import annotations

import os
import queue
import signal
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from overlay.media.audio_file import read_audio
from overlay.records import AudioBlock
from overlay.speech.process import (
    ANSWER_WAIT_S,
    STOP_BUDGET_S,
    Feed,
    Finish,
    Finished,
    Ready,
    SpeechProcess,
    _serve,
)
from tests.flite import flite_available, synthesise

BLOCK = 1600  # 0.1 s, as the microphone delivers


def _blocks(samples: np.ndarray, first_end: float) -> list[AudioBlock]:
    # Stamped at real-time cadence from `first_end` on: a child faster than real time never looks late.
    return [
        AudioBlock(samples[i : i + BLOCK], first_end - 0.1 + i / 16000) for i in range(0, len(samples) - BLOCK, BLOCK)
    ]


class _Child:
    """_serve on a thread, with plain queues: the child's own logic, without a process around it."""

    def __init__(self) -> None:
        self.requests: queue.Queue[object] = queue.Queue()
        self.results: queue.Queue[object] = queue.Queue()
        self.stop_by = SimpleNamespace(value=0.0)
        pipe_end = SimpleNamespace(send=self.results.put)
        threading.Thread(target=_serve, args=(self.requests, pipe_end, self.stop_by, None), daemon=True).start()
        assert isinstance(self.results.get(timeout=120), Ready)

    def finished(self, timeout: float) -> tuple[Finished, float]:
        while True:
            result = self.results.get(timeout=timeout)
            if isinstance(result, Finished):
                return result, time.monotonic()


def test_a_long_backlog_at_stop_is_heard_only_as_far_as_the_stop_budget_allows(shared_data: Path) -> None:
    talk = np.concatenate([read_audio(shared_data / "video" / "talking" / f"{i}.mp4").samples for i in (1, 2, 3, 4)])
    child = _Child()
    child.stop_by.value = time.monotonic() + STOP_BUDGET_S
    for block in _blocks(talk, time.monotonic() + 0.1):  # ~24 s queued: seconds of work even on an idle machine
        child.requests.put(Feed(block))
    child.requests.put(Finish())
    finished, answered = child.finished(timeout=30)
    assert answered < child.stop_by.value + 0.3, answered - child.stop_by.value
    assert finished.skipped_s > 15.0
    assert finished.quick  # sound was skipped: no final pass either


@pytest.mark.skipif(not flite_available(), reason="flite not installed (the CI set-up installs it)")
def test_with_time_to_spare_the_last_words_are_all_heard() -> None:
    said = np.concatenate([synthesise("Thank you very much for your help"), np.zeros(1600, np.float32)])
    child = _Child()
    for block in _blocks(said, time.monotonic() + 0.1):
        child.requests.put(Feed(block))
    child.stop_by.value = time.monotonic() + 30.0
    child.requests.put(Finish())
    finished, _ = child.finished(timeout=30)
    heard = [*_drain(child.results), finished]
    text = " ".join(f.text for r in heard for f in r.events.finals)  # type: ignore[attr-defined]
    assert finished.skipped_s == 0.0 and not finished.quick
    assert "thank you very much" in text.lower(), text


def _drain(results: queue.Queue[object]) -> list[object]:
    out = []
    while not results.empty():
        out.append(results.get_nowait())
    return out


@pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="freezes the child with SIGSTOP (POSIX)")
def test_finish_does_not_wait_past_the_budget_for_a_frozen_child(shared_data: Path) -> None:
    talk = read_audio(shared_data / "video" / "talking" / "1.mp4").samples
    speech = SpeechProcess()
    try:
        pid = speech._process.pid
        assert pid is not None
        heard = False  # the child has answered with a caption before it froze
        for block in _blocks(talk, time.monotonic()):
            heard = heard or speech.feed(block).partial is not None
            time.sleep(0.1)  # at the microphone's pace
            if heard:
                break
        assert heard
        os.kill(pid, signal.SIGSTOP)  # busy in one long C call, as far as the app can tell
        started = time.monotonic()
        speech.finish()
        took = time.monotonic() - started
    finally:
        speech.close()
    assert took < STOP_BUDGET_S + ANSWER_WAIT_S + 0.2, took
    assert not speech._process.is_alive()  # ended, not left frozen
