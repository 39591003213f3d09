"""The `emotion-overlay` entry point: parse, run the command's handler, turn errors into one line."""

from __future__ import annotations

import atexit
import contextlib
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
    # Whatever the user's umask (000 included), what the app creates - sessions, exports, videos,
    # the log and lock, their folders and missing parents - is owner-only; child processes inherit it.
    os.umask(os.umask(0o077) | 0o077)
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
    code = main()
    # Everything is closed and written by now. Tearing the interpreter down would only free
    # memory the system frees anyway, and with onnxruntime, dlib and PyAV loaded it took
    # 0.15 s of every stop on a busy machine; the exit handlers (logging's among them) still run.
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (`| head`) or stream
            stream.flush()
    os._exit(code)
