"""The shipped text emotion model: verified with its tokenizer, and right on clear and real sentences."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from overlay.errors import ModelError
from overlay.labels import EMOTIONS
from overlay.models.bundled import bundled_model_path, sha256_of
from overlay.speech.text_dataset import as_transcript, load_goemotions
from overlay.speech.text_model import TextEmotionModel
from tests.conftest import run_cli

CLEAR_SENTENCES = {
    "I am so angry about this": "angry",
    "That is disgusting, it makes me sick": "disgust",
    "I am terrified of what will happen": "fear",
    "Thank you so much, I love it": "happy",
    "I miss her so much, I feel so alone": "sad",
    "Wow, I did not expect that at all": "surprise",
    "The meeting is at nine tomorrow": "neutral",
}


def test_bundled_model_matches_its_card_and_fits_the_budget() -> None:
    model = TextEmotionModel()
    assert model.card.labels == EMOTIONS
    assert model.card.sha256 == sha256_of(model.path)
    tokenizer = model.path.parent / "text_tokenizer.json"
    assert model.path.stat().st_size + tokenizer.stat().st_size <= 30_000_000  # the budget


def test_clearly_emotional_sentences_get_their_label_written_or_spoken() -> None:
    model = TextEmotionModel()
    for texts in (list(CLEAR_SENTENCES), [as_transcript(text) for text in CLEAR_SENTENCES]):
        probs = model.predict(texts)
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
        predicted = [EMOTIONS[i] for i in probs.argmax(axis=1)]
        assert predicted == list(CLEAR_SENTENCES.values()), texts


def test_comments_are_written_as_a_recognizer_would_write_them() -> None:
    assert as_transcript("WOW!! [NAME] is SO funny :) \U0001f602") == "wow name is so funny"
    assert as_transcript("I can't believe it's 'true'...") == "i can't believe it's true"
    assert as_transcript("  Ugh.\n") == "ugh"
    assert as_transcript("!!! :( \u2764") == ""  # nothing a recognizer would write


def test_card_figures_hold_on_the_first_dev_rows(shared_data: Path) -> None:
    """The card's dev accuracy, re-measured on a slice of dev through the app's own code."""
    dev_file = shared_data / "goemotions" / "dev.tsv"
    model = TextEmotionModel()
    dev = load_goemotions(dev_file)
    rows = 1000
    accuracy = float(np.mean(model.predict(list(dev.texts[:rows])).argmax(axis=1) == dev.labels[:rows]))
    card_accuracy = model.card.raw["metrics"]["dev_single_label"]["accuracy"]
    assert abs(accuracy - card_accuracy) <= 0.04, f"{accuracy:.3f} on {rows} dev rows; card {card_accuracy:.3f}"


def test_eval_text_reads_comments_as_transcripts_as_the_card_says(shared_data: Path, tmp_path: Path) -> None:
    """`eval text --as-transcripts` on the first 1,000 dev rows agrees with the card's figure."""
    rows = (shared_data / "goemotions" / "dev.tsv").read_text(encoding="utf-8").splitlines()[:1000]
    subset = tmp_path / "dev_head.tsv"
    subset.write_text("\n".join(rows) + "\n", encoding="utf-8")
    spoken = run_cli(["eval", "text", "--data", str(subset), "--as-transcripts", "--json"])
    written = run_cli(["eval", "text", "--data", str(subset), "--json"])
    assert spoken.returncode == 0 and written.returncode == 0, spoken.stderr + written.stderr
    spoken_report, written_report = json.loads(spoken.stdout), json.loads(written.stdout)
    assert spoken_report["n"] == written_report["n"] > 800  # the single-label rows
    assert spoken_report["confusion"] != written_report["confusion"]  # the model did read other texts
    card = TextEmotionModel().card.raw["metrics"]["dev_single_label_as_transcripts"]["accuracy"]
    assert abs(spoken_report["accuracy"] - card) <= 0.04, f"{spoken_report['accuracy']:.3f}; card {card:.3f}"


def test_a_tokenizer_that_is_not_the_cards_is_refused(tmp_path: Path) -> None:
    onnx = bundled_model_path("text", "text_emotion.onnx")
    for path in (onnx, onnx.with_suffix(".json"), onnx.parent / "text_tokenizer.json"):
        shutil.copy(path, tmp_path / path.name)
    tokenizer = json.loads((tmp_path / "text_tokenizer.json").read_text(encoding="utf-8"))
    tokenizer["model"]["vocab"]["angry"], tokenizer["model"]["vocab"]["happy"] = (
        tokenizer["model"]["vocab"]["happy"],
        tokenizer["model"]["vocab"]["angry"],
    )
    (tmp_path / "text_tokenizer.json").write_text(json.dumps(tokenizer), encoding="utf-8")
    with pytest.raises(ModelError, match="tokenizer missing or not the one the card names"):
        TextEmotionModel(tmp_path / onnx.name)
    (tmp_path / "text_tokenizer.json").unlink()
    with pytest.raises(ModelError, match="tokenizer missing"):
        TextEmotionModel(tmp_path / onnx.name)
