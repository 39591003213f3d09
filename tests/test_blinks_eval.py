"""Scoring blinks against frame-by-frame annotations, and `emotion-overlay eval blinks` as a user runs it."""

import json
from pathlib import Path

import pytest

from overlay.analysis.blink_eval import BlinkAnnotation, Span, match, read_tag, score, score_item
from overlay.errors import DataError
from overlay.face.blinks import BlinkEvent
from overlay.face.dlib import DEFAULT_LANDMARKS_PATH
from tests.conftest import run_cli
from tests.media import write_silent_clip

FPS = 30.0


def write_tag(path: Path, frames: int, blinks: dict[int, range], missing: tuple[int, ...] = ()) -> Path:
    """An Eyeblink8 .tag file: frames numbered from 1, blink ids on the frames of each blink."""
    ids = {frame: blink_id for blink_id, span in blinks.items() for frame in span}
    lines = ["#eye-blink annotation file version 1.1", "#start"]
    for frame in range(1, frames + 1):
        if frame not in missing:
            closed = "C" if frame in ids else "X"
            lines.append(f"{frame}:{ids.get(frame, -1)}:X:{closed}:X:{closed}:X:10:10:50:50:1:2:3:4:5:6:7:8")
    lines.append("#end")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_tag_blinks_are_runs_of_one_id_in_decoded_frames(tmp_path: Path) -> None:
    tag = write_tag(tmp_path / "a.tag", 60, {1: range(5, 10), 2: range(10, 14), 3: range(40, 46)}, missing=(30, 31))
    annotation = read_tag(tag)
    # Two blinks back to back (no open frame between) stay two; frame n is decoded frame n-1.
    assert annotation.blinks == ((4, 9), (9, 13), (39, 45))
    assert 29 not in annotation.annotated and 30 not in annotation.annotated and 28 in annotation.annotated


def test_a_file_that_is_not_an_annotation_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "b.tag"
    bad.write_text("hello\n")
    with pytest.raises(DataError, match=r"b\.tag"):
        read_tag(bad)
    bad.write_text("#start\nnot:a:line\n")
    with pytest.raises(DataError, match=r"b\.tag:2"):
        read_tag(bad)


def test_matching_is_one_to_one_and_iou_is_stricter() -> None:
    truth = [Span(1.0, 1.3), Span(1.3, 1.5), Span(3.0, 3.2)]
    # One long detection over two true blinks matches one of them; one that only grazes the
    # third overlaps but has IoU under 0.2.
    detected = [Span(1.0, 1.5), Span(3.15, 3.6)]
    assert len(match(detected, truth, "overlap")) == 2
    assert len(match(detected, truth, "iou")) == 1
    overlap = score(detected, truth, "overlap")
    assert (overlap.true, overlap.detected, overlap.matched) == (3, 2, 2)
    assert overlap.precision == 1.0 and overlap.recall == pytest.approx(2 / 3) and overlap.count_error == -1
    # As many pairs as possible: the first detection must not take the blink the second needs.
    assert len(match([Span(0.0, 2.0), Span(1.9, 2.1)], [Span(1.8, 2.05), Span(0.5, 0.7)], "overlap")) == 2


def test_the_first_seconds_can_be_left_out() -> None:
    truth = [Span(0.5, 0.8), Span(1.9, 2.2), Span(5.0, 5.3)]
    detected = [Span(0.6, 0.7), Span(2.05, 2.2), Span(5.1, 5.2), Span(7.0, 7.1)]  # the one at 7 s is false
    after = score(detected, truth, "overlap", after=2.0)
    # The blink starting at 1.9 s is left out with its detection (which starts after 2 s).
    assert (after.true, after.detected, after.matched) == (1, 2, 1)


def test_detections_in_frames_the_annotation_leaves_out_are_not_scored() -> None:
    times = [k / FPS for k in range(90)]
    annotation = BlinkAnnotation(blinks=((10, 15),), annotated=frozenset(range(60)))
    events = [BlinkEvent(10 / FPS, 15 / FPS, "blink"), BlinkEvent(70 / FPS, 75 / FPS, "blink")]
    item = score_item("x", times, annotation, events)
    assert item.scores["overlap"].detected == 1 and item.scores["overlap"].precision == 1.0
    strict = score_item("x", times, annotation, events, strict=True)
    assert strict.scores["overlap"].detected == 2 and strict.scores["overlap"].precision == 0.5


needs_landmarks = pytest.mark.skipif(not DEFAULT_LANDMARKS_PATH.is_file(), reason="libdlib-data not installed")


@needs_landmarks
def test_eval_blinks_prints_a_json_line_per_video_then_a_summary(tmp_path: Path) -> None:
    # Made-up videos without a face: nothing is found, every true blink is missed.
    for name, blinks in (("one", {1: range(3, 7)}), ("two", {1: range(2, 5), 2: range(9, 12)})):
        write_silent_clip(tmp_path / f"{name}.mp4", seconds=1.0, fps=15)
        write_tag(tmp_path / f"{name}.tag", 15, blinks)
    result = run_cli(["eval", "blinks", "--data", str(tmp_path), "--json"])
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line.get("item") for line in lines[:2]] == ["one", "two"]
    for line, true in zip(lines[:2], (1, 2), strict=True):
        for rule in ("overlap", "iou"):
            assert line[rule] == {
                "true": true, "detected": 0, "matched": 0, "precision": 1.0, "recall": 0.0, "f1": 0.0,
                "count_error": -true,
            }  # fmt: skip
        assert set(line["after_2s"]) == {"overlap", "iou"}
    summary = lines[2]
    assert summary["summary"] is True and summary["items"] == 2
    assert summary["overlap"]["true"] == 3 and summary["mean_abs_count_error"] == 1.5


@needs_landmarks
def test_eval_blinks_table_and_a_tag_without_its_video(tmp_path: Path) -> None:
    write_silent_clip(tmp_path / "one.mp4", seconds=1.0, fps=15)
    write_tag(tmp_path / "one.tag", 15, {1: range(3, 7)})
    result = run_cli(["eval", "blinks", "--data", str(tmp_path)])
    assert result.returncode == 0, result.stderr
    assert "one: 1 blinks, 0 found" in result.stdout and "every blink, overlap" in result.stdout
    write_tag(tmp_path / "lonely.tag", 15, {})
    result = run_cli(["eval", "blinks", "--data", str(tmp_path)])
    assert result.returncode != 0
    assert "lonely.tag" in result.stderr and "Traceback" not in result.stderr
