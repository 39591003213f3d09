"""Files and folders that hold the user's data or secrets: owner-only, whatever the umask.

Session timelines, exports (with face thumbnails), annotated videos, the config (which may
hold the OBS password) and its backup, and the state folder are created 0600 / 0700, so
other users of the machine cannot read them. `loose` is what `doctor` checks.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Final

PRIVATE_FILE: Final = 0o600
PRIVATE_DIR: Final = 0o700


def private_dir(folder: Path) -> Path:
    """Create `folder` (and parents) if needed and make it owner-only."""
    folder.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    os.chmod(folder, PRIVATE_DIR)
    return folder


def create_private(path: Path) -> None:
    """Create (or truncate) `path` as an owner-only file, for a writer that opens it by name next.

    Something that is not a regular file (/dev/null, a pipe) is left as it is."""
    if path.exists() and not path.is_file():
        return
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE))
    os.chmod(path, PRIVATE_FILE)  # an existing file keeps its old mode through O_CREAT


def write_private_text(path: Path, text: str) -> None:
    """Write `path` whole and owner-only: to a temporary name beside it, then renamed into place."""
    temporary = path.with_name(f".{path.name}.part")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.chmod(temporary, PRIVATE_FILE)
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def make_private(path: Path) -> None:
    """Owner-only permissions for an existing file or folder."""
    os.chmod(path, PRIVATE_DIR if path.is_dir() else PRIVATE_FILE)


def loose(path: Path) -> bool:
    """Whether others (group or world) may read or write `path`."""
    try:
        return bool(path.stat().st_mode & 0o077)
    except OSError:
        return False
