"""A full disk under the sessions folder: one clear line, the video goes on, the exit status tells."""

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.media import decodable


def _can_mount_tmpfs() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"], capture_output=True, check=False
    )
    return probe.returncode == 0


pytestmark = pytest.mark.skipif(not _can_mount_tmpfs(), reason="needs unshare -m and tmpfs mounts (root)")


def _run_on_small_disk(tmp_path: Path, clip: Path, free_kib: int, seconds: int) -> subprocess.CompletedProcess[str]:
    """`run` with its sessions folder on a 4 MB tmpfs (private to the command) that has free_kib left."""
    disk, out = tmp_path / "disk", tmp_path / "annotated.mp4"
    disk.mkdir()
    run = [sys.executable, "-m", "overlay", "run", "--camera", str(clip), "--loop", "--sink", "file", "--mic", "off"]
    run += ["--out", str(out), "--seconds", str(seconds)]
    script = f"""
mount -t tmpfs -o size=4096k tmpfs {shlex.quote(str(disk))}
mkdir -m 700 {shlex.quote(str(disk / "sessions"))}
head -c $(( (4096 - {free_kib}) * 1024 )) /dev/zero > {shlex.quote(str(disk / "filler"))} 2>/dev/null
EMOTION_OVERLAY_SESSIONS={shlex.quote(str(disk / "sessions"))} {shlex.join(run)}
status=$?
ls {shlex.quote(str(disk / "sessions"))} > {shlex.quote(str(tmp_path / "left.txt"))}
exit $status
"""
    return subprocess.run(["unshare", "-m", "bash", "-c", script], capture_output=True, text=True, timeout=120)


def _clip(shared_data: Path) -> Path:
    return shared_data / "video" / "talking" / "1.mp4"


def test_a_disk_full_at_the_start_gives_one_line_no_stub_and_the_video_still_goes(
    shared_data: Path, tmp_path: Path
) -> None:
    result = _run_on_small_disk(tmp_path, _clip(shared_data), free_kib=0, seconds=3)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if "is full" in line]
    assert len(lines) == 2  # one when it starts, one at the end
    assert lines[0].startswith("emotion-overlay: warning: the disk holding")
    assert result.stderr.strip().splitlines()[-1].startswith("emotion-overlay: error: no session was recorded")
    assert (tmp_path / "left.txt").read_text().strip() == ""  # no 4 KB stub left behind
    assert (tmp_path / "annotated.mp4").stat().st_size > 10_000  # the video went on


def test_a_disk_that_fills_mid_run_says_so_once_and_the_last_line_says_incomplete(
    shared_data: Path, tmp_path: Path
) -> None:
    result = _run_on_small_disk(tmp_path, _clip(shared_data), free_kib=150, seconds=12)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert sum("cannot keep up" in line for line in result.stderr.splitlines()) == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("emotion-overlay: error: the session in") and "is incomplete" in last
    assert "rows could not be written" in last and "is full" in last
    assert (tmp_path / "annotated.mp4").stat().st_size > 50_000


def test_a_disk_filling_under_out_is_one_line_and_the_video_stays_playable_to_there(
    shared_data: Path, tmp_path: Path
) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    out = disk / "annotated.mp4"
    run = [sys.executable, "-m", "overlay", "run", "--camera", str(_clip(shared_data)), "--loop", "--sink", "file"]
    run += ["--out", str(out), "--seconds", "10"]
    script = f"""
mount -t tmpfs -o size=600k tmpfs {shlex.quote(str(disk))}
{shlex.join(run)}
status=$?
cp {shlex.quote(str(out))} {shlex.quote(str(tmp_path / "kept.mp4"))}
exit $status
"""
    result = subprocess.run(["unshare", "-m", "bash", "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr  # the video asked for stopped early: the status says so
    assert "Traceback" not in result.stderr
    full = [line for line in result.stderr.splitlines() if "is full" in line]
    assert len(full) == 1 and str(out) in full[0] and "playable to there" in full[0], result.stderr
    # Fragmented MP4: whole up to the last fragment, whose first packet the full disk may have cut
    # (H.264's decoder refuses that one; a player shows what came before).
    frames, cut = decodable(tmp_path / "kept.mp4")
    assert frames >= 22 and cut <= 1  # a second and more of the 22 fps clip
