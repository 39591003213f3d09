"""The `emotion-overlay` command line. The only module that prints or exits."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from overlay import __version__
from overlay.errors import OverlayError

if TYPE_CHECKING:
    from overlay.pipeline import FrameSink, FrameSource

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _eval_face(args: argparse.Namespace) -> int:
    # Imported here so that `--help` stays fast (onnxruntime and OpenCV take a while to load).
    from overlay.evaluation import evaluate_face, format_report
    from overlay.face_model import FaceExpressionModel

    model = FaceExpressionModel(args.model, threads=args.threads)
    report = evaluate_face(args.data, model)
    print(json.dumps(report.to_json()) if args.json else format_report(report))
    return EXIT_OK


def _open_source(args: argparse.Namespace, on_event: Callable[[str, str], None]) -> FrameSource:
    """A video file as the camera, or a camera that is reopened if it goes away."""
    from overlay.sources.camera import CameraSource
    from overlay.sources.reconnecting import ReconnectingSource
    from overlay.sources.video_file import VideoFileSource

    if args.camera.isdigit():
        index = int(args.camera)
        return ReconnectingSource(lambda: CameraSource(index, args.width, args.height, args.fps), on_event=on_event)
    return VideoFileSource(Path(args.camera), loop=args.loop)


def _open_sinks(args: argparse.Namespace, source: FrameSource) -> list[FrameSink]:
    """The sinks asked for; the file keeps the source's size, the virtual camera has --width x --height."""
    from overlay.sinks.video_file import VideoFileSink
    from overlay.sinks.virtual_camera import VirtualCameraError, VirtualCameraSink

    kinds = list(dict.fromkeys(args.sink or ["vcam"]))
    sinks: list[FrameSink] = []
    for kind in kinds:
        if kind == "file":
            sinks.append(VideoFileSink(args.out, source.width, source.height, source.fps))
            continue
        try:
            sinks.append(VirtualCameraSink(args.width, args.height, source.fps))
        except VirtualCameraError as err:
            if len(kinds) == 1:
                raise
            logging.getLogger("overlay.cli").warning("%s; going on with the other sinks", err)
    return sinks


def _run(args: argparse.Namespace) -> int:
    from overlay.face_stage import FaceStage, FaceStageSettings
    from overlay.face_tracking import FaceTrackingSettings
    from overlay.pipeline import LivePipeline
    from overlay.rendering import OverlaySettings

    tracking = FaceTrackingSettings() if args.landmarks is None else FaceTrackingSettings(landmarks_path=args.landmarks)
    settings = FaceStageSettings(tracking=tracking, smoothing_half_life_s=args.smoothing)
    first_stage = FaceStage(settings)  # built now so that a missing model fails before any device opens
    spare = [first_stage]

    def make_stage() -> FaceStage:
        return spare.pop() if spare else FaceStage(settings)

    running: list[LivePipeline] = []  # the source reports camera loss into the pipeline's events

    def on_source_event(kind: str, detail: str) -> None:
        if running:
            running[0].record_event(kind, detail)

    source = _open_source(args, on_source_event)
    try:
        sinks = _open_sinks(args, source)
    except BaseException:
        source.close()
        raise
    pipeline = LivePipeline(source, make_stage, sinks, OverlaySettings(mirror=args.mirror))
    running.append(pipeline)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: pipeline.stop())
    stats = pipeline.run(max_seconds=args.seconds)
    print(
        f"emotion-overlay: {stats.frames_out} frames in {stats.seconds:.1f} s "
        f"({stats.frames_out / stats.seconds:.1f} fps out, {stats.analyses / stats.seconds:.1f} analyses/s)",
        file=sys.stderr,
    )
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="emotion-overlay",
        description="Local, real-time emotion overlay: face, voice and words, fused and drawn on your video.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
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
    face.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    face.add_argument("--model", type=Path, metavar="ONNX", help="another .onnx with its .json card (default: bundled)")
    face.add_argument("--threads", type=_positive_int, default=2, help="onnxruntime threads (default 2)")
    face.set_defaults(handler=_eval_face)

    run = commands.add_parser(
        "run",
        help="the live overlay: camera -> analysis -> virtual camera / file",
        description="Read the camera (or a video file played as one), draw the face analysis on every frame "
        "and send the result to the virtual camera and/or an MP4 file. Ctrl-C or SIGTERM stops it.",
    )
    run.add_argument("--camera", default="0", metavar="INDEX|FILE", help="camera index or a video file (default 0)")
    run.add_argument("--loop", action="store_true", help="replay a video file from the start when it ends")
    run.add_argument(
        "--sink", action="append", choices=("vcam", "file"), help="where frames go (repeatable; default vcam)"
    )
    run.add_argument("--out", type=Path, default=Path("emotion-overlay.mp4"), help="MP4 path for --sink file")
    run.add_argument("--width", type=_positive_int, default=1280, help="camera and virtual camera width (1280)")
    run.add_argument("--height", type=_positive_int, default=720, help="camera and virtual camera height (720)")
    run.add_argument("--fps", type=_positive_int, default=30, help="camera rate asked for (default 30)")
    run.add_argument("--mirror", action="store_true", help="selfie view")
    run.add_argument("--smoothing", type=float, default=0.5, metavar="SECONDS", help="expression half-life (0: off)")
    run.add_argument(
        "--landmarks",
        type=Path,
        help="dlib 68-point landmark file (default /usr/share/dlib/shape_predictor_68_face_landmarks.dat)",
    )
    run.add_argument("--seconds", type=float, help="stop after this many seconds")
    run.set_defaults(handler=_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # OpenCV prints its own warnings (e.g. for an absent camera) before we can say it in one line.
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # FFmpeg's own "moov atom not found" etc.
    parser = build_parser()
    args = parser.parse_args(argv)
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
