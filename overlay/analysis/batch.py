"""`analyze` as a batch job: which files, what each session is called, and each file's outcome.

- Inputs come from arguments, folders (`--recursive` walks sub-folders) and list files
  (`--from`, one path a line, `-` for standard input), in that order, each file once. A folder
  gives its media files only (MEDIA_SUFFIXES): the caption files written beside them are not media.
- A file's session is named from its path relative to its batch root (the folder it was
  found in, or the list file's folder) plus a hash of its content: the same recording gets the
  same name on every run, so a re-run replaces instead of duplicating, and `--skip-existing`
  resumes an interrupted batch (a session is only ever there whole: overlay.analysis.recordings).
- A BatchWorker loads the models once and turns jobs into outcomes: any exception in one
  file becomes that file's "failed" outcome, never the batch's end. The engines
  (overlay.analysis.engines) only decide where workers run: local processes or Ray actors.
- The summary file has one row per file, written as each finishes.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import re
import socket
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

from overlay.analysis.recordings import (
    AUDIO_SUFFIXES,
    AnalyzeSettings,
    RecordingAnalyzer,
    is_annotated_video,
    session_path,
)
from overlay.errors import OverlayError
from overlay.files.private import create_private
from overlay.labels import MODALITIES
from overlay.session.reading import read_session
from overlay.session.store import ensure_sessions_dir, sessions_dir
from overlay.session.summary import summarize
from overlay.sources.video_file import VIDEO_SUFFIXES

logger = logging.getLogger(__name__)

MEDIA_SUFFIXES: Final = tuple(sorted(set(VIDEO_SUFFIXES) | set(AUDIO_SUFFIXES)))
HASH_CHARS: Final = 12  # of the content hash in a session name: 48 bits, no clash in any real archive
NAME_CHARS: Final = 120  # of the path part of a session name (file systems allow 255 bytes)
OK, FAILED, SKIPPED = "ok", "failed", "skipped"


@dataclass(frozen=True)
class FileJob:
    """One recording to analyse; `root` is the folder its session name is relative to."""

    path: Path
    root: Path | None = None
    skip_existing: bool = False


@dataclass(frozen=True)
class FileOutcome:
    """What became of one file: printed as a JSON line and a row of the summary file."""

    file: str
    status: str  # OK, FAILED or SKIPPED
    error: str | None = None
    session: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)  # SessionSummary.to_json()
    annotated_video: str | None = None
    captions: str | None = None  # the caption file written (--captions)
    captions_error: str | None = None  # why the captions asked for were not written (the file still counts)
    video_error: str | None = None  # why the annotated video asked for was not written (the session is kept)
    warning: str | None = None  # what of the recording could not be read (damaged)
    media_s: float | None = None  # how long the recording is
    analysis_s: float | None = None  # wall time of this file, models loaded
    load_s: float = 0.0  # model loading this file waited for (its worker's first file only)
    worker: str = ""  # host:pid

    def to_json(self) -> dict[str, Any]:
        line: dict[str, Any] = {"file": self.file, "status": self.status}
        if self.error is not None:
            line["error"] = self.error
        line.update(self.summary)
        if self.status != FAILED:
            line["session"] = self.session
            line["annotated_video"] = self.annotated_video
            line["captions"] = self.captions
        if self.captions_error is not None:
            line["captions_error"] = self.captions_error
        if self.video_error is not None:
            line["video_error"] = self.video_error
        if self.warning is not None:
            line["warning"] = self.warning
        line["timings"] = {
            "media_s": _round(self.media_s),
            "analysis_s": _round(self.analysis_s),
            "load_s": _round(self.load_s),
            "realtime_factor": _round(self.analysis_s / self.media_s if self.media_s and self.analysis_s else None),
        }
        line["worker"] = self.worker
        return line


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


# ---------------------------------------------------------------------------- inputs


def collect_jobs(
    arguments: Sequence[Path], recursive: bool = False, lists: Sequence[str] = (), skip_existing: bool = False
) -> list[FileJob]:
    """The batch's files: each argument (a file, or a folder's media files), then each list's lines."""
    jobs: list[FileJob] = []
    for argument in arguments:
        if argument.is_dir():
            jobs += [FileJob(path, argument, skip_existing) for path in _media_in(argument, recursive)]
        else:
            jobs.append(FileJob(argument, None, skip_existing))  # a missing file fails as its own line
    for listed in lists:
        jobs += [FileJob(path, root, skip_existing) for path, root in _listed(listed)]
    seen: set[Path] = set()
    unique = []
    for job in jobs:
        key = job.path.resolve()
        if is_annotated_video(job.path):  # named or listed (folder listings leave them out already)
            logger.warning("%s: skipped: it is an annotated video that `analyze --video` wrote", job.path)
            continue
        if key not in seen:
            seen.add(key)
            unique.append(job)
    return unique


def _media_in(folder: Path, recursive: bool) -> list[Path]:
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(
        path
        for path in found
        if path.suffix.lower() in MEDIA_SUFFIXES
        and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)  # our own partial files too
        and not is_annotated_video(path)  # what an earlier `analyze --video` wrote here
    )


def _listed(listed: str) -> Iterator[tuple[Path, Path | None]]:
    """(path, root) for each line of a list file ('-': standard input); relative paths are
    relative to the list file's folder (the current folder for standard input)."""
    try:
        lines = sys.stdin.read().splitlines() if listed == "-" else Path(listed).read_text().splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise OverlayError(
            f"{listed}: cannot read the list of files ({err}); give a text file, one path a line"
        ) from None
    base = Path.cwd() if listed == "-" else Path(listed).resolve().parent
    for line in lines:
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        path = Path(entry).expanduser()
        path = path if path.is_absolute() else base / path
        inside = path.resolve().is_relative_to(base.resolve())
        yield path, base if inside else None


# ---------------------------------------------------------------------------- names


def content_hash(path: Path) -> str:
    """BLAKE2b of the whole file (a second read at disk speed; analysing it takes far longer)."""
    digest = hashlib.blake2b(digest_size=16)
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def session_name(job: FileJob, digest: str) -> str:
    """`day1--interview-3f2a9c1b7d4e` for day1/interview.mp4 under the batch root."""
    relative = job.path.relative_to(job.root) if job.root is not None else Path(job.path.name)
    readable = "--".join((*relative.parent.parts, relative.stem))
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", readable).strip("-.")[:NAME_CHARS] or "recording"
    return f"{safe}-{digest[:HASH_CHARS]}"


# ---------------------------------------------------------------------------- workers


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def check_sessions_folder(folder: Path | None) -> None:
    """Refuse, in one line, a sessions folder this worker cannot write to (on a cluster every
    worker must reach the same folder: a shared file system)."""
    target = ensure_sessions_dir(folder)
    probe = target / f".write-check-{socket.gethostname()}-{os.getpid()}"
    try:
        create_private(probe)
        probe.unlink()
    except OSError as err:
        raise OverlayError(
            f"{target}: worker {worker_id()} cannot write there ({err.strerror}); "
            "give --sessions a folder every worker can write to (a shared file system on a cluster)"
        ) from None


class BatchWorker:
    """Turns FileJobs into FileOutcomes, the models loaded once, on its first file."""

    def __init__(self, settings: AnalyzeSettings) -> None:
        self.settings = settings
        self._analyzer: RecordingAnalyzer | None = None

    def run(self, job: FileJob) -> FileOutcome:
        started = time.perf_counter()
        load_s = 0.0
        try:
            if job.path.exists() and not job.path.is_file():  # a pipe or a device would be read forever
                raise OverlayError(f"{job.path}: not a regular file (a folder, pipe or device); give a recording")
            name = session_name(job, content_hash(job.path))
            existing = session_path(self.settings.timeline_folder or sessions_dir(), name)
            if job.skip_existing and (skipped := _existing_outcome(job, name, existing)) is not None:
                return skipped
            if self._analyzer is None:
                self._analyzer = RecordingAnalyzer(self.settings)
                load_s = self._analyzer.load_seconds
            analysis = self._analyzer.analyze(job.path, name, {"batch_name": name})
        except OverlayError as err:
            return self._failed(job, str(err), started, load_s)
        except FileNotFoundError:
            return self._failed(job, f"{job.path}: no such file; check the path", started, load_s)
        except Exception as err:  # one file's bug or bad data must not end a batch of thousands
            logger.debug("analysing %s failed", job.path, exc_info=True)
            return self._failed(job, f"{job.path}: {type(err).__name__}: {err}", started, load_s)
        return FileOutcome(
            file=str(job.path),
            status=OK,
            session=name,
            summary=analysis.summary.to_json(),
            annotated_video=str(analysis.annotated_video) if analysis.annotated_video else None,
            captions=str(analysis.captions) if analysis.captions else None,
            captions_error=analysis.captions_error,
            video_error=analysis.video_error,
            warning=analysis.warning,
            media_s=analysis.media_seconds,
            analysis_s=analysis.analysis_seconds,
            load_s=load_s,
            worker=worker_id(),
        )

    def _failed(self, job: FileJob, error: str, started: float, load_s: float) -> FileOutcome:
        elapsed = time.perf_counter() - started
        return FileOutcome(str(job.path), FAILED, error=error, analysis_s=elapsed, load_s=load_s, worker=worker_id())


def _existing_outcome(job: FileJob, name: str, existing: Path) -> FileOutcome | None:
    """The outcome of a session already analysed (None when there is none, or it cannot be read)."""
    if not existing.is_file():
        return None
    try:
        summary = summarize(read_session(existing))
    except OverlayError as err:
        logger.warning("%s: the earlier session %s cannot be read (%s); analysing again", job.path, existing, err)
        return None
    return FileOutcome(
        str(job.path), SKIPPED, session=name, summary=summary.to_json(), media_s=summary.duration_s, worker=worker_id()
    )


def died(job: FileJob, why: str) -> FileOutcome:
    """The outcome of a file whose worker process died under it (a crash, or out of memory)."""
    return FileOutcome(str(job.path), FAILED, error=f"{job.path}: {why}")


# ---------------------------------------------------------------------------- the summary file

SUMMARY_COLUMNS: Final = (
    "file",
    "status",
    "error",
    "session",
    "duration_s",
    "dominant_emotion",
    "dominant_share",
    *MODALITIES,  # each modality's dominant label
    "mean_valence",
    "mean_arousal",
    "blinks",
    "blinks_per_minute",
    "utterances",
    "words",
    "disagreements",
    # Delivery (overlay.delivery.figures); long_pauses is a list of [start_s, length_s] (JSON text in CSV).
    "pace_wpm",
    "long_pauses",
    "fillers_per_minute",
    "pitch_range_semitones",
    "talk_share",
    "level_dbfs",
    # Attention (overlay.attention.summary): shares of the analysed time, degrees.
    "face_present_share",
    "eye_contact_share",
    "looked_away",
    "head_movement_deg",
    "blink_band",
    "analysis_s",
    "load_s",
    "realtime_factor",
    "worker",
)


def summary_row(outcome: FileOutcome) -> dict[str, Any]:
    line = outcome.to_json()
    summary = outcome.summary
    modalities = summary.get("modalities") or {}
    row = {column: line.get(column, summary.get(column)) for column in SUMMARY_COLUMNS}
    row.update({m: modalities.get(m) for m in MODALITIES})
    row["words"] = len(str(summary.get("transcript", "")).split()) if summary else None
    attention = summary.get("attention") or {}
    row.update({k: v for k, v in attention.items() if k in SUMMARY_COLUMNS})
    row.update({k: v for k, v in line["timings"].items() if k in SUMMARY_COLUMNS})
    return row


class SummaryFile:
    """One row per file, as each finishes: CSV (flushed each row, so a killed batch keeps its
    rows), or Parquet, written at the end (needs pyarrow). Owner-only."""

    def __init__(self, path: Path, inputs: Iterable[Path] = ()) -> None:
        self.path = path
        if any(path.exists() and path.samefile(p) for p in inputs if p.exists()):
            raise OverlayError(f"{path}: is one of the files to analyse; give --summary another name")
        if path.suffix.lower() not in (".csv", ".parquet"):
            raise OverlayError(f"{path}: the summary is written as .csv or .parquet; give --summary such a name")
        self._parquet = path.suffix.lower() == ".parquet"
        if self._parquet:
            try:
                import pyarrow  # noqa: F401
            except ImportError:
                raise OverlayError(
                    f"{path}: Parquet needs pyarrow (pip install pyarrow); or give a .csv name"
                ) from None
        self._rows: list[dict[str, Any]] = []
        self._handle: IO[str] | None = None
        try:
            if not self._parquet:
                create_private(path)
                self._handle = path.open("w", newline="", encoding="utf-8")
                self._csv = csv.DictWriter(self._handle, fieldnames=SUMMARY_COLUMNS)
                self._csv.writeheader()
                self._handle.flush()
        except OSError as err:
            raise OverlayError(f"{path}: cannot write the summary there ({err.strerror}); check the folder") from None

    def add(self, outcome: FileOutcome) -> None:
        row = summary_row(outcome)
        if self._handle is not None:
            self._csv.writerow({k: json.dumps(v) if isinstance(v, list) else v for k, v in row.items()})
            self._handle.flush()
        else:
            self._rows.append(row)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        elif self._parquet:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pylist(self._rows) if self._rows else pa.table({c: [] for c in SUMMARY_COLUMNS})
            partial = self.path.with_name(f".{self.path.name}.partial")
            create_private(partial)
            pq.write_table(table, partial)
            os.replace(partial, self.path)
            self._parquet = False


def read_summary_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))
