"""The `emotion-overlay` command line. The only module that prints or exits."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from overlay import __version__
from overlay.errors import OverlayError

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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
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
