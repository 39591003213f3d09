"""Every recognizer this machine has, by name, for the benchmarks: PocketSphinx always; Whisper (and its
2-thread, greedy-final and filler-prompted variants) and Vosk where `emotion-overlay models pull` installed them."""

from __future__ import annotations

import sys
from collections.abc import Callable

from asr.contract import Recognizer


def recognizer_factories(names: list[str]) -> dict[str, Callable[[], Recognizer]]:
    from asr.pocketsphinx_backend import PocketSphinxRecognizer
    from asr.vosk_backend import VoskRecognizer
    from asr.whisper_backend import DISFLUENT_PROMPT, WhisperRecognizer, WhisperSettings
    from overlay.models.store import find_spec, installed_path

    whisper = installed_path(find_spec("whisper-tiny.en"))
    vosk = next(
        (
            p
            for n in ("vosk-model-small-en-us-0.15", "vosk-model-en-us-0.22-lgraph")
            if (p := installed_path(find_spec(n)))
        ),
        None,
    )
    available: dict[str, Callable[[], Recognizer]] = {"pocketsphinx": PocketSphinxRecognizer}
    if whisper is not None:

        def warm(settings: WhisperSettings) -> Recognizer:
            recognizer = WhisperRecognizer(settings)
            recognizer.warm_up()  # as the app does once it has loaded it
            return recognizer

        available["whisper"] = lambda: warm(WhisperSettings(whisper))
        available["whisper-2threads"] = lambda: warm(WhisperSettings(whisper, threads=2))
        available["whisper-greedy"] = lambda: warm(WhisperSettings(whisper, final_beam=1))
        available["whisper-fillers"] = lambda: warm(WhisperSettings(whisper, final_prompt=DISFLUENT_PROMPT))
    if vosk is not None:
        available["vosk"] = lambda: VoskRecognizer(vosk)
    missing = [n for n in names if n not in available]
    if missing:
        print(f"not available here (not installed): {', '.join(missing)}", file=sys.stderr)
    return {n: available[n] for n in names if n in available}
