"""Damaged recordings: decoded past the damage where the decoder can, and what could not be read
is said in one line (and in analyze's outcome), never a silent cut."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import av
import pytest

from tests.conftest import run_cli


@pytest.fixture(scope="module")
def damaged(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """2.mp4 (5 s, H.264, one key frame) with 20 kB zeroed a third of the way in; and a copy whose
    index is at the front (faststart), cut at half its length, as a recording stopped by a crash."""
    folder = tmp_path_factory.mktemp("damaged")
    original = (shared_data / "video" / "talking" / "2.mp4").read_bytes()
    middle = bytearray(original)
    middle[len(middle) // 3 : len(middle) // 3 + 20_000] = bytes(20_000)
    (folder / "middle.mp4").write_bytes(bytes(middle))
    with (
        av.open(str(shared_data / "video" / "talking" / "2.mp4")) as source,
        av.open(str(folder / "front.mp4"), "w", options={"movflags": "faststart"}) as copy,
    ):
        streams = {
            s.index: copy.add_stream_from_template(s) for s in (source.streams.video[0], source.streams.audio[0])
        }
        for packet in source.demux(source.streams.video[0], source.streams.audio[0]):
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                copy.mux(packet)
    front = (folder / "front.mp4").read_bytes()
    (folder / "cut.mp4").write_bytes(front[: len(front) // 2])
    return {"middle": folder / "middle.mp4", "cut": folder / "cut.mp4"}


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


def test_run_says_in_one_line_how_much_of_a_damaged_file_it_could_not_play(
    damaged: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "o.mp4"
    result = run_cli(["run", "--camera", str(damaged["middle"]), "--sink", "file", "--out", str(out), "--mic", "off"])
    assert result.returncode == 0, result.stderr
    said = [line for line in result.stderr.splitlines() if "could not be read (damaged)" in line]
    assert len(said) == 1 and "of its 5.0 s" in said[0] and "emotion-overlay analyze" in said[0]
