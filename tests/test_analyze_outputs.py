"""`analyze --video`'s outputs: checked before any work, never taken as inputs again, and a video
that cannot be written costs only the video (the session is kept)."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli
from tests.test_full_disk import _can_mount_tmpfs


def rows(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()][:-1]


def test_a_folder_that_receives_its_own_annotated_videos_is_analysed_for_its_recordings_only(
    shared_data: Path, tmp_path: Path
) -> None:
    shutil.copy(shared_data / "video" / "talking" / "1.mp4", tmp_path / "clip.mp4")
    for _ in range(2):  # the default --out is the current folder: the first pass writes into it
        result = run_cli(["analyze", ".", "--video", "--json", "--recognizer", "pocketsphinx"], cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert [Path(row["file"]).name for row in rows(result.stdout)] == ["clip.mp4"]
    annotated = sorted(p.name for p in tmp_path.glob("*.annotated.mp4"))
    assert len(annotated) == 1 and annotated[0].startswith("clip-")
    named = run_cli(["analyze", annotated[0], "--json"], cwd=tmp_path)  # named explicitly: still not an input
    assert named.returncode == 1 and "annotated video" in named.stderr and "no recordings found" in named.stderr


def test_an_out_folder_that_cannot_be_written_is_refused_before_any_work(
    shared_data: Path, tmp_path: Path, isolated_sessions: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    clip = shared_data / "video" / "talking" / "1.mp4"
    result = run_cli(["analyze", str(clip), "--video", "--out", str(blocker / "videos")])
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "pass another --out" in lines[0] and "Traceback" not in result.stderr
    assert list(isolated_sessions.glob("*.sqlite")) == []  # refused before anything was analysed


def test_a_long_file_name_gets_its_annotated_video(shared_data: Path, tmp_path: Path) -> None:
    long_name = tmp_path / (
        "interview-" + "x" * 230 + ".mp4"
    )  # 244 characters: a temporary name added to it would not fit
    shutil.copy(shared_data / "video" / "talking" / "1.mp4", long_name)
    out = tmp_path / "out"
    result = run_cli(
        ["analyze", str(long_name), "--video", "--out", str(out), "--json", "--recognizer", "pocketsphinx"]
    )
    assert result.returncode == 0, result.stderr
    (row,) = rows(result.stdout)
    assert row["status"] == "ok" and Path(row["annotated_video"]).is_file()
    assert [p.name for p in out.iterdir()] == [Path(row["annotated_video"]).name]  # no temporary left


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="needs unshare -m and tmpfs mounts (root)")
def test_a_disk_filling_under_out_costs_the_video_only(
    shared_data: Path, tmp_path: Path, isolated_sessions: Path
) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    clip = shared_data / "video" / "talking" / "1.mp4"
    analyze = [sys.executable, "-m", "overlay", "analyze", str(clip), "--video", "--out", str(disk), "--json"]
    analyze += ["--recognizer", "pocketsphinx"]
    script = f"""
mount -t tmpfs -o size=256k tmpfs {shlex.quote(str(disk))}
{shlex.join(analyze)}
status=$?
ls -a {shlex.quote(str(disk))} > {shlex.quote(str(tmp_path / "left.txt"))}
exit $status
"""
    result = subprocess.run(["unshare", "-m", "bash", "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr  # the video asked for is missing
    (row,) = rows(result.stdout)
    assert row["status"] == "ok" and row["annotated_video"] is None
    assert "the annotated video was not written" in row["video_error"]
    assert Path(row["timeline"]).is_file() and Path(row["timeline"]).parent == isolated_sessions  # kept
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "the session is kept" in errors[0] and "Traceback" not in result.stderr
    assert (tmp_path / "left.txt").read_text().split() == [".", ".."]  # no half-written video left
