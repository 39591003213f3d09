"""The live commands: run, start (run in the background), status, pause, resume, stop."""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from overlay.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    frame_side,
    load_config,
    obs_elements,
    port,
    positive_int,
    positive_seconds,
    seconds_or_zero,
)
from overlay.errors import OverlayError
from overlay.render import LAYOUTS
from overlay.sinks.base import SINKS

if TYPE_CHECKING:
    from overlay.config import Config


def run_command(args: argparse.Namespace) -> int:
    from overlay.app import check_output_file
    from overlay.control.lock import InstanceLock

    config = _run_config(args, load_config(args))
    if args.obs_cleanup:
        return _obs_cleanup(config)
    lock = InstanceLock()
    lock.acquire()  # one overlay at a time: a second `run` or `start` says which one is running
    try:
        check_output_file(config, args.force)
        return _run_locked(args, config)
    finally:
        lock.release()


def _run_locked(args: argparse.Namespace, config: Config) -> int:
    from overlay.app import build_live
    from overlay.control.server import ControlActions, ControlServer

    live = build_live(config, loop=args.loop)
    if live.not_recorded:
        print(
            f"emotion-overlay: warning: {live.not_recorded}; no session is recorded, the video goes on", file=sys.stderr
        )
    pipeline, timeline = live.pipeline, live.timeline
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: pipeline.stop())
    control = ControlServer(ControlActions(live.status, pipeline.pause, pipeline.resume, pipeline.stop))
    try:
        stats = pipeline.run(max_seconds=args.seconds)
    finally:
        control.close()
        for problem in live.finish():
            print(f"emotion-overlay: warning: {problem}", file=sys.stderr)
        if timeline is not None and not timeline.rows_lost:
            print(f"emotion-overlay: session recorded in {timeline.path}", file=sys.stderr)
    voice = (
        f", {stats.voice_estimates} voice windows, {stats.utterances} utterances"
        if live.microphone != "off"
        else ", voice off"
    )
    print(
        f"emotion-overlay: {stats.frames_out} frames in {stats.seconds:.1f} s "
        f"({stats.frames_out / stats.seconds:.1f} fps out, {stats.analyses / stats.seconds:.1f} analyses/s{voice})",
        file=sys.stderr,
    )
    if live.not_recorded:
        print(f"emotion-overlay: error: no session was recorded: {live.not_recorded}", file=sys.stderr)
        return EXIT_FAILURE
    if timeline is not None and timeline.rows_lost:
        print(
            f"emotion-overlay: error: the session in {timeline.path} is incomplete: {timeline.rows_lost} rows "
            f"could not be written ({timeline.failure})",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    return EXIT_OK


def _obs_cleanup(config: Config) -> int:
    """`run --obs-cleanup`: remove the overlay's scene and sources from OBS, and the bars image."""
    from overlay.obs.connection import ObsConnection, configured_address
    from overlay.obs.scene import remove_overlay
    from overlay.sinks.obs import default_bars_file

    with ObsConnection(configured_address(config.obs)) as connection:
        removed = remove_overlay(connection)
    default_bars_file().unlink(missing_ok=True)
    if removed:
        print(f"removed from OBS: {', '.join(removed)}")
    else:
        print("emotion-overlay: nothing of the overlay was in OBS", file=sys.stderr)
    return EXIT_OK


def start_command(args: argparse.Namespace) -> int:
    """`run` in the background with the same flags; returns once it answers (or says why it could not start)."""
    import subprocess
    import time

    from overlay.control.client import call
    from overlay.control.lock import LOG_NAME, NotRunningError, clear_stale_state, is_running, read_state, runtime_dir

    if is_running():
        state = read_state() or {}
        print(f"emotion-overlay is already running (pid {state.get('pid', '?')}); `emotion-overlay status` shows it")
        return EXIT_OK
    clear_stale_state()  # left by a process that was killed
    at = args.argv.index("start")
    command = [sys.executable, "-m", "overlay", *args.argv[:at], "run", *args.argv[at + 1 :]]
    log_path = runtime_dir() / LOG_NAME
    with open(log_path, "ab") as log:
        child = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise OverlayError(f"it stopped at once: {_last_line(log_path)} (log: {log_path})")
        try:
            status = call("/status", timeout=2.0)
        except NotRunningError:
            time.sleep(0.2)
            continue
        print(f"emotion-overlay started (pid {status['pid']}); log: {log_path}")
        if status.get("session"):
            print(f"session: {status['session']}")
        return EXIT_OK
    raise OverlayError(f"started (pid {child.pid}) but not answering after {args.timeout:.0f} s; see {log_path}")


def _last_line(path: Path) -> str:
    lines = [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    return lines[-1].removeprefix("emotion-overlay: ") if lines else "no output"


def status_command(args: argparse.Namespace) -> int:
    from overlay.control.client import call
    from overlay.control.lock import NotRunningError

    try:
        status = call("/status")
    except NotRunningError as err:
        print(json.dumps({"running": False}) if args.json else str(err))
        return EXIT_FAILURE
    if args.json:
        print(json.dumps(status))
        return EXIT_OK
    latency = status["latency_ms"]
    modalities = status["modalities"]
    active = [name for name in ("face", "voice") if modalities.get(name)]
    if modalities.get("words"):
        active.append(f"words ({modalities['words']})")
    print(
        f"emotion-overlay is running (pid {status['pid']}, up {status['uptime_s']:.0f} s)"
        + (", analysis PAUSED" if status["paused"] else "")
    )
    outputs = ", ".join(status["sinks"]) or "no output"
    print(f"  camera {status['camera']}, microphone {status['microphone']} -> {outputs}")
    print(
        f"  {status['output_fps']:.1f} fps out, added latency p50 {latency['p50']} ms / p95 {latency['p95']} ms, "
        f"CPU {status.get('cpu_percent', 0):.0f}% of one core"
    )
    print(f"  active: {', '.join(active) or 'nothing yet'}; showing: {status['fused'] or '-'}")
    print(f"  session: {status['session'] or 'not recorded'}")
    return EXIT_OK


def control_command(args: argparse.Namespace) -> int:
    """pause / resume / stop the running process."""
    import time

    from overlay.control.client import call
    from overlay.control.lock import is_running

    answer = call(f"/{args.command}", method="POST")
    if args.command == "stop":
        deadline = time.monotonic() + 15.0
        while is_running() and time.monotonic() < deadline:
            time.sleep(0.1)
        if is_running():
            raise OverlayError(f"pid {answer['pid']} did not stop within 15 s; end it with kill {answer['pid']}")
        print(f"emotion-overlay stopped (pid {answer['pid']})")
    else:
        print(f"analysis {'paused' if args.command == 'pause' else 'resumed'} (pid {answer['pid']})")
    return EXIT_OK


def _run_config(args: argparse.Namespace, config: Config) -> Config:
    """The config file's settings with the command line's flags laid over them."""

    def given(**flags: object) -> dict[str, Any]:
        return {key: value for key, value in flags.items() if value is not None}

    sinks = tuple(dict.fromkeys(args.sink)) if args.sink else None
    return dataclasses.replace(
        config,
        audio=dataclasses.replace(config.audio, **given(microphone=args.mic)),
        camera=dataclasses.replace(
            config.camera,
            **given(device=args.camera, width=args.width, height=args.height, fps=args.fps, mirror=args.mirror),
        ),
        output=dataclasses.replace(
            config.output,
            **given(
                sinks=sinks,
                file=args.out and str(args.out),
                vcam_layout=args.vcam_layout,
                preview_layout=args.preview_layout,
                file_layout=args.file_layout,
                obs_layout=args.obs_layout,
            ),
        ),
        overlay=dataclasses.replace(config.overlay, **given(layout=args.layout)),
        face=dataclasses.replace(
            config.face, **given(smoothing_seconds=args.smoothing, landmarks=args.landmarks and str(args.landmarks))
        ),
        obs=dataclasses.replace(
            config.obs,
            **given(host=args.obs_host, port=args.obs_port, scene=args.obs_scene, elements=args.obs_elements),
        ),
    )


def add_run_options(run: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """The flags of `run`, which `start` takes too (and hands on)."""
    run.add_argument(
        "--camera",
        metavar="INDEX|NAME|FILE|obs:SOURCE",
        help="camera index, (part of) its name, a video file, or a source in OBS (obs:Video Capture Device)",
    )
    run.add_argument(
        "--mic",
        metavar="auto|default|off|INDEX|NAME",
        help="sound to analyse (default auto: a video file's own track, else the default microphone)",
    )
    run.add_argument("--loop", action="store_true", help="replay a video file from the start when it ends")
    run.add_argument(
        "--sink",
        action="append",
        choices=tuple(SINKS),
        help="where the overlay goes (repeatable; default vcam): "
        + "; ".join(f"{name}: {spec.help}" for name, spec in SINKS.items()),
    )
    run.add_argument("--out", type=Path, help="MP4 path for --sink file (default emotion-overlay.mp4)")
    run.add_argument("--force", action="store_true", help="replace an existing --out file (never the input)")
    run.add_argument("--width", type=frame_side, help="camera and virtual camera width (default 1280)")
    run.add_argument("--height", type=frame_side, help="camera and virtual camera height (default 720)")
    run.add_argument("--fps", type=positive_int, help="camera rate asked for (default 30)")
    run.add_argument(
        "--mirror",
        action=argparse.BooleanOptionalAction,
        help="flip the picture like a selfie view; text stays readable",
    )
    layouts = run.add_argument_group("layouts (compact: a card away from the face; detailed: bars; clean: no overlay)")
    layouts.add_argument("--layout", choices=LAYOUTS, help="every output's layout (default: each output's own)")
    layouts.add_argument("--vcam-layout", choices=LAYOUTS, help="what the meeting sees (default compact)")
    layouts.add_argument("--preview-layout", choices=LAYOUTS, help="the preview window (default detailed)")
    layouts.add_argument("--file-layout", choices=LAYOUTS, help="the --sink file MP4 (default detailed)")
    layouts.add_argument("--obs-layout", choices=LAYOUTS, help="OBS: compact leaves the bars out (default compact)")
    run.add_argument(
        "--smoothing", type=seconds_or_zero, metavar="SECONDS", help="expression half-life (default 0.5; 0: off)"
    )
    run.add_argument(
        "--landmarks",
        type=Path,
        help="dlib 68-point landmark file (default /usr/share/dlib/shape_predictor_68_face_landmarks.dat)",
    )
    run.add_argument("--seconds", type=positive_seconds, help="stop after this many seconds")
    obs = run.add_argument_group("OBS (--sink obs, --camera obs:SOURCE; password: OBS_WEBSOCKET_PASSWORD or config)")
    obs.add_argument("--obs-host", metavar="HOST", help="where OBS runs (default 127.0.0.1)")
    obs.add_argument("--obs-port", type=port, metavar="PORT", help="OBS's WebSocket server port (default 4455)")
    obs.add_argument("--obs-scene", metavar="SCENE", help="scene to show the overlay in (default: the program scene)")
    obs.add_argument(
        "--obs-elements",
        type=obs_elements,
        metavar="LIST",
        help="which OBS sources show, comma-separated from label,blinks,captions,bars (default all)",
    )
    return obs  # the OBS group, for flags of `run` alone
