from overlay.labels import EMOTIONS, canonical_label


def test_label_order_is_the_project_contract() -> None:
    assert EMOTIONS == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def test_data_set_names_and_synonyms_map_to_project_labels() -> None:
    assert canonical_label("Happy") == "happy"
    assert canonical_label("happiness") == "happy"
    assert canonical_label("anger") == "angry"
    assert canonical_label("disgusted") == "disgust"
    assert canonical_label("fearful") == "fear"
    assert canonical_label("sadness") == "sad"
    assert canonical_label("surprised") == "surprise"
    assert canonical_label("calm") == "neutral"  # RAVDESS


def test_unknown_names_are_not_guessed() -> None:
    assert canonical_label("contempt") is None
    assert canonical_label("") is None
