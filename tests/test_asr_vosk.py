"""The Vosk adapter's own logic, against Vosk JSON results recorded from vosk-model-small-en-us-0.15
(no Vosk model can be downloaded on these machines), and its checks of the model folder."""

from pathlib import Path

import pytest

from asr.contract import RecognizerError
from asr.vosk_backend import VoskRecognizer, check_model_folder, parse_partial, parse_result

# KaldiRecognizer.Result() with SetWords(True): times in seconds from the start of the audio fed.
RESULT = """{
  "result" : [{
      "conf" : 1.000000,
      "end" : 1.410000,
      "start" : 1.170000,
      "word" : "kids"
    }, {
      "conf" : 0.871062,
      "end" : 1.590000,
      "start" : 1.410000,
      "word" : "are"
    }, {
      "conf" : 1.000000,
      "end" : 2.010000,
      "start" : 1.590000,
      "word" : "talking"
    }, {
      "conf" : 0.998227,
      "end" : 2.130000,
      "start" : 2.010000,
      "word" : "by"
    }, {
      "conf" : 1.000000,
      "end" : 2.220000,
      "start" : 2.130000,
      "word" : "the"
    }, {
      "conf" : 0.999836,
      "end" : 2.550000,
      "start" : 2.220000,
      "word" : "door"
    }],
  "text" : "kids are talking by the door"
}"""
EMPTY_RESULT = '{\n  "text" : ""\n}'
PARTIAL = '{\n  "partial" : "kids are talking"\n}'
EMPTY_PARTIAL = '{\n  "partial" : ""\n}'


def test_a_result_becomes_an_utterance_on_the_callers_clock() -> None:
    utterance = parse_result(RESULT, stream_start=1000.0, backend="vosk:test")
    assert utterance is not None
    assert utterance.text == "kids are talking by the door"
    assert [w.text for w in utterance.words] == ["kids", "are", "talking", "by", "the", "door"]
    assert utterance.start == pytest.approx(1001.17) and utterance.end == pytest.approx(1002.55)
    assert utterance.words[1].confidence == pytest.approx(0.871062)
    assert utterance.backend == "vosk:test"


def test_empty_results_and_partials_are_dropped() -> None:
    assert parse_result(EMPTY_RESULT, 0.0, "vosk:test") is None
    assert parse_partial(EMPTY_PARTIAL, 5.0) is None
    partial = parse_partial(PARTIAL, 5.0)
    assert partial is not None and partial.text == "kids are talking" and partial.timestamp == 5.0


def test_a_missing_model_folder_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(RecognizerError, match="does not exist; pull it again"):
        check_model_folder(tmp_path / "vosk-model-small-en-us-0.15")


def test_a_partial_model_folder_names_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "am").mkdir()
    (tmp_path / "am" / "final.mdl").write_bytes(b"x")
    with pytest.raises(RecognizerError, match=r"incomplete \(missing conf/model.conf, graph/HCLG.fst or"):
        check_model_folder(tmp_path)


def test_a_corrupt_model_is_one_clear_error(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    for name in ("am/final.mdl", "conf/model.conf", "graph/HCLr.fst", "graph/Gr.fst"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("not a model")
    with pytest.raises(RecognizerError, match=r"could not load .* corrupt: pull it again"):
        VoskRecognizer(tmp_path)
    assert "VoskAPI" not in capfd.readouterr().err  # Kaldi's own error lines do not leak out
