"""`emotion-overlay analyze`: recordings through the whole pipeline into timelines, as fast as they decode."""

import json
from pathlib import Path

import av
import numpy as np
import pytest

from overlay.session.reading import read_session
from tests.conftest import run_cli
from tests.fakes import make_clip
from tests.flite import flite_available, synthesise
from tests.media import write_wav


def summaries(stdout: str) -> dict[str, dict[str, object]]:
    """The --json output: one object per file, per line (and a last one counting them)."""
    rows = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    assert set(rows[-1]) == {"files", "ok", "failed", "skipped"}, "the last line counts the outcomes"
    return {Path(str(row["file"])).name: row for row in rows[:-1]}


def test_talking_clips_give_timelines_with_every_modality_and_videos_with_their_sound(
    shared_data: Path, tmp_path: Path, isolated_sessions: Path
) -> None:
    clips = [shared_data / "video" / "talking" / name for name in ("1.mp4", "2.mp4")]
    result = run_cli(["analyze", *map(str, clips), "--video", "--out", str(tmp_path), "--json", "--thumbnails"])
    assert result.returncode == 0, result.stderr
    found = summaries(result.stdout)
    assert set(found) == {"1.mp4", "2.mp4"}
    for name, summary in found.items():
        timeline = Path(str(summary["timeline"]))
        assert timeline.parent == isolated_sessions  # where `sessions list` and `review` look
        session = read_session(timeline)
        assert len(session.estimates["face"]) > 20 and len(session.estimates["voice"]) > 3
        assert len(session.estimates["text"]) >= 1 and session.utterances[0].text
        assert len(session.fused) > 15 and session.thumbnail_times
        assert session.metadata["kind"] == "recording" and session.metadata["source"].endswith(name)
        assert summary["dominant_emotion"] in {row.label for row in session.fused_rows}
        assert all(summary["modalities"][m] is not None for m in ("face", "voice", "text"))  # type: ignore[index]
        assert len(str(summary["transcript"]).split()) >= 3
        # Fused weights show that all three modalities took part at some point.
        assert {m for row in session.fused_rows for m, w in row.weights.items() if w > 0} == {"face", "voice", "text"}
        video = Path(str(summary["annotated_video"]))
        with av.open(str(video)) as annotated, av.open(str(shared_data / "video" / "talking" / name)) as original:
            assert annotated.streams.video[0].frames == original.streams.video[0].frames
            assert annotated.streams.audio, "the original sound is under the annotated video"
            assert abs(float(annotated.duration - original.duration) / 1e6) < 0.1


@pytest.mark.skipif(not flite_available(), reason="flite is not installed (apt-get install flite)")
def test_a_wav_file_is_fused_from_voice_and_words(tmp_path: Path) -> None:
    speech = synthesise("I am so angry about this. This is absolutely outrageous and I hate it.")
    silence = np.zeros(8000, np.float32)
    wav = write_wav(tmp_path / "rant.wav", np.concatenate([silence, speech, silence]))
    result = run_cli(["analyze", str(wav), "--json"])
    assert result.returncode == 0, result.stderr
    summary = summaries(result.stdout)["rant.wav"]
    session = read_session(Path(str(summary["timeline"])))
    assert len(session.estimates["face"]) == 0 and summary["blinks"] == 0
    assert session.utterances and "angry" in str(summary["transcript"])
    assert len(session.fused) >= 5 * 3  # five fused states a second
    assert summary["modalities"]["text"] in ("angry", "disgust")  # type: ignore[index]
    assert summary["annotated_video"] is None


def test_a_bad_file_gets_one_line_and_the_others_are_still_analyzed(tmp_path: Path) -> None:
    silent_clip = make_clip(tmp_path / "silent.mp4", frames=30, fps=15.0, size=(160, 120))
    not_media = tmp_path / "notes.mp4"
    not_media.write_text("shopping list: milk, eggs\n" * 20)
    missing = tmp_path / "missing.wav"
    result = run_cli(["analyze", str(silent_clip), str(not_media), str(missing)])
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 2 and "Traceback" not in result.stderr
    assert any("notes.mp4" in line for line in errors) and any("missing.wav" in line for line in errors)
    # The silent, faceless clip still gets its summary: no modality, no transcript, nothing invented.
    assert "silent.mp4: 2.0 s" in result.stdout and "face -, voice -, text -" in result.stdout
    assert not (tmp_path / "notes.annotated.mp4").exists()


def test_analyze_needs_a_file(tmp_path: Path) -> None:
    result = run_cli(["analyze"])
    assert result.returncode == 2 and "FILE" in result.stderr


def _without_sound(source: Path, target: Path) -> Path:
    """The clip's video stream alone, remuxed (no re-encoding)."""
    with av.open(str(source)) as given, av.open(str(target), "w") as out:
        stream_in = given.streams.video[0]
        stream_out = out.add_stream_from_template(stream_in)
        for packet in given.demux(stream_in):
            if packet.dts is None:
                continue
            packet.stream = stream_out
            out.mux(packet)
    return target


@pytest.mark.parametrize("name", ["3.mp4", "WDA_KatieHill_000.mp4"])
def test_a_silent_face_clip_gives_a_fused_reading_that_agrees_with_the_face(
    shared_data: Path, tmp_path: Path, isolated_sessions: Path, name: str
) -> None:
    source = shared_data / "video" / "talking" / name
    if not source.is_file():
        pytest.skip(f"{source} is not in this copy of the data")
    clip = _without_sound(source, tmp_path / f"silent-{name}")
    result = run_cli(["analyze", str(clip), "--json"])
    assert result.returncode == 0, result.stderr
    summary = next(iter(summaries(result.stdout).values()))
    modalities = summary["modalities"]
    assert isinstance(modalities, dict)
    assert modalities["voice"] is None and modalities["text"] is None
    assert modalities["face"] is not None
    assert summary["dominant_emotion"] == modalities["face"]


def test_two_inputs_with_the_same_name_each_get_their_annotated_video(
    shared_data: Path, tmp_path: Path, isolated_sessions: Path
) -> None:
    """a/clip.mp4 and b/clip.mp4 analysed together (in parallel) must not share a temporary file."""
    inputs = []
    for folder, name in (("a", "1.mp4"), ("b", "2.mp4")):
        (tmp_path / folder).mkdir()
        target = tmp_path / folder / "clip.mp4"
        target.write_bytes((shared_data / "video" / "talking" / name).read_bytes())
        inputs.append(str(target))
    out = tmp_path / "out"
    result = run_cli(["analyze", *inputs, "--video", "--out", str(out), "--json", "--jobs", "2"])
    assert result.returncode == 0, result.stderr
    videos = sorted(out.glob("clip-*.annotated.mp4"))
    sessions = {json.loads(line).get("session") for line in result.stdout.splitlines()[:-1]}
    assert {v.name.removesuffix(".annotated.mp4") for v in videos} == sessions and len(sessions) == 2
    for video in videos:
        with av.open(str(video)) as played:
            assert played.streams.audio and sum(1 for _ in played.decode(video=0)) > 100
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary file left
