"""The session timeline: one SQLite file per session, written in batches, read for review.

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

Writing: TimelineWriter queues rows without blocking (the video thread only appends to a
queue) and one "timeline-writer" thread commits them about once a second in one
transaction. WAL with synchronous=FULL: a crash or `kill -9` loses at most the rows not yet
committed (the last second) and never leaves a torn file; the next open recovers the WAL.
Migrations: MIGRATIONS[v] brings a file from version v-1 to v; opening an older file to
write upgrades it, reading never changes it, and a newer file is refused with a clear line.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import queue
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from overlay.errors import OverlayError
from overlay.file_lock import HolderLock, lock_holder
from overlay.labels import EMOTIONS

logger = logging.getLogger(__name__)

SCHEMA_VERSION: Final = 1
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
}
TABLES: Final = ("meta", "estimates", "fused", "blinks", "utterances", "events", "thumbnails")


class TimelineError(OverlayError):
    """A session file that cannot be opened, read or written."""


class SessionExistsError(TimelineError):
    """A session file of that name is already there (it is never overwritten)."""


class DiskFullError(TimelineError):
    """The disk holding the sessions folder has no room for a new session file."""


def _is_disk_full(err: BaseException) -> bool:
    return isinstance(err, sqlite3.OperationalError | OSError) and (
        "full" in str(err).lower() or getattr(err, "errno", None) == errno.ENOSPC
    )


def disk_full_message(folder: Path) -> str:
    return f"the disk holding {folder} is full; free some space there (or set EMOTION_OVERLAY_SESSIONS to another disk)"


# ---------------------------------------------------------------- opening and schema


def _connect(path: Path, read_only: bool = False, immutable: bool = False) -> sqlite3.Connection:
    """A connection; `immutable` promises SQLite the file will not change (it then makes no side files)."""
    uri = read_only or immutable
    target = path.resolve().as_uri() + ("?immutable=1" if immutable else "?mode=ro") if uri else str(path)
    try:
        connection = sqlite3.connect(target, timeout=5.0, check_same_thread=False, isolation_level=None, uri=uri)
        connection.execute("PRAGMA schema_version").fetchone()  # reads the header: fails on a non-SQLite file
    except sqlite3.DatabaseError as err:
        raise TimelineError(f"{path}: not a readable session file ({err}); pick another session") from None
    return connection


def _check_ours(connection: sqlite3.Connection, path: Path) -> int:
    """The file's schema version, after making sure it is an emotion-overlay session we can read."""
    try:
        application_id = connection.execute("PRAGMA application_id").fetchone()[0]
        version = int(connection.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.DatabaseError as err:
        raise TimelineError(f"{path}: not a readable session file ({err}); pick another session") from None
    if application_id != APPLICATION_ID:
        raise TimelineError(f"{path}: an SQLite file, but not an emotion-overlay session; it was left untouched")
    if version > SCHEMA_VERSION:
        raise TimelineError(
            f"{path}: written by a newer emotion-overlay (timeline schema {version}, this one reads up to "
            f"{SCHEMA_VERSION}); upgrade emotion-overlay to open it"
        )
    return version


def _migrate(connection: sqlite3.Connection, from_version: int) -> None:
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
        if _is_disk_full(err):
            raise DiskFullError(disk_full_message(path.parent)) from None
        raise TimelineError(f"{path}: cannot create the session file ({err.strerror}); check the folder") from None
    os.close(descriptor)
    connection = _connect(path)
    try:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = FULL")  # one fsync a second is cheap; survives power loss too
        connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        _migrate(connection, 0)
        connection.execute(
            "INSERT INTO meta (key, value) VALUES ('session', ?), ('created_by', ?)",
            (described, "emotion-overlay"),
        )
    except sqlite3.Error as err:
        connection.close()
        for side in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            side.unlink(missing_ok=True)  # no stub of a session that never began
        if _is_disk_full(err):
            raise DiskFullError(disk_full_message(path.parent)) from None
        raise TimelineError(f"{path}: cannot create the session file ({err}); check the folder") from None
    return connection


def open_for_writing(path: Path) -> sqlite3.Connection:
    """An existing session file, upgraded to the current schema if it is older."""
    connection = _connect(path)
    version = _check_ours(connection, path)
    connection.execute("PRAGMA journal_mode = WAL")
    _migrate(connection, version)
    return connection


# ---------------------------------------------------------------- writing


def _probability_row(probabilities: npt.NDArray[np.float32]) -> tuple[float, ...]:
    return tuple(round(float(p), 5) for p in probabilities)


_INSERTS: Final = {
    "estimates": f"INSERT INTO estimates VALUES (?, ?, {', '.join('?' * len(EMOTIONS))})",
    "fused": f"INSERT INTO fused VALUES (?, {', '.join('?' * len(EMOTIONS))}, ?, ?, ?, ?, ?, ?, ?)",
    "blinks": "INSERT INTO blinks VALUES (?, ?, ?)",
    "utterances": f"INSERT INTO utterances VALUES (?, ?, ?, ?, {', '.join('?' * len(EMOTIONS))}, ?)",
    "events": "INSERT INTO events VALUES (?, ?, ?)",
    "thumbnails": "INSERT INTO thumbnails VALUES (?, ?)",
    "meta": "INSERT OR REPLACE INTO meta VALUES (?, ?)",
}


def writer_lock_path(path: Path) -> Path:
    """The lock file a TimelineWriter holds while it records the session at `path`."""
    return path.with_name(path.name + ".writing")


def session_writer(path: Path) -> dict[str, Any] | None:
    """The process recording the session at `path` ({"pid", "command"}), or None."""
    return lock_holder(writer_lock_path(path))


class TimelineWriter:
    """Rows in from any thread without waiting; one writer thread commits them in batches.

    Times given to the add_* methods are on the caller's clock; `origin` (that clock's value
    at the session's start) is subtracted so that the file holds seconds since the start.
    """

    def __init__(
        self, path: Path, metadata: dict[str, Any], origin: float = 0.0, flush_interval_s: float = 1.0
    ) -> None:
        self.path = path
        self.origin = origin
        self._flush_interval_s = flush_interval_s
        self._writer_lock = HolderLock(writer_lock_path(path))  # `sessions delete` refuses while it is held
        try:
            self._writer_lock.acquire()
        except OSError as err:
            if _is_disk_full(err):
                raise DiskFullError(disk_full_message(path.parent)) from None
            raise TimelineError(f"{path}: cannot create the session file ({err.strerror}); check the folder") from None
        try:
            self._connection = create_session_file(path, metadata)
        except BaseException:
            self._writer_lock.release()
            raise
        self._rows: queue.SimpleQueue[tuple[str, tuple[Any, ...]]] = queue.SimpleQueue()
        self._connection_lock = threading.Lock()  # flush() runs on the writer thread and at close()
        self._stop = threading.Event()
        self._closed = False
        self.rows_written = 0
        self.rows_lost = 0  # rows that could not be written (a full disk): the session is incomplete
        self.commits = 0
        self.write_errors = 0
        self.failure: str | None = None  # why rows were lost, for the run's last line
        self._thread = threading.Thread(target=self._write_loop, name="timeline-writer", daemon=True)
        self._thread.start()

    # Each add_* only builds a tuple and enqueues it: safe and cheap on the video thread.
    def add_estimate(self, t: float, modality: str, probabilities: npt.NDArray[np.float32]) -> None:
        self._rows.put(("estimates", (round(t - self.origin, 4), modality, *_probability_row(probabilities))))

    def add_fused(
        self,
        t: float,
        probabilities: npt.NDArray[np.float32],
        label: str,
        confidence: float,
        valence: float,
        arousal: float,
        weights: dict[str, float],
    ) -> None:
        shares = (round(weights.get(m, 0.0), 4) for m in ("face", "voice", "text"))
        row = (round(t - self.origin, 4), *_probability_row(probabilities), label, round(confidence, 4))
        self._rows.put(("fused", (*row, round(valence, 4), round(arousal, 4), *shares)))

    def add_blink(self, start: float, end: float, kind: str) -> None:
        self._rows.put(("blinks", (round(start - self.origin, 4), round(end - self.origin, 4), kind)))

    def add_utterance(
        self, start: float, end: float, text: str, recognizer: str, probabilities: npt.NDArray[np.float32]
    ) -> None:
        label = EMOTIONS[int(np.argmax(probabilities))]
        times = (round(start - self.origin, 4), round(end - self.origin, 4))
        self._rows.put(("utterances", (*times, text, recognizer, *_probability_row(probabilities), label)))

    def add_event(self, t: float, kind: str, detail: str) -> None:
        self._rows.put(("events", (round(t - self.origin, 4), kind, detail)))

    def add_thumbnail(self, t: float, jpeg: bytes) -> None:
        self._rows.put(("thumbnails", (round(t - self.origin, 4), jpeg)))

    def set_meta(self, key: str, value: str) -> None:
        self._rows.put(("meta", (key, value)))

    def flush(self) -> int:
        """Commit everything queued so far (the writer thread does this every interval)."""
        batch: dict[str, list[tuple[Any, ...]]] = {}
        count = 0
        while True:
            try:
                table, row = self._rows.get_nowait()
            except queue.Empty:
                break
            batch.setdefault(table, []).append(row)
            count += 1
        if not count:
            return 0
        try:
            with self._connection_lock:
                self._connection.execute("BEGIN")
                for table, rows in batch.items():
                    self._connection.executemany(_INSERTS[table], rows)
                self._connection.execute("COMMIT")
        except sqlite3.Error as err:
            # A full disk, say: keep the session going without these rows rather than stop the
            # video; said once (not every second), counted, and written down when there is room.
            self.write_errors += 1
            self.rows_lost += count
            if self.write_errors == 1:
                reason = disk_full_message(self.path.parent) if _is_disk_full(err) else f"{err}"
                logger.warning("the timeline cannot keep up: %s; the video goes on", reason)
                self.failure = reason
            with contextlib.suppress(sqlite3.Error):
                self._connection.execute("ROLLBACK")
            return 0
        self.rows_written += count
        self.commits += 1
        return count

    def _write_loop(self) -> None:
        while not self._stop.wait(self._flush_interval_s):
            self.flush()

    def close(self, duration_s: float | None = None) -> None:
        """Write what is left and the session's end; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._thread.join()
        self.set_meta("ended", time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        if duration_s is not None:
            self.set_meta("duration_s", f"{duration_s:.3f}")
        if self.rows_lost:
            # Said in the file itself where there is room again (review shows the event).
            self.add_event(time.monotonic(), "timeline_incomplete", f"{self.rows_lost} rows lost: {self.failure}")
            self.set_meta("rows_lost", str(self.rows_lost))
        self.flush()
        try:
            self._connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # one self-contained file at rest
        except sqlite3.Error:
            log = logger.debug if self.rows_lost else logger.warning  # a full disk was already said
            log("could not checkpoint %s; it stays readable with its -wal file", self.path)
        self._connection.close()
        self._writer_lock.release()

    def __enter__(self) -> TimelineWriter:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class Series:
    """Times and rows of probabilities (N x 7) of one modality or of the fused state."""

    t: npt.NDArray[np.float64]
    probabilities: npt.NDArray[np.float32]

    def __len__(self) -> int:
        return len(self.t)


@dataclass(frozen=True)
class FusedRow:
    t: float
    label: str
    confidence: float
    valence: float
    arousal: float
    weights: dict[str, float]


@dataclass(frozen=True)
class Utterance:
    start: float
    end: float
    text: str
    recognizer: str
    probabilities: tuple[float, ...]
    label: str


@dataclass(frozen=True)
class Blink:
    start: float
    end: float
    kind: str


@dataclass(frozen=True)
class Event:
    t: float
    kind: str
    detail: str


@dataclass(frozen=True)
class Session:
    """Everything one session file holds (thumbnails are read on demand: read_thumbnail)."""

    path: Path
    schema_version: int
    metadata: dict[str, Any]
    ended: str | None
    duration_s: float
    estimates: dict[str, Series]
    fused: Series
    fused_rows: tuple[FusedRow, ...]
    blinks: tuple[Blink, ...]
    utterances: tuple[Utterance, ...]
    events: tuple[Event, ...]
    thumbnail_times: tuple[float, ...] = field(default=())

    @property
    def session_id(self) -> str:
        return self.path.stem


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[tuple[sqlite3.Connection, int]]:
    """A connection for reading and the schema version; no file of the session is touched.

    SQLite changes files even when only reading: it checkpoints and removes a -wal file
    (where a killed run's last rows are), and a read-only connection still writes the -shm
    index and may create side files. So a file at rest is opened `immutable` (no side files
    at all), and a session with a -wal (killed, or being recorded) is read from a private
    copy of the file and its -wal, which SQLite may change as it likes.
    """
    if not path.is_file():
        raise TimelineError(f"{path}: no such session file; `emotion-overlay sessions list` shows the sessions")
    wal = path.with_name(path.name + "-wal")
    with contextlib.ExitStack() as stack:
        target = path
        if wal.exists() and wal.stat().st_size > 0:
            copy_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="emotion-overlay-read-")))
            target = copy_dir / path.name
            shutil.copyfile(path, target)
            shutil.copyfile(wal, copy_dir / wal.name)
        connection = _connect(target, read_only=True, immutable=target == path)
        stack.callback(connection.close)
        yield connection, _check_ours(connection, path)


def read_session(path: Path) -> Session:
    """Read a whole session; an older schema is read as it is (never rewritten here)."""
    with _reading(path) as (connection, version):
        try:
            return _read(connection, path, version)
        except sqlite3.DatabaseError as err:
            raise TimelineError(f"{path}: the session file is damaged ({err}); it was left untouched") from None


def _read(connection: sqlite3.Connection, path: Path, version: int) -> Session:
    meta = dict(connection.execute("SELECT key, value FROM meta").fetchall())
    metadata = json.loads(meta.get("session", "{}"))
    columns = ", ".join(PROBABILITY_COLUMNS)
    estimates: dict[str, Series] = {}
    for modality in ("face", "voice", "text"):
        rows = connection.execute(
            f"SELECT t, {columns} FROM estimates WHERE modality = ? ORDER BY t", (modality,)
        ).fetchall()
        estimates[modality] = _series(rows)
    fused_rows = connection.execute(
        f"SELECT t, {columns}, label, confidence, valence, arousal, w_face, w_voice, w_text FROM fused ORDER BY t"
    ).fetchall()
    n = len(EMOTIONS)
    fused = _series([row[: 1 + n] for row in fused_rows])
    fused_records = tuple(
        FusedRow(
            row[0],
            row[1 + n],
            row[2 + n],
            row[3 + n],
            row[4 + n],
            dict(zip(("face", "voice", "text"), row[5 + n :], strict=True)),
        )
        for row in fused_rows
    )
    blinks = tuple(Blink(*row) for row in connection.execute("SELECT start, end, kind FROM blinks ORDER BY start"))
    utterances = tuple(
        Utterance(row[0], row[1], row[2], row[3], tuple(row[4 : 4 + n]), row[4 + n])
        for row in connection.execute(
            f"SELECT start, end, text, recognizer, {columns}, label FROM utterances ORDER BY start"
        )
    )
    events = tuple(Event(*row) for row in connection.execute("SELECT t, kind, detail FROM events ORDER BY t"))
    thumbnails = tuple(row[0] for row in connection.execute("SELECT t FROM thumbnails ORDER BY t"))
    last_times = [s.t[-1] for s in (*estimates.values(), fused) if len(s)] + [u.end for u in utterances]
    duration = float(meta["duration_s"]) if "duration_s" in meta else max(last_times, default=0.0)
    return Session(
        path=path,
        schema_version=version,
        metadata=metadata,
        ended=meta.get("ended"),
        duration_s=duration,
        estimates=estimates,
        fused=fused,
        fused_rows=fused_records,
        blinks=blinks,
        utterances=utterances,
        events=events,
        thumbnail_times=thumbnails,
    )


def _series(rows: Sequence[Sequence[float]]) -> Series:
    if not rows:
        return Series(np.zeros(0), np.zeros((0, len(EMOTIONS)), dtype=np.float32))
    array = np.asarray(rows, dtype=np.float64)
    return Series(array[:, 0], array[:, 1:].astype(np.float32))


def read_thumbnail(path: Path, t: float) -> bytes | None:
    """The JPEG thumbnail nearest to time t, if the session recorded any."""
    with _reading(path) as (connection, _):
        try:
            row = connection.execute("SELECT jpeg FROM thumbnails ORDER BY abs(t - ?) LIMIT 1", (t,)).fetchone()
        except sqlite3.DatabaseError as err:
            raise TimelineError(f"{path}: the session file is damaged ({err})") from None
    return bytes(row[0]) if row else None
