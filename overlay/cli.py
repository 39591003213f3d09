"""The `emotion-overlay` command line. The only module that prints or exits."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from overlay import __version__
from overlay.errors import OverlayError

if TYPE_CHECKING:
    from overlay.config import Config
    from overlay.fusion import FusionSettings
    from overlay.obs_connection import ObsAddress
    from overlay.pipeline import AudioSource, FrameSink, FrameSource, StateSink
    from overlay.timeline import TimelineWriter

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _eval(args: argparse.Namespace) -> int:
    """Score the bundled (or given) model of one modality and print the report."""
    # Imported here so that `--help` stays fast (onnxruntime and OpenCV take a while to load).
    from overlay import evaluation
    from overlay.face_model import FaceExpressionModel
    from overlay.text_model import TextEmotionModel
    from overlay.voice_model import VoiceEmotionModel

    if args.modality == "face":
        face_model = FaceExpressionModel(args.model, threads=args.threads)
        report = evaluation.evaluate_face(args.data, face_model, ferplus_votes=args.ferplus)
    elif args.modality == "voice":
        model = VoiceEmotionModel(args.model, threads=args.threads)
        report = evaluation.evaluate_voice(args.data, model, actors=args.actors)
    else:
        text_model = TextEmotionModel(args.model, threads=args.threads)
        report = evaluation.evaluate_text(args.data, text_model, as_transcripts=args.as_transcripts)
    print(json.dumps(report.to_json()) if args.json else evaluation.format_report(report))
    return EXIT_OK


MAX_FRAME_SIDE = 7680  # 8K UHD: no camera or virtual camera goes beyond it


def _frame_side(text: str) -> int:
    value = _positive_int(text)
    if not 16 <= value <= MAX_FRAME_SIDE:
        raise argparse.ArgumentTypeError(f"must be 16 to {MAX_FRAME_SIDE} pixels (8K), got {value}")
    return value


def _seconds_or_zero(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds, got {text}")
    return value


def _positive_seconds(text: str) -> float:
    value = _seconds_or_zero(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    return value


def _actor_set(text: str) -> frozenset[int]:
    """ "17-20" or "17,18,20" -> a set of RAVDESS actor numbers."""
    actors: set[int] = set()
    try:
        for part in text.split(","):
            low, _, high = part.partition("-")
            actors.update(range(int(low), int(high or low) + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected actor numbers like 17-20 or 17,19, got {text!r}") from None
    return frozenset(actors)


def _load_config(args: argparse.Namespace) -> Config:
    from overlay.config import load_config

    if args.config is not None and not args.config.is_file():
        raise OverlayError(f"{args.config}: no such config file; check the path given to --config")
    return load_config(args.config)


def _check_output_file(config: Config, force: bool) -> None:
    """`--sink file` never overwrites its own input, nor an existing file unless --force."""
    if "file" not in config.output.sinks:
        return
    out = Path(config.output.file)
    if out.is_dir():
        raise OverlayError(f"{out}: is a folder; pass --out with a file name ending in .mp4")
    if not out.exists():
        return
    camera = Path(config.camera.device)
    if camera.exists() and os.path.samefile(out, camera):
        raise OverlayError(f"{out}: is the input video itself; pass another --out so the input is not overwritten")
    if not force:
        raise OverlayError(f"{out}: already exists; pass --force to replace it or another --out")


def _open_source(camera: str, loop: bool, config: Config, on_event: Callable[[str, str], None]) -> FrameSource:
    """A video file as the camera, or a camera (by index or name) or OBS source that is reopened if it goes away."""
    from overlay.sources.camera import CameraSource
    from overlay.sources.camera_devices import resolve_camera
    from overlay.sources.obs_source import parse_obs_camera
    from overlay.sources.reconnecting import ReconnectingSource
    from overlay.sources.video_file import VIDEO_SUFFIXES, VideoFileSource

    obs_source = parse_obs_camera(camera)
    if obs_source is not None:
        return _open_obs_source(obs_source, config, on_event)
    path = Path(camera)
    if path.suffix.lower() in VIDEO_SUFFIXES or path.exists():
        return VideoFileSource(path, loop=loop)
    index = resolve_camera(camera)
    cam = config.camera
    return ReconnectingSource(lambda: CameraSource(index, cam.width, cam.height, cam.fps), on_event=on_event)


def _obs_address(config: Config) -> ObsAddress:
    """Where OBS listens, with the password from OBS_WEBSOCKET_PASSWORD or the config (never printed)."""
    from overlay.obs_connection import ObsAddress, resolve_password

    return ObsAddress(config.obs.host, config.obs.port, resolve_password(config.obs.password))


def _open_obs_source(name: str, config: Config, on_event: Callable[[str, str], None]) -> FrameSource:
    """`--camera obs:NAME`: frames by GetSourceScreenshot, reconnected like a camera when OBS goes away."""
    from overlay.sources.obs_source import ObsFrameSource
    from overlay.sources.reconnecting import ReconnectingSource

    address, obs = _obs_address(config), config.obs
    return ReconnectingSource(
        lambda: ObsFrameSource(address, name, width=obs.capture_width, fps=obs.capture_fps), on_event=on_event
    )


def _open_obs_sink(config: Config, on_event: Callable[[str, str], None], alone: bool) -> list[StateSink]:
    """The overlay as OBS sources; when other outputs run, one that cannot open is reported and they go on."""
    from overlay.sinks.obs import ObsOverlaySink, ObsSinkSettings

    obs = config.obs
    settings = ObsSinkSettings(_obs_address(config), obs.scene, obs.elements, obs.update_hz, obs.image_hz)
    try:
        return [ObsOverlaySink(settings, on_event=on_event)]
    except OverlayError as err:
        if alone:
            raise
        logging.getLogger("overlay.cli").warning("%s; going on with the other outputs", err)
        return []


def _obs_cleanup(config: Config) -> int:
    """`run --obs-cleanup`: remove the overlay's scene and sources from OBS, and the bars image."""
    from overlay.obs_connection import ObsConnection
    from overlay.obs_scene import remove_overlay
    from overlay.sinks.obs import default_bars_file

    with ObsConnection(_obs_address(config)) as connection:
        removed = remove_overlay(connection)
    default_bars_file().unlink(missing_ok=True)
    if removed:
        print(f"removed from OBS: {', '.join(removed)}")
    else:
        print("emotion-overlay: nothing of the overlay was in OBS", file=sys.stderr)
    return EXIT_OK


def _open_sinks(kinds: Sequence[str], out: Path, config: Config, source: FrameSource) -> list[FrameSink]:
    """The sinks asked for; the file and preview keep the source's size, the virtual camera has the configured one.

    When several are asked for, one that cannot open is reported and the others go on.
    """
    from overlay.sinks.preview import PreviewSink
    from overlay.sinks.video_file import VideoFileSink
    from overlay.sinks.virtual_camera import VirtualCameraSink

    openers: dict[str, Callable[[], FrameSink]] = {
        "file": lambda: VideoFileSink(out, source.width, source.height, source.fps),
        "vcam": lambda: VirtualCameraSink(config.camera.width, config.camera.height, source.fps),
        "preview": PreviewSink,
    }
    sinks: list[FrameSink] = []
    for kind in kinds:
        if kind == "obs":
            continue  # draws its own overlay from the state, not frames: _open_obs_sink
        try:
            sinks.append(openers[kind]())
        except OverlayError as err:
            if len(kinds) == 1:
                raise
            logging.getLogger("overlay.cli").warning("%s; going on with the other outputs", err)
    if not sinks and "obs" not in kinds:
        raise OverlayError("none of the outputs could be opened (see the warnings above)")
    return sinks


def _open_audio(microphone: str, source: FrameSource, on_event: Callable[[str, str], None]) -> AudioSource | None:
    """The sound to analyse: a video file's own track, a microphone, or none ("off").

    With "auto", a missing track or microphone turns voice off with a warning (the face goes
    on); a microphone asked for by name or index must open.
    """
    from overlay.audio_file import NoAudioTrackError, read_audio
    from overlay.microphones import resolve_microphone
    from overlay.sources.file_audio import FileAudioSource
    from overlay.sources.microphone import MicrophoneSource
    from overlay.sources.video_file import VideoFileSource, video_start_seconds

    log = logging.getLogger("overlay.cli")
    if microphone == "off":
        return None
    if microphone == "auto" and isinstance(source, VideoFileSource):
        try:
            clip = read_audio(source.path)
        except NoAudioTrackError as err:
            log.warning("%s", err)
            return None
        loop = source.duration_seconds if source.loop else None
        return FileAudioSource(clip, lambda: source.origin, video_start_seconds(source.path), loop_seconds=loop)
    try:
        return MicrophoneSource(resolve_microphone(None if microphone == "auto" else microphone), on_event=on_event)
    except OverlayError as err:
        if microphone != "auto":
            raise
        log.warning("%s; voice is off", err)
        return None


def _run(args: argparse.Namespace) -> int:
    from overlay.control import InstanceLock

    config = _run_config(args, _load_config(args))
    if args.obs_cleanup:
        return _obs_cleanup(config)
    lock = InstanceLock()
    lock.acquire()  # one overlay at a time: a second `run` or `start` says which one is running
    try:
        _check_output_file(config, args.force)
        return _run_locked(args, config)
    finally:
        lock.release()


def _run_locked(args: argparse.Namespace, config: Config) -> int:
    from overlay.control import ControlActions, ControlServer
    from overlay.face_stage import FaceStage, FaceStageSettings
    from overlay.face_tracking import FaceTrackingSettings
    from overlay.pipeline import LivePipeline
    from overlay.rendering import OverlaySettings
    from overlay.speech_process import SpeechProcess
    from overlay.voice_stage import VoiceStage, VoiceStageSettings

    landmarks = Path(config.face.landmarks) if config.face.landmarks else None
    tracking = FaceTrackingSettings(landmarks_path=landmarks)
    settings = FaceStageSettings(tracking=tracking, smoothing_half_life_s=config.face.smoothing_seconds)
    first_stage = FaceStage(settings)  # built now so that a missing model fails before any device opens
    spare = [first_stage]

    def make_stage() -> FaceStage:
        return spare.pop() if spare else FaceStage(settings)

    running: list[LivePipeline] = []  # the source reports camera loss into the pipeline's events

    def on_source_event(kind: str, detail: str) -> None:
        if running:
            running[0].record_event(kind, detail)

    voice_settings = VoiceStageSettings()
    spare_voice = [VoiceStage(voice_settings)] if config.audio.microphone != "off" else []

    def make_voice_stage() -> VoiceStage:
        return spare_voice.pop() if spare_voice else VoiceStage(voice_settings)

    spare_speech: list[SpeechProcess] = []

    def make_speech_stage() -> SpeechProcess:
        return spare_speech.pop() if spare_speech else SpeechProcess()

    source = _open_source(config.camera.device, args.loop, config, on_source_event)
    audio: AudioSource | None = None
    state_sinks: list[StateSink] = []
    try:
        audio = _open_audio(config.audio.microphone, source, on_source_event)
        sinks = _open_sinks(config.output.sinks, Path(config.output.file), config, source)
        if "obs" in config.output.sinks:
            state_sinks = _open_obs_sink(config, on_source_event, alone=not sinks)
        if audio is not None:
            spare_speech.append(SpeechProcess())  # its own process; a broken model fails here, before any frame
    except BaseException:
        source.close()
        if audio is not None:
            audio.close()
        for state_sink in state_sinks:
            state_sink.close()
        raise
    overlay_settings = OverlaySettings(**dataclasses.asdict(config.overlay), mirror=config.camera.mirror)
    from overlay.timeline import DiskFullError

    timeline, not_recorded = None, ""
    if config.timeline.record:
        try:
            timeline = _open_timeline(config, audio is not None)
        except DiskFullError as err:  # the video still goes on; the last line and exit status say so
            not_recorded = str(err)
            print(f"emotion-overlay: warning: {err}; no session is recorded, the video goes on", file=sys.stderr)
    pipeline = LivePipeline(
        source,
        make_stage,
        sinks,
        overlay_settings,
        audio=audio,
        make_voice_analyser=make_voice_stage,
        make_speech_analyser=make_speech_stage,
        fusion=_fusion_settings(config),
        timeline=timeline,
        thumbnails=config.timeline.thumbnails,
        state_sinks=state_sinks,
    )
    running.append(pipeline)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: pipeline.stop())
    microphone = config.audio.microphone if audio is not None else "off"

    def status() -> dict[str, Any]:
        return {"running": True, "camera": config.camera.device, "microphone": microphone, **pipeline.snapshot()}

    control = ControlServer(ControlActions(status, pipeline.pause, pipeline.resume, pipeline.stop))
    try:
        stats = pipeline.run(max_seconds=args.seconds)
    finally:
        control.close()
        if timeline is not None:
            if pipeline.recognizer_name:
                timeline.set_meta("recognizer", pipeline.recognizer_name)
            timeline.close(duration_s=pipeline.stats.seconds)
            if not timeline.rows_lost:
                print(f"emotion-overlay: session recorded in {timeline.path}", file=sys.stderr)
    voice = (
        f", {stats.voice_estimates} voice windows, {stats.utterances} utterances"
        if audio is not None
        else ", voice off"
    )
    print(
        f"emotion-overlay: {stats.frames_out} frames in {stats.seconds:.1f} s "
        f"({stats.frames_out / stats.seconds:.1f} fps out, {stats.analyses / stats.seconds:.1f} analyses/s{voice})",
        file=sys.stderr,
    )
    if not_recorded:
        print(f"emotion-overlay: error: no session was recorded: {not_recorded}", file=sys.stderr)
        return EXIT_FAILURE
    if timeline is not None and timeline.rows_lost:
        print(
            f"emotion-overlay: error: the session in {timeline.path} is incomplete: {timeline.rows_lost} rows "
            f"could not be written ({timeline.failure})",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    return EXIT_OK


def _start(args: argparse.Namespace) -> int:
    """`run` in the background with the same flags; returns once it answers (or says why it could not start)."""
    import subprocess
    import time

    from overlay.control import LOG_NAME, NotRunningError, call, clear_stale_state, is_running, read_state, runtime_dir

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


def _status(args: argparse.Namespace) -> int:
    from overlay.control import NotRunningError, call

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


def _control(args: argparse.Namespace) -> int:
    """pause / resume / stop the running process."""
    import time

    from overlay.control import call, is_running

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


def _doctor(args: argparse.Namespace) -> int:
    """Check what the overlay needs; exit 1 when something it cannot run without is missing."""
    from overlay.doctor import FAIL, run_checks

    checks = run_checks()
    if args.json:
        healthy = all(c.status != FAIL for c in checks)
        print(json.dumps({"checks": [dataclasses.asdict(c) for c in checks], "ok": healthy}))
    else:
        width = max(len(c.name) for c in checks)
        for check in checks:
            print(f"{check.status.upper():<4}  {check.name:<{width}}  {check.detail}")
            if check.fix:
                print(f"{'':<4}  {'':<{width}}  fix: {check.fix}")
    return EXIT_FAILURE if any(c.status == FAIL for c in checks) else EXIT_OK


def _service(args: argparse.Namespace) -> int:
    """The systemd user unit that starts the overlay at login (Linux)."""
    from overlay import service

    if not sys.platform.startswith("linux"):
        raise OverlayError("`service` sets up systemd on Linux; on macOS and Windows see installer/macos, /windows")
    if args.action == "status":
        print(service.status())
        return EXIT_OK
    if args.action == "install":
        result = service.install(start=not args.no_start, config=args.config)
    else:
        result = service.uninstall()
    done = "installed" if args.action == "install" else "removed"
    print(f"emotion-overlay service {done}: {result.unit}")
    if result.manual:
        print("systemd's user instance is not reachable from here; run:")
        for command in result.manual:
            print(f"  {command}")
    elif args.action == "install":
        print(f"logs: journalctl --user -u {service.UNIT_NAME}")
    return EXIT_OK


def _analyze(args: argparse.Namespace) -> int:
    """Analyse recordings; one summary per file, a bad file reported without stopping the others."""
    from overlay.analyze import AnalyzeSettings, analyze_files
    from overlay.face_stage import FaceStageSettings
    from overlay.face_tracking import FaceTrackingSettings
    from overlay.rendering import OverlaySettings

    config = _load_config(args)
    landmarks = Path(config.face.landmarks) if config.face.landmarks else None
    settings = AnalyzeSettings(
        video_out=(args.out or Path(".")) if args.video else None,
        face=FaceStageSettings(
            tracking=FaceTrackingSettings(landmarks_path=landmarks), smoothing_half_life_s=config.face.smoothing_seconds
        ),
        fusion=_fusion_settings(config),
        overlay=OverlaySettings(**dataclasses.asdict(config.overlay)),
        thumbnails=args.thumbnails or config.timeline.thumbnails,
    )
    if args.out is not None and not args.video:
        print("emotion-overlay: note: --out is where --video writes; no video asked for", file=sys.stderr)
    outcomes = analyze_files(args.files, settings, jobs=args.jobs, progress=_analysis_progress(args.files))
    failed = 0
    for outcome in outcomes:
        if outcome.summary is None:
            failed += 1
            print(f"emotion-overlay: error: {outcome.error}", file=sys.stderr)
            if args.json:
                print(json.dumps({"file": str(outcome.path), "error": outcome.error}))
            continue
        summary = outcome.summary.to_json()
        video = str(outcome.annotated_video) if outcome.annotated_video else None
        if args.json:
            print(json.dumps({"file": str(outcome.path), **summary, "annotated_video": video}))
        else:
            print(_format_summary(str(outcome.path), summary, video))
    return EXIT_FAILURE if failed else EXIT_OK


def _format_summary(name: str, summary: dict[str, Any], video: str | None) -> str:
    modalities = ", ".join(f"{m} {label or '-'}" for m, label in summary["modalities"].items())
    lines = [
        f"{name}: {summary['duration_s']:.1f} s, mostly {summary['dominant_emotion'] or '-'} "
        f"({summary['dominant_share'] * 100:.0f}% of the time); {modalities}",
        f"  blinks {summary['blinks']} ({summary['blinks_per_minute']:.1f}/min), "
        f"{summary['utterances']} utterances, {summary['disagreements']} disagreements",
    ]
    if summary["transcript"]:
        lines.append(f"  said: {summary['transcript']}")
    lines.append(f"  timeline: {summary['timeline']}")
    if video:
        lines.append(f"  video: {video}")
    return "\n".join(lines)


def _analysis_progress(paths: Sequence[Path]) -> Callable[[Path, float], None]:
    """One bar per file on stderr: redrawn in place on a terminal, else a line when a file is done."""
    done: dict[Path, float] = dict.fromkeys(paths, 0.0)
    terminal = sys.stderr.isatty()
    drawn = [False]

    def show(path: Path, fraction: float) -> None:
        if path not in done or (fraction - done[path] < 0.01 and fraction < 1.0):
            return
        finished_now = fraction >= 1.0 > done[path]
        done[path] = fraction
        if not terminal:
            if finished_now:
                print(f"emotion-overlay: analysed {path}", file=sys.stderr)
            return
        if drawn[0]:
            print(f"\x1b[{len(done)}A", end="", file=sys.stderr)  # back to the first bar
        for name, share in done.items():
            bar = "#" * round(share * 25)
            print(f"\r{name.name[:30]:<30} [{bar:<25}] {share * 100:3.0f}%\x1b[K", file=sys.stderr)
        drawn[0] = True

    return show


def _fusion_settings(config: Config) -> FusionSettings:
    from overlay.fusion import FusionSettings

    return FusionSettings(smoothing_half_life_s=config.fusion.smoothing_seconds, hysteresis=config.fusion.hysteresis)


def _open_timeline(config: Config, with_audio: bool) -> TimelineWriter:
    """A new session file for a live run, in the sessions folder."""
    from overlay.session_metadata import session_metadata
    from overlay.sessions import start_new_session

    microphone = config.audio.microphone if with_audio else None
    metadata = session_metadata("live", config.camera.device, microphone, config)
    writer: TimelineWriter = start_new_session("live", metadata)
    return writer


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
        output=dataclasses.replace(config.output, **given(sinks=sinks, file=args.out and str(args.out))),
        face=dataclasses.replace(
            config.face, **given(smoothing_seconds=args.smoothing, landmarks=args.landmarks and str(args.landmarks))
        ),
        obs=dataclasses.replace(
            config.obs,
            **given(host=args.obs_host, port=args.obs_port, scene=args.obs_scene, elements=args.obs_elements),
        ),
    )


def _devices(args: argparse.Namespace) -> int:
    from overlay.microphones import list_microphones
    from overlay.sources.camera_devices import list_cameras

    cameras = list_cameras()
    try:
        microphones = list_microphones()
        mic_problem = ""
    except OverlayError as err:
        microphones, mic_problem = [], str(err)
    if args.json:
        print(
            json.dumps(
                {
                    "cameras": [dataclasses.asdict(c) for c in cameras],
                    "microphones": [dataclasses.asdict(m) for m in microphones],
                    "problems": [mic_problem] if mic_problem else [],
                }
            )
        )
        return EXIT_OK
    print("Cameras (--camera INDEX or NAME):")
    for camera in cameras:
        print(f"  {camera.index:>3}  {camera.name}" + (f"  ({camera.path})" if camera.path else ""))
    if not cameras:
        print("  none found (a video file can stand in: --camera FILE.mp4)")
    print("Microphones (--mic INDEX or NAME):")
    for mic in microphones:
        default = "  [default]" if mic.is_default else ""
        details = f"{mic.host_api}, {mic.channels} ch, {mic.default_sample_rate:.0f} Hz"
        print(f"  {mic.index:>3}  {mic.name}  ({details}){default}")
    if mic_problem:
        print(f"  {mic_problem}")
    elif not microphones:
        print("  none found")
    return EXIT_OK


def _config_command(args: argparse.Namespace) -> int:
    from overlay.config import Config, config_path, load_config, to_toml

    path = args.config or config_path()
    if args.action == "path":
        print(path)
    elif args.action == "show":
        print(to_toml(load_config(path)), end="")
    elif args.action == "reset":
        if path.exists():
            from overlay.private_files import make_private

            path.replace(path.with_suffix(".toml.bak"))
            make_private(path.with_suffix(".toml.bak"))  # it may hold the OBS password too
            print(f"emotion-overlay: old settings kept in {path.with_suffix('.toml.bak')}", file=sys.stderr)
        _write_config(path, to_toml(Config()))
        print(path)
    else:  # edit
        if not path.exists():
            _write_config(path, to_toml(Config()))
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or ("notepad" if os.name == "nt" else "nano")
        import shlex
        import subprocess

        try:
            subprocess.run([*shlex.split(editor), str(path)], check=False)
        except FileNotFoundError:
            raise OverlayError(f"editor {editor!r} not found; set EDITOR, or edit {path} yourself") from None
        load_config(path)  # say at once if the edit broke it
        print(f"emotion-overlay: {path} is valid", file=sys.stderr)
    return EXIT_OK


def _write_config(path: Path, text: str) -> None:
    """The config is owner-only (it may hold the OBS password), in an owner-only folder."""
    from overlay.private_files import private_dir, write_private_text

    private_dir(path.parent)
    write_private_text(path, text)


def _models(args: argparse.Namespace) -> int:
    from overlay import model_store

    if args.action == "list":
        for spec in model_store.MANIFEST:
            where = model_store.installed_path(spec)
            state = f"installed: {where}" if where else "not installed"
            pin = "" if spec.pinned else " [no pinned checksum yet]"
            print(f"{spec.name}\n    {spec.description}{pin}\n    {state}\n    licence: {spec.licence}")
        print(f"(folder: {model_store.models_dir()})")
        return EXIT_OK
    if args.action == "verify":
        names = [args.name] if args.name else [s.name for s in model_store.MANIFEST]
        problems: list[str] = []
        checked = 0
        for name in names:
            spec = model_store.find_spec(name)
            if not args.name and model_store.installed_path(spec) is None:
                continue
            problems += model_store.verify(spec)
            checked += 1
        for problem in problems:
            print(f"emotion-overlay: {problem}", file=sys.stderr)
        print(f"{checked} model(s) checked, {len(problems)} problem(s)")
        return EXIT_FAILURE if problems else EXIT_OK
    if not args.name:
        raise OverlayError(f"`models {args.action}` needs a model name; see `emotion-overlay models list`")
    spec = model_store.find_spec(args.name)
    if args.action == "remove":
        model_store.remove(spec)
        print(f"removed {spec.name}")
        return EXIT_OK
    installed = model_store.pull(
        spec, archive=args.file, trust_unpinned=args.trust_unpinned, progress=_progress_bar(spec.name)
    )
    print(file=sys.stderr)
    if not spec.pinned:
        print(
            f"emotion-overlay: {spec.name} installed UNVERIFIED; its sha256 is {installed.download_sha256}",
            file=sys.stderr,
        )
    print(installed.path)
    return EXIT_OK


def _progress_bar(name: str) -> Callable[[int, int | None], None]:
    """A one-line progress display on stderr, redrawn at most every 1 %."""
    shown = [-1]

    def show(done: int, total: int | None) -> None:
        step = int(done * 100 / total) if total else done >> 20
        if step == shown[0]:
            return
        shown[0] = step
        if total:
            bar = "#" * (step // 4)
            line = f"\r{name} [{bar:<25}] {step:3d}% {done / 1e6:7.1f}/{total / 1e6:.1f} MB"
        else:
            line = f"\r{name} {done / 1e6:7.1f} MB"
        print(line, end="", file=sys.stderr, flush=True)

    return show


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be 0 (any free port) to 65535, got {value}")
    return value


def _review(args: argparse.Namespace) -> int:
    """Serve the review page on 127.0.0.1 until Ctrl-C or SIGTERM."""
    import threading
    import webbrowser

    from overlay.review_server import ReviewServer
    from overlay.sessions import resolve_session, sessions_dir

    folder, session_id = sessions_dir(), None
    if args.session:
        path = resolve_session(args.session).resolve()
        folder, session_id = path.parent, path.stem  # a session file elsewhere: review its folder
    try:
        server = ReviewServer(folder, port=args.port)
    except OSError as err:
        raise OverlayError(f"cannot listen on 127.0.0.1:{args.port} ({err.strerror}); try another --port") from None
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with server:
        url = server.url(session_id)
        print(url, flush=True)
        print(f"emotion-overlay: reviewing the sessions in {folder}; Ctrl-C stops", file=sys.stderr, flush=True)
        launcher = None
        if not args.no_browser:
            # The browser gets a one-time file, not the token: a command line is readable by
            # every local user (ps), the owner-only file is not. Removed once served or at exit.
            launcher = _write_browser_launcher(url)
            if not webbrowser.open(launcher.as_uri()):
                print("emotion-overlay: no web browser found; open the address above", file=sys.stderr)
        try:
            while not stop.wait(0.5):
                if launcher is not None and server.served_pages and launcher.exists():
                    launcher.unlink(missing_ok=True)
        finally:
            if launcher is not None:
                launcher.unlink(missing_ok=True)
    return EXIT_OK


def _write_browser_launcher(url: str) -> Path:
    """An owner-only HTML file in the state folder that sends the browser on to `url`."""
    import html
    import secrets

    from overlay.control import runtime_dir
    from overlay.private_files import write_private_text

    path = runtime_dir() / f"review-{secrets.token_hex(8)}.html"
    target = html.escape(url, quote=True)
    write_private_text(
        path,
        f'<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0; url={target}">'
        f'<title>emotion-overlay review</title><a href="{target}">Open the review page</a>\n',
    )
    return path


def _export(args: argparse.Namespace) -> int:
    from overlay.session_export import export_text, write_export
    from overlay.sessions import resolve_session
    from overlay.timeline import read_session

    path = resolve_session(args.session)
    name = f"{path.stem}.{args.format}"
    session = read_session(path)
    text = export_text(session, args.format, thumbnails=not args.no_thumbnails)
    if args.out is not None and str(args.out) == "-":  # the usual "standard output"
        sys.stdout.write(text)
        return EXIT_OK
    out = args.out or Path(name)
    if out.is_dir():
        out = out / name
    write_export(out, text, force=args.force)
    print(out)
    return EXIT_OK


def _sessions(args: argparse.Namespace) -> int:
    from overlay.sessions import format_length, list_sessions, listing_json, sessions_dir

    if args.action == "delete":
        return _delete_sessions(args.sessions, args.yes)
    listings = list_sessions()
    if args.json:
        print(json.dumps([listing_json(item) for item in listings]))
        return EXIT_OK
    if not listings:
        print(f"emotion-overlay: no sessions in {sessions_dir()}", file=sys.stderr)
        return EXIT_OK
    width = max(len(item.session_id) for item in listings)
    print(f"{'ID':<{width}}  {'STARTED':<19}  {'LENGTH':>7}  DOMINANT")
    for item in listings:
        started = item.started.replace("T", " ")[:19]
        length = "-" if item.problem else format_length(item.duration_s)
        what = f"unreadable: {item.problem}" if item.problem else (item.dominant or "-")
        print(f"{item.session_id:<{width}}  {started:<19}  {length:>7}  {what}")
    print(f"emotion-overlay: {len(listings)} session(s) in {sessions_dir()}", file=sys.stderr)
    return EXIT_OK


def _delete_sessions(references: Sequence[str], yes: bool) -> int:
    """Delete sessions given by full id or path, after a confirmation unless --yes."""
    from overlay.sessions import delete_session, resolve_session, sessions_dir
    from overlay.timeline import read_session

    folder = sessions_dir().resolve()
    paths: list[Path] = []
    for reference in references:
        path = resolve_session(reference)
        if path.stem != reference and not Path(reference).exists():
            raise OverlayError(f"{reference!r} is not a full session id; `emotion-overlay sessions list` shows them")
        if path.resolve().parent != folder:
            read_session(path)  # outside the sessions folder, only delete what surely is a session
        paths.append(path)
    paths = list(dict.fromkeys(paths))
    if not yes:
        if not sys.stdin.isatty():
            print("emotion-overlay: error: not deleting without confirmation; pass --yes", file=sys.stderr)
            return EXIT_USAGE
        try:
            answer = input(f"Delete {len(paths)} session(s): {', '.join(p.stem for p in paths)}? [y/N] ")
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            print("emotion-overlay: nothing deleted", file=sys.stderr)
            return EXIT_OK
    for path in paths:
        delete_session(path)
        print(f"deleted {path}")
    return EXIT_OK


def _add_eval_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument(
        "--model", type=Path, metavar="ONNX", help="another .onnx with its .json card (default: bundled)"
    )
    parser.add_argument("--threads", type=_positive_int, default=2, help="onnxruntime threads (default 2)")
    parser.set_defaults(handler=_eval)


def _add_run_options(run: argparse.ArgumentParser) -> argparse._ArgumentGroup:
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
        choices=("vcam", "file", "preview", "obs"),
        help="where the overlay goes (repeatable; default vcam); obs: as sources in an OBS scene",
    )
    run.add_argument("--out", type=Path, help="MP4 path for --sink file (default emotion-overlay.mp4)")
    run.add_argument("--force", action="store_true", help="replace an existing --out file (never the input)")
    run.add_argument("--width", type=_frame_side, help="camera and virtual camera width (default 1280)")
    run.add_argument("--height", type=_frame_side, help="camera and virtual camera height (default 720)")
    run.add_argument("--fps", type=_positive_int, help="camera rate asked for (default 30)")
    run.add_argument("--mirror", action=argparse.BooleanOptionalAction, help="selfie view")
    run.add_argument(
        "--smoothing", type=_seconds_or_zero, metavar="SECONDS", help="expression half-life (default 0.5; 0: off)"
    )
    run.add_argument(
        "--landmarks",
        type=Path,
        help="dlib 68-point landmark file (default /usr/share/dlib/shape_predictor_68_face_landmarks.dat)",
    )
    run.add_argument("--seconds", type=_positive_seconds, help="stop after this many seconds")
    obs = run.add_argument_group("OBS (--sink obs, --camera obs:SOURCE; password: OBS_WEBSOCKET_PASSWORD or config)")
    obs.add_argument("--obs-host", metavar="HOST", help="where OBS runs (default 127.0.0.1)")
    obs.add_argument("--obs-port", type=_port, metavar="PORT", help="OBS's WebSocket server port (default 4455)")
    obs.add_argument("--obs-scene", metavar="SCENE", help="scene to show the overlay in (default: the program scene)")
    obs.add_argument(
        "--obs-elements",
        type=_obs_elements,
        metavar="LIST",
        help="which OBS sources show, comma-separated from label,blinks,captions,bars (default all)",
    )
    return obs  # the OBS group, for flags of `run` alone


def _obs_elements(text: str) -> tuple[str, ...]:
    from overlay.config import OBS_ELEMENTS

    chosen = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [part for part in chosen if part not in OBS_ELEMENTS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"expected some of {','.join(OBS_ELEMENTS)}, got {text!r}")
    return chosen


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="emotion-overlay",
        description="Local, real-time emotion overlay: face, voice and words, fused and drawn on your video.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    parser.add_argument(
        "--config", type=Path, metavar="TOML", help="settings file (default: `emotion-overlay config path`)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

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
    _add_eval_options(face)
    voice = modalities.add_parser(
        "voice",
        help="score the voice emotion model on RAVDESS-named .wav/.flac files under DIR",
        description="Score the voice emotion model on RAVDESS-named audio files anywhere under DIR "
        "(03-01-EE-II-SS-RR-AA.wav|flac; the label comes from EE, calm counts as neutral). One prediction "
        "per file: the mean over its 2 s speech windows, as live.",
    )
    voice.add_argument("--data", type=Path, required=True, metavar="DIR", help="folder searched recursively")
    voice.add_argument("--actors", type=_actor_set, metavar="LIST", help="only these actors, e.g. 17-20")
    _add_eval_options(voice)
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
        help="first write each comment as a speech recogniser would (lower case, no punctuation or emoji)",
    )
    _add_eval_options(text)

    run = commands.add_parser(
        "run",
        help="the live overlay: camera -> analysis -> virtual camera / file / preview",
        description="Read the camera (or a video file played as one), draw the face analysis on every frame "
        "and send the result to the virtual camera, an MP4 file and/or a preview window. Settings come from "
        "the config file (`emotion-overlay config show`); flags override them. Ctrl-C or SIGTERM stops it.",
    )
    obs_flags = _add_run_options(run)
    obs_flags.add_argument(
        "--obs-cleanup", action="store_true", help="remove the overlay's scene and sources from OBS, then exit"
    )
    run.set_defaults(handler=_run)

    start = commands.add_parser(
        "start",
        help="`run` in the background (same flags); `status`, `pause`, `resume`, `stop` control it",
        description="Start the live overlay as a background process with the same flags as `run`, and return "
        "once it answers. Only one runs at a time. Its log goes to overlay.log in the state folder.",
    )
    _add_run_options(start)
    start.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for it to answer (default 60)")
    start.set_defaults(handler=_start)
    status = commands.add_parser("status", help="is the background overlay running, and how is it doing")
    status.add_argument("--json", action="store_true", help='print one JSON object ({"running": false} if not)')
    status.set_defaults(handler=_status)
    for name, summary in (
        ("stop", "stop the background overlay (its session is closed properly)"),
        ("pause", 'privacy switch: stop analysing, keep the video going (marked "analysis paused")'),
        ("resume", "analyse again after `pause`"),
    ):
        commands.add_parser(name, help=summary).set_defaults(handler=_control)

    analyze = commands.add_parser(
        "analyze",
        help="analyse recordings (MP4/MOV/WAV) into session timelines",
        description="Run the whole pipeline (face, blinks, voice, words, fusion) on recordings as fast as the "
        "machine allows. Each file gets its own session timeline in the sessions folder (`emotion-overlay "
        "sessions list`, `emotion-overlay review`); with --video also an annotated MP4 with the original sound. "
        "Several files are analysed in parallel, one per core. With --json, one JSON object per file per line.",
    )
    analyze.add_argument("files", nargs="+", type=Path, metavar="FILE", help="MP4, MOV, MKV, WAV, FLAC... files")
    analyze.add_argument("--video", action="store_true", help="also write <name>.annotated.mp4 (with the sound)")
    analyze.add_argument("--out", type=Path, metavar="DIR", help="folder for the annotated videos (default: .)")
    analyze.add_argument("--json", action="store_true", help="print each file's summary as one JSON line")
    analyze.add_argument("--jobs", type=_positive_int, help="files analysed at once (default: one per core)")
    analyze.add_argument("--thumbnails", action="store_true", help="keep small face pictures for the review page")
    analyze.set_defaults(handler=_analyze)

    service = commands.add_parser(
        "service",
        help="start at login (systemd user unit): install | uninstall | status",
        description="Install a systemd user unit that runs `emotion-overlay run` at login with the settings of the "
        "config file, restarts it on failure and logs to the journal.",
    )
    service.add_argument("action", choices=("install", "uninstall", "status"))
    service.add_argument("--no-start", action="store_true", help="install and enable, but do not start it now")
    service.set_defaults(handler=_service)

    doctor = commands.add_parser("doctor", help="check libraries, models, devices, OBS and the data folder")
    doctor.add_argument("--json", action="store_true", help="print one JSON object")
    doctor.set_defaults(handler=_doctor)

    devices = commands.add_parser("devices", help="list cameras and microphones")
    devices.add_argument("--json", action="store_true", help="print one JSON object")
    devices.set_defaults(handler=_devices)

    models = commands.add_parser(
        "models",
        help="upstream models: list | pull NAME | verify [NAME] | remove NAME",
        description="Fetch, check and remove the upstream models the app can use (Vosk speech recognisers, "
        "dlib's face landmarks). Each download is checked against a pinned sha256 before it is installed.",
    )
    models.add_argument("action", choices=("list", "pull", "verify", "remove"))
    models.add_argument("name", nargs="?", help="model name from `models list`")
    models.add_argument("--file", type=Path, help="install from an archive you downloaded yourself")
    models.add_argument("--trust-unpinned", action="store_true", help="install a model that has no pinned checksum")
    models.set_defaults(handler=_models)

    config = commands.add_parser("config", help="the settings file: path | show | edit | reset")
    config.add_argument("action", choices=("path", "show", "edit", "reset"))
    config.set_defaults(handler=_config_command)

    review = commands.add_parser(
        "review",
        help="review recorded sessions in the browser (127.0.0.1 only)",
        description="Serve the review page for the sessions folder on 127.0.0.1, print its address (with a "
        "one-time access token) and open it in the default browser. Ctrl-C or SIGTERM stops it.",
    )
    review.add_argument("session", nargs="?", metavar="SESSION", help="session id or file to open first")
    review.add_argument("--port", type=_port, default=0, help="port to listen on (default: any free port)")
    review.add_argument("--no-browser", action="store_true", help="only print the address")
    review.set_defaults(handler=_review)

    export = commands.add_parser(
        "export",
        help="write a session as CSV, JSON or a self-contained HTML report",
        description="Write one session as a CSV table (one row per measurement, a `table` column says which "
        "kind), the review JSON, or one HTML file that shows the charts and transcript offline.",
    )
    export.add_argument("session", metavar="SESSION", help="session id, file, or `latest`")
    export.add_argument("--format", required=True, choices=("csv", "json", "html"))
    export.add_argument(
        "--out", type=Path, help="file or folder to write, - for standard output (default: ./<session id>.<format>)"
    )
    export.add_argument("--force", action="store_true", help="replace an existing file")
    export.add_argument("--no-thumbnails", action="store_true", help="leave the face thumbnails out of an HTML report")
    export.set_defaults(handler=_export)

    sessions = commands.add_parser("sessions", help="recorded sessions: list | delete SESSION...")
    sessions_actions = sessions.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = sessions_actions.add_parser("list", help="id, start, length and dominant emotion of each session")
    listing.add_argument("--json", action="store_true", help="print one JSON list")
    delete = sessions_actions.add_parser("delete", help="delete sessions (asks first unless --yes)")
    delete.add_argument("sessions", nargs="+", metavar="SESSION", help="full session id or file")
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    sessions.set_defaults(handler=_sessions)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # OpenCV prints its own warnings (e.g. for an absent camera) before we can say it in one line.
    os.environ.setdefault("OPENCV_LOG_LEVEL", "FATAL")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # FFmpeg's own "moov atom not found" etc.
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # `start` hands its flags on to `run`
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="emotion-overlay: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.handler(args))
    except OverlayError as err:
        print(f"emotion-overlay: error: {err}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("emotion-overlay: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`... | head`): stop quietly, as other command-line tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
