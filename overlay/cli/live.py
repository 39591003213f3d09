"""The live commands: run, start (run in the background), status, pause, resume, stop."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from overlay.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    counted,
    load_config,
    positive_seconds,
)
from overlay.errors import OverlayError

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

    calibrate = bool(getattr(args, "calibrate", False))
    live = build_live(config, loop=args.loop, calibrate=calibrate)
    if calibrate:
        print("emotion-overlay: calibrating eye contact: look into the camera for 3 s", file=sys.stderr)
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
    heard = "".join(f", {counted(count, what)}" for what, count in stats.counts.items() if what != "analyses")
    voice = heard if live.microphone != "off" else ", voice off"
    skipped = int(getattr(pipeline.source, "frames_skipped", 0))  # a video file played slower than its rate
    late = f", {skipped} late frames of the file skipped to keep time" if skipped else ""
    print(
        f"emotion-overlay: {stats.frames_out} frames in {stats.seconds:.1f} s "
        f"({stats.frames_out / stats.seconds:.1f} fps out, "
        f"{stats.analyses / stats.seconds:.1f} analyses/s{voice}{late})",
        file=sys.stderr,
    )
    if live.not_recorded:
        print(f"emotion-overlay: error: no session was recorded: {live.not_recorded}", file=sys.stderr)
        return EXIT_FAILURE
    if live.video_out is not None and live.video_out.failure:
        return EXIT_FAILURE  # said when it happened, in one line; the other outputs went on
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
    if modalities.get("text"):
        active.append(f"words ({modalities['text']})")
    if modalities.get("delivery"):
        active.append(f"delivery ({modalities['delivery']})")
    if status["paused"]:
        active = ["nothing (analysis paused)"]
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
    from overlay.config import flagged_keys

    changes: dict[str, dict[str, Any]] = {}
    for section, spec in flagged_keys():
        value = getattr(args, _dest(section, spec.name), None)
        if value is not None:
            changes.setdefault(section, {})[spec.name] = (
                tuple(dict.fromkeys(value)) if isinstance(value, list) else value
            )
    return dataclasses.replace(
        config, **{section: dataclasses.replace(getattr(config, section), **keys) for section, keys in changes.items()}
    )


def _dest(section: str, key: str) -> str:
    return f"config__{section}__{key}"


# The group each section's flags are listed under in --help (None: with the rest).
_FLAG_GROUPS: dict[str, str | None] = {
    "output": "outputs and layouts (compact: a card away from the face; detailed: bars; clean: no overlay)",
    "overlay": "outputs and layouts (compact: a card away from the face; detailed: bars; clean: no overlay)",
    "obs": "OBS (--sink obs, --camera obs:SOURCE; password: OBS_WEBSOCKET_PASSWORD or config)",
}


def add_config_flags(parser: argparse.ArgumentParser) -> dict[str, argparse._ArgumentGroup]:
    """A flag for every config key that names one (overlay.config: its `flag` metadata), with the
    key's help, default and checks: the flags and the file cannot drift apart. The groups made."""
    from overlay.config import flagged_keys

    groups: dict[str, argparse._ArgumentGroup] = {}
    for section, spec in flagged_keys():
        title = _FLAG_GROUPS.get(section)
        target: Any = parser
        if title is not None:
            target = groups.get(title) or groups.setdefault(title, parser.add_argument_group(title))
        flag = spec.metadata["flag"]
        target.add_argument(flag["name"], dest=_dest(section, spec.name), **_flag_kind(spec, flag))
    return groups


def _flag_kind(spec: dataclasses.Field[Any], flag: dict[str, Any]) -> dict[str, Any]:
    default: Any = spec.default
    shown = ",".join(default) if isinstance(default, tuple) else {True: "on", False: "off"}.get(default, default)
    help_text = f"{spec.metadata.get('help', '')} (default {shown if shown != '' else 'none'})"
    if isinstance(default, bool):
        return {"action": argparse.BooleanOptionalAction, "help": help_text}
    kind: dict[str, Any] = {"help": help_text, "metavar": flag["metavar"] or spec.name.upper()}
    choices = flag["choices"] or spec.metadata.get("choices")
    if isinstance(default, tuple) and flag["repeat"]:
        return {**kind, "action": "append", "choices": choices, "metavar": None}
    if isinstance(default, str) and choices and not isinstance(default, tuple):
        return {**kind, "choices": choices, "metavar": None}
    return {**kind, "type": _checked(spec, flag["name"])}


def _checked(spec: dataclasses.Field[Any], name: str) -> Any:
    """The flag's text as the key's type, checked by the config's own rules."""
    from overlay.config import ConfigError, check_flag_value

    def convert(text: str) -> Any:
        value: Any = text
        if isinstance(spec.default, int) and not isinstance(spec.default, bool):
            try:
                value = int(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        elif isinstance(spec.default, float):
            try:
                value = float(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
            if not math.isfinite(value):
                raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        try:
            return check_flag_value(spec, name, value)
        except ConfigError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    return convert


def add_run_options(run: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """The flags of `run`, which `start` takes too (and hands on): the config's, and these."""
    groups = add_config_flags(run)
    run.add_argument("--loop", action="store_true", help="replay a video file from the start when it ends")
    run.add_argument("--force", action="store_true", help="replace an existing --out file (never the input)")
    run.add_argument("--seconds", type=positive_seconds, help="stop after this many seconds")
    return groups[_FLAG_GROUPS["obs"] or ""]  # the OBS group, for flags of `run` alone
