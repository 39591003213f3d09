"""The session file: one SQLite file per session, its schema, opening and creating it.

The session timeline: one SQLite file per session, written in batches, read for review.

Schema (version SCHEMA_VERSION; `PRAGMA user_version` holds it, `PRAGMA application_id`
marks the file as ours). Times `t`, `start`, `end` are seconds since the session began
(the live pipeline's start, or 0 of a recording). Probabilities are one column per label
(p_angry ... p_neutral) so that the tables read well in SQL and CSV.

- meta(key, value): key/value facts; `session` holds the session's JSON metadata (kind,
  source, devices, models and their versions, settings, wall-clock start), `ended` the
  wall-clock end, `duration_s` the length.
- estimates(t, modality, p_*): each modality's reading ("face", "voice", "text").
- fused(t, p_*, label, confidence, valence, arousal, w_face, w_voice, w_text): the fused
  state (label is the displayed one, after hysteresis); w_* are the modalities' shares.
- blinks(start, end, kind): "blink" or "eyes_closed".
- utterances(start, end, text, recognizer, p_*, label): final utterances and their text emotion.
- events(t, kind, detail): camera lost, stage restarted, disagreement, ...
- thumbnails(t, jpeg): small JPEGs of the user's face (optional, about 1 Hz).
- words(start, end, text, confidence, utterance): each final utterance's words as the recognizer
  wrote them (punctuation kept), `utterance` its utterance's start (schema 2).
- phrases(start, end, speech_s, pitch_hz, pitch_low_hz, pitch_high_hz, level_dbfs, clipped): the
  stretches of speech between pauses (overlay.delivery): the pitch's median, 10th and 90th
  percentile (NULL with too little voicing), the speech's level and share of clipped samples;
  the pauses are the gaps between them (schema 2).
- attention(t, yaw, pitch, roll, eye_contact): the user's head pose in degrees and the
  probability of looking into the camera (overlay.attention), about 10 times a second while
  the face stage runs; NULLs when no face was found, so the rows also say when a face was
  there (schema 3). Looked-away spans are events (`looked_away`, at their start).

Migrations: MIGRATIONS[v] brings a file from version v-1 to v; opening an older file to
write upgrades it, reading never changes it, and a newer file is refused with a clear line.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import sqlite3
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from overlay.errors import OverlayError
from overlay.files.lock import lock_holder
from overlay.labels import EMOTIONS

logger = logging.getLogger(__name__)

SCHEMA_VERSION: Final = 3
APPLICATION_ID: Final = 0x454D4F56  # "EMOV"
PROBABILITY_COLUMNS: Final = tuple(f"p_{label}" for label in EMOTIONS)
_P_DECL = ", ".join(f"{c} REAL NOT NULL" for c in PROBABILITY_COLUMNS)

MIGRATIONS: Final[dict[int, tuple[str, ...]]] = {
    1: (
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        f"CREATE TABLE estimates (t REAL NOT NULL, modality TEXT NOT NULL, {_P_DECL})",
        "CREATE INDEX estimates_by_modality ON estimates (modality, t)",
        f"CREATE TABLE fused (t REAL NOT NULL, {_P_DECL}, label TEXT NOT NULL, confidence REAL NOT NULL, "
        "valence REAL NOT NULL, arousal REAL NOT NULL, w_face REAL NOT NULL, w_voice REAL NOT NULL, "
        "w_text REAL NOT NULL)",
        "CREATE TABLE blinks (start REAL NOT NULL, end REAL NOT NULL, kind TEXT NOT NULL)",
        f"CREATE TABLE utterances (start REAL NOT NULL, end REAL NOT NULL, text TEXT NOT NULL, "
        f"recognizer TEXT NOT NULL, {_P_DECL}, label TEXT NOT NULL)",
        "CREATE TABLE events (t REAL NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL)",
        "CREATE TABLE thumbnails (t REAL NOT NULL, jpeg BLOB NOT NULL)",
    ),
    2: (  # delivery (issue 28): the words with their times, the phrases and their voice
        "CREATE TABLE words (start REAL NOT NULL, end REAL NOT NULL, text TEXT NOT NULL, confidence REAL NOT NULL, "
        "utterance REAL NOT NULL)",
        "CREATE TABLE phrases (start REAL NOT NULL, end REAL NOT NULL, speech_s REAL NOT NULL, pitch_hz REAL, "
        "pitch_low_hz REAL, pitch_high_hz REAL, level_dbfs REAL NOT NULL, clipped REAL NOT NULL)",
    ),
    3: (  # eyes and head (issue 27): where the head pointed and eye contact, with or without a face
        "CREATE TABLE attention (t REAL NOT NULL, yaw REAL, pitch REAL, roll REAL, eye_contact REAL)",
    ),
}
TABLES: Final = (
    "meta",
    "estimates",
    "fused",
    "blinks",
    "utterances",
    "events",
    "thumbnails",
    "words",
    "phrases",
    "attention",
)


class TimelineError(OverlayError):
    """A session file that cannot be opened, read or written."""


class SessionExistsError(TimelineError):
    """A session file of that name is already there (it is never overwritten)."""


class DiskFullError(TimelineError):
    """The disk holding the sessions folder has no room for a new session file."""


def is_disk_full(err: BaseException) -> bool:
    return isinstance(err, sqlite3.OperationalError | OSError) and (
        "full" in str(err).lower() or getattr(err, "errno", None) == errno.ENOSPC
    )


def disk_full_message(folder: Path) -> str:
    return f"the disk holding {folder} is full; free some space there (or set EMOTION_OVERLAY_SESSIONS to another disk)"


# ---------------------------------------------------------------- opening and schema


def connect(path: Path, read_only: bool = False, immutable: bool = False) -> sqlite3.Connection:
    """A connection; `immutable` promises SQLite the file will not change (it then makes no side files)."""
    uri = read_only or immutable
    target = path.resolve().as_uri() + ("?immutable=1" if immutable else "?mode=ro") if uri else str(path)
    try:
        connection = sqlite3.connect(target, timeout=5.0, check_same_thread=False, isolation_level=None, uri=uri)
        connection.execute("PRAGMA schema_version").fetchone()  # reads the header: fails on a non-SQLite file
    except sqlite3.DatabaseError as err:
        raise TimelineError(f"{path}: not a readable session file ({err}); pick another session") from None
    return connection


def check_ours(connection: sqlite3.Connection, path: Path) -> int:
    """The file's schema version, after making sure it is an emotion-overlay session we can read."""
    try:
        application_id = connection.execute("PRAGMA application_id").fetchone()[0]
        version = int(connection.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.DatabaseError as err:
        raise TimelineError(f"{path}: not a readable session file ({err}); pick another session") from None
    if application_id != APPLICATION_ID:
        if path.exists() and path.stat().st_size == 0:  # SQLite reads an empty file as an empty database
            raise TimelineError(f"{path}: an empty file, not a session; it was left untouched")
        raise TimelineError(f"{path}: an SQLite file, but not an emotion-overlay session; it was left untouched")
    if version > SCHEMA_VERSION:
        raise TimelineError(
            f"{path}: written by a newer emotion-overlay (timeline schema {version}, this one reads up to "
            f"{SCHEMA_VERSION}); upgrade emotion-overlay to open it"
        )
    return version


def migrate(connection: sqlite3.Connection, from_version: int) -> None:
    """Bring the schema up to SCHEMA_VERSION, one version per transaction."""
    for version in range(from_version + 1, SCHEMA_VERSION + 1):
        connection.execute("BEGIN IMMEDIATE")
        for statement in MIGRATIONS[version]:
            connection.execute(statement)
        connection.execute(f"PRAGMA user_version = {version}")
        connection.execute("COMMIT")


def create_session_file(path: Path, metadata: dict[str, Any]) -> sqlite3.Connection:
    """A new session file (owner-only), schema created and metadata written; refuses to overwrite."""
    described = json.dumps(metadata, default=str)  # paths and the like as text; fails before any file exists
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise SessionExistsError(f"{path}: a session file is already there; it was left untouched") from None
    except OSError as err:
        if is_disk_full(err):
            raise DiskFullError(disk_full_message(path.parent)) from None
        raise TimelineError(f"{path}: cannot create the session file ({err.strerror}); check the folder") from None
    os.close(descriptor)
    connection = connect(path)
    try:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = FULL")  # one fsync a second is cheap; survives power loss too
        connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        migrate(connection, 0)
        connection.execute(
            "INSERT INTO meta (key, value) VALUES ('session', ?), ('created_by', ?)",
            (described, "emotion-overlay"),
        )
    except sqlite3.Error as err:
        connection.close()
        for side in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            side.unlink(missing_ok=True)  # no stub of a session that never began
        if is_disk_full(err):
            raise DiskFullError(disk_full_message(path.parent)) from None
        raise TimelineError(f"{path}: cannot create the session file ({err}); check the folder") from None
    return connection


def open_for_writing(path: Path) -> sqlite3.Connection:
    """An existing session file, upgraded to the current schema if it is older."""
    connection = connect(path)
    version = check_ours(connection, path)
    connection.execute("PRAGMA journal_mode = WAL")
    migrate(connection, version)
    return connection


# ---------------------------------------------------------------- writing


def probability_row(probabilities: npt.NDArray[np.float32]) -> tuple[float, ...]:
    return tuple(round(float(p), 5) for p in probabilities)


INSERTS: Final = {  # one statement per table, for executemany
    "estimates": f"INSERT INTO estimates VALUES (?, ?, {', '.join('?' * len(EMOTIONS))})",
    "fused": f"INSERT INTO fused VALUES (?, {', '.join('?' * len(EMOTIONS))}, ?, ?, ?, ?, ?, ?, ?)",
    "blinks": "INSERT INTO blinks VALUES (?, ?, ?)",
    "utterances": f"INSERT INTO utterances VALUES (?, ?, ?, ?, {', '.join('?' * len(EMOTIONS))}, ?)",
    "events": "INSERT INTO events VALUES (?, ?, ?)",
    "thumbnails": "INSERT INTO thumbnails VALUES (?, ?)",
    "words": "INSERT INTO words VALUES (?, ?, ?, ?, ?)",
    "phrases": "INSERT INTO phrases VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    "attention": "INSERT INTO attention VALUES (?, ?, ?, ?, ?)",
    "meta": "INSERT OR REPLACE INTO meta VALUES (?, ?)",
}


def writer_lock_path(path: Path) -> Path:
    """The lock file a TimelineWriter holds while it records the session at `path`."""
    return path.with_name(path.name + ".writing")


def session_writer(path: Path) -> dict[str, Any] | None:
    """The process recording the session at `path` ({"pid", "command"}), or None."""
    return lock_holder(writer_lock_path(path))
