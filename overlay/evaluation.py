"""Scoring the project's models on labelled data (the `eval` command's work)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from overlay.face_dataset import load_labelled_faces
from overlay.face_model import FaceExpressionModel
from overlay.metrics import ClassificationReport, classification_report
from overlay.text_dataset import load_goemotions, transcripts_of
from overlay.text_model import TextEmotionModel
from overlay.voice_activity import VoiceActivityDetector
from overlay.voice_dataset import load_labelled_speech
from overlay.voice_model import VoiceEmotionModel
from overlay.voice_windows import clip_probabilities, speech_windows


def evaluate_face(data_dir: Path, model: FaceExpressionModel) -> ClassificationReport:
    """Score the face model on DIR/<label>/*.jpg|png."""
    faces = load_labelled_faces(data_dir)
    predicted = model.predict(faces.inputs).argmax(axis=1)
    return classification_report(faces.labels, predicted)


def evaluate_voice(
    data_dir: Path,
    model: VoiceEmotionModel,
    vad: VoiceActivityDetector | None = None,
    noise: Callable[[npt.NDArray[np.float32], int], npt.NDArray[np.float32]] | None = None,
    actors: frozenset[int] | None = None,
) -> ClassificationReport:
    """Score the voice model on RAVDESS-named files under DIR, one prediction per file.

    A file's prediction is the mean over its speech windows, as live; a file where no speech
    is detected is scored on all its windows so that every labelled file counts. `noise(samples,
    file_index)` may degrade the audio first (the model card's noisy condition); `actors`
    limits scoring to those RAVDESS actors (the held-out ones).
    """
    speech = load_labelled_speech(data_dir, actors)
    vad = vad or VoiceActivityDetector()
    predicted = []
    for index, clip in enumerate(speech.clips):
        samples = noise(clip.samples, index) if noise else clip.samples
        windows = speech_windows(samples, vad, fall_back_to_all=True)
        predicted.append(int(clip_probabilities(model.predict(windows.inputs)).argmax()))
    return classification_report(speech.labels, np.asarray(predicted))


def evaluate_text(path: Path, model: TextEmotionModel, as_transcripts: bool = False) -> ClassificationReport:
    """Score the text model on the single-label rows of a GoEmotions TSV file.

    With `as_transcripts` each comment is first written as a speech recogniser would write it
    (`transcripts_of`), which is what the model reads in the app.
    """
    texts = load_goemotions(path)
    inputs = transcripts_of(texts.texts) if as_transcripts else list(texts.texts)
    predicted = model.predict(inputs).argmax(axis=1)
    return classification_report(texts.labels, predicted)


def format_report(report: ClassificationReport) -> str:
    """A readable table: overall scores, per-class scores and the confusion matrix."""
    width = max(len(label) for label in report.labels) + 2
    lines = [
        f"n = {report.n}   accuracy = {report.accuracy:.4f}   macro-F1 = {report.macro_f1:.4f}",
        "",
        f"{'label':<{width}}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}",
    ]
    for label, scores in report.per_class.items():
        lines.append(
            f"{label:<{width}}{scores.precision:>10.4f}{scores.recall:>10.4f}{scores.f1:>10.4f}{scores.support:>10d}"
        )
    lines += [
        "",
        "confusion (rows: true label, columns: predicted)",
        " " * width + "".join(f"{label[:7]:>9}" for label in report.labels),
    ]
    for label, row in zip(report.labels, report.confusion, strict=True):
        lines.append(f"{label:<{width}}" + "".join(f"{count:>9d}" for count in row))
    return "\n".join(lines)
