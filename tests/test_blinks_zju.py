"""Blinks on real annotated streams of zju_dev, through the face stage as `analyze` runs it.

Four of the ten people: 000002 (blinks on the first frames), 000006 and 000008 (the most
blinks) and 000010. Each stream joins four clips: no glasses, thin rims, black frames,
looking up.
"""

import json
from pathlib import Path

import pytest

from overlay.analysis.blink_eval import BlinkItem, FaceStageBlinks, Span, match, read_tag, score_item
from overlay.face.dlib import DEFAULT_LANDMARKS_PATH
from tests.conftest import run_cli

pytestmark = pytest.mark.skipif(not DEFAULT_LANDMARKS_PATH.is_file(), reason="libdlib-data not installed")

COUNTED = ("000006M_concat", "000008M_concat", "000010M_concat")
STREAMS = ("000002M_concat", *COUNTED)


@pytest.fixture(scope="module")
def zju_dev(shared_data: Path) -> Path:
    path = shared_data / "blink" / "zju_dev"
    if not (path / "cuts.json").is_file():
        pytest.skip(f"zju_dev blink set not found at {path}")
    return path


@pytest.fixture(scope="module")
def scored(zju_dev: Path) -> dict[str, BlinkItem]:
    detect = FaceStageBlinks()
    items = {}
    for name in STREAMS:
        times, events = detect(zju_dev / f"{name}.mp4")
        items[name] = score_item(name, times, read_tag(zju_dev / f"{name}.tag"), events)
    return items


@pytest.mark.parametrize("name", COUNTED)
def test_real_streams_give_their_blinks(scored: dict[str, BlinkItem], name: str) -> None:
    item = scored[name]
    for rule in ("overlap", "iou"):
        scores = item.scores[rule]
        assert abs(scores.count_error) <= 2, (rule, scores)
        assert scores.f1 >= 0.9, (rule, scores)


def test_a_blink_in_the_first_second_of_a_real_stream(scored: dict[str, BlinkItem]) -> None:
    item = scored["000002M_concat"]
    first = item.truth[0]
    assert first.start < 0.1  # this person blinks on the stream's second frame
    assert any(event.start < 1.0 and Span(event.start, event.end).overlaps(first) for event in item.events)


def test_glasses_on_and_off_add_no_false_blinks(zju_dev: Path, scored: dict[str, BlinkItem]) -> None:
    # At each cut the glasses (or the view) change and the face jumps: nothing found in the
    # half second after it may be other than a true blink (or a closing the annotation leaves out).
    cuts = {video["video"]: video["clips"] for video in json.loads((zju_dev / "cuts.json").read_text())}
    for name, item in scored.items():
        detected = [Span(e.start, e.end) for e in item.events]
        pairs = match(detected, item.truth, "overlap")
        for clip in cuts[name][1:]:
            false = [
                d
                for i, d in enumerate(detected)
                if clip["start_s"] <= d.start < clip["start_s"] + 0.5
                and i not in pairs
                and not any(d.overlaps(u) for u in item.unannotated)
            ]
            assert not false, (name, clip["clip"], false)


def test_eval_blinks_on_a_real_stream(zju_dev: Path, tmp_path: Path) -> None:
    for suffix in (".mp4", ".tag"):
        (tmp_path / f"000006M_concat{suffix}").symlink_to(zju_dev / f"000006M_concat{suffix}")
    result = run_cli(["eval", "blinks", "--data", str(tmp_path), "--json"])
    assert result.returncode == 0, result.stderr
    item, summary = (json.loads(line) for line in result.stdout.splitlines())
    assert item["item"] == "000006M_concat" and item["overlap"]["true"] == 21
    assert item["overlap"]["f1"] >= 0.9
    assert summary["summary"] is True and summary["overlap"] == item["overlap"]
