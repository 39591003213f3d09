"""`analyze` as a batch job: a line per file as it finishes, sessions named by path and content,
resuming a killed batch with --skip-existing, the summary file, inputs from folders and lists."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from overlay.analysis.batch import read_summary_csv
from overlay.session.reading import read_session
from overlay.session.summary import summarize
from tests.conftest import run_cli
from tests.media import write_silent_clip, write_variable_rate_copy

GOOD = ("1.mp4", "3.mp4", "5.mp4")


def json_lines(stdout: str) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Every stdout line is JSON: one per file, then the counts."""
    rows = [json.loads(line) for line in stdout.splitlines()]
    return rows[:-1], rows[-1]


@pytest.fixture()
def batch(shared_data: Path, tmp_path: Path) -> tuple[Path, list[float]]:
    """A folder of six recordings: three good talking clips (one in a sub-folder), a corrupt one,
    a silent one and a variable-frame-rate one; also the VFR clip's frame times."""
    root = tmp_path / "recordings"
    (root / "more").mkdir(parents=True)
    talking = shared_data / "video" / "talking"
    shutil.copy(talking / GOOD[0], root / "1-good.mp4")
    shutil.copy(talking / GOOD[1], root / "2-good.mp4")
    (root / "3-corrupt.mp4").write_bytes((talking / GOOD[2]).read_bytes()[:3000])  # cut off in its header
    write_silent_clip(root / "4-silent.mp4")
    times = write_variable_rate_copy(talking / "2.mp4", root / "5-vfr.mp4")
    shutil.copy(talking / GOOD[2], root / "more" / "6-good.mp4")
    (root / "notes.txt").write_text("not a recording: not part of the batch\n")
    return root, times


def test_a_killed_batch_resumes_with_skip_existing_and_its_summary_matches_the_sessions(
    batch: tuple[Path, list[float]], tmp_path: Path
) -> None:
    root, _ = batch
    sessions = tmp_path / "sessions"
    command = [sys.executable, "-m", "overlay", "analyze", str(root), "--recursive", "--json", "--jobs", "1"]
    command += ["--sessions", str(sessions)]
    # First run: killed (SIGKILL, no chance to tidy up) once two files have their lines.
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    assert first.stdout is not None
    done_first = [json.loads(first.stdout.readline()) for _ in range(2)]
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    first.stdout.close()
    assert first.stderr is not None and "Traceback" not in first.stderr.read()
    first.stderr.close()
    assert [Path(row["file"]).name for row in done_first] == ["1-good.mp4", "2-good.mp4"]
    assert all(row["status"] == "ok" for row in done_first)
    listed = sorted(p.name for p in sessions.glob("*.sqlite"))  # only whole sessions are listed
    assert listed == sorted(f"{row['session']}.sqlite" for row in done_first)

    # Resume: the two analysed files are skipped, the other four analysed; one summary file.
    summary_csv = tmp_path / "summary.csv"
    result = run_cli([*command[3:], "--skip-existing", "--summary", str(summary_csv)])
    assert result.returncode == 1, result.stderr  # the corrupt file failed
    assert "Traceback" not in result.stderr
    rows, counts = json_lines(result.stdout)
    by_name = {Path(row["file"]).name: row for row in rows}
    assert set(by_name) == {"1-good.mp4", "2-good.mp4", "3-corrupt.mp4", "4-silent.mp4", "5-vfr.mp4", "6-good.mp4"}
    assert counts == {"files": 6, "ok": 3, "failed": 1, "skipped": 2}
    assert {n for n, row in by_name.items() if row["status"] == "skipped"} == {"1-good.mp4", "2-good.mp4"}
    for row in done_first:  # the same name again: nothing analysed twice, nothing duplicated
        assert by_name[Path(row["file"]).name]["session"] == row["session"]
    failed = by_name["3-corrupt.mp4"]
    assert failed["status"] == "failed" and "3-corrupt.mp4" in failed["error"] and "\n" not in failed["error"]
    assert by_name["6-good.mp4"]["session"].startswith("more--6-good-")  # path under the batch root
    silent = by_name["4-silent.mp4"]
    assert silent["status"] == "ok" and silent["modalities"] == {"face": None, "voice": None, "text": None}
    assert silent["transcript"] == "" and silent["duration_s"] == pytest.approx(2.0, abs=0.1)

    session_files = sorted(sessions.glob("*.sqlite"))
    assert len(session_files) == 5  # one per file that could be analysed
    assert not [p for p in sessions.iterdir() if p.name.startswith(".")]  # nothing half-written there
    scratch = Path(os.environ["XDG_CACHE_HOME"]) / "emotion-overlay" / "analysis"
    assert not list(scratch.iterdir())  # the killed process's unfinished timeline was cleared

    # The summary file: a row per file, and each row what its session says.
    table = {Path(row["file"]).name: row for row in read_summary_csv(summary_csv)}
    assert set(table) == set(by_name)
    assert table["3-corrupt.mp4"]["status"] == "failed" and table["3-corrupt.mp4"]["error"]
    for name, row in table.items():
        if row["status"] == "failed":
            continue
        summary = summarize(read_session(sessions / f"{row['session']}.sqlite"))
        assert row["dominant_emotion"] == (summary.dominant or "")
        assert float(row["duration_s"]) == pytest.approx(summary.duration_s, abs=0.01)
        assert int(row["blinks"]) == summary.blinks and int(row["utterances"]) == len(
            read_session(sessions / f"{row['session']}.sqlite").utterances
        )
        assert row["face"] == (summary.modalities.get("face") or ""), name
    assert oct(summary_csv.stat().st_mode & 0o777) == "0o600"


def test_frame_times_of_a_variable_rate_recording_come_from_its_timestamps(
    batch: tuple[Path, list[float]], tmp_path: Path
) -> None:
    root, times = batch
    result = run_cli(["analyze", str(root / "5-vfr.mp4"), "--json", "--sessions", str(tmp_path / "s")])
    assert result.returncode == 0, result.stderr
    rows, _ = json_lines(result.stdout)
    session = read_session(Path(rows[0]["timeline"]))
    face_times = session.estimates["face"].t
    assert len(face_times) > 30  # the face is recorded 10 times a second
    # Each reading is stamped with its frame's own time, not index / average rate.
    nearest = np.abs(face_times[:, None] - np.asarray(times)[None, :]).min(axis=1)
    assert float(nearest.max()) < 1e-3
    assert session.duration_s == pytest.approx(times[-1] + (times[-1] - times[0]) / (len(times) - 1), abs=0.1)


def test_inputs_from_a_list_on_stdin_with_relative_paths_and_only_json_on_stdout(
    batch: tuple[Path, list[float]], tmp_path: Path
) -> None:
    root, _ = batch
    listing = "# today's takes\n1-good.mp4\n\nmissing.mp4\n1-good.mp4\n"  # a repeat is analysed once
    result = subprocess.run(
        [sys.executable, "-m", "overlay", "analyze", "--from", "-", "--json", "--sessions", str(tmp_path / "s")],
        input=listing,
        capture_output=True,
        text=True,
        cwd=root,
        timeout=300,
        check=False,
    )
    assert result.returncode == 1
    rows, counts = json_lines(result.stdout)
    assert counts == {"files": 2, "ok": 1, "failed": 1, "skipped": 0}
    assert {row["file"]: row["status"] for row in rows} == {
        str(root / "1-good.mp4"): "ok",
        str(root / "missing.mp4"): "failed",
    }
    assert "missing.mp4: no such" in next(row["error"] for row in rows if row["status"] == "failed")


def test_a_sessions_folder_that_cannot_be_written_is_refused_in_one_line(
    batch: tuple[Path, list[float]], tmp_path: Path
) -> None:
    root, _ = batch
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = run_cli(["analyze", str(root / "1-good.mp4"), "--sessions", str(blocker / "sessions")])
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "sessions folder" in result.stderr
    assert "Traceback" not in result.stderr


def test_ray_engine_without_ray_installed_says_so_in_one_line(batch: tuple[Path, list[float]], tmp_path: Path) -> None:
    root, _ = batch
    shadow = tmp_path / "no-ray"
    (shadow / "ray").mkdir(parents=True)
    (shadow / "ray" / "__init__.py").write_text("raise ImportError('No module named ray')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shadow), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-m", "overlay", "analyze", str(root / "1-good.mp4"), "--engine", "ray"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "emotion-overlay: error: --engine ray needs Ray: "
        "pip install 'emotion-overlay[ray]' (on every machine of the cluster)"
    )


def test_a_file_that_kills_its_worker_process_fails_alone_and_the_others_are_analyzed(
    batch: tuple[Path, list[float]], tmp_path: Path
) -> None:
    """A worker dying under a file (a native crash, the out-of-memory killer) is simulated by a
    sitecustomize that makes workers exit abruptly on `crash.mp4`."""
    root, _ = batch
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import os\n"
        "import overlay.analysis.batch as batch\n"
        "real = batch.content_hash\n"
        "def content_hash(path):\n"
        "    if path.name == 'crash.mp4':\n"
        "        os._exit(137)\n"
        "    return real(path)\n"
        "batch.content_hash = content_hash\n"
    )
    shutil.copy(root / "4-silent.mp4", tmp_path / "crash.mp4")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hook), str(Path(__file__).resolve().parents[1])])}
    files = [str(tmp_path / "crash.mp4"), str(root / "4-silent.mp4"), str(root / "1-good.mp4")]
    result = subprocess.run(
        [sys.executable, "-m", "overlay", "analyze", *files, "--json", "--jobs", "2",
         "--sessions", str(tmp_path / "s")],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    rows, counts = json_lines(result.stdout)
    statuses = {Path(row["file"]).name: row["status"] for row in rows}
    assert statuses == {"crash.mp4": "failed", "4-silent.mp4": "ok", "1-good.mp4": "ok"}
    crashed = next(row for row in rows if row["status"] == "failed")
    assert "worker process died" in crashed["error"]
    assert counts == {"files": 3, "ok": 2, "failed": 1, "skipped": 0}


def test_a_broken_vosk_model_is_a_one_line_failure_not_a_traceback(
    batch: tuple[Path, list[float]], tmp_path: Path
) -> None:
    root, _ = batch
    store = tmp_path / "models"
    model = store / "vosk-model-small-en-us-0.15"
    for name in ("am/final.mdl", "conf/model.conf", "graph/HCLr.fst", "graph/Gr.fst"):
        (model / name).parent.mkdir(parents=True, exist_ok=True)
        (model / name).write_text("not a model")
    env = {**os.environ, "EMOTION_OVERLAY_MODELS": str(store)}
    result = subprocess.run(
        [sys.executable, "-m", "overlay", "analyze", str(root / "4-silent.mp4"), "--json",
         "--sessions", str(tmp_path / "s")],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    rows, counts = json_lines(result.stdout)
    assert counts["failed"] == 1
    assert "could not load" in rows[0]["error"] and "pull it again" in rows[0]["error"]


def test_a_session_is_published_whole_across_file_systems(tmp_path: Path) -> None:
    """Scratch timelines live on local disk; the sessions folder may be another file system (NFS)."""
    from overlay.analysis.recordings import publish

    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no second file system to publish across")
    partial = shm / f"emotion-overlay-test-{os.getpid()}.sqlite.partial"
    partial.write_bytes(b"timeline" * 1000)
    final = tmp_path / "take-0123456789ab.sqlite"
    final.write_bytes(b"the earlier analysis")
    publish(partial, final)
    assert final.read_bytes() == b"timeline" * 1000 and not partial.exists()
    assert [p.name for p in tmp_path.iterdir()] == [final.name]  # no hidden copy left beside it
    assert oct(final.stat().st_mode & 0o777) == "0o600"


def test_a_parquet_summary_has_a_row_per_file_or_says_it_needs_pyarrow(
    batch: tuple[Path, list[float]], tmp_path: Path
) -> None:
    root, _ = batch
    target = tmp_path / "summary.parquet"
    args = ["analyze", str(root / "4-silent.mp4"), str(root / "3-corrupt.mp4"), "--json", "--sessions"]
    result = run_cli([*args, str(tmp_path / "s"), "--summary", str(target)])
    try:
        import pyarrow.parquet as pq
    except ImportError:
        assert result.returncode == 1 and not result.stdout  # refused before any file was analysed
        assert result.stderr.strip() == (
            f"emotion-overlay: error: {target}: Parquet needs pyarrow (pip install pyarrow); or give a .csv name"
        )
        return
    assert result.returncode == 1
    table = pq.read_table(target).to_pylist()
    assert {Path(row["file"]).name: row["status"] for row in table} == {"4-silent.mp4": "ok", "3-corrupt.mp4": "failed"}


def outcome(row: dict[str, Any]) -> dict[str, Any]:
    """What a file's analysis found, less where and when it ran (and its own name)."""
    return {k: v for k, v in row.items() if k not in ("file", "session", "timeline", "started", "timings", "worker")}


@pytest.mark.parametrize("recognizer", ["pocketsphinx", "whisper"])
def test_a_files_result_does_not_depend_on_what_the_worker_analysed_before(
    recognizer: str, shared_data: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if recognizer == "whisper":
        request.getfixturevalue("whisper_model")  # installed (CI pulls it)
    talking = shared_data / "video" / "talking"
    for name, source in (("a.mp4", "3.mp4"), ("b.mp4", "1.mp4"), ("c.mp4", "3.mp4")):  # a and c: identical bytes
        shutil.copy(talking / source, tmp_path / name)
    files = [str(tmp_path / n) for n in ("a.mp4", "b.mp4", "c.mp4")]
    result = run_cli(["analyze", *files, "--jobs", "1", "--json", "--recognizer", recognizer])
    assert result.returncode == 0, result.stderr
    rows, _ = json_lines(result.stdout)
    by_name = {Path(row["file"]).name: row for row in rows}
    assert by_name["a.mp4"]["transcript"] and by_name["a.mp4"]["recognizer"].startswith(recognizer)
    assert outcome(by_name["a.mp4"]) == outcome(by_name["c.mp4"])  # after nothing / after another talk
    alone = run_cli(["analyze", files[2], "--json", "--recognizer", recognizer])
    assert outcome(json_lines(alone.stdout)[0][0]) == outcome(by_name["c.mp4"])


def test_the_summary_has_one_column_per_modality_as_labels_names_them() -> None:
    from overlay.analysis.batch import SUMMARY_COLUMNS, FileOutcome, summary_row
    from overlay.labels import MODALITIES

    assert [c for c in SUMMARY_COLUMNS if c in MODALITIES] == list(MODALITIES)
    summary = {"modalities": dict(zip(MODALITIES, ("happy", "sad", None), strict=True)), "transcript": "hi there"}
    outcome = FileOutcome("a.mp4", "ok", session="a-0123456789ab", summary=summary)
    row = summary_row(outcome)
    assert [row[m] for m in MODALITIES] == ["happy", "sad", None] and row["words"] == 2
