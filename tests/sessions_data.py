"""Made-up session files for the review, export and sessions tests: real TimelineWriter output, invented rows.

`write_session` records a 90 s session whose fused emotion drifts from happy through neutral and
surprise to sad, with face and voice readings, seven utterances (their words evenly timed, one with
fillers, each a phrase of speech with its pitch), blinks, three events and 1 Hz thumbnails. The
broken files are the kinds a sessions folder may end up holding.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shlex
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from overlay.attention.summary import looked_away_detail
from overlay.delivery.pitch import PitchFigures
from overlay.delivery.sound import Phrase
from overlay.labels import EMOTIONS
from overlay.records import Event
from overlay.session.schema import SCHEMA_VERSION
from overlay.session.store import SESSIONS_ENV
from overlay.session.timeline import TimelineWriter
from tests.conftest import REPO_ROOT

SESSION_ID: Final = "2026-11-25_20-31-07_interview"
DURATION_S: Final = 90.0
UTTERANCES: Final = (
    (4.0, 7.5, "thanks for having me today", "happy"),
    (12.0, 16.0, "I am really excited about this role", "happy"),
    (30.5, 34.0, "let me think about that for a moment", "neutral"),
    (59.96, 62.5, "oh I did not expect that question", "surprise"),  # a hair before 1:00
    (63.0, 67.5, "the last project was hard and we lost the client", "sad"),
    (70.0, 74.0, "so, um, I think we should, like, wrap up", "neutral"),  # three fillers
    (80.0, 84.0, '<b>tags</b> & "quotes" stay text', "neutral"),
)
FILLERS: Final = (("so", 70.0), ("um", 70.444), ("like", 72.667))  # in the utterance at 70 s (words 4/9 s apart)
# Each utterance is a phrase of speech (the delivery stage's); its pitch's low and high in Hz: one monotone.
PHRASE_PITCH: Final = ((110.0, 170.0), (105.0, 180.0), (118.0, 125.0), (100.0, 190.0), (95.0, 150.0), (110.0, 160.0))
EVENTS: Final = (
    (20.0, "disagreement", "face happy, voice neutral"),
    (41.0, "camera_lost", "no frames for 2.0 s"),
    (43.5, "stage_restarted", "voice stage restarted after an error"),
)
BLINK_TIMES: Final = tuple(float(t) for t in np.arange(2.0, DURATION_S, 3.5))
FACE_HZ: Final = 5.0


def probabilities_at(t: float, modality: str = "fused") -> npt.NDArray[np.float32]:
    """A smooth drift through the emotions: happy, neutral, surprise, sad (each modality a bit apart)."""
    centres = {"happy": 10.0, "neutral": 35.0, "surprise": 50.0, "sad": 68.0}
    shift = {"fused": 0.0, "face": 1.5, "voice": -2.0, "text": 0.0}[modality]
    logits = np.full(len(EMOTIONS), -1.0)
    for label, centre in centres.items():
        logits[EMOTIONS.index(label)] = 2.5 * np.exp(-(((t - centre - shift) / 12.0) ** 2))
    logits[EMOTIONS.index("neutral")] += 0.6
    exp = np.exp(logits - logits.max())
    probabilities: npt.NDArray[np.float32] = (exp / exp.sum()).astype(np.float32)
    return probabilities


LOOKED_AWAY: Final = (45.0, 48.0)  # the head turned away from the camera
NO_FACE: Final = (41.0, 43.0)  # while the camera was lost (EVENTS)


def attention_at(t: float) -> tuple[float | None, float | None, float | None, float | None]:
    """Yaw, pitch, roll and eye contact at t: a small sway, a look away, no face while the camera is lost."""
    if NO_FACE[0] <= t < NO_FACE[1]:
        return None, None, None, None
    away = LOOKED_AWAY[0] <= t < LOOKED_AWAY[1]
    yaw = 35.0 if away else 4.0 * float(np.sin(t / 5.0))
    return yaw, -3.0 + 2.0 * float(np.cos(t / 7.0)), 1.0, 0.15 if away else 0.85


def _thumbnail(t: float) -> bytes:
    image = np.full((48, 64, 3), 40, dtype=np.uint8)
    cv2.circle(image, (32, 24), 10 + int(t) % 8, (80, 160, 230), -1)
    ok, jpeg = cv2.imencode(".jpg", image)
    assert ok
    return bytes(jpeg.tobytes())


def write_session(
    folder: Path,
    session_id: str = SESSION_ID,
    *,
    voice: bool = True,
    text: bool = True,
    thumbnails: bool = True,
    paused: tuple[float, float] | None = None,
    delivery: bool = True,
    attention: bool = True,
) -> Path:
    """A complete session file in `folder`; modalities can be left out, and a stretch paused
    (no readings in it, its paused and resumed events); `delivery`: the words and phrases too;
    `attention`: head pose and eye contact (no face while the camera is lost, a look away)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{session_id}.sqlite"
    metadata = {"kind": "analyze", "source": "interview.mp4", "started": "2026-11-25T20:31:07"}
    writer = TimelineWriter(path, metadata, origin=100.0, flush_interval_s=60.0)
    for t in np.arange(0.0, DURATION_S, 1.0 / FACE_HZ):
        if paused is None or not paused[0] <= t < paused[1]:
            _write_moment(writer, float(t), voice=voice, text=text, thumbnails=thumbnails, attention=attention)
    for start in BLINK_TIMES:
        writer.add_blink(100.0 + start, 100.0 + start + 0.18, "blink")
    writer.add_blink(100.0 + 55.0, 100.0 + 56.5, "eyes_closed")
    if text:
        for start, end, words, label in UTTERANCES:
            p = np.full(len(EMOTIONS), 0.05, dtype=np.float32)
            p[EMOTIONS.index(label)] = 0.7
            writer.add_utterance(100.0 + start, 100.0 + end, words, "vosk", p / p.sum())
            writer.add_estimate(100.0 + end, "text", p / p.sum())
    if delivery and text:
        _write_delivery(writer)
    for t, kind, detail in EVENTS:
        writer.add_event(100.0 + t, Event(kind), detail)
    if attention:
        start, end = LOOKED_AWAY
        writer.add_event(100.0 + start, Event.LOOKED_AWAY, looked_away_detail(end - start, face_lost=False))
    if paused is not None:
        writer.add_event(100.0 + paused[0], Event("paused"), "")
        writer.add_event(100.0 + paused[1], Event("resumed"), "")
    writer.close(duration_s=DURATION_S)
    return path


def _write_moment(
    writer: TimelineWriter, t: float, *, voice: bool, text: bool, thumbnails: bool, attention: bool
) -> None:
    """The rows of one face-rate moment: fused, face, every fifth voice and thumbnail, attention."""
    now = 100.0 + t
    p = probabilities_at(t)
    label = EMOTIONS[int(np.argmax(p))]
    valence = float(p[EMOTIONS.index("happy")] - p[EMOTIONS.index("sad")])
    arousal = float(p[EMOTIONS.index("surprise")] + p[EMOTIONS.index("happy")] - 0.3)
    weights = {"face": 0.6, "voice": 0.3 if voice else 0.0, "text": 0.1 if text else 0.0}
    writer.add_fused(now, p, label, float(p.max()), valence, arousal, weights)
    writer.add_estimate(now, "face", probabilities_at(t, "face"))
    if voice and round(t * FACE_HZ) % 5 == 0:
        writer.add_estimate(now, "voice", probabilities_at(t, "voice"))
    if thumbnails and round(t * FACE_HZ) % 5 == 0:
        writer.add_thumbnail(now, _thumbnail(t))
    if attention:
        writer.add_attention(now, *attention_at(t))


def _write_delivery(writer: TimelineWriter) -> None:
    """Each utterance as a phrase with its pitch, and its words evenly timed."""
    for (start, end, text, _), pitch in zip(UTTERANCES, (*PHRASE_PITCH, (100.0, 160.0)), strict=True):
        figures = PitchFigures((pitch[0] + pitch[1]) / 2, pitch[0], pitch[1], 200)
        writer.add_phrase(Phrase(100.0 + start - 0.05, 100.0 + end + 0.05, end - start, figures, -22.0, 0.0))
        tokens = text.split()
        step = (end - start) / len(tokens)
        timed = [(w, 100.0 + start + i * step, 100.0 + start + i * step + 0.3, 0.9) for i, w in enumerate(tokens)]
        writer.add_words(100.0 + start, timed)


def write_old_session(folder: Path, session_id: str = "2025-06-01_09-00-00_before-delivery") -> Path:
    """A session as the version before delivery was measured wrote it (timeline schema 1)."""
    from unittest import mock

    from overlay.session import schema

    with mock.patch.object(schema, "SCHEMA_VERSION", 1):
        return write_session(folder, session_id, thumbnails=False, delivery=False, attention=False)


def write_not_sqlite(folder: Path, session_id: str = "2026-11-20_09-00-00_garbage") -> Path:
    path = folder / f"{session_id}.sqlite"
    path.write_bytes(b"this is not a database\n" * 40)
    return path


def write_foreign_sqlite(folder: Path, session_id: str = "2026-11-21_09-00-00_foreign") -> Path:
    """Someone else's SQLite database that happens to sit in the sessions folder."""
    path = folder / f"{session_id}.sqlite"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE recipes (name TEXT, minutes INTEGER)")
    connection.execute("INSERT INTO recipes VALUES ('soup', 30)")
    connection.commit()
    connection.close()
    return path


def write_newer_schema(folder: Path, session_id: str = "2026-11-22_09-00-00_future") -> Path:
    """A session from a later emotion-overlay (a schema this one does not know)."""
    path = write_session(folder, session_id, thumbnails=False)
    connection = sqlite3.connect(path)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.commit()
    connection.close()
    return path


# ---------------------------------------------------------------- captions read back

_SRT_TIME: Final = r"(\d\d+):(\d\d):(\d\d),(\d\d\d)"
_VTT_TIME: Final = r"(\d\d+):(\d\d):(\d\d)\.(\d\d\d)"
_LINES: Final = r"\n((?:[^\n]+\n)+)"  # one or more lines of text, each ending in a newline
_SRT_CUE: Final = re.compile(r"(\d+)\n" + _SRT_TIME + " --> " + _SRT_TIME + _LINES)
_VTT_CUE: Final = re.compile(_VTT_TIME + " --> " + _VTT_TIME + _LINES)
_VTT_ESCAPES: Final = {"&amp;": "&", "&lt;": "<", "&gt;": ">"}


def _seconds(hours: str, minutes: str, seconds: str, millis: str) -> float:
    assert int(minutes) < 60 and int(seconds) < 60
    return int(hours) * 3600 + int(minutes) * 60 + int(seconds) + int(millis) / 1000


def parse_captions(text: str, fmt: str) -> list[tuple[float, float, tuple[str, ...]]]:
    """(start s, end s, lines) of each cue of an SRT or WebVTT file; fails on anything else in it
    (a strict reader: numbering from 1, the blank line after each cue, WebVTT's escapes only)."""
    found: list[tuple[float, float, tuple[str, ...]]] = []
    if fmt == "vtt":
        assert text.startswith("WEBVTT\n"), "a WebVTT file starts with its header"
        text = text.removeprefix("WEBVTT\n").removeprefix("\n")
    blocks = text.split("\n\n") if text else []
    for n, block in enumerate(blocks, start=1):
        block = block if block.endswith("\n") else block + "\n"
        match = (_SRT_CUE if fmt == "srt" else _VTT_CUE).fullmatch(block)
        assert match is not None, f"not a {fmt} cue: {block!r}"
        groups = match.groups()
        if fmt == "srt":
            assert int(groups[0]) == n, "SRT cues are numbered from 1"
            groups = groups[1:]
        lines = tuple(groups[8].splitlines())
        assert not any("-->" in line for line in lines), f"a cue's text runs into the next cue: {block!r}"
        if fmt == "vtt":
            assert not re.search(r"<|&(?!amp;|lt;|gt;)", groups[8]), "WebVTT text has its markup escaped"
            lines = tuple(re.sub(r"&(amp|lt|gt);", lambda m: _VTT_ESCAPES[m.group(0)], line) for line in lines)
        found.append((_seconds(*groups[0:4]), _seconds(*groups[4:8]), lines))
    return found


# ---------------------------------------------------------------- running the CLI and a browser

CHROMIUM: Final = Path("/usr/bin/chromium")
ARTIFACTS: Final = REPO_ROOT / "tests" / "artifacts"


def use_sessions_folder(monkeypatch: pytest.MonkeyPatch, folder: Path) -> Path:
    """Point the app (and the CLI children the test starts) at a sessions folder of the test's own."""
    folder.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv(SESSIONS_ENV, str(folder))
    return folder


def run_cli_in(
    args: Sequence[str], cwd: Path, stdin: int | None = subprocess.DEVNULL
) -> subprocess.CompletedProcess[str]:
    """The command line in a child process started in `cwd` (the project importable from anywhere)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run(
        [sys.executable, "-m", "overlay", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        stdin=stdin,
        timeout=120,
        check=False,
    )


# Debian's Chromium as root in a container, quiet and offline (../shared/TESTING.md).
HEADLESS_CHROMIUM = (
    str(CHROMIUM),
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium(url: str, tmp_path: Path, screenshot: Path | None = None, size: str = "1400,1800") -> str:
    """The page's DOM after its scripts ran (headless Chromium), and a screenshot if asked for."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (Debian package `chromium`); the page cannot be checked")
    profile = tempfile.mkdtemp(dir=tmp_path, prefix="chromium-")
    command = [
        *HEADLESS_CHROMIUM,
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--window-size={size}",
        "--virtual-time-budget=5000",
    ]
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([*command, f"--screenshot={screenshot}", url], capture_output=True, timeout=120, check=True)
    result = subprocess.run([*command, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True)
    return result.stdout


def _above_ten(descriptor: int) -> int:
    """The same open file on a descriptor numbered 10 or more (the original is closed)."""
    moved = fcntl.fcntl(descriptor, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(descriptor)
    return moved


class DevTools:
    """Headless Chromium driven over its DevTools pipe (stdlib only): load a page, click, drag, read values.

    Chromium reads commands on fd 3 and writes answers on fd 4, each a JSON text ending in NUL.
    """

    def __init__(self, tmp_path: Path, size: tuple[int, int] = (1400, 1800)) -> None:
        if not CHROMIUM.exists():
            pytest.skip(f"{CHROMIUM} is not installed (Debian package `chromium`); the page cannot be checked")
        to_browser, self._commands = os.pipe()
        self._answers, from_browser = os.pipe()
        to_browser, from_browser = _above_ten(to_browser), _above_ten(from_browser)  # clear of fds 3 and 4
        profile = tempfile.mkdtemp(dir=tmp_path, prefix="chromium-")
        browser = [
            *HEADLESS_CHROMIUM,
            f"--user-data-dir={profile}",
            f"--window-size={size[0]},{size[1]}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        # The shell puts the two pipe ends on fds 3 and 4, where Chromium expects them.
        script = f"exec {shlex.join(browser)} 3<&{to_browser} 4>&{from_browser}"
        self._process = subprocess.Popen(
            ["bash", "-c", script],  # bash: dash cannot redirect descriptors above 9
            pass_fds=(to_browser, from_browser),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._next_id = 0
        target = self._call("Target.createTarget", url="about:blank")["targetId"]
        self._session = self._call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]

    def _call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self._buffer:
                chunk = os.read(self._answers, 1 << 16)
                if not chunk:
                    raise RuntimeError(f"Chromium went away during {method}")
                self._buffer += chunk
            text, self._buffer = self._buffer.split(b"\0", 1)
            answer = json.loads(text)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                result: dict[str, Any] = answer.get("result", {})
                return result

    def page(self, method: str, **params: Any) -> dict[str, Any]:
        return self._call(method, self._session, **params)

    def evaluate(self, expression: str) -> Any:
        result = self.page("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str, ready: str = "document.body && document.body.dataset.state === 'ready'") -> None:
        self.page("Page.navigate", url=url)
        deadline = time.monotonic() + 30
        while not self.evaluate(f"Boolean({ready})"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not get ready")
            time.sleep(0.1)

    def mouse(self, kind: str, x: float, y: float, clicks: int = 1) -> None:
        """kind: mouseMoved, mousePressed or mouseReleased (left button), at page coordinates."""
        self.page("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=clicks)

    def close(self) -> None:
        self._process.terminate()
        self._process.wait(timeout=30)
        os.close(self._commands)
        os.close(self._answers)
