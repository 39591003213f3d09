"""What a session's timeline says about itself: when, from what, with which models and settings."""

from __future__ import annotations

import platform
import time
from typing import Any

from overlay import __version__
from overlay.attention.eye_contact import DEFAULT_EYE_CONTACT_MODEL
from overlay.config import without_secrets
from overlay.errors import OverlayError
from overlay.face.model import DEFAULT_FACE_MODEL
from overlay.models.bundled import ModelCard, bundled_model_path
from overlay.speech.text_model import DEFAULT_TEXT_MODEL
from overlay.voice.model import DEFAULT_VOICE_MODEL


def model_versions() -> dict[str, dict[str, str]]:
    """Name, version and sha256 of each bundled model, from its card."""
    versions: dict[str, dict[str, str]] = {}
    for modality, (folder, filename) in {
        "face": DEFAULT_FACE_MODEL,
        "voice": DEFAULT_VOICE_MODEL,
        "text": DEFAULT_TEXT_MODEL,
        "eye_contact": DEFAULT_EYE_CONTACT_MODEL,
    }.items():
        try:
            card = ModelCard.load(bundled_model_path(folder, filename).with_suffix(".json"))
        except OverlayError:
            continue  # the stage that needs it reports the missing model itself
        versions[modality] = {"name": card.name, "version": card.version, "sha256": card.sha256}
        if "threshold" in card.raw:  # eye contact: the session's shares are read at the threshold it ran with
            versions[modality]["threshold"] = str(card.raw["threshold"])
    return versions


def session_metadata(kind: str, source: str, microphone: str | None, settings: Any) -> dict[str, Any]:
    """The `session` entry of a timeline's meta table (JSON)."""
    return {
        "kind": kind,  # "live" or "recording"
        "source": source,
        "microphone": microphone,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "app_version": __version__,
        "host": platform.system(),
        "models": model_versions(),
        "settings": without_secrets(settings),  # the OBS password is stored only as "********"
    }
