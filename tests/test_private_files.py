"""What holds the user's data or secrets is theirs alone: owner-only files, no token on a command line."""

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.sessions_data import SESSION_ID, write_session


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def permissive_umask() -> object:
    """A umask that would make files world-readable (the Debian default for users is 022)."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_config_and_its_backup_are_owner_only_and_doctor_flags_a_loose_one(isolated_config: Path) -> None:
    assert run_cli(["config", "reset"]).returncode == 0
    assert mode_of(isolated_config) == 0o600
    assert run_cli(["config", "reset"]).returncode == 0  # the first one becomes the backup
    assert mode_of(isolated_config.with_suffix(".toml.bak")) == 0o600
    isolated_config.chmod(0o644)
    check = {c["name"]: c for c in json.loads(run_cli(["doctor", "--json"]).stdout)["checks"]}["private files"]
    assert check["status"] == "warn" and str(isolated_config) in check["detail"]
    assert check["fix"].startswith("chmod go-rwx ") and str(isolated_config) in check["fix"]


def test_exports_and_annotated_videos_are_owner_only(
    shared_data: Path, tmp_path: Path, isolated_sessions: Path
) -> None:
    write_session(isolated_sessions)
    for fmt in ("csv", "json", "html"):
        out = tmp_path / f"export.{fmt}"
        assert run_cli(["export", SESSION_ID, "--format", fmt, "--out", str(out)]).returncode == 0
        assert mode_of(out) == 0o600, fmt
    video = tmp_path / "annotated.mp4"
    clip = shared_data / "video" / "talking" / "1.mp4"
    flags = ["--sink", "file", "--out", str(video), "--seconds", "2", "--mic", "off"]
    run = run_cli(["run", "--camera", str(clip), *flags])
    assert run.returncode == 0, run.stderr
    assert mode_of(video) == 0o600
    analyzed = run_cli(["analyze", str(clip), "--video", "--out", str(tmp_path / "videos")])
    assert analyzed.returncode == 0, analyzed.stderr
    assert [mode_of(p) for p in (tmp_path / "videos").iterdir()] == [0o600]
    assert all(mode_of(p) == 0o600 for p in isolated_sessions.glob("*.sqlite"))


def test_review_hands_the_browser_no_token_on_its_command_line(
    tmp_path: Path, isolated_sessions: Path, isolated_runtime: Path
) -> None:
    write_session(isolated_sessions)
    seen = tmp_path / "browser.json"
    browser = tmp_path / "browser.py"
    # A stand-in browser: records its command line and the page it was given, as a user would see them.
    browser.write_text(
        "import json, sys, urllib.parse, pathlib\n"
        "page = pathlib.Path(urllib.parse.urlparse(sys.argv[1]).path)\n"
        f"json.dump({{'argv': sys.argv, 'page': page.read_text(), 'mode': page.stat().st_mode & 0o777}}, "
        f"open({str(seen)!r}, 'w'))\n"
    )
    env = {**os.environ, "BROWSER": f"{sys.executable} {browser} %s"}
    review = subprocess.Popen(
        [sys.executable, "-m", "overlay", "review"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert review.stdout is not None
        url = review.stdout.readline().strip()
        token = url.split("token=")[1].split("&")[0]
        deadline = time.monotonic() + 30
        while not seen.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        recorded = json.loads(seen.read_text())
        assert all(token not in argument for argument in recorded["argv"])
        assert recorded["mode"] == 0o600
        redirect = re.search(r'url=([^"]+)"', recorded["page"])
        assert redirect is not None
        with urllib.request.urlopen(redirect.group(1).replace("&amp;", "&"), timeout=30) as response:
            assert response.status == 200
        deadline = time.monotonic() + 5
        while list(isolated_runtime.glob("review-*.html")) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not list(isolated_runtime.glob("review-*.html"))  # one use: gone once the page was served
    finally:
        review.send_signal(signal.SIGTERM)
        review.wait(timeout=30)


def test_under_umask_000_what_the_app_creates_is_still_owner_only(shared_data: Path, tmp_path: Path) -> None:
    clip = shared_data / "video" / "talking" / "1.mp4"
    sessions, state, cache, out = (
        tmp_path / "data" / "sessions",
        tmp_path / "state",
        tmp_path / "cache",
        tmp_path / "videos",
    )
    env = {**os.environ, "EMOTION_OVERLAY_SESSIONS": str(sessions), "EMOTION_OVERLAY_RUNTIME": str(state)}
    env["XDG_CACHE_HOME"] = str(cache)
    commands = [
        ["run", "--camera", str(clip), "--sink", "file", "--out", str(tmp_path / "live.mp4"), "--seconds", "2"],
        ["analyze", str(clip), "--video", "--out", str(out), "--recognizer", "pocketsphinx"],
    ]
    for command in commands:
        result = subprocess.run(
            ["bash", "-c", 'umask 000 && exec "$@"', "bash", sys.executable, "-m", "overlay", *command],
            capture_output=True, text=True, env=env, timeout=300, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
    made = [tmp_path / "data", sessions, state, cache, out, tmp_path / "live.mp4"]
    made += [*sessions.iterdir(), *state.iterdir(), *out.iterdir(), *cache.rglob("*")]
    loose = [f"{p} {p.stat().st_mode & 0o777:o}" for p in made if p.stat().st_mode & 0o077]
    assert loose == []


def test_doctor_flags_a_loose_parent_of_the_sessions_folder(tmp_path: Path) -> None:
    parent = tmp_path / "emotion-overlay"
    sessions = parent / "sessions"
    sessions.mkdir(parents=True, mode=0o700)
    parent.chmod(0o777)
    env = {**os.environ, "EMOTION_OVERLAY_SESSIONS": str(sessions)}
    result = subprocess.run(
        [sys.executable, "-m", "overlay", "doctor", "--json"], capture_output=True, text=True, env=env, check=False
    )
    checks = {check["name"]: check for check in json.loads(result.stdout)["checks"]}
    assert checks["private files"]["status"] == "warn" and str(parent) in checks["private files"]["detail"]
