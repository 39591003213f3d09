"""Damaged recordings: decoded past the damage where the decoder can, and what could not be read
is said in one line (and in analyze's outcome), never a silent cut."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import av
import pytest

from tests.conftest import run_cli
from tests.media import decodable


@pytest.fixture(scope="module")
def damaged(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """2.mp4 (5 s, H.264, one key frame) with 20 kB zeroed a third of the way in; and a copy whose
    index is at the front (faststart), cut at half its length, as a recording stopped by a crash.
    The same of 1.mp4 (6.1 s) with 100 kB zeroed: about a second that no decoder gets back."""
    folder = tmp_path_factory.mktemp("damaged")
    talking = shared_data / "video" / "talking"
    return {
        "middle": _zeroed(talking / "2.mp4", 20_000, folder / "middle.mp4"),
        "cut": _cut(talking / "2.mp4", folder / "cut.mp4"),
        "long middle": _zeroed(talking / "1.mp4", 100_000, folder / "long-middle.mp4"),
        "long cut": _cut(talking / "1.mp4", folder / "long-cut.mp4"),
    }


def _zeroed(clip: Path, size: int, out: Path) -> Path:
    damaged = bytearray(clip.read_bytes())
    damaged[len(damaged) // 3 : len(damaged) // 3 + size] = bytes(size)
    out.write_bytes(bytes(damaged))
    return out


def _cut(clip: Path, out: Path) -> Path:
    front = out.with_suffix(".front.mp4")
    with av.open(str(clip)) as source, av.open(str(front), "w", options={"movflags": "faststart"}) as copy:
        streams = {
            s.index: copy.add_stream_from_template(s) for s in (source.streams.video[0], source.streams.audio[0])
        }
        for packet in source.demux(source.streams.video[0], source.streams.audio[0]):
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                copy.mux(packet)
    whole = front.read_bytes()
    out.write_bytes(whole[: len(whole) // 2])
    return out


def outcome(path: Path) -> tuple[dict[str, Any], str]:
    result = run_cli(["analyze", str(path), "--json", "--recognizer", "pocketsphinx"])
    assert "Traceback" not in result.stderr
    return json.loads(result.stdout.splitlines()[0]), result.stderr


def test_analyze_decodes_past_damage_in_the_middle(damaged: dict[str, Path]) -> None:
    row, _ = outcome(damaged["middle"])
    assert row["status"] == "ok"
    assert row["duration_s"] >= 4.5  # the whole 5 s, not the 1.3 s before the damage
    assert row["transcript"]  # the sound too: a damaged packet is heard as silence, the rest goes on


def test_analyze_says_how_much_of_a_cut_recording_could_not_be_read(damaged: dict[str, Path]) -> None:
    row, stderr = outcome(damaged["cut"])
    assert row["status"] == "ok" and row["duration_s"] < 4.0
    assert "could not be read (damaged)" in row["warning"] and "of its 5.0 s" in row["warning"]
    assert sum("could not be read" in line for line in stderr.splitlines()) == 1


@pytest.mark.parametrize(("name", "unread"), [("long middle", "1.0"), ("long cut", "3.")])
def test_run_plays_what_the_decoder_can_and_says_in_one_line_how_much_could_not_be_read(
    damaged: dict[str, Path], tmp_path: Path, name: str, unread: str
) -> None:
    out = tmp_path / "o.mp4"
    result = run_cli(["run", "--camera", str(damaged[name]), "--sink", "file", "--out", str(out), "--mic", "off"])
    assert result.returncode == 0, result.stderr  # a partial result, as analyze's: said, not failed
    said = [line for line in result.stderr.splitlines() if "could not be read (damaged)" in line]
    assert len(said) == 1 and f": {unread}" in said[0] and "s of its 6.1 s" in said[0], result.stderr
    with av.open(str(out)) as written:
        played = sum(1 for packet in written.demux(video=0) if packet.size)
    late = re.search(r"(\d+) late frames of the file skipped", result.stderr)
    # Every frame FFmpeg decodes (104 of 135 in the middle; OpenCV stopped at 43), less any a
    # busy machine skipped to keep time.
    assert played + (int(late.group(1)) if late else 0) == decodable(damaged[name])[0], result.stderr
