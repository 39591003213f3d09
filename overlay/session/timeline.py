"""Writing a session's timeline: rows queued from any thread, committed in batches.

Writing: TimelineWriter queues rows without blocking (the video thread only appends to a
queue) and one "timeline-writer" thread commits them about once a second in one
transaction. WAL with synchronous=FULL: a crash or `kill -9` loses at most the rows not yet
committed (the last second) and never leaves a torn file; the next open recovers the WAL.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from overlay.files.lock import HolderLock
from overlay.labels import EMOTIONS, MODALITIES
from overlay.records import Event
from overlay.session.schema import (
    INSERTS,
    DiskFullError,
    TimelineError,
    create_session_file,
    disk_full_message,
    is_disk_full,
    probability_row,
    writer_lock_path,
)

if TYPE_CHECKING:
    from overlay.delivery.sound import Phrase

logger = logging.getLogger(__name__)

WRITER_CACHE_KIB = 256


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
            if is_disk_full(err):
                raise DiskFullError(disk_full_message(path.parent)) from None
            raise TimelineError(f"{path}: cannot create the session file ({err.strerror}); check the folder") from None
        try:
            self._connection = create_session_file(path, metadata)
            # Appending touches only the B-trees' right edges: a small page cache does, and
            # SQLite's default (2 MB) would grow the process for the first hour of a session.
            self._connection.execute(f"PRAGMA cache_size = -{WRITER_CACHE_KIB}")
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
        self._rows.put(("estimates", (round(t - self.origin, 4), modality, *probability_row(probabilities))))

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
        shares = (round(weights.get(m, 0.0), 4) for m in MODALITIES)
        row = (round(t - self.origin, 4), *probability_row(probabilities), label, round(confidence, 4))
        self._rows.put(("fused", (*row, round(valence, 4), round(arousal, 4), *shares)))

    def add_blink(self, start: float, end: float, kind: str) -> None:
        self._rows.put(("blinks", (round(start - self.origin, 4), round(end - self.origin, 4), kind)))

    def add_utterance(
        self, start: float, end: float, text: str, recognizer: str, probabilities: npt.NDArray[np.float32]
    ) -> None:
        label = EMOTIONS[int(np.argmax(probabilities))]
        times = (round(start - self.origin, 4), round(end - self.origin, 4))
        self._rows.put(("utterances", (*times, text, recognizer, *probability_row(probabilities), label)))

    def add_words(self, utterance_start: float, words: Iterable[tuple[str, float, float, float]]) -> None:
        """An utterance's words: (text, start, end, confidence) each."""
        utterance = round(utterance_start - self.origin, 4)
        for text, start, end, confidence in words:
            times = (round(start - self.origin, 4), round(end - self.origin, 4))
            self._rows.put(("words", (*times, text, round(confidence, 4), utterance)))

    def add_phrase(self, phrase: Phrase) -> None:
        pitch = phrase.pitch
        hz = (round(pitch.median_hz, 2), round(pitch.low_hz, 2), round(pitch.high_hz, 2)) if pitch else (None,) * 3
        times = (round(phrase.start - self.origin, 4), round(phrase.end - self.origin, 4), round(phrase.speech_s, 3))
        self._rows.put(("phrases", (*times, *hz, round(phrase.level_dbfs, 2), round(phrase.clipped, 6))))

    def add_attention(
        self, t: float, yaw: float | None, pitch: float | None, roll: float | None, eye_contact: float | None
    ) -> None:
        """One attention row; None where there was no face (or no reading)."""

        def rounded(value: float | None, digits: int) -> float | None:
            return None if value is None else round(value, digits)

        angles = (rounded(yaw, 2), rounded(pitch, 2), rounded(roll, 2))
        self._rows.put(("attention", (round(t - self.origin, 4), *angles, rounded(eye_contact, 4))))

    def add_event(self, t: float, kind: Event, detail: str) -> None:
        self._rows.put(("events", (round(t - self.origin, 4), kind.value, detail)))

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
                    self._connection.executemany(INSERTS[table], rows)
                self._connection.execute("COMMIT")
        except sqlite3.Error as err:
            # A full disk, say: keep the session going without these rows rather than stop the
            # video; said once (not every second), counted, and written down when there is room.
            self.write_errors += 1
            self.rows_lost += count
            if self.write_errors == 1:
                reason = disk_full_message(self.path.parent) if is_disk_full(err) else f"{err}"
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
            self.add_event(time.monotonic(), Event.TIMELINE_INCOMPLETE, f"{self.rows_lost} rows lost: {self.failure}")
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
