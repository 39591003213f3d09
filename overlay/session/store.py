"""Where sessions live, how they are found and listed: one timeline file each in the user's data folder.

The folder is `analyze --sessions DIR`, else $EMOTION_OVERLAY_SESSIONS, else `sessions` in
the platform's user data folder (~/.local/share/emotion-overlay/sessions on Linux), created
owner-only (0700). A session's
id is its file name without `.sqlite`: for a live run its start time, e.g.
`2026-11-25_20-31-07_live`; for an analysed recording its path in the batch and a hash of
its content, e.g. `interview-3f2a9c1b7d4e` (overlay.analysis.batch), so analysing it again
replaces it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import platformdirs

from overlay.errors import OverlayError
from overlay.session.reading import read_session
from overlay.session.schema import TimelineError, session_writer, writer_lock_path
from overlay.session.summary import summarize

logger = logging.getLogger(__name__)

SESSIONS_ENV: Final = "EMOTION_OVERLAY_SESSIONS"
SUFFIX: Final = ".sqlite"


def sessions_dir() -> Path:
    override = os.environ.get(SESSIONS_ENV)
    folder = (
        Path(override)
        if override
        else Path(platformdirs.user_data_dir("emotion-overlay", appauthor=False)) / "sessions"
    )
    return folder


def ensure_sessions_dir(folder: Path | None = None) -> Path:
    folder = folder or sessions_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(folder, 0o700)  # also when it existed: session data is the user's alone
    except OSError as err:
        raise OverlayError(
            f"{folder}: cannot create the sessions folder ({err.strerror}); check its permissions"
        ) from None
    return folder


def new_session_path(label: str, folder: Path | None = None, started: float | None = None) -> Path:
    """A fresh file name for a session that starts now (or at `started`, wall clock)."""
    folder = ensure_sessions_dir(folder)
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S", time.localtime(started))
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-.") or "session"
    path = folder / f"{stamp}_{safe}{SUFFIX}"
    counter = 2
    while path.exists():
        path = folder / f"{stamp}_{safe}-{counter}{SUFFIX}"
        counter += 1
    return path


def start_new_session(label: str, metadata: dict[str, Any], folder: Path | None = None, origin: float = 0.0) -> Any:
    """A TimelineWriter on a fresh session file: another process that took the same name in
    the same second (parallel analyses of files with one name) makes this one take the next."""
    from overlay.session.schema import SessionExistsError
    from overlay.session.timeline import TimelineWriter

    for _ in range(100):
        try:
            return TimelineWriter(new_session_path(label, folder), metadata, origin=origin)
        except SessionExistsError:
            continue
    raise OverlayError(f"cannot find a free session name for {label!r} in {folder or sessions_dir()}")


def list_session_files(folder: Path | None = None) -> list[Path]:
    """The session files, newest first: by the start time in a live session's name, else (an
    analysed recording's name says what it is, not when) by when the file was written."""
    folder = folder or sessions_dir()
    if not folder.is_dir():
        return []
    return sorted(folder.glob(f"*{SUFFIX}"), key=_when, reverse=True)


_STAMP = re.compile(r"^(\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2})_")


def _when(path: Path) -> tuple[float, str]:
    stamp = _STAMP.match(path.name)
    if stamp:
        with contextlib.suppress(ValueError):
            return time.mktime(time.strptime(stamp.group(1), "%Y-%m-%d_%H-%M-%S")), path.name
    try:
        return path.stat().st_mtime, path.name
    except OSError:  # removed meanwhile
        return 0.0, path.name


def resolve_session(reference: str | None, folder: Path | None = None) -> Path:
    """A session by id, by file path, or the newest one ("latest" or nothing given)."""
    if reference and (reference.endswith(SUFFIX) or os.sep in reference) and Path(reference).exists():
        return Path(reference)
    files = list_session_files(folder)
    if not files:
        raise OverlayError(
            f"no sessions in {folder or sessions_dir()}; "
            "record one with `emotion-overlay run` or `emotion-overlay analyze FILE`"
        )
    if reference in (None, "", "latest"):
        return files[0]
    assert reference is not None
    exact = [p for p in files if p.stem == reference]
    matches = exact or [p for p in files if reference in p.stem]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise OverlayError(f"no session called {reference!r}; `emotion-overlay sessions list` shows them")
    raise OverlayError(
        f"{reference!r} matches {len(matches)} sessions; give more of the id (`emotion-overlay sessions list`)"
    )


def delete_session(path: Path) -> None:
    """Remove a session file with its WAL side files; refused while a process records it."""
    writer = session_writer(path)
    if writer is not None:
        raise OverlayError(
            f"{path.stem} is being recorded by process {writer.get('pid', '?')} ({writer.get('command', '?')}); "
            "stop it first (`emotion-overlay stop`, or Ctrl+C where it runs)"
        )
    try:
        for side in (
            path,
            path.with_name(path.name + "-wal"),
            path.with_name(path.name + "-shm"),
            writer_lock_path(path),
        ):
            side.unlink(missing_ok=True)
    except OSError as err:
        raise TimelineError(f"{path}: cannot delete it ({err.strerror})") from None
    logger.info("deleted session %s", path)


@dataclass(frozen=True)
class SessionListing:
    session_id: str
    path: Path
    started: str
    duration_s: float
    dominant: str | None
    problem: str | None = None  # why it could not be read, for a damaged or foreign file


def format_length(seconds: float) -> str:
    """A session's length as m:ss or h:mm:ss."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


_ID_STAMP: Final = re.compile(r"^(\d{4}-\d{2}-\d{2})_(\d{2})-(\d{2})-(\d{2})")


def _started_from_name(path: Path) -> str:
    """The start time a session's id carries (its file name), else the file's modification time."""
    match = _ID_STAMP.match(path.stem)
    if match:
        day, hours, minutes, seconds = match.groups()
        return f"{day} {hours}:{minutes}:{seconds}"
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(path.stat().st_mtime))
    except OSError:
        return ""


def describe_session(path: Path) -> SessionListing:
    """One line of the sessions list; a file that cannot be read is described with the reason."""
    try:
        summary = summarize(read_session(path))
    except (TimelineError, sqlite3.Error, ValueError, KeyError, OSError) as err:
        logger.info("%s is unreadable: %s", path, err)
        reason = str(err).removeprefix(f"{path}: ")  # the listing already names the file
        return SessionListing(path.stem, path, _started_from_name(path), 0.0, None, problem=reason)
    started = summary.started or _started_from_name(path)
    return SessionListing(path.stem, path, started, summary.duration_s, summary.dominant)


def list_sessions(folder: Path | None = None) -> list[SessionListing]:
    """Every session file in the folder (newest first), readable or not."""
    return [describe_session(path) for path in list_session_files(folder)]


def listing_json(listing: SessionListing) -> dict[str, Any]:
    return {
        "id": listing.session_id,
        "path": str(listing.path),
        "started": listing.started,
        "duration_s": round(listing.duration_s, 2),
        "dominant": listing.dominant,
        "problem": listing.problem,
    }
