"""PocketSphinx recognition behind the asr contract: the offline fallback that works out of the box.

The pocketsphinx wheel ships a US-English acoustic model, language model and dictionary, so
this backend needs no download. It is used only when no Vosk model is installed (the UI and
the timeline say which recognizer ran). Its endpointer (a VAD) cuts the stream into
utterances; partial hypotheses come while one is in progress.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import numpy.typing as npt

from asr.contract import SAMPLE_RATE, Partial, RecognizerError, Utterance, Word, to_pcm16

_FILLER = re.compile(r"^(<s>|</s>|<sil>|\[.*\]|\+\+.*\+\+)$")
FRAME_RATE = 100  # pocketsphinx frames per second
# The search keeps at most this many active HMMs per frame (default 30000): on a talking-face
# clip the decoder's CPU falls by a third (0.262 -> 0.179 s per second of sound) for WER
# 0.557 -> 0.567 on 150 RAVDESS files (flite sentences 0.102 both ways); 3000: WER 0.579.
MAX_HMMS_PER_FRAME = 5000


class PocketSphinxRecognizer:
    name = "pocketsphinx:en-us"

    def __init__(self, partial_every_s: float = 0.3) -> None:
        try:
            from pocketsphinx import Decoder, Endpointer
        except ImportError as err:
            raise RecognizerError(f"pocketsphinx is not installed ({err}); reinstall emotion-overlay") from err
        self._endpointer: Any = Endpointer()
        # No second (flat-lexicon) search pass: on 150 RAVDESS clips it cost 27 % of the CPU
        # (0.271 -> 0.198 s per second of sound) and did not help (WER 0.586 with it, 0.557
        # without; the flite sentences 0.102 both ways). The best-path lattice pass stays.
        self._decoder: Any = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL", fwdflat=False, maxhmmpf=MAX_HMMS_PER_FRAME)
        # PocketSphinx adapts its cepstral mean from utterance to utterance; a new stream starts
        # from the model's own again, so that what one file (or one microphone) taught it does
        # not change what the next one reads.
        self._fresh_cmn = str(self._decoder.get_cmn())
        self._frame_bytes = int(self._endpointer.frame_bytes)
        self._pending = b""
        self._stream_start: float | None = None
        self._fed_bytes = 0
        self._in_utterance = False
        self._left_open = False  # a quick finish() skipped end_utt(): owed before the next start_utt()
        self._partial_every = partial_every_s
        self._last_partial = -math.inf

    def feed(self, samples: npt.NDArray[np.float32], timestamp: float) -> list[Partial | Utterance]:
        if self._stream_start is None:
            self._stream_start = timestamp - len(self._pending) / 2 / SAMPLE_RATE
        self._pending += to_pcm16(samples)
        events: list[Partial | Utterance] = []
        while len(self._pending) >= self._frame_bytes:
            frame, self._pending = self._pending[: self._frame_bytes], self._pending[self._frame_bytes :]
            self._fed_bytes += len(frame)
            events += self._process(frame)
        return events

    def _now(self) -> float:
        assert self._stream_start is not None
        return self._stream_start + self._fed_bytes / 2 / SAMPLE_RATE

    def _process(self, frame: bytes) -> list[Partial | Utterance]:
        was_in_speech = self._endpointer.in_speech
        speech = self._endpointer.process(frame)
        if speech is None:
            return []
        if not was_in_speech:
            if self._left_open:
                self._decoder.end_utt()  # its cost no longer holds anyone up
                self._decoder.set_cmn(self._fresh_cmn)  # (end_utt adapts the mean: a new stream starts afresh)
                self._left_open = False
            self._decoder.start_utt()
            self._in_utterance = True
        self._decoder.process_raw(speech, False, False)
        if not self._endpointer.in_speech:
            return self._end_utterance(float(self._endpointer.speech_start))
        now = self._now()
        if now - self._last_partial >= self._partial_every:
            self._last_partial = now
            hyp = self._decoder.hyp()
            text = _clean(hyp.hypstr) if hyp is not None else ""
            if text:
                return [Partial(text, now)]
        return []

    def _end_utterance(self, speech_start: float, final_pass: bool = True) -> list[Partial | Utterance]:
        # After end_utt() the first hyp() runs the best-path search over the lattice: about
        # 0.07 s of CPU per second of speech here. Without end_utt(), hyp() and seg() give the
        # first pass's words at no cost.
        if final_pass:
            self._decoder.end_utt()
        else:
            self._left_open = True
        self._in_utterance = False
        hyp = self._decoder.hyp()
        assert self._stream_start is not None
        origin = self._stream_start + speech_start
        words = tuple(
            Word(
                _base_word(seg.word),
                origin + seg.start_frame / FRAME_RATE,
                origin + (seg.end_frame + 1) / FRAME_RATE,
                min(1.0, float(seg.prob)),  # a posterior; rounding can push it just past 1
            )
            for seg in self._decoder.seg() or ()  # None when nothing was decoded yet
            if not _FILLER.match(seg.word)
        )
        text = " ".join(w.text for w in words) if words else (_clean(hyp.hypstr) if hyp is not None else "")
        if not text:
            return []
        start = words[0].start if words else origin
        end = words[-1].end if words else self._now()
        return [Utterance(text, start, end, words, self.name)]

    @property
    def open_seconds(self) -> float:
        if not self._in_utterance or self._stream_start is None:
            return 0.0
        return max(0.0, self._now() - self._stream_start - float(self._endpointer.speech_start))

    def finish(self, quick: bool = False) -> list[Utterance]:
        events: list[Utterance] = []
        if self._in_utterance:
            # End of stream mid-utterance: close it at what was heard so far.
            speech = self._endpointer.end_stream(self._pending) if self._pending else None
            if speech:
                self._decoder.process_raw(speech, False, False)
            closed = self._end_utterance(float(self._endpointer.speech_start), final_pass=not quick)
            events = [e for e in closed if isinstance(e, Utterance)]
        self._pending, self._stream_start, self._fed_bytes = b"", None, 0
        if not self._left_open:  # else when the pass left out is caught up, at the next stream's start
            self._decoder.set_cmn(self._fresh_cmn)
        from pocketsphinx import Endpointer

        self._endpointer = Endpointer()
        return events


def _base_word(word: str) -> str:
    """'to(2)' -> 'to': the dictionary marks alternative pronunciations with (n)."""
    return re.sub(r"\(\d+\)$", "", word)


def _clean(hypothesis: str) -> str:
    return " ".join(_base_word(w) for w in hypothesis.split() if not _FILLER.match(w))
