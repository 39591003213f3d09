"""The local review web server: the sessions folder shown in the browser, on 127.0.0.1 only.

Every request must carry the server's random access token (`?token=`): the page's link has
it, the page passes it on to the assets and API calls it makes, and anything else gets 403.
That keeps other local users and web pages (which can reach 127.0.0.1 too) away from the
user's sessions. The token never goes into the log.

Routes (GET only):
    /                                     the page (`&session=ID` preselects a session)
    /assets/<name>                        the page's files (review_assets; nothing else)
    /api/sessions                         the list, unreadable files included with the reason
    /api/sessions/<id>                    the session's review data (session_export.session_data)
    /api/sessions/<id>/thumbnail?t=SEC    the JPEG nearest to that time
    /api/sessions/<id>/export.csv|json|html   a download

Session ids are only looked up among the files of the sessions folder, never used as paths.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import threading
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, quote, unquote, urlsplit

from overlay.session import export as session_export
from overlay.session.reading import read_session, read_thumbnail
from overlay.session.schema import TimelineError
from overlay.session.store import SessionListing, describe_session, list_session_files, listing_json, sessions_dir

logger = logging.getLogger(__name__)

HOST: Final = "127.0.0.1"
_CONTENT_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".csv": "text/csv; charset=utf-8",
    ".jpg": "image/jpeg",
}
_FORBIDDEN: Final = (
    "403 Forbidden: this page needs the link with its access token, as printed by `emotion-overlay review`.\n"
)
# The page loads its own files and API only; no other site can frame it or be reached from it.
_PAGE_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class Reply:
    status: HTTPStatus
    body: bytes
    content_type: str
    download_name: str | None = None


def _json_reply(value: Any, status: HTTPStatus = HTTPStatus.OK) -> Reply:
    body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Reply(status, body, "application/json; charset=utf-8")


def _error(status: HTTPStatus, message: str) -> Reply:
    return _json_reply({"error": message}, status)


def _file_stamp(path: Path) -> tuple[int, ...]:
    """Size and modification time of a session file and its WAL: what changes when it is written."""
    stamp: list[int] = []
    for file in (path, path.with_name(path.name + "-wal")):
        try:
            info = file.stat()
        except OSError:
            stamp += [-1, -1]
        else:
            stamp += [info.st_size, info.st_mtime_ns]
    return tuple(stamp)


class ReviewServer:
    """Serves the review page for one sessions folder; start() runs it in a background thread.

    Use as a context manager, or start()/close(); serve_forever() blocks instead (the CLI).
    """

    def __init__(self, folder: Path | None = None, port: int = 0, token: str | None = None) -> None:
        self.folder = folder or sessions_dir()
        self.token = token or secrets.token_urlsafe(24)
        self._httpd = ThreadingHTTPServer((HOST, port), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.review = self  # type: ignore[attr-defined]  # how the handler finds us
        self._thread: threading.Thread | None = None
        self._closed = False
        self.served_pages = 0  # authorised page loads: the browser has the token once this is 1
        self._listing_cache: dict[Path, tuple[tuple[int, ...], SessionListing]] = {}
        self._cache_lock = threading.Lock()

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def url(self, session_id: str | None = None) -> str:
        """The page's address with the access token (and a session to open first)."""
        url = f"{self.base_url}?token={self.token}"
        return url + (f"&session={quote(session_id)}" if session_id else "")

    def start(self) -> ReviewServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="review-server", daemon=True)
        self._thread.start()
        logger.info("review server listening on %s", self.base_url)
        return self

    def serve_forever(self) -> None:
        logger.info("review server listening on %s", self.base_url)
        self._httpd.serve_forever()

    def close(self) -> None:
        """Stop serving and free the port; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
        self._httpd.server_close()

    def __enter__(self) -> ReviewServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()

    # ------------------------------------------------------------ requests

    def authorised(self, query: dict[str, list[str]]) -> bool:
        given = query.get("token", [""])[0]
        return hmac.compare_digest(given.encode("utf-8"), self.token.encode("utf-8"))

    def reply(self, path: str, query: dict[str, list[str]]) -> Reply:
        """The answer to an authorised GET of `path` (still URL-encoded)."""
        parts = [unquote(p) for p in path.split("/")[1:]]
        if parts in ([""], ["index.html"]):
            self.served_pages += 1
            return self._page()
        if parts[0] == "assets":
            return self._asset("/".join(parts[1:]))
        if parts[:2] == ["api", "sessions"]:
            return self._api(parts[2:], query)
        return _error(HTTPStatus.NOT_FOUND, f"no such page: {path}")

    def _page(self) -> Reply:
        def asset_url(name: str) -> str:
            return f"assets/{name}?token={self.token}"

        page = session_export.render_page({"mode": "live"}, asset_url)
        return Reply(HTTPStatus.OK, page.encode("utf-8"), _CONTENT_TYPES[".html"])

    def _asset(self, name: str) -> Reply:
        # Only names listed from review_assets are served, so "..", absolute paths and the like match nothing.
        if name not in session_export.asset_names() or name == session_export.PAGE_TEMPLATE:
            return _error(HTTPStatus.NOT_FOUND, f"no such asset: {name}")
        content_type = _CONTENT_TYPES.get(Path(name).suffix, "application/octet-stream")
        return Reply(HTTPStatus.OK, session_export.read_asset(name), content_type)

    def _api(self, parts: list[str], query: dict[str, list[str]]) -> Reply:
        if not parts or parts == [""]:
            listed = [listing_json(item) for item in self._listings()]
            return _json_reply({"folder": str(self.folder), "sessions": listed})
        path = self._session_path(parts[0])
        if path is None:
            return _error(HTTPStatus.NOT_FOUND, f"no session called {parts[0]!r} in {self.folder}")
        try:
            if len(parts) == 1:
                return _json_reply(session_export.session_data(read_session(path)))
            if parts[1:] == ["thumbnail"]:
                return self._thumbnail(path, query)
            if len(parts) == 2 and parts[1].startswith("export."):
                return self._export(path, parts[1].removeprefix("export."))
        except TimelineError as err:
            return _error(HTTPStatus.UNPROCESSABLE_ENTITY, str(err))
        return _error(HTTPStatus.NOT_FOUND, f"no such page: /api/sessions/{'/'.join(parts)}")

    def _listings(self) -> list[SessionListing]:
        """The sessions list; a file is read again only when it (or its WAL) changed since the last request."""
        listings = []
        for path in list_session_files(self.folder):
            stamp = _file_stamp(path)
            with self._cache_lock:
                cached = self._listing_cache.get(path)
            if cached is None or cached[0] != stamp:
                cached = (stamp, describe_session(path))
                with self._cache_lock:
                    self._listing_cache[path] = cached
            listings.append(cached[1])
        return listings

    def _session_path(self, session_id: str) -> Path | None:
        # Any name a file can have (spaces, non-ASCII) is fine: only an exact match among the
        # folder's own session files is served, so nothing outside it can be named.
        if not session_id:
            return None
        return next((p for p in list_session_files(self.folder) if p.stem == session_id), None)

    def _thumbnail(self, path: Path, query: dict[str, list[str]]) -> Reply:
        try:
            t = float(query.get("t", ["0"])[0])
        except ValueError:
            return _error(HTTPStatus.BAD_REQUEST, "t must be a time in seconds")
        jpeg = read_thumbnail(path, t)
        if jpeg is None:
            return _error(HTTPStatus.NOT_FOUND, "this session has no thumbnails")
        return Reply(HTTPStatus.OK, jpeg, _CONTENT_TYPES[".jpg"])

    def _export(self, path: Path, fmt: str) -> Reply:
        if fmt not in session_export.FORMATS:
            return _error(HTTPStatus.NOT_FOUND, f"no export format {fmt!r}; use csv, json or html")
        text = session_export.export_text(read_session(path), fmt)
        return Reply(HTTPStatus.OK, text.encode("utf-8"), _CONTENT_TYPES[f".{fmt}"], f"{path.stem}.{fmt}")


class _Handler(BaseHTTPRequestHandler):
    server_version = "emotion-overlay-review"
    sys_version = ""

    @property
    def review(self) -> ReviewServer:
        review: ReviewServer = self.server.review  # type: ignore[attr-defined]
        return review

    def do_GET(self) -> None:  # the name http.server looks for
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if not self.review.authorised(query):
            self._send(Reply(HTTPStatus.FORBIDDEN, _FORBIDDEN.encode("utf-8"), "text/plain; charset=utf-8"))
            return
        try:
            reply = self.review.reply(url.path, query)
        except Exception:  # a bug must not take the server down; the page shows the error
            logger.exception("review server: %s failed", url.path)
            reply = _error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error (see the log)")
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Content-Security-Policy", _PAGE_POLICY)
        if reply.download_name:
            self.send_header("Content-Disposition", f'attachment; filename="{reply.download_name}"')
        self.end_headers()
        self.wfile.write(reply.body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # The request line holds the token: log the path alone.
        path = urlsplit(self.path).path if hasattr(self, "path") else "-"
        logger.info("%s %s -> %s", getattr(self, "command", "-"), path, code)

    def log_message(self, format: str, *args: Any) -> None:  # http.server's signature
        logger.info("review server: %s", (format % args).replace(self.review.token, "<token>"))
