"""The shipped text emotion model: verified with its tokenizer, and right on clear and real sentences."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from overlay.errors import ModelError
from overlay.labels import EMOTIONS
from overlay.model_files import bundled_model_path, sha256_of
from overlay.text_dataset import load_goemotions
from overlay.text_model import TextEmotionModel

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


def test_clearly_emotional_sentences_get_their_label() -> None:
    probs = TextEmotionModel().predict(list(CLEAR_SENTENCES))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    predicted = [EMOTIONS[i] for i in probs.argmax(axis=1)]
    assert predicted == list(CLEAR_SENTENCES.values())


def test_card_figures_hold_on_the_first_dev_rows(shared_data: Path) -> None:
    """The card's dev accuracy, re-measured on a slice of dev through the app's own code."""
    dev_file = shared_data / "goemotions" / "dev.tsv"
    model = TextEmotionModel()
    dev = load_goemotions(dev_file)
    rows = 1000
    accuracy = float(np.mean(model.predict(list(dev.texts[:rows])).argmax(axis=1) == dev.labels[:rows]))
    card_accuracy = model.card.raw["metrics"]["dev_single_label"]["accuracy"]
    assert abs(accuracy - card_accuracy) <= 0.04, f"{accuracy:.3f} on {rows} dev rows; card {card_accuracy:.3f}"


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
