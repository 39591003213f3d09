"""`emotion-overlay doctor`: is everything the overlay needs here, and if not, the exact fix.

Each check gives ok, warn (works, but something is missing or degraded) or fail (the
overlay cannot run as configured) with the fix spelled out. Checks never change anything.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import logging
import os
import shlex
import shutil
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from overlay.errors import OverlayError

logger = logging.getLogger(__name__)

OK, WARN, FAIL = "ok", "warn", "fail"
MIN_FREE_BYTES: Final = 1 << 30  # an hour-long session is ~10 MB; an annotated hour of video a few GB
LIBRARIES: Final = (  # (import name, distribution, why)
    ("numpy", "numpy", "arrays"),
    ("onnxruntime", "onnxruntime", "runs the three models"),
    ("cv2", "opencv-python", "camera, drawing, video files"),
    ("dlib", "dlib-bin", "face detection and landmarks"),
    ("av", "av", "sound and video of recordings"),
    ("sounddevice", "sounddevice", "the microphone"),
    ("pyvirtualcam", "pyvirtualcam", "the virtual camera"),
    ("tokenizers", "tokenizers", "the text model's tokenizer"),
    ("pocketsphinx", "pocketsphinx", "speech recognition when no Vosk or Whisper model is installed"),
    ("vosk", "vosk", "speech recognition with a Vosk model"),
    ("faster_whisper", "faster-whisper", "speech recognition with Whisper"),
    ("webrtcvad", "webrtcvad-wheels", "voice activity"),
)


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | warn | fail
    detail: str
    fix: str = ""


def run_checks() -> list[Check]:
    checks: list[Check] = []
    for check in (
        _python,
        *(_library_check(*spec) for spec in LIBRARIES),
        _config,
        _bundled_models,
        _landmarks,
        _speech_model,
        _camera,
        _microphone,
        _virtual_camera,
        _obs,
        _data_folder,
        _private_files,
        _state_folder,
    ):
        try:
            checks.append(check())
        except Exception as err:  # a check that breaks is itself a finding, not a crash
            logger.exception("doctor check failed")
            checks.append(Check(getattr(check, "__name__", "check").strip("_"), FAIL, f"{type(err).__name__}: {err}"))
    return checks


def _python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    return Check("python", OK, f"Python {version} ({sys.executable})")


def _library_check(module: str, distribution: str, why: str) -> Callable[[], Check]:
    def check() -> Check:
        try:
            importlib.import_module(module)
        except (ImportError, OSError) as err:
            return Check(module, FAIL, f"cannot be loaded ({err}); needed for {why}", _reinstall_fix(distribution))
        try:
            version = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            version = "?"
        return Check(module, OK, f"{distribution} {version}")

    check.__name__ = module
    return check


def _reinstall_fix(distribution: str) -> str:
    return f"{Path(sys.executable).parent / 'pip'} install --force-reinstall {distribution}"


def _config() -> Check:
    from overlay.config import config_path, load_config

    path = config_path()
    try:
        load_config(path)
    except OverlayError as err:
        return Check("config", FAIL, str(err), "emotion-overlay config edit (or config reset)")
    return Check("config", OK, f"{path}" + ("" if path.exists() else " (not written yet: defaults)"))


def _bundled_models() -> Check:
    from overlay.attention.eye_contact import DEFAULT_EYE_CONTACT_MODEL
    from overlay.face.model import DEFAULT_FACE_MODEL
    from overlay.models.bundled import bundled_model_path, load_verified_card
    from overlay.speech.text_model import DEFAULT_TEXT_MODEL
    from overlay.voice.model import DEFAULT_VOICE_MODEL

    found = []
    for folder, filename in (DEFAULT_FACE_MODEL, DEFAULT_VOICE_MODEL, DEFAULT_TEXT_MODEL, DEFAULT_EYE_CONTACT_MODEL):
        path = bundled_model_path(folder, filename)
        try:
            card = load_verified_card(path)
        except OverlayError as err:
            return Check("models", FAIL, str(err), "reinstall emotion-overlay (the package ships its models)")
        found.append(f"{card.name} {card.version}")
    return Check("models", OK, ", ".join(found) + " (sha256 verified)")


def _landmarks() -> Check:
    from overlay.config import load_config
    from overlay.face.dlib import LANDMARKS_HINT, default_landmarks_path

    try:
        configured = load_config().face.landmarks
    except OverlayError:
        configured = ""  # the config check reports that
    path = Path(configured) if configured else default_landmarks_path()
    if not path.is_file():
        return Check("landmarks", FAIL, f"dlib's 68-point landmark file is missing ({path})", LANDMARKS_HINT)
    return Check("landmarks", OK, str(path))


def _speech_model() -> Check:
    """Which recognizer `run` and `analyze` will use, and why (asr.choose's order)."""
    from asr.choose import plan_recognizer
    from asr.contract import RecognizerError
    from overlay.app import recognizer_settings
    from overlay.config import load_config
    from overlay.speech.stage import recognizer_choice

    try:
        settings = recognizer_settings(load_config())
    except OverlayError:
        from overlay.speech.stage import RecognizerSettings

        settings = RecognizerSettings()  # the config check reports that
    try:
        plan = plan_recognizer(recognizer_choice(settings))
    except RecognizerError as err:
        return Check("speech", FAIL, str(err))
    where = f" {plan.model.name}" if plan.model is not None else ""
    if plan.engine == "pocketsphinx":
        return Check(
            "speech",
            WARN,
            f"PocketSphinx: {plan.why}",
            "emotion-overlay models pull whisper-tiny.en",
        )
    return Check("speech", OK, f"{plan.engine.capitalize()}{where} ({plan.why})")


def _camera() -> Check:
    from overlay.sinks.virtual_camera import CARD_LABEL
    from overlay.sources.camera_devices import list_cameras

    cameras = [c for c in list_cameras() if c.name != CARD_LABEL]
    if not cameras:
        return Check(
            "camera", WARN, "no camera found", "plug one in (or give a video file: emotion-overlay run --camera FILE)"
        )
    return Check("camera", OK, ", ".join(f"{c.index}: {c.name}" for c in cameras))


def _microphone() -> Check:
    from overlay.sources.microphone_devices import list_microphones

    try:
        microphones = list_microphones()
    except OverlayError as err:
        return Check("microphone", WARN, str(err), "sudo apt-get install libportaudio2 (Linux)")
    if not microphones:
        return Check("microphone", WARN, "no microphone found: voice and words are off", "plug one in, or --mic off")
    default = next((m for m in microphones if m.is_default), microphones[0])
    return Check("microphone", OK, f"{len(microphones)} found; default: {default.name}")


def _virtual_camera() -> Check:
    from overlay.sinks.virtual_camera import CARD_LABEL
    from overlay.sources.camera_devices import list_cameras

    if sys.platform.startswith("linux"):
        ours = [c for c in list_cameras() if c.name == CARD_LABEL]
        if ours:
            return Check("virtual camera", OK, f"{ours[0].path} ({CARD_LABEL})")
        return Check(
            "virtual camera",
            WARN,
            f'no v4l2loopback device named "{CARD_LABEL}"; --sink vcam will fail (file, preview, obs work)',
            "sudo bash installer/linux/virtual-camera.sh",
        )
    return Check(
        "virtual camera", OK, "uses OBS's virtual camera on this system: install OBS Studio 28+ and start it once"
    )


def _obs() -> Check:
    host, port = "127.0.0.1", 4455
    try:
        from overlay.config import load_config

        obs = getattr(load_config(), "obs", None)
        if obs is not None:
            host, port = obs.host, obs.port
    except OverlayError:
        pass
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return Check("obs", OK, f"obs-websocket answers on {host}:{port}")
    except OSError:
        return Check(
            "obs",
            WARN,
            f"no obs-websocket on {host}:{port} (only needed for --sink obs / --camera obs:SOURCE)",
            "start OBS 28+ and enable Tools > WebSocket Server Settings > Enable",
        )


def _data_folder() -> Check:
    from overlay.session.store import sessions_dir

    folder = sessions_dir()
    existing = folder if folder.exists() else next((p for p in folder.parents if p.exists()), Path("/"))
    if folder.exists():
        mode = folder.stat().st_mode & 0o777
        if mode & 0o077:
            return Check("data folder", WARN, f"{folder} is readable by others ({oct(mode)})", f"chmod 700 {folder}")
        if not os.access(folder, os.W_OK):
            return Check("data folder", FAIL, f"{folder} is not writable", f"chown -R $USER {folder}")
    elif not os.access(existing, os.W_OK):
        return Check("data folder", FAIL, f"{folder} cannot be created ({existing} not writable)", f"mkdir -p {folder}")
    free = shutil.disk_usage(existing).free
    detail = f"{folder} ({free / 1e9:.1f} GB free)"
    if free < MIN_FREE_BYTES:
        return Check("data folder", WARN, detail + ": under 1 GB free", "free some disk space")
    return Check("data folder", OK, detail)


def _state_folder() -> Check:
    """Where the running process keeps its lock, log and control file."""
    from overlay.control.lock import runtime_dir

    try:
        return Check("state folder", OK, str(runtime_dir()))
    except OverlayError as err:
        return Check("state folder", FAIL, str(err))


def _private_files() -> Check:
    """Files with the user's data or secrets (the config may hold the OBS password) are owner-only."""
    from overlay.config import config_path
    from overlay.control.lock import runtime_dir
    from overlay.files.private import loose
    from overlay.session.store import list_session_files, sessions_dir

    config = config_path()
    candidates = [config, config.with_suffix(".toml.bak"), sessions_dir()]
    with contextlib.suppress(OverlayError):  # a state folder that cannot be made: its own finding
        candidates.append(runtime_dir())
    candidates += list_session_files()
    # The app's own parent folders too (one made under a loose umask lets others list the sessions).
    candidates += [folder.parent for folder in candidates[2:] if folder.parent.name == "emotion-overlay"]
    readable = list(dict.fromkeys(path for path in candidates if path.exists() and loose(path)))
    if readable:
        more = f" and {len(readable) - 3} more" if len(readable) > 3 else ""
        shown = ", ".join(str(p) for p in readable[:3]) + more
        fix = "chmod go-rwx " + " ".join(shlex.quote(str(p)) for p in readable)
        return Check("private files", WARN, f"readable by other users: {shown}", fix)
    return Check("private files", OK, "config, sessions and state are owner-only")
