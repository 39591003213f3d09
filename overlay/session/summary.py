"""A session in a few figures: what `analyze` prints, `sessions list` shows and the review page heads with.

One rule gives every dominant emotion, the fused one and each modality's (`dominant_of`):
the label with the highest mean probability over that series' rows. Its share is the
fraction of rows on which that label was on top. The same rule for all means a session
with one modality (a silent face clip) has the same fused and modality dominants; the
mean, unlike a count of top labels, also weighs how sure each reading was. Blink rate is
blinks per minute of the session; "eyes closed" spells are counted apart.

Delivery (pace, pauses, fillers, pitch range, loudness, talk share) follows overlay.delivery.figures;
a session recorded before delivery was measured (timeline schema 1) has None for each figure.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from overlay.attention.eye_contact import DEFAULT_EYE_CONTACT_MODEL
from overlay.attention.summary import AttentionSummary, looked_away_length, summarize_attention
from overlay.delivery.figures import DELIVERY_KEYS, DeliveryFigures, delivery_figures
from overlay.labels import EMOTIONS
from overlay.models.bundled import ModelCard, bundled_model_path
from overlay.records import Event
from overlay.session.reading import Series, Session


@dataclass(frozen=True)
class SessionSummary:
    session_id: str
    timeline: str
    started: str
    duration_s: float
    dominant: str | None  # fused
    dominant_share: float  # of the fused rows with that label
    modalities: dict[str, str | None]  # face / voice / text -> dominant label, None when absent
    mean_valence: float | None
    mean_arousal: float | None
    blinks: int
    blinks_per_minute: float
    eyes_closed: int
    utterances: int
    transcript: str
    recognizer: str | None
    disagreements: int
    events: dict[str, int]
    delivery: DeliveryFigures | None = None  # None: recorded before delivery was measured
    attention: AttentionSummary | None = None  # None: recorded before eyes and head were (schema < 3)

    def to_json(self) -> dict[str, Any]:
        delivery = self.delivery.to_json() if self.delivery is not None else dict.fromkeys(DELIVERY_KEYS)
        return {
            "session": self.session_id,
            "timeline": self.timeline,
            "started": self.started,
            "duration_s": round(self.duration_s, 2),
            "dominant_emotion": self.dominant,
            "dominant_share": round(self.dominant_share, 3),
            "modalities": self.modalities,
            "mean_valence": None if self.mean_valence is None else round(self.mean_valence, 3),
            "mean_arousal": None if self.mean_arousal is None else round(self.mean_arousal, 3),
            "blinks": self.blinks,
            "blinks_per_minute": round(self.blinks_per_minute, 1),
            "eyes_closed": self.eyes_closed,
            "utterances": self.utterances,
            "transcript": self.transcript,
            "recognizer": self.recognizer,
            "disagreements": self.disagreements,
            "events": self.events,
            **delivery,
            "attention": self.attention.to_json() if self.attention is not None else None,
        }


def dominant_of(series: Series) -> tuple[str | None, float]:
    """The label with the highest mean probability over the rows, and the share of rows on
    which it was on top; (None, 0.0) for an empty series."""
    if not len(series):
        return None, 0.0
    top = int(series.probabilities.mean(axis=0).argmax())
    return EMOTIONS[top], float(np.mean(series.probabilities.argmax(axis=1) == top))


def summarize(session: Session) -> SessionSummary:
    dominant, dominant_share = dominant_of(session.fused)
    modalities = {name: dominant_of(series)[0] for name, series in session.estimates.items()}
    blinks = sum(1 for b in session.blinks if b.kind == "blink")
    minutes = session.duration_s / 60.0
    rows = session.fused_rows
    recognizers = {u.recognizer for u in session.utterances}
    return SessionSummary(
        session_id=session.session_id,
        timeline=str(session.path),
        started=str(session.metadata.get("started", "")),
        duration_s=session.duration_s,
        dominant=dominant,
        dominant_share=dominant_share,
        modalities=modalities,
        mean_valence=float(np.mean([r.valence for r in rows])) if rows else None,
        mean_arousal=float(np.mean([r.arousal for r in rows])) if rows else None,
        blinks=blinks,
        blinks_per_minute=blinks / minutes if minutes > 0 else 0.0,
        eyes_closed=sum(1 for b in session.blinks if b.kind == "eyes_closed"),
        utterances=len(session.utterances),
        transcript=" ".join(u.text for u in session.utterances),
        recognizer=", ".join(sorted(recognizers)) or session.metadata.get("recognizer"),
        disagreements=sum(1 for e in session.events if e.kind == Event.DISAGREEMENT),
        events=dict(Counter(e.kind for e in session.events)),
        delivery=session_delivery(session),
        attention=session_attention(session, blinks),
    )


def session_delivery(session: Session) -> DeliveryFigures | None:
    if not session.measured_delivery:
        return None
    return delivery_figures(session.phrases, session.utterance_words(), session.duration_s)


def session_attention(session: Session, blinks: int) -> AttentionSummary | None:
    if session.schema_version < 3:
        return None
    spans = [looked_away_length(event.detail) for event in session.events if event.kind == Event.LOOKED_AWAY]
    lengths = [length for length in spans if length is not None]
    return summarize_attention(session.attention, eye_contact_threshold(session), lengths, blinks)


def eye_contact_threshold(session: Session) -> float:
    """The threshold the session ran with (its metadata), else the installed model's."""
    models = session.metadata.get("models", {})
    recorded = models.get("eye_contact", {}).get("threshold") if isinstance(models, dict) else None
    if recorded is not None:
        return float(recorded)
    card = ModelCard.load(bundled_model_path(*DEFAULT_EYE_CONTACT_MODEL).with_suffix(".json"))
    return float(card.raw["threshold"])
