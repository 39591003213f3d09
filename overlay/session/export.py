"""A recorded session as data to show or hand on: the review JSON, a CSV table, a self-contained HTML report, captions.

The review page (overlay/session/review_assets) and the HTML export are one view: `render_page` fills
the same index.html template either with links to the live server's assets and API, or with
the assets and the session's data inlined, so the exported file opens offline and makes no
request at all (its Content-Security-Policy forbids them).

CSV layout: one long table, a row per measurement, with the columns of CSV_COLUMNS. The
`table` column says what a row is, and which columns it fills:

- fused: t, label, confidence, valence, arousal, p_<label> (7), w_face, w_voice, w_text
- face / voice / text: t, p_<label> (one modality's own reading)
- blink: t (start), end, kind ("blink" or "eyes_closed")
- utterance: t (start), end, text, label, p_<label> (its text emotion), detail (recognizer)
- event: t, kind ("disagreement", "camera_lost", "stage_restarted", "long_pause", ...), detail
- word: t (start), end, text (as the recognizer wrote it), confidence (-1: times spread over its utterance)
- phrase: t (start), end, pitch_hz (median), pitch_range_st, level_dbfs, kind ("monotone" or "")
- pause: t (start), end, kind ("long" from 2 s, else "pause")
- filler: t (start), end, text ("um", "you know", ...)
- attention: t, yaw, pitch, roll (degrees), eye_contact (probability of looking into the
  camera); empty angles and probability where no face was found

Times are seconds since the session began. Rows come grouped by table, in that order, each
group sorted by time. Other columns are left empty.

Captions (srt, vtt): the final utterances as subtitles, timed on the session's clock
(overlay.session.captions); the CLI's export writes them, the review page offers FORMATS only.

Blink rate in the review data: blinks per minute over the 60 s before each moment (over the
time so far while the session is younger than that; none in the first 10 s, too few to say).

Delivery in the review data (`delivery`; overlay.delivery.figures says how each figure is made):
the pace over the 30 s before each moment on the same kind of grid, the phrases with their pitch
and level, the pauses, the fillers with their times; each utterance gets its pace and where its
fillers are among its words (`fillers`: [index, count] of its whitespace-separated words).
A session recorded before delivery was measured has `delivery.measured` false and nothing else.

Attention in the review data (`attention`; overlay.attention): the head's yaw and pitch and the
eye-contact probability at each recorded moment (null without a face), the model's threshold,
and the looked-away spans; `measured` false for a session recorded before (timeline schema < 3).
"""

from __future__ import annotations

import base64
import csv
import io
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from overlay import __version__
from overlay.attention.summary import looked_away_length
from overlay.delivery.figures import (
    FigureSettings,
    is_word,
    monotone_flags,
    pace_series,
    pauses_between,
    utterance_fillers,
)
from overlay.delivery.fillers import find_fillers
from overlay.errors import OverlayError
from overlay.files.private import write_private_text
from overlay.labels import EMOTIONS, MODALITIES
from overlay.records import Event
from overlay.session.captions import CAPTION_FORMATS, captions_text
from overlay.session.reading import Blink, Series, Session, read_thumbnail
from overlay.session.summary import eye_contact_threshold, summarize

logger = logging.getLogger(__name__)

FORMATS: Final = ("csv", "json", "html")  # the review page's downloads too
EXPORT_FORMATS: Final = (*FORMATS, *CAPTION_FORMATS)
DATA_FORMAT: Final = "emotion-overlay-session"
DATA_VERSION: Final = 1
RATE_WINDOW_S: Final = 60.0
MIN_RATE_WINDOW_S: Final = 10.0
MAX_RATE_POINTS: Final = 1200
MAX_INLINED_THUMBNAILS: Final = 240

PROBABILITY_FIELDS: Final = tuple(f"p_{label}" for label in EMOTIONS)
CSV_COLUMNS: Final = (
    "table",
    "t",
    "end",
    "label",
    "confidence",
    "valence",
    "arousal",
    *PROBABILITY_FIELDS,
    "w_face",
    "w_voice",
    "w_text",
    "kind",
    "text",
    "detail",
    "pitch_hz",
    "pitch_range_st",
    "level_dbfs",
    "yaw",
    "pitch",
    "roll",
    "eye_contact",
)

# The page's files, relative to review_assets; the server serves these and nothing else.
PAGE_TEMPLATE: Final = "index.html"
STYLESHEETS: Final = ("vendor/uPlot.min.css", "review.css")
SCRIPTS: Final = ("vendor/uPlot.iife.min.js", "review.js")


# ---------------------------------------------------------------- the review data


def _rounded(values: npt.NDArray[Any], digits: int = 4) -> list[float]:
    return [float(v) for v in np.round(np.asarray(values, dtype=np.float64), digits)]


def _series_json(series: Series) -> dict[str, Any]:
    probabilities = series.probabilities
    return {
        "t": _rounded(series.t),
        "p": {label: _rounded(probabilities[:, i]) for i, label in enumerate(EMOTIONS)},
    }


def blink_rate(blinks: Iterable[Blink], duration_s: float) -> tuple[list[float], list[float | None]]:
    """Blinks per minute over a sliding 60 s window, on an even grid of at most MAX_RATE_POINTS times."""
    if duration_s <= 0:
        return [], []
    starts = np.sort(np.array([b.start for b in blinks if b.kind == "blink"], dtype=np.float64))
    step = max(1.0, duration_s / MAX_RATE_POINTS)
    grid = np.append(np.arange(0.0, duration_s, step), duration_s)
    window = np.minimum(grid, RATE_WINDOW_S)
    counts = np.searchsorted(starts, grid, side="right") - np.searchsorted(starts, grid - window, side="right")
    rates: list[float | None] = [
        round(float(n) * 60.0 / w, 2) if w >= MIN_RATE_WINDOW_S else None for n, w in zip(counts, window, strict=True)
    ]
    return _rounded(grid, 3), rates


def delivery_data(session: Session) -> dict[str, Any]:
    """The delivery part of the review data (see the module docstring)."""
    if not session.measured_delivery:
        return {"measured": False}
    settings = FigureSettings()
    phrases = session.phrases
    utterances = session.utterance_words()
    step = max(1.0, session.duration_s / MAX_RATE_POINTS)
    grid = np.append(np.arange(0.0, session.duration_s, step), session.duration_s)
    if session.duration_s <= 0:
        grid = np.zeros(0)
    wpm, _ = pace_series(phrases, utterances, grid.astype(np.float64), settings)
    monotone = monotone_flags([p.range_semitones for p in phrases], settings)
    return {
        "measured": True,
        "comfortable_wpm": list(settings.comfortable_wpm),
        "long_pause_s": settings.long_pause_s,
        "monotone_below_st": settings.monotone_below_st,
        "pace": {
            "t": _rounded(np.asarray(grid), 3),
            "wpm": [None if v is None else round(v, 1) for v in wpm],
            "window_s": settings.pace_window_s,
        },
        "phrases": [
            {
                "start": p.start,
                "end": p.end,
                "pitch_hz": p.pitch_hz,
                "range_st": None if p.range_semitones is None else round(p.range_semitones, 2),
                "monotone": flag,
                "level_dbfs": p.level_dbfs,
            }
            for p, flag in zip(phrases, monotone, strict=True)
        ],
        "pauses": [
            {"start": round(start, 3), "length": round(length, 3), "long": length >= settings.long_pause_s}
            for start, length in pauses_between(phrases)
        ],
        "fillers": [
            {"start": round(f.start, 3), "end": round(f.end, 3), "word": f.word} for f in utterance_fillers(utterances)
        ],
    }


def _utterance_delivery(text: str, start: float, end: float) -> dict[str, Any]:
    """An utterance's pace (its words over its span) and where its fillers are among its words."""
    tokens = text.split()
    words = sum(1 for t in tokens if is_word(t))
    return {
        "wpm": round(words * 60.0 / (end - start), 1) if end > start else None,
        "fillers": [[f.index, f.count] for f in find_fillers(tokens)],
    }


def session_data(session: Session, thumbnails: dict[str, list[Any]] | None = None) -> dict[str, Any]:
    """Everything the review page draws, as plain JSON: summary, series, transcript, events."""
    rows = session.fused_rows
    rate_t, rate = blink_rate(session.blinks, session.duration_s)
    data: dict[str, Any] = {
        "format": DATA_FORMAT,
        "version": DATA_VERSION,
        "labels": list(EMOTIONS),
        "id": session.session_id,
        "metadata": session.metadata,
        "summary": summarize(session).to_json(),
        "fused": {
            **_series_json(session.fused),
            "label": [r.label for r in rows],
            "confidence": [round(r.confidence, 4) for r in rows],
            "valence": [round(r.valence, 4) for r in rows],
            "arousal": [round(r.arousal, 4) for r in rows],
            "weights": {m: [round(r.weights.get(m, 0.0), 4) for r in rows] for m in MODALITIES},
        },
        "modalities": {m: _series_json(session.estimates[m]) for m in MODALITIES},
        "blinks": {
            "events": [{"start": b.start, "end": b.end, "kind": b.kind} for b in session.blinks],
            "rate": {"t": rate_t, "per_minute": rate, "window_s": RATE_WINDOW_S},
        },
        "utterances": [
            {
                "start": u.start,
                "end": u.end,
                "text": u.text,
                "recognizer": u.recognizer,
                "label": u.label,
                "p": dict(zip(EMOTIONS, (round(p, 4) for p in u.probabilities), strict=True)),
                **_utterance_delivery(u.text, u.start, u.end),
            }
            for u in session.utterances
        ],
        "events": [{"t": e.t, "kind": e.kind, "detail": e.detail} for e in session.events],
        "thumbnails": {"t": list(session.thumbnail_times)},
        "delivery": delivery_data(session),
        "attention": attention_data(session),
    }
    if thumbnails is not None:
        data["thumbnail_images"] = thumbnails
    return data


def _rounded_or_none(value: float, digits: int) -> float | None:
    """An attention value for JSON and CSV: NaN (no face) becomes None."""
    return None if np.isnan(value) else round(float(value), digits)


def attention_data(session: Session) -> dict[str, Any]:
    if session.schema_version < 3:
        return {"measured": False}
    rows = session.attention

    spans = []
    for event in session.events:
        length = looked_away_length(event.detail) if event.kind == Event.LOOKED_AWAY else None
        if length is not None:
            spans.append({"start": event.t, "end": round(event.t + length, 4)})
    return {
        "measured": True,
        "t": _rounded(rows.t),
        "yaw": [_rounded_or_none(v, 1) for v in rows.yaw],
        "pitch": [_rounded_or_none(v, 1) for v in rows.pitch],
        "eye_contact": [_rounded_or_none(v, 3) for v in rows.eye_contact],
        "threshold": eye_contact_threshold(session),
        "looked_away": spans,
    }


def to_json(session: Session) -> str:
    """The review data as one JSON document (what the review server's API gives)."""
    return json.dumps(session_data(session), ensure_ascii=False, separators=(",", ":"))


# ---------------------------------------------------------------- CSV


def _csv_rows(session: Session) -> Iterator[dict[str, Any]]:
    def probabilities(values: Iterable[float]) -> dict[str, Any]:
        return dict(zip(PROBABILITY_FIELDS, (round(float(v), 5) for v in values), strict=True))

    for row, p in zip(session.fused_rows, session.fused.probabilities, strict=True):
        weights = {f"w_{m}": row.weights.get(m, 0.0) for m in MODALITIES}
        yield {
            "table": "fused",
            "t": row.t,
            "label": row.label,
            "confidence": row.confidence,
            "valence": row.valence,
            "arousal": row.arousal,
            **probabilities(p),
            **weights,
        }
    for modality in MODALITIES:
        series = session.estimates[modality]
        for t, p in zip(series.t, series.probabilities, strict=True):
            yield {"table": modality, "t": float(t), **probabilities(p)}
    for blink in session.blinks:
        yield {"table": "blink", "t": blink.start, "end": blink.end, "kind": blink.kind}
    for u in session.utterances:
        text_fields = {"text": u.text, "label": u.label, "detail": u.recognizer}
        yield {"table": "utterance", "t": u.start, "end": u.end, **text_fields, **probabilities(u.probabilities)}
    for event in session.events:
        yield {"table": "event", "t": event.t, "kind": event.kind, "detail": event.detail}
    yield from _delivery_rows(session)
    yield from _attention_rows(session)


def _attention_rows(session: Session) -> Iterator[dict[str, Any]]:
    rows = session.attention
    if not len(rows):
        return

    for t, yaw, pitch, roll, contact in zip(rows.t, rows.yaw, rows.pitch, rows.roll, rows.eye_contact, strict=True):
        yield {
            "table": "attention",
            "t": float(t),
            "yaw": _rounded_or_none(yaw, 2),
            "pitch": _rounded_or_none(pitch, 2),
            "roll": _rounded_or_none(roll, 2),
            "eye_contact": _rounded_or_none(contact, 4),
        }


def _delivery_rows(session: Session) -> Iterator[dict[str, Any]]:
    settings = FigureSettings()
    for word in session.words:
        yield {"table": "word", "t": word.start, "end": word.end, "text": word.text, "confidence": word.confidence}
    monotone = monotone_flags([p.range_semitones for p in session.phrases], settings)
    for phrase, flag in zip(session.phrases, monotone, strict=True):
        span = phrase.range_semitones
        yield {
            "table": "phrase",
            "t": phrase.start,
            "end": phrase.end,
            "kind": "monotone" if flag else "",
            "pitch_hz": phrase.pitch_hz,
            "pitch_range_st": None if span is None else round(span, 2),
            "level_dbfs": phrase.level_dbfs,
        }
    for start, length in pauses_between(session.phrases):
        kind = "long" if length >= settings.long_pause_s else "pause"
        yield {"table": "pause", "t": round(start, 4), "end": round(start + length, 4), "kind": kind}
    for filler in utterance_fillers(session.utterance_words()):
        yield {"table": "filler", "t": filler.start, "end": filler.end, "text": filler.word}


def to_csv(session: Session) -> str:
    """The whole session as one long CSV table (layout: see the module docstring)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(_csv_rows(session))
    return out.getvalue()


# ---------------------------------------------------------------- the page and the HTML report


ASSETS_DIR: Final = Path(__file__).resolve().parent / "review_assets"


def asset_names() -> frozenset[str]:
    """Every file of the page (relative names with "/"), the only ones the server will serve."""
    return frozenset(
        path.relative_to(ASSETS_DIR).as_posix()
        for path in ASSETS_DIR.rglob("*")
        if path.is_file() and not path.name.startswith(".")
    )


def read_asset(name: str) -> bytes:
    """One of the page's files by its name from asset_names()."""
    if name not in asset_names():
        raise KeyError(name)
    return (ASSETS_DIR / name).read_bytes()


def _json_for_html(value: Any) -> str:
    """JSON safe inside a <script> block: no "</script>", "<!--" or line separators can end it early."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028")):
        text = text.replace(char, escaped)
    return text.replace("\u2029", "\\u2029")


def _inline_script(name: str) -> str:
    code = read_asset(name).decode("utf-8")
    if re.search(r"</script|<!--", code, re.IGNORECASE):
        raise ValueError(f"{name} cannot be inlined in a <script> element")  # a vendored file changed
    return f"<script>/* {name} */\n{code}\n</script>"


def render_page(
    config: dict[str, Any], asset_url: Callable[[str], str] | None, session: dict[str, Any] | None = None
) -> str:
    """The review page: assets linked at asset_url(name) (live), or inlined when asset_url is None (report)."""
    if asset_url is None:
        styles = "\n".join(f"<style>/* {n} */\n{read_asset(n).decode('utf-8')}\n</style>" for n in STYLESHEETS)
        scripts = "\n".join(_inline_script(n) for n in SCRIPTS)
    else:
        styles = "\n".join(f'<link rel="stylesheet" href="{asset_url(n)}">' for n in STYLESHEETS)
        scripts = "\n".join(f'<script src="{asset_url(n)}"></script>' for n in SCRIPTS)
    data = f'<script type="application/json" id="review-config">{_json_for_html(config)}</script>'
    if session is not None:
        data += f'\n<script type="application/json" id="session-data">{_json_for_html(session)}</script>'
    page = read_asset(PAGE_TEMPLATE).decode("utf-8")
    # index.html marks where the styles, data and scripts go; one template for the page and the report.
    for marker, text in (("<!--styles-->", styles), ("<!--data-->", data), ("<!--scripts-->", scripts)):
        page = page.replace(marker, text, 1)
    return page


# The exported file may not load anything: everything it shows is inside it.
_REPORT_POLICY: Final = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)


def _inlined_thumbnails(session: Session) -> dict[str, list[Any]]:
    """Up to MAX_INLINED_THUMBNAILS evenly spread thumbnails as data: URLs."""
    times = session.thumbnail_times
    if len(times) > MAX_INLINED_THUMBNAILS:
        picks = np.linspace(0, len(times) - 1, MAX_INLINED_THUMBNAILS).round().astype(int)
        times = tuple(times[i] for i in sorted(set(picks.tolist())))
    kept: dict[str, list[Any]] = {"t": [], "src": []}
    for t in times:
        jpeg = read_thumbnail(session.path, t)
        if jpeg:
            kept["t"].append(t)
            kept["src"].append("data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii"))
    return kept


def to_html(session: Session, thumbnails: bool = True) -> str:
    """One self-contained HTML file that shows the session as the review page does, offline."""
    images = _inlined_thumbnails(session) if thumbnails else {"t": [], "src": []}
    data = session_data(session, thumbnails=images)
    if not thumbnails:
        data["thumbnails"] = {"t": []}
    config = {"mode": "report", "exported": time.strftime("%Y-%m-%d %H:%M"), "version": __version__}
    page = render_page(config, None, data)
    policy = f'<meta http-equiv="Content-Security-Policy" content="{_REPORT_POLICY}">'
    return page.replace('<meta charset="utf-8">', f'<meta charset="utf-8">\n{policy}', 1)


def export_text(session: Session, fmt: str, thumbnails: bool = True) -> str:
    """The session in one of FORMATS."""
    if fmt == "csv":
        return to_csv(session)
    if fmt == "json":
        return to_json(session)
    if fmt == "html":
        return to_html(session, thumbnails=thumbnails)
    if fmt in CAPTION_FORMATS:
        return captions_text(session.utterances, fmt)
    raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")


def write_export(path: Path, text: str, force: bool = False, what: str = "the export") -> None:
    """Write an export whole (never half a file); an existing file is replaced only with force.

    `what` names the file in the error (analyze writes its captions through here too)."""
    if path.exists() and not force:
        raise OverlayError(f"{path} already exists; pass --force to replace it, or --out to pick another name")
    try:
        write_private_text(path, text)  # owner-only: an export holds the session (and face thumbnails)
    except OSError as err:
        raise OverlayError(f"{path}: cannot write {what} ({err.strerror}); check the folder") from None
