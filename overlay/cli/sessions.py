"""Commands on recorded sessions: review, export, sessions list | delete."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from overlay.cli.common import EXIT_OK, EXIT_USAGE
from overlay.errors import OverlayError


def review_command(args: argparse.Namespace) -> int:
    """Serve the review page on 127.0.0.1 until Ctrl-C or SIGTERM."""
    import threading
    import webbrowser

    from overlay.session.review_server import ReviewServer
    from overlay.session.store import resolve_session, sessions_dir

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

    from overlay.control.lock import runtime_dir
    from overlay.files.private import write_private_text

    path = runtime_dir() / f"review-{secrets.token_hex(8)}.html"
    target = html.escape(url, quote=True)
    write_private_text(
        path,
        f'<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0; url={target}">'
        f'<title>emotion-overlay review</title><a href="{target}">Open the review page</a>\n',
    )
    return path


def export_command(args: argparse.Namespace) -> int:
    from overlay.session.captions import CAPTION_FORMATS
    from overlay.session.export import export_text, write_export
    from overlay.session.reading import read_session
    from overlay.session.store import resolve_session

    path = resolve_session(args.session)
    name = f"{path.stem}.{args.format}"
    session = read_session(path)
    text = export_text(session, args.format, thumbnails=not args.no_thumbnails)
    if args.format in CAPTION_FORMATS and not session.utterances:
        print(f"emotion-overlay: note: {path.stem} has no utterances; the captions are empty", file=sys.stderr)
    if args.out is not None and str(args.out) == "-":  # the usual "standard output"
        sys.stdout.write(text)
        return EXIT_OK
    out = args.out or Path(name)
    if out.is_dir():
        out = out / name
    write_export(out, text, force=args.force)
    print(out)
    return EXIT_OK


def sessions_command(args: argparse.Namespace) -> int:
    from overlay.session.store import format_length, list_sessions, listing_json, sessions_dir

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
    from overlay.session.reading import read_session
    from overlay.session.store import delete_session, resolve_session, sessions_dir

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
