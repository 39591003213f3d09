"""The user's eye-contact calibration, kept between runs (owner-only, in the user's data folder).

`run --calibrate` makes one (the user looks into the camera for a few seconds) and saves it
here; later runs and `start` use it until the next calibration. One that cannot be read, or
was made for another model's features, is set aside with a warning: the run goes on
uncalibrated rather than failing.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Final

import platformdirs

from overlay.attention.eye_contact import EyeContactCalibration
from overlay.files.private import private_dir, write_private_text

logger = logging.getLogger(__name__)

CALIBRATION_ENV: Final = "EMOTION_OVERLAY_CALIBRATION"  # another file (tests, a second person)
CALIBRATION_NAME: Final = "eye_contact_calibration.json"


def calibration_path() -> Path:
    override = os.environ.get(CALIBRATION_ENV)
    if override:
        return Path(override)
    return Path(platformdirs.user_data_dir("emotion-overlay", appauthor=False)) / CALIBRATION_NAME


def load_calibration(path: Path | None = None) -> EyeContactCalibration | None:
    path = path or calibration_path()
    try:
        return EyeContactCalibration.from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as err:
        logger.warning(
            "%s: the eye-contact calibration cannot be used (%s); run with --calibrate to make one", path, err
        )
        return None


def save_calibration(calibration: EyeContactCalibration, path: Path | None = None) -> Path:
    """Write it (owner-only); OSError (a read-only or full disk) is the caller's to report."""
    path = path or calibration_path()
    private_dir(path.parent)
    write_private_text(path, json.dumps(calibration.to_json(), indent=1) + "\n")
    return path
