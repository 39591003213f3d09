"""`emotion-overlay analyze`: recordings through the whole pipeline into timelines, as fast as they decode."""

import hashlib
import json
import shutil
from pathlib import Path

import av
import numpy as np
import pytest

from overlay.analysis.batch import collect_jobs
from overlay.analysis.recordings import AnalyzeSettings, write_captions
from overlay.errors import OverlayError
from overlay.session.reading import read_session
from tests.conftest import run_cli
from tests.fakes import make_clip
from tests.flite import flite_available, synthesise
from tests.media import write_wav
from tests.sessions_data import UTTERANCES, parse_captions, write_session


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
            assert annotated.streams.video[0].codec_context.name == "h264"
            assert sum(1 for _ in annotated.decode(video=0)) == original.streams.video[0].frames
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


def test_captions_are_written_beside_each_recording_and_never_over_a_file(
    shared_data: Path, tmp_path: Path, isolated_sessions: Path
) -> None:
    clip = tmp_path / "clip.mp4"
    shutil.copyfile(shared_data / "video" / "talking" / "2.mp4", clip)
    before = hashlib.sha256(clip.read_bytes()).hexdigest()
    silent = make_clip(tmp_path / "silent.mp4", frames=30, fps=15.0, size=(160, 120))
    (tmp_path / "silent.srt").write_text("mine\n")  # someone's own file: left alone without --force
    result = run_cli(["analyze", str(tmp_path), "--captions", "srt", "--json"])
    assert result.returncode == 0, result.stdout + result.stderr  # a caption file not written is only a note
    found = summaries(result.stdout)
    assert set(found) == {"clip.mp4", "silent.mp4"}  # the folder's caption file is not taken as a recording
    captions = tmp_path / "clip.srt"
    assert found["clip.mp4"]["captions"] == str(captions) and "captions_error" not in found["clip.mp4"]
    assert captions.stat().st_mode & 0o777 == 0o600
    read = parse_captions(captions.read_text(encoding="utf-8"), "srt")
    utterances = read_session(Path(str(found["clip.mp4"]["timeline"]))).utterances
    assert read and utterances and len(read) >= len(utterances)
    assert " ".join(line for _, _, lines in read for line in lines) == " ".join(u.text for u in utterances)
    assert read[0][0] == pytest.approx(utterances[0].start, abs=0.001)
    assert read[-1][1] == pytest.approx(utterances[-1].end, abs=0.001)
    with av.open(str(clip)) as played:
        duration = float(played.duration) / 1e6
    assert any(0.0 <= start < end <= duration for start, end, _ in read)
    assert hashlib.sha256(clip.read_bytes()).hexdigest() == before  # the recording itself is untouched

    assert found["silent.mp4"]["status"] == "ok" and found["silent.mp4"]["captions"] is None
    assert "silent.srt already exists; pass --force" in str(found["silent.mp4"]["captions_error"])
    notes = [line for line in result.stderr.splitlines() if "silent.srt" in line]
    assert len(notes) == 1 and notes[0].startswith("emotion-overlay: note: ") and "Traceback" not in result.stderr
    assert (tmp_path / "silent.srt").read_text() == "mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "clip.srt", "silent.mp4", "silent.srt"]

    forced = run_cli(["analyze", str(silent), "--captions", "srt", "--force", "--json"])
    assert forced.returncode == 0, forced.stderr
    assert summaries(forced.stdout)["silent.mp4"]["captions"] == str(tmp_path / "silent.srt")
    assert (tmp_path / "silent.srt").read_text() == ""  # nothing was said in it


def test_captions_under_out_are_named_after_the_session_and_never_replace_the_recording(tmp_path: Path) -> None:
    session = read_session(write_session(tmp_path / "sessions"))
    recording = tmp_path / "clip.vtt"  # a video that happens to be named like its captions
    recording.write_bytes(b"not really a video")
    settings = AnalyzeSettings(captions="vtt", replace_captions=True)
    with pytest.raises(OverlayError, match="is the file being analysed; pass --out"):
        write_captions(session, recording, "clip-0123456789ab", settings)
    assert recording.read_bytes() == b"not really a video"
    out = tmp_path / "out"
    settings = AnalyzeSettings(captions="vtt", captions_out=out)
    written = write_captions(session, recording, "clip-0123456789ab", settings)
    assert written == out / "clip-0123456789ab.vtt"
    assert len(parse_captions(written.read_text(encoding="utf-8"), "vtt")) == len(UTTERANCES)
    with pytest.raises(OverlayError, match="already exists; pass --force"):
        write_captions(session, recording, "clip-0123456789ab", settings)


def test_caption_files_are_not_taken_as_recordings(tmp_path: Path) -> None:
    for name in ("clip.mp4", "clip.srt", "clip.vtt", "talk.wav", "talk.SRT", ".clip.srt.part"):
        (tmp_path / name).write_bytes(b"x")
    assert [job.path.name for job in collect_jobs([tmp_path], recursive=True)] == ["clip.mp4", "talk.wav"]
