"""`emotion-overlay eval face` as a user runs it: the JSON contract, the table, bad input."""

import json
import shutil
from pathlib import Path

import pytest

from overlay.models.bundled import bundled_model_path
from tests.conftest import run_cli, write_image


@pytest.fixture
def tiny_set(tmp_path: Path) -> Path:
    """5 made-up images in a project folder, a synonym folder and an unknown folder."""
    root = tmp_path / "faces"
    write_image(root / "happy" / "a.png", 1)
    write_image(root / "happy" / "b.jpg", 2, channels=1)
    write_image(root / "sadness" / "c.png", 3, size=200)
    write_image(root / "fearful" / "d.png", 4, size=30)
    write_image(root / "fearful" / "e.png", 5)
    write_image(root / "contempt" / "f.png", 6)  # not one of our labels: skipped
    (root / "happy" / ".DS_Store").write_bytes(b"\0junk")  # hidden files are ignored
    return root


def test_json_output_follows_the_evaluation_interface(tiny_set: Path) -> None:
    result = run_cli(["eval", "face", "--data", str(tiny_set), "--json"])
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {"n", "accuracy", "macro_f1", "labels", "per_class", "confusion"}
    assert report["labels"] == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    assert report["n"] == 5
    supports = {label: scores["support"] for label, scores in report["per_class"].items()}
    assert supports == {"angry": 0, "disgust": 0, "fear": 2, "happy": 2, "sad": 1, "surprise": 0, "neutral": 0}
    confusion = report["confusion"]
    assert [sum(row) for row in confusion] == [supports[label] for label in report["labels"]]
    assert report["accuracy"] == pytest.approx(sum(confusion[i][i] for i in range(7)) / 5)
    assert "contempt" in result.stderr  # the skipped folder is named


def test_table_output_is_readable(tiny_set: Path) -> None:
    result = run_cli(["eval", "face", "--data", str(tiny_set)])
    assert result.returncode == 0, result.stderr
    assert "accuracy" in result.stdout and "macro-F1" in result.stdout
    assert "confusion" in result.stdout
    assert all(label in result.stdout for label in ("angry", "surprise", "neutral"))


def _assert_one_line_error(result_stderr: str, *expected: str) -> None:
    lines = [line for line in result_stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result_stderr
    assert "Traceback" not in result_stderr
    for text in expected:
        assert text in lines[0], lines[0]


def test_non_image_file_is_named(tiny_set: Path) -> None:
    bad = tiny_set / "happy" / "notes.jpg"
    bad.write_text("this is not a picture")
    result = run_cli(["eval", "face", "--data", str(tiny_set), "--json"])
    assert result.returncode == 1
    assert result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and str(bad) in errors[0] and "not a readable image" in errors[0]
    assert "Traceback" not in result.stderr


def test_empty_folder_says_what_is_expected(tmp_path: Path) -> None:
    result = run_cli(["eval", "face", "--data", str(tmp_path)])
    assert result.returncode == 1
    _assert_one_line_error(result.stderr, str(tmp_path), "no face images found")


def test_missing_folder(tmp_path: Path) -> None:
    result = run_cli(["eval", "face", "--data", str(tmp_path / "nope")])
    assert result.returncode == 1
    _assert_one_line_error(result.stderr, "no such folder")


def test_corrupt_model_file_is_reported_with_the_fix(tiny_set: Path, tmp_path: Path) -> None:
    onnx = bundled_model_path("face", "face_expression.onnx")
    copy = tmp_path / onnx.name
    shutil.copy(onnx.with_suffix(".json"), copy.with_suffix(".json"))
    copy.write_bytes(onnx.read_bytes()[: onnx.stat().st_size // 2])  # an interrupted copy
    result = run_cli(["eval", "face", "--data", str(tiny_set), "--model", str(copy)])
    assert result.returncode == 1
    _assert_one_line_error(result.stderr, str(copy), "checksum mismatch", "reinstall")


def test_missing_model_file(tiny_set: Path, tmp_path: Path) -> None:
    result = run_cli(["eval", "face", "--data", str(tiny_set), "--model", str(tmp_path / "gone.onnx")])
    assert result.returncode == 1
    _assert_one_line_error(result.stderr, "gone.onnx", "not found")


@pytest.mark.parametrize(
    "args", [["eval", "face"], ["eval", "smell", "--data", "."], ["eval", "face", "--data", ".", "--threads", "0"]]
)
def test_bad_usage_exits_with_2(args: list[str]) -> None:
    result = run_cli(args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()  # one line and where to look, not the usage block
    assert len(lines) == 1 and "error:" in lines[0] and "--help)" in lines[0] and "usage:" not in result.stderr


def test_eval_face_with_ferplus_labels_reproduces_the_cards_figures(shared_data: Path) -> None:
    """The shipped card's FER+ val figures are what `eval face --ferplus` measures (and bad CSVs are one line)."""
    val = shared_data / "fer2013" / "val"
    votes = shared_data / "fer2013" / "ferplus_votes.csv"
    result = run_cli(["eval", "face", "--data", str(val), "--ferplus", str(votes), "--json"])
    assert result.returncode == 0, result.stderr
    measured = json.loads(result.stdout)
    card = json.loads(bundled_model_path("face", "face_expression.json").read_text())["metrics"]["val_ferplus"]
    assert measured["n"] == card["n"] == 3372
    assert abs(measured["accuracy"] - card["accuracy"]) < 1e-6
    assert abs(measured["macro_f1"] - card["macro_f1"]) < 1e-6
