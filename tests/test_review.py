"""The review server and page as a user meets them: token, API, unreadable files, and the page in Chromium."""

from __future__ import annotations

import csv
import hashlib
import http.client
import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from overlay.labels import EMOTIONS
from overlay.session.review_server import ReviewServer
from tests import sessions_data
from tests.sessions_data import ARTIFACTS, SESSION_ID, DevTools, chromium, use_sessions_folder, write_session

CHARTS = ("fused", "face", "voice", "text", "valence-arousal", "blinks", "pace", "pitch", "eye-contact", "head")


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = use_sessions_folder(monkeypatch, tmp_path / "sessions")
    write_session(folder)
    return folder


@pytest.fixture
def server(folder: Path) -> Iterator[ReviewServer]:
    with ReviewServer(folder) as server:
        yield server


def get(server: ReviewServer, path: str) -> tuple[int, dict[str, str], bytes]:
    """GET a raw path (sent exactly as given, no normalising) from the server."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def api(server: ReviewServer, path: str) -> tuple[int, dict[str, str], bytes]:
    separator = "&" if "?" in path else "?"
    return get(server, f"{path}{separator}token={server.token}")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- access


def test_listens_on_localhost_only(server: ReviewServer) -> None:
    assert server.base_url.startswith("http://127.0.0.1:")
    assert server.url().startswith(f"{server.base_url}?token={server.token}")
    assert len(server.token) >= 32


@pytest.mark.parametrize("path", ["/", "/api/sessions", f"/api/sessions/{SESSION_ID}", "/assets/review.js"])
def test_refuses_requests_without_the_right_token(server: ReviewServer, path: str) -> None:
    for query in ("", "?token=", "?token=wrong-token", f"?token={server.token[:-1]}"):
        status, headers, body = get(server, path + query)
        assert status == 403, (path, query)
        assert headers["content-type"].startswith("text/plain")
        assert b"access token" in body
        assert SESSION_ID.encode() not in body


def test_serves_the_page_with_the_token(server: ReviewServer) -> None:
    status, headers, body = get(server, f"/?token={server.token}")
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    page = body.decode()
    assert f"assets/review.js?token={server.token}" in page  # the page passes the token on
    assert "connect-src 'self'" in headers["content-security-policy"]
    for asset in ("vendor/uPlot.iife.min.js", "vendor/uPlot.min.css", "review.css", "review.js"):
        status, _, _ = api(server, f"/assets/{asset}")
        assert status == 200, asset


def test_the_token_never_reaches_the_log(server: ReviewServer, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        api(server, "/")
        api(server, "/api/sessions")
        api(server, "/no/such/page")
        get(server, "/?token=wrong")
    assert "/api/sessions" in caplog.text  # requests are logged ...
    assert server.token not in caplog.text  # ... without the token


# ---------------------------------------------------------------- the API


def test_api_gives_the_session_with_its_series(server: ReviewServer) -> None:
    status, headers, body = api(server, f"/api/sessions/{SESSION_ID}")
    assert status == 200
    assert headers["content-type"].startswith("application/json")
    data = json.loads(body)
    n = int(sessions_data.DURATION_S * sessions_data.FACE_HZ)
    assert data["labels"] == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    assert len(data["fused"]["t"]) == n
    assert all(len(data["fused"]["p"][label]) == n for label in data["labels"])
    assert len(data["fused"]["valence"]) == len(data["fused"]["arousal"]) == n
    assert len(data["modalities"]["face"]["t"]) == n
    assert len(data["modalities"]["voice"]["t"]) == n // 5
    assert len(data["modalities"]["text"]["t"]) == len(sessions_data.UTTERANCES)
    assert [u["text"] for u in data["utterances"]] == [u[2] for u in sessions_data.UTTERANCES]
    assert [u["label"] for u in data["utterances"]] == [u[3] for u in sessions_data.UTTERANCES]
    kinds = [e["kind"] for e in data["events"] if e["kind"] != "looked_away"]
    assert kinds == [e[1] for e in sessions_data.EVENTS]
    attention = data["attention"]
    assert attention["measured"] and len(attention["t"]) == n and 0 < attention["threshold"] < 1
    assert attention["looked_away"] == [{"start": 45.0, "end": 48.0}]
    assert attention["yaw"][int(41.5 * sessions_data.FACE_HZ)] is None  # no face while the camera was lost
    assert len(data["blinks"]["events"]) == len(sessions_data.BLINK_TIMES) + 1
    rate = dict(zip(data["blinks"]["rate"]["t"], data["blinks"]["rate"]["per_minute"], strict=True))
    assert rate[0.0] is None  # too early to say
    assert rate[80.0] == pytest.approx(60 / 3.5, abs=1.1)  # one blink every 3.5 s
    assert len(data["thumbnails"]["t"]) == sessions_data.DURATION_S
    assert data["summary"]["utterances"] == len(sessions_data.UTTERANCES)
    assert data["summary"]["disagreements"] == 1


def test_api_lists_sessions(server: ReviewServer, folder: Path) -> None:
    write_session(folder, "2026-11-26_09-00-00_live", voice=False, text=False)
    status, _, body = api(server, "/api/sessions")
    assert status == 200
    sessions = json.loads(body)["sessions"]
    assert [s["id"] for s in sessions] == ["2026-11-26_09-00-00_live", SESSION_ID]  # newest first
    assert sessions[1]["duration_s"] == sessions_data.DURATION_S
    assert sessions[1]["dominant"] in EMOTIONS
    assert sessions[1]["started"].startswith("2026-11-25T20:31")
    assert all(s["problem"] is None for s in sessions)


def test_thumbnail_is_the_jpeg_nearest_the_time(server: ReviewServer) -> None:
    status, headers, body = api(server, f"/api/sessions/{SESSION_ID}/thumbnail?t=12.4")
    assert status == 200
    assert headers["content-type"] == "image/jpeg"
    assert body[:2] == b"\xff\xd8"
    status, _, _ = api(server, f"/api/sessions/{SESSION_ID}/thumbnail?t=soon")
    assert status == 400


def test_exports_are_downloads(server: ReviewServer) -> None:
    for fmt in ("csv", "json", "html"):
        status, headers, _ = api(server, f"/api/sessions/{SESSION_ID}/export.{fmt}")
        assert status == 200, fmt
        assert headers["content-disposition"] == f'attachment; filename="{SESSION_ID}.{fmt}"'
    rows = list(csv.DictReader(io.StringIO(api(server, f"/api/sessions/{SESSION_ID}/export.csv")[2].decode())))
    tables = {
        "fused",
        "face",
        "voice",
        "text",
        "blink",
        "utterance",
        "event",
        "word",
        "phrase",
        "pause",
        "filler",
        "attention",
    }
    assert {row["table"] for row in rows} == tables
    assert api(server, f"/api/sessions/{SESSION_ID}/export.pdf")[0] == 404


@pytest.mark.parametrize(
    "path",
    [
        "/assets/../review_server.py",
        "/assets/%2e%2e/review_server.py",
        "/assets/..%2f..%2fpyproject.toml",
        "/assets/%2fetc%2fpasswd",
        "/assets/vendor/../../session_export.py",
        "/assets/index.html/../../cli.py",
        "/api/sessions/..%2f..%2fetc%2fpasswd",
        "/api/sessions/%2e%2e",
        "/api/sessions/..%2foutside",
        "/api/sessions/outside",
    ],
)
def test_no_path_leads_outside_the_assets_and_the_sessions_folder(server: ReviewServer, path: str) -> None:
    write_session(server.folder.parent, "outside")  # a session next to the folder, not in it
    status, _, body = api(server, path)
    assert status == 404, path
    assert b"import" not in body and b"root:" not in body and b"p_happy" not in body


def test_unknown_session_is_a_clear_404(server: ReviewServer) -> None:
    status, _, body = api(server, "/api/sessions/2020-01-01_00-00-00_nothing")
    assert status == 404
    assert "no session called" in json.loads(body)["error"]


# ---------------------------------------------------------------- files that are not (our) sessions


@pytest.fixture
def broken(folder: Path) -> dict[str, Path]:
    return {
        "not sqlite": sessions_data.write_not_sqlite(folder),
        "foreign": sessions_data.write_foreign_sqlite(folder),
        "newer": sessions_data.write_newer_schema(folder),
    }


def test_unreadable_files_are_listed_with_the_reason_and_left_untouched(
    server: ReviewServer, broken: dict[str, Path]
) -> None:
    before = {name: digest(path) for name, path in broken.items()}
    status, _, body = api(server, "/api/sessions")
    assert status == 200
    listed = {s["id"]: s for s in json.loads(body)["sessions"]}
    assert listed[SESSION_ID]["problem"] is None  # the good one is still there
    problems = {name: listed[path.stem]["problem"] for name, path in broken.items()}
    assert "not a readable session file" in problems["not sqlite"]
    assert "not an emotion-overlay session" in problems["foreign"]
    assert "newer emotion-overlay" in problems["newer"]
    for name, path in broken.items():
        for route in ("", "/export.csv", "/export.html", "/thumbnail?t=1"):
            status, _, body = api(server, f"/api/sessions/{path.stem}{route}")
            assert status == 422, (name, route)
            assert json.loads(body)["error"] == f"{path}: {problems[name]}"
    assert {name: digest(path) for name, path in broken.items()} == before
    assert sorted(p.name for p in server.folder.iterdir() if "-wal" in p.name or "-shm" in p.name) == []


# ---------------------------------------------------------------- the page in a browser


def card_values(dom: str) -> dict[str, str]:
    """data-card -> the value shown on each summary card in the page's DOM."""
    pattern = r'data-card="([\w-]+)"><div class="card-title">[^<]*</div><div class="card-value">([^<]*)<'
    return dict(re.findall(pattern, dom))


def chart_points(dom: str) -> dict[str, int]:
    """data-chart -> data-points of each chart section in the page's DOM."""
    found = re.findall(r'<section class="chart[^"]*" data-chart="([^"]+)" data-points="(\d+)"', dom)
    return {name: int(points) for name, points in found}


def test_page_draws_the_session_in_chromium(server: ReviewServer, folder: Path, tmp_path: Path) -> None:
    sessions_data.write_not_sqlite(folder)
    screenshot = ARTIFACTS / "review_page.png"
    dom = chromium(server.url(SESSION_ID) + "&t=61", tmp_path, screenshot=screenshot)
    print(f"review page screenshot: {screenshot}")
    assert 'data-state="ready"' in dom
    assert f'data-session="{SESSION_ID}"' in dom
    points = chart_points(dom)
    assert set(points) == set(CHARTS)
    assert points["fused"] == points["face"] == int(sessions_data.DURATION_S * sessions_data.FACE_HZ)
    assert all(n > 0 for n in points.values()), points
    assert dom.count('data-drawn="1"') == len(CHARTS)
    assert dom.count('class="uplot') == len(CHARTS) and dom.count("<canvas") >= len(CHARTS)
    unmarked = re.sub(r"</?mark[^>]*>", "", dom)  # fillers are marked inside their utterance
    for _, _, text, _ in sessions_data.UTTERANCES:
        escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        assert escaped in unmarked  # shown as text, never as markup
    assert "<b>tags</b>" not in dom
    assert re.search(r'class="utterance active"[^>]*data-index="3"', dom)  # the utterance at 1:01
    assert 'id="thumbnail"' in dom and "thumbnail?t=61" in dom.replace("&amp;", "&")
    for fmt in ("csv", "json", "html"):
        assert f"api/sessions/{SESSION_ID}/export.{fmt}?token=" in dom
    assert "unreadable" in dom  # the damaged file is in the list, the page still works
    damaged = next(p.name for p in folder.glob("*.sqlite") if p.stem != SESSION_ID)
    assert f"{damaged}: " in dom  # named by its file, with the reason
    assert screenshot.stat().st_size > 10_000


def test_page_marks_absent_modalities_and_unreadable_sessions(
    server: ReviewServer, folder: Path, tmp_path: Path
) -> None:
    write_session(folder, "2026-11-26_09-00-00_silent", voice=False, text=False, thumbnails=False)
    dom = chromium(server.url("2026-11-26_09-00-00_silent"), tmp_path)
    points = chart_points(dom)
    assert points["voice"] == points["text"] == 0 and points["fused"] > 0
    assert "No voice readings in this session." in dom
    assert dom.count("<canvas") >= 4

    foreign = sessions_data.write_foreign_sqlite(folder)
    dom = chromium(server.url(foreign.stem), tmp_path)
    assert 'data-state="error"' in dom
    assert "not an emotion-overlay session" in dom


def test_a_paused_stretch_is_drawn_as_a_break_not_as_a_line(server: ReviewServer, folder: Path, tmp_path: Path) -> None:
    write_session(folder, "2026-11-27_09-00-00_paused", thumbnails=False, paused=(30.0, 45.0))
    dom = chromium(server.url("2026-11-27_09-00-00_paused"), tmp_path)
    gaps = dict(re.findall(r'data-chart="([\w-]+)"[^>]*data-gaps="(\d+)"', dom))
    assert gaps["fused"] == gaps["face"] == gaps["valence-arousal"] == "1", gaps
    whole = chromium(server.url(SESSION_ID), tmp_path)
    assert set(re.findall(r'data-chart="fused"[^>]*data-gaps="(\d+)"', whole)) == {"0"}  # nothing missing


def test_page_without_the_token_shows_the_refusal(server: ReviewServer, tmp_path: Path) -> None:
    dom = chromium(server.base_url, tmp_path)
    assert "403 Forbidden" in dom
    assert "uplot" not in dom


def test_the_list_follows_changes_to_the_folder(server: ReviewServer, folder: Path) -> None:
    garbage = sessions_data.write_not_sqlite(folder)
    listed = {s["id"]: s for s in json.loads(api(server, "/api/sessions")[2])["sessions"]}
    assert listed[garbage.stem]["problem"]
    garbage.unlink()
    write_session(folder, garbage.stem)  # the same name, now a real session
    later = write_session(folder, "2026-11-27_08-00-00_new", text=False)
    listed = {s["id"]: s for s in json.loads(api(server, "/api/sessions")[2])["sessions"]}
    assert listed[garbage.stem]["problem"] is None and listed[garbage.stem]["duration_s"] == 90.0
    assert later.stem in listed
    later.unlink()
    assert later.stem not in {s["id"] for s in json.loads(api(server, "/api/sessions")[2])["sessions"]}


def test_clicks_and_zoom_move_every_chart_together(server: ReviewServer, tmp_path: Path) -> None:
    browser = DevTools(tmp_path)
    try:
        browser.open(server.url(SESSION_ID))

        def plot_area(chart: str) -> tuple[float, float, float, float]:
            box = browser.evaluate(
                f"(() => {{ const r = document.querySelector('[data-chart={chart}] .u-over')"
                ".getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()"
            )
            return box[0], box[1], box[2], box[3]

        def views() -> set[str]:
            return set(browser.evaluate("[...document.querySelectorAll('[data-view]')].map(c => c.dataset.view)"))

        assert views() == {"0.00-90.00"}
        # A click a quarter of the way along the fused chart picks that moment everywhere.
        left, top, width, height = plot_area("fused")
        x, y = left + width / 4, top + height / 2
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            browser.mouse(kind, x, y)
        selected = float(browser.evaluate("document.body.dataset.selected"))
        assert selected == pytest.approx(22.5, abs=0.5)
        # The cursor's label shows that moment (m:ss.s); a click lands within a pixel or so of 22.5 s.
        minutes, _, seconds = browser.evaluate("document.getElementById('cursor-time').textContent").partition(":")
        assert int(minutes) * 60 + float(seconds) == pytest.approx(selected, abs=0.06)
        assert "thumbnail?t=22" in browser.evaluate("document.getElementById('thumbnail').src")
        # Dragging across the face chart zooms all six charts to the same span; a double-click zooms out.
        left, top, width, height = plot_area("face")
        browser.mouse("mouseMoved", left + width * 0.5, top + height / 2)
        browser.mouse("mousePressed", left + width * 0.5, top + height / 2)
        for share in (0.55, 0.65, 0.75):
            browser.mouse("mouseMoved", left + width * share, top + height / 2)
        browser.mouse("mouseReleased", left + width * 0.75, top + height / 2)
        (zoomed,) = views()
        low, high = (float(v) for v in zoomed.split("-"))
        assert low == pytest.approx(45, abs=1) and high == pytest.approx(67.5, abs=1)
        assert float(browser.evaluate("document.body.dataset.selected")) == pytest.approx(22.5, abs=0.5)
        browser.mouse("mousePressed", x, y, clicks=2)
        browser.mouse("mouseReleased", x, y, clicks=2)
        assert views() == {"0.00-90.00"}
        # Clicking an utterance moves the cursor to it and highlights it.
        browser.evaluate("document.querySelectorAll('#transcript .utterance')[4].click()")
        assert browser.evaluate("document.body.dataset.selected") == "63.00"
        assert browser.evaluate("document.querySelector('#transcript .active').dataset.index") == "4"
        # A moment a hair before a whole second reads as that second rounded up (was "0:60.0" at 59.96 s).
        browser.evaluate("document.querySelectorAll('#transcript .utterance')[3].click()")
        assert browser.evaluate("document.body.dataset.selected") == "59.96"
        assert browser.evaluate("document.getElementById('cursor-time').textContent") == "1:00.0"
        # Hiding an emotion in the shared legend hides it in the four emotion charts.
        browser.evaluate("document.querySelector('.legend-item[data-label=happy]').click()")
        assert browser.evaluate("document.querySelectorAll('.u-legend .u-series.u-off').length") == 4
    finally:
        browser.close()


def test_the_delivery_panel_shows_the_figures_and_an_old_session_still_opens(
    server: ReviewServer, folder: Path, tmp_path: Path
) -> None:
    screenshot = ARTIFACTS / "review_delivery.png"
    dom = chromium(server.url(SESSION_ID), tmp_path, screenshot=screenshot, size="1400,2700")
    print(f"review page with the delivery panel: {screenshot}")
    assert 'data-delivery="measured"' in dom
    cards = card_values(dom)
    assert cards["pace"] == "108 wpm" and cards["fillers"] == "3" and cards["pauses"] == "5"
    assert cards["pitch"] == "7.9 st" and cards["talk"].startswith("30")
    points = chart_points(dom)
    assert points["pace"] > 0 and points["pitch"] > 0
    # Fillers marked on the transcript, and the pauses of a second or more between its lines.
    assert re.findall(r'<mark class="filler"[^>]*>([^<]*)</mark>', dom) == ["so,", "um,", "like,"]
    assert re.findall(r'class="pause-marker[^"]*"', dom).count('class="pause-marker long"') == 5
    old = sessions_data.write_old_session(folder)
    dom = chromium(server.url(old.stem), tmp_path)
    assert 'data-state="ready"' in dom and 'data-delivery="absent"' in dom
    assert "not measured" in dom and "recorded by an earlier version" in dom
    assert chart_points(dom)["pace"] == 0 and chart_points(dom)["fused"] > 0


def test_the_attention_panel_shows_eye_contact_and_head_and_an_old_session_still_opens(
    server: ReviewServer, folder: Path, tmp_path: Path
) -> None:
    screenshot = ARTIFACTS / "review_attention.png"
    dom = chromium(server.url(SESSION_ID), tmp_path, screenshot=screenshot, size="1400,3100")
    print(f"review page with the attention panel: {screenshot}")
    assert 'data-attention="measured"' in dom
    cards = card_values(dom)
    # 2 s of 90 without a face (the camera was lost); 3 s looking away of the 88 with one.
    assert cards["face-present"] == "98&nbsp;%" and cards["eye-contact"] == "97&nbsp;%" and cards["looked-away"] == "1"
    assert cards["head"].endswith("°") and cards["blink-rate"].endswith("/min")
    points = chart_points(dom)
    assert points["eye-contact"] == points["head"] == int(sessions_data.DURATION_S * sessions_data.FACE_HZ)
    old = sessions_data.write_old_session(folder, "2025-06-02_09-00-00_before-attention")
    dom = chromium(server.url(old.stem), tmp_path)
    assert 'data-state="ready"' in dom and 'data-attention="absent"' in dom
    assert "followed the eyes and head" in dom and chart_points(dom)["eye-contact"] == 0
