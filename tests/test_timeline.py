"""The session timeline: schema, batched writes, crash safety, migrations, refusing files it cannot read."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from overlay.labels import EMOTIONS
from overlay.records import Event
from overlay.session import schema
from overlay.session.reading import read_session, read_thumbnail
from overlay.session.schema import TimelineError, open_for_writing
from overlay.session.store import new_session_path
from overlay.session.timeline import TimelineWriter

REPO_ROOT = Path(__file__).resolve().parents[1]
HAPPY = np.array([0.05, 0.05, 0.05, 0.6, 0.05, 0.1, 0.1], np.float32)


def write_small_session(path: Path) -> None:
    with TimelineWriter(path, {"kind": "test"}, origin=100.0) as writer:
        writer.add_estimate(100.5, "face", HAPPY)
        writer.add_estimate(101.0, "voice", HAPPY)
        writer.add_fused(100.5, HAPPY, "happy", 0.6, 0.5, 0.3, {"face": 0.7, "voice": 0.3})
        writer.add_blink(100.2, 100.4, "blink")
        writer.add_utterance(100.1, 101.0, "what a lovely day", "pocketsphinx:en-us", HAPPY)
        writer.add_event(100.9, Event.CAMERA_LOST, "device gone")
        writer.add_thumbnail(100.5, b"\xff\xd8jpeg")


def test_a_session_reads_back_what_was_written_with_times_from_its_start(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    write_small_session(path)
    session = read_session(path)
    assert session.schema_version == schema.SCHEMA_VERSION and session.metadata == {"kind": "test"}
    assert session.estimates["face"].t.tolist() == [0.5] and len(session.estimates["text"]) == 0
    np.testing.assert_allclose(session.estimates["voice"].probabilities[0], HAPPY, atol=1e-5)
    assert session.fused_rows[0].label == "happy" and session.fused_rows[0].weights["text"] == 0.0
    assert session.blinks[0].start == pytest.approx(0.2) and session.blinks[0].kind == "blink"
    utterance = session.utterances[0]
    assert (utterance.text, utterance.label, utterance.end) == ("what a lovely day", "happy", 1.0)
    assert session.events[0].kind == "camera_lost" and session.ended is not None
    assert read_thumbnail(path, 0.4) == b"\xff\xd8jpeg"
    # Closed sessions are one file: the WAL was checkpointed into it.
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0


def test_the_schema_is_documented_and_versioned(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    write_small_session(path)
    with sqlite3.connect(path) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert tables == set(schema.TABLES)
        assert connection.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        columns = [row[1] for row in connection.execute("PRAGMA table_info(fused)")]
    assert columns[1:8] == [f"p_{label}" for label in EMOTIONS]
    for table in schema.TABLES:
        assert table in (schema.__doc__ or "")


def test_session_files_are_the_owners_alone(tmp_path: Path) -> None:
    path = new_session_path("live", folder=tmp_path / "sessions")
    write_small_session(path)
    assert (path.parent.stat().st_mode & 0o777) == 0o700
    assert (path.stat().st_mode & 0o777) == 0o600
    assert path.name.endswith("_live.sqlite")
    assert new_session_path("live", folder=path.parent) != path  # never the same name twice


def test_rows_are_committed_in_batches_not_one_by_one(tmp_path: Path) -> None:
    writer = TimelineWriter(tmp_path / "s.sqlite", {}, flush_interval_s=0.3)
    for i in range(3000):  # ten seconds of face, voice and fused rows at once
        writer.add_estimate(i / 100, "face", HAPPY)
    deadline = time.monotonic() + 5
    while writer.rows_written < 3000 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert writer.rows_written == 3000 and writer.commits <= 2
    writer.close()
    assert len(read_session(tmp_path / "s.sqlite").estimates["face"]) == 3000


def test_an_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    write_small_session(path)
    before = path.read_bytes()
    with pytest.raises(TimelineError, match="already there"):
        TimelineWriter(path, {})
    assert path.read_bytes() == before


CRASHING_WRITER = """
import sys, time
import numpy as np
from pathlib import Path
from overlay.session.timeline import TimelineWriter
origin = time.monotonic()
writer = TimelineWriter(Path(sys.argv[1]), {"kind": "crash-test"}, origin=origin)
print(origin, flush=True)
p = np.full(7, 1 / 7, np.float32)
while True:  # 100 rows a second until killed
    writer.add_fused(time.monotonic(), p, "neutral", 0.2, 0.0, 0.0, {"face": 1.0})
    time.sleep(0.01)
"""


def test_kill_9_loses_at_most_the_last_second_and_the_file_stays_whole(tmp_path: Path) -> None:
    path = tmp_path / "crash.sqlite"
    child = subprocess.Popen(
        [sys.executable, "-c", CRASHING_WRITER, str(path)], stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT
    )
    assert child.stdout is not None
    origin = float(child.stdout.readline())
    time.sleep(3.3)
    killed_at = time.monotonic()
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL
    session = read_session(path)  # reads through the WAL the dead writer left
    assert session.ended is None and session.metadata == {"kind": "crash-test"}
    assert len(session.fused) > 150
    lost_s = killed_at - (origin + session.fused.t[-1])
    assert lost_s < 1.4  # one flush interval, plus scheduling on a busy 2-core machine
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # And the crashed session can be opened again and written to.
    connection = open_for_writing(path)
    connection.execute("INSERT INTO events VALUES (99, 'recovered', '')")
    connection.close()
    assert read_session(path).events[-1].kind == "recovered"


def test_an_older_schema_is_migrated_when_opened_for_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s.sqlite"
    write_small_session(path)
    current = schema.SCHEMA_VERSION
    migrations = {**schema.MIGRATIONS, current + 1: ("ALTER TABLE events ADD COLUMN source TEXT NOT NULL DEFAULT ''",)}
    monkeypatch.setattr(schema, "MIGRATIONS", migrations)
    monkeypatch.setattr(schema, "SCHEMA_VERSION", current + 1)
    read_session(path)  # reading leaves an old file as it is
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == current
    open_for_writing(path).close()
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == current + 1
        assert connection.execute("SELECT kind, source FROM events").fetchall() == [("camera_lost", "")]
    assert read_session(path).utterances[0].text == "what a lovely day"


def test_a_session_from_a_newer_version_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    write_small_session(path)
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA user_version = 7")
    before = path.read_bytes()
    with pytest.raises(TimelineError, match=r"newer emotion-overlay .*schema 7.*upgrade"):
        read_session(path)
    with pytest.raises(TimelineError, match="newer"):
        open_for_writing(path)
    assert path.read_bytes() == before


def test_foreign_and_broken_files_get_one_clear_line_and_are_left_alone(tmp_path: Path) -> None:
    foreign = tmp_path / "other.sqlite"
    with sqlite3.connect(foreign) as connection:
        connection.execute("CREATE TABLE notes (body TEXT)")
        connection.execute("INSERT INTO notes VALUES ('mine')")
    not_sqlite = tmp_path / "holiday.sqlite"
    not_sqlite.write_bytes(b"\x00\x00\x00\x18ftypmp42 this is a video" * 40)
    truncated = tmp_path / "cut.sqlite"
    write_small_session(truncated)
    truncated.write_bytes(truncated.read_bytes()[:1500])
    for path, message in (
        (foreign, "not an emotion-overlay session"),
        (not_sqlite, "not a readable session file"),
        (truncated, "session file"),
        (tmp_path / "missing.sqlite", "no such session file"),
    ):
        before = path.read_bytes() if path.exists() else None
        with pytest.raises(TimelineError, match=message) as caught:
            read_session(path)
        assert "\n" not in str(caught.value)
        assert (path.read_bytes() if path.exists() else None) == before
