"""The `emotion-overlay` entry point: parse, run the command's handler, turn errors into one line."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

from overlay.cli.common import EXIT_FAILURE
from overlay.cli.parser import build_parser
from overlay.errors import OverlayError


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
