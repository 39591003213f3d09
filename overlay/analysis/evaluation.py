"""Scoring the project's models on labelled data (the `eval` command's work)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from overlay.analysis.metrics import ClassificationReport, classification_report
from overlay.errors import DataError
from overlay.face.dataset import load_ferplus_votes, load_labelled_faces
from overlay.face.model import FaceExpressionModel
from overlay.speech.text_dataset import load_goemotions, transcripts_of
from overlay.speech.text_model import TextEmotionModel
from overlay.voice.activity import VoiceActivityDetector
from overlay.voice.dataset import load_labelled_speech
from overlay.voice.model import VoiceEmotionModel
from overlay.voice.windows import clip_probabilities, speech_windows


def evaluate_face(
    data_dir: Path, model: FaceExpressionModel, ferplus_votes: Path | None = None
) -> ClassificationReport:
    """Score the face model on DIR/<label>/*.jpg|png.

    With `ferplus_votes` (FER2013's ferplus_votes.csv) the reference is each image's FER+
    majority label instead of its folder, and images without one (a tie, contempt, unknown,
    not a face, no FER+ row) are left out, as FER+ is usually scored.
    """
    faces = load_labelled_faces(data_dir)
    predicted = model.predict(faces.inputs).argmax(axis=1)
    if ferplus_votes is None:
        return classification_report(faces.labels, predicted)
    majority = load_ferplus_votes(ferplus_votes, faces.paths).majority
    scored = majority >= 0
    if not scored.any():
        raise DataError(f"{ferplus_votes}: no FER+ majority label for any image under {data_dir}")
    return classification_report(majority[scored], predicted[scored])


def score_face_framings(
    images: Sequence[npt.NDArray[np.uint8]],
    labels: npt.NDArray[np.int64],
    predict: Callable[[list[npt.NDArray[np.uint8]]], npt.NDArray[np.float32]],
    live_path: bool = True,
) -> dict[str, ClassificationReport]:
    """Scores of a face model (`predict`: raw crops -> probabilities) on each framing of
    overlay.face.framing, and on the faces re-cut by the live path (`live_path_recut`;
    faces the live path does not find are left out: their count is its report's n).
    Labels of -1 are left out everywhere."""
    from overlay.face.framing import FRAMINGS, LivePathCropper

    scored = [i for i in range(len(images)) if labels[i] >= 0]
    reports = {}
    for name, frame in FRAMINGS.items():
        predicted = predict([frame(images[i]) for i in scored]).argmax(axis=1)
        reports[name] = classification_report(labels[scored], predicted)
    if live_path:
        cropper = LivePathCropper()
        recut = [(i, cropper(images[i])) for i in scored]
        found = [(i, crop) for i, crop in recut if crop is not None]
        predicted = predict([crop for _, crop in found]).argmax(axis=1)
        reports["live_path_recut"] = classification_report(labels[[i for i, _ in found]], predicted)
    return reports


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

    With `as_transcripts` each comment is first written as a speech recognizer would write it
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
