"""Exports a user hands on: the CSV parses back, the JSON has the series, the HTML report works offline."""

from __future__ import annotations

import csv
import html
import io
import itertools
import json
import re
from pathlib import Path

import pytest

from overlay.errors import OverlayError
from overlay.labels import EMOTIONS
from overlay.session import export as session_export
from overlay.session.reading import Blink, Session, read_session
from tests import sessions_data
from tests.conftest import run_cli
from tests.sessions_data import ARTIFACTS, chromium, parse_captions, write_session

N_FUSED = int(sessions_data.DURATION_S * sessions_data.FACE_HZ)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    return read_session(write_session(tmp_path_factory.mktemp("sessions")))


def test_csv_parses_back_with_rows_of_every_table(session: Session) -> None:
    rows = list(csv.DictReader(io.StringIO(session_export.to_csv(session))))
    assert tuple(rows[0]) == session_export.CSV_COLUMNS
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["table"]] = counts.get(row["table"], 0) + 1
    assert counts == {
        "fused": N_FUSED,
        "face": N_FUSED,
        "voice": N_FUSED // 5,
        "text": len(sessions_data.UTTERANCES),
        "blink": len(sessions_data.BLINK_TIMES) + 1,
        "utterance": len(sessions_data.UTTERANCES),
        "event": len(sessions_data.EVENTS) + 1,  # and the look away
        "word": sum(len(u[2].split()) for u in sessions_data.UTTERANCES),
        "phrase": len(sessions_data.UTTERANCES),
        "pause": len(sessions_data.UTTERANCES) - 1,
        "filler": len(sessions_data.FILLERS),
        "attention": N_FUSED,
    }
    fused = [r for r in rows if r["table"] == "fused"]
    assert [float(r["t"]) for r in fused[:3]] == [0.0, 0.2, 0.4]
    assert sum(float(fused[100][f"p_{label}"]) for label in EMOTIONS) == pytest.approx(1.0, abs=1e-3)
    assert fused[100]["label"] in EMOTIONS and float(fused[100]["w_face"]) == 0.6
    utterances = [r for r in rows if r["table"] == "utterance"]
    assert [u["text"] for u in utterances] == [u[2] for u in sessions_data.UTTERANCES]  # quotes, commas survive
    assert utterances[0]["detail"] == "vosk" and float(utterances[0]["end"]) == 7.5
    events = [r for r in rows if r["table"] == "event" and r["kind"] != "looked_away"]
    assert [(float(e["t"]), e["kind"], e["detail"]) for e in events] == list(sessions_data.EVENTS)
    attention = [r for r in rows if r["table"] == "attention"]
    no_face = [r for r in attention if r["yaw"] == ""]  # the camera was lost: no face, empty cells
    assert len(no_face) == round((sessions_data.NO_FACE[1] - sessions_data.NO_FACE[0]) * sessions_data.FACE_HZ)
    assert all(r["eye_contact"] == "" for r in no_face) and float(attention[0]["eye_contact"]) == 0.85
    blinks = [r for r in rows if r["table"] == "blink"]
    assert {b["kind"] for b in blinks} == {"blink", "eyes_closed"}
    assert all(r["p_happy"] == "" for r in blinks)  # columns a table does not use stay empty


def test_json_has_the_summary_and_every_series(session: Session) -> None:
    data = json.loads(session_export.to_json(session))
    assert data["format"] == "emotion-overlay-session" and data["version"] == 1
    assert data["summary"]["session"] == sessions_data.SESSION_ID
    assert data["summary"]["blinks"] == len(sessions_data.BLINK_TIMES)
    assert len(data["fused"]["t"]) == len(data["fused"]["label"]) == N_FUSED
    assert set(data["modalities"]) == {"face", "voice", "text"}
    assert len(data["modalities"]["voice"]["p"]["happy"]) == N_FUSED // 5
    assert len(data["utterances"]) == len(sessions_data.UTTERANCES)
    assert data["metadata"]["source"] == "interview.mp4"
    assert data == session_export.session_data(session)  # the same JSON the review API gives


def test_blink_rate_is_per_minute_over_the_last_minute() -> None:
    blinks = [Blink(float(t), float(t) + 0.2, "blink") for t in range(0, 120, 3)]  # 20 a minute
    blinks.append(Blink(50.0, 52.0, "eyes_closed"))  # not a blink
    times, rates = session_export.blink_rate(blinks, 120.0)
    rate = dict(zip(times, rates, strict=True))
    assert rate[0.0] is None and rate[9.0] is None  # under 10 s: too little to say
    assert rate[30.0] == pytest.approx(20.0, abs=2.1)
    assert rate[90.0] == pytest.approx(20.0, abs=1.1)
    assert times[-1] == 120.0
    assert session_export.blink_rate([], 0.0) == ([], [])


def report_data(page: str) -> dict[str, object]:
    block = re.search(r'<script type="application/json" id="session-data">(.*?)</script>', page, re.S)
    assert block is not None
    data: dict[str, object] = json.loads(block.group(1))
    return data


def test_html_report_is_self_contained(session: Session) -> None:
    page = session_export.to_html(session)
    # Nothing that would load from elsewhere: no remote src/href/url(), no @import, and a policy forbidding it.
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert not re.search(r"""url\(\s*["']?\s*(https?:)?//""", page, re.I)
    assert "@import" not in page
    assert "default-src 'none'" in page
    assert '<script src="' not in page and "<link " not in page.replace('<link rel="icon" href="data:,">', "")
    data = report_data(page)
    expected = session_export.session_data(session)
    assert {k: v for k, v in data.items() if k != "thumbnail_images"} == expected
    images = data["thumbnail_images"]
    assert isinstance(images, dict) and len(images["src"]) == len(session.thumbnail_times)
    assert images["src"][0].startswith("data:image/jpeg;base64,/9j/")
    assert "<b>tags</b>" not in page  # utterance text cannot break out of the data block
    assert "uPlot" in page and "renderSession" in page  # the same view code as the live page


def test_html_report_can_leave_thumbnails_out(session: Session) -> None:
    page = session_export.to_html(session, thumbnails=False)
    assert "data:image/jpeg" not in page
    assert report_data(page)["thumbnails"] == {"t": []}


def test_html_report_draws_offline_in_chromium(session: Session, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    report.write_text(session_export.to_html(session), encoding="utf-8")
    screenshot = ARTIFACTS / "review_report.png"
    dom = chromium(f"{report.as_uri()}", tmp_path, screenshot=screenshot, size="1000,1600")
    print(f"HTML report screenshot: {screenshot}")
    assert 'data-state="ready"' in dom
    points = dict(re.findall(r'data-chart="([^"]+)" data-points="(\d+)"', dom))
    assert int(points["fused"]) == N_FUSED and all(int(n) > 0 for n in points.values())
    assert dom.count('data-drawn="1"') == 10 and dom.count("<canvas") >= 10  # with pace, pitch, eye contact, head
    assert html.escape(sessions_data.UTTERANCES[1][2]) in dom
    assert 'id="sidebar" hidden' in dom or 'id="sidebar" hidden=""' in dom  # one session: no list
    assert "works offline" in dom


def test_write_export_refuses_to_overwrite_unless_forced(tmp_path: Path) -> None:
    out = tmp_path / "a.csv"
    session_export.write_export(out, "first\n")
    with pytest.raises(OverlayError, match="already exists; pass --force"):
        session_export.write_export(out, "second\n")
    assert out.read_text() == "first\n"
    session_export.write_export(out, "second\n", force=True)
    assert out.read_text() == "second\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv"]
    with pytest.raises(OverlayError, match="cannot write the export"):
        session_export.write_export(tmp_path / "missing" / "a.csv", "x")


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_captions_export_reads_back_to_the_utterances_and_never_overwrites(
    fmt: str, tmp_path: Path, isolated_sessions: Path
) -> None:
    write_session(isolated_sessions)
    out = tmp_path / f"talk.{fmt}"
    result = run_cli(["export", sessions_data.SESSION_ID, "--format", fmt, "--out", str(out)])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out) and out.stat().st_mode & 0o777 == 0o600
    read = parse_captions(out.read_text(encoding="utf-8"), fmt)
    assert len(read) == len(sessions_data.UTTERANCES)
    for (start, end, lines), (said_start, said_end, words, _) in zip(read, sessions_data.UTTERANCES, strict=True):
        assert " ".join(lines) == words
        assert start == pytest.approx(said_start, abs=0.001) and end == pytest.approx(said_end, abs=0.001)
    assert all(a[0] < a[1] <= b[0] for a, b in itertools.pairwise(read))  # in order, none overlapping
    written = out.read_text(encoding="utf-8")
    to_stdout = run_cli(["export", sessions_data.SESSION_ID, "--format", fmt, "--out", "-"])
    assert to_stdout.returncode == 0 and to_stdout.stdout == written

    out.write_text("mine\n")
    again = run_cli(["export", sessions_data.SESSION_ID, "--format", fmt, "--out", str(out)])
    assert again.returncode == 1 and again.stderr.count("\n") == 1
    assert "already exists; pass --force" in again.stderr and out.read_text() == "mine\n"
    forced = run_cli(["export", sessions_data.SESSION_ID, "--format", fmt, "--out", str(out), "--force"])
    assert forced.returncode == 0, forced.stderr
    assert out.read_text(encoding="utf-8") == written
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]  # no temporary file left

    silent = write_session(isolated_sessions, "2026-11-26_09-00-00_silent", text=False, thumbnails=False)
    empty = run_cli(["export", silent.stem, "--format", fmt, "--out", str(tmp_path / f"silent.{fmt}")])
    assert empty.returncode == 0 and "has no utterances" in empty.stderr
    assert parse_captions((tmp_path / f"silent.{fmt}").read_text(encoding="utf-8"), fmt) == []
