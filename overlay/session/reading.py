"""Reading a session's timeline into typed records (for review, exports and summaries).

Reading never changes the file, not even a killed session's `-wal`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from overlay.attention.summary import AttentionRows, no_attention
from overlay.delivery.figures import PhraseSpan, TimedWord
from overlay.labels import EMOTIONS, MODALITIES
from overlay.session.schema import PROBABILITY_COLUMNS, TimelineError, check_ours, connect

logger = logging.getLogger(__name__)


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
class Word:
    start: float
    end: float
    text: str
    confidence: float  # -1: the recognizer gave no times, they were spread over the utterance
    utterance: float  # the start of its utterance


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
    words: tuple[Word, ...] = ()  # schema 2 on: earlier sessions have no words nor phrases
    phrases: tuple[PhraseSpan, ...] = ()
    attention: AttentionRows = field(default_factory=no_attention)  # schema 3 on: empty before

    @property
    def session_id(self) -> str:
        return self.path.stem

    @property
    def measured_delivery(self) -> bool:
        """Whether the session was recorded by a version that measures delivery (schema 2 on)."""
        return self.schema_version >= 2

    def utterance_words(self) -> list[tuple[TimedWord, ...]]:
        """Each utterance's words in order (utterances with no words left out)."""
        grouped: dict[float, list[TimedWord]] = {}
        for word in self.words:
            grouped.setdefault(word.utterance, []).append(TimedWord(word.text, word.start, word.end))
        return [tuple(grouped[start]) for start in sorted(grouped)]


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
        connection = connect(target, read_only=True, immutable=target == path)
        stack.callback(connection.close)
        yield connection, check_ours(connection, path)


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
    for modality in MODALITIES:
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
            dict(zip(MODALITIES, row[5 + n :], strict=True)),
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
    words: tuple[Word, ...] = ()
    phrases: tuple[PhraseSpan, ...] = ()
    attention = no_attention()
    if version >= 3:
        rows = connection.execute("SELECT t, yaw, pitch, roll, eye_contact FROM attention ORDER BY t").fetchall()
        if rows:
            # NULL (no face) becomes NaN
            table = np.array(rows, dtype=np.float64)
            attention = AttentionRows(*(table[:, i] for i in range(5)))  # t, yaw, pitch, roll, eye_contact
    if version >= 2:
        words = tuple(
            Word(*row)
            for row in connection.execute(
                "SELECT start, end, text, confidence, utterance FROM words ORDER BY utterance, start, rowid"
            )
        )
        phrases = tuple(
            PhraseSpan(*row)  # its fields in their order
            for row in connection.execute(
                "SELECT start, end, pitch_low_hz, pitch_high_hz, level_dbfs, clipped, pitch_hz, speech_s "
                "FROM phrases ORDER BY start"
            )
        )
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
        words=words,
        phrases=phrases,
        attention=attention,
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
