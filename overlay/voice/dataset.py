"""Reading labelled speech: RAVDESS-named audio files anywhere under a folder.

Used by `eval voice` and by the training recipe in models/voice/, so both hear the same audio.
RAVDESS names files `MM-VC-EE-II-SS-RR-AA.ext` (modality, vocal channel, emotion, intensity,
statement, repetition, actor); its 8 emotions map onto the project's 7 (calm -> neutral).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from overlay.errors import DataError
from overlay.labels import EMOTIONS, canonical_label
from overlay.media.audio_file import AudioClip, read_audio

logger = logging.getLogger(__name__)

AUDIO_SUFFIXES: Final = (".wav", ".flac")
_RAVDESS_EMOTIONS: Final = {
    "01": "neutral",
    "02": "calm",
    "03": "happy",
    "04": "sad",
    "05": "angry",
    "06": "fearful",
    "07": "disgust",
    "08": "surprised",
}
_RAVDESS_NAME: Final = re.compile(r"^\d\d-\d\d-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")


@dataclass(frozen=True)
class RavdessName:
    label: str  # one of EMOTIONS
    intensity: int  # 1 normal, 2 strong
    statement: int  # 1 "Kids are talking by the door", 2 "Dogs are sitting by the door"
    actor: int


def parse_ravdess_name(stem: str) -> RavdessName | None:
    """The fields of a RAVDESS file name (without suffix), or None when it is not one."""
    match = _RAVDESS_NAME.match(stem)
    if match is None or match.group(1) not in _RAVDESS_EMOTIONS:
        return None
    label = canonical_label(_RAVDESS_EMOTIONS[match.group(1)])
    assert label is not None
    return RavdessName(label, int(match.group(2)), int(match.group(3)), int(match.group(5)))


@dataclass(frozen=True)
class LabelledSpeech:
    clips: tuple[AudioClip, ...]
    labels: npt.NDArray[np.int64]
    actors: npt.NDArray[np.int64]
    skipped_files: tuple[Path, ...]


MIN_SCORED_SECONDS = 0.5  # RAVDESS statements last 3-5 s; a file shorter than this holds no sentence


def load_labelled_speech(root: Path, only_actors: frozenset[int] | None = None) -> LabelledSpeech:
    """Every RAVDESS-named .wav/.flac under root (only those of `only_actors` when given), decoded to 16 kHz mono.

    Audio files whose names do not follow RAVDESS are skipped with a warning (they carry no
    label); a file that has a RAVDESS name but cannot be decoded is an error, so a broken data
    set is never scored silently.
    """
    if not root.is_dir():
        raise DataError(f"{root}: no such folder; pass a folder holding RAVDESS-named .wav or .flac files")
    clips: list[AudioClip] = []
    labels: list[int] = []
    actors: list[int] = []
    skipped: list[Path] = []
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()):
        if path.name.startswith("."):
            continue
        name = parse_ravdess_name(path.stem)
        if name is None:
            logger.warning("skipping %s: not a RAVDESS name (MM-VC-EE-II-SS-RR-AA), so it has no label", path)
            skipped.append(path)
            continue
        if only_actors is not None and name.actor not in only_actors:
            continue
        clip = read_audio(path)
        if clip.duration_seconds < MIN_SCORED_SECONDS or not np.any(clip.samples):
            # No speech to score: a label on it would count against the model for nothing.
            logger.warning("skipping %s: %.2f s long or silent, nothing to score", path, clip.duration_seconds)
            skipped.append(path)
            continue
        clips.append(clip)
        labels.append(EMOTIONS.index(name.label))
        actors.append(name.actor)
    if not clips:
        which = f" of actors {sorted(only_actors)}" if only_actors is not None else ""
        raise DataError(
            f"{root}: no RAVDESS-named .wav or .flac files{which} found (names like 03-01-05-01-02-01-12.wav)"
        )
    return LabelledSpeech(
        clips=tuple(clips),
        labels=np.asarray(labels, dtype=np.int64),
        actors=np.asarray(actors, dtype=np.int64),
        skipped_files=tuple(skipped),
    )
