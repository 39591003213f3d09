"""A session's attention in a few figures: face present, eye contact, looking away, blinks, head movement.

Computed from the timeline's attention rows (one per recorded face analysis, with or without
a face) and its blinks and looked-away events, the same way for a live session and an
analysed recording. Shares are of the time the face stage looked (rows), not of the
session's wall time, so a paused stretch counts for nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

# Blinks a minute of an adult at rest (Bentivoglio et al. 1997: 17 on average at rest; more
# while talking, fewer while reading or staring at a screen).
BLINK_BAND_PER_MINUTE: Final = (15.0, 20.0)


@dataclass(frozen=True)
class AttentionRows:
    """The attention rows of a session: NaN where there was no face (or no reading)."""

    t: npt.NDArray[np.float64]
    yaw: npt.NDArray[np.float64]
    pitch: npt.NDArray[np.float64]
    roll: npt.NDArray[np.float64]
    eye_contact: npt.NDArray[np.float64]  # probability of looking into the camera

    def __len__(self) -> int:
        return len(self.t)


def no_attention() -> AttentionRows:
    """The rows of a session without any (recorded before schema 3, or without video)."""
    empty = np.zeros(0, dtype=np.float64)
    return AttentionRows(empty, empty, empty, empty, empty)


@dataclass(frozen=True)
class AttentionSummary:
    face_present_share: float | None  # of the rows; None without rows (an old session, no video)
    eye_contact_share: float | None  # of the rows with a face
    looked_away: int  # spans longer than the look-away minimum
    looked_away_s: float
    blinks_per_minute: float | None
    blink_band: str | None  # "below", "within" or "above" the resting band
    head_movement_deg: float | None  # spread of where the head pointed: sqrt(std(yaw)^2 + std(pitch)^2)

    def to_json(self) -> dict[str, Any]:
        def rounded(value: float | None, digits: int) -> float | None:
            return None if value is None else round(value, digits)

        return {
            "face_present_share": rounded(self.face_present_share, 3),
            "eye_contact_share": rounded(self.eye_contact_share, 3),
            "looked_away": self.looked_away,
            "looked_away_s": round(self.looked_away_s, 1),
            "blinks_per_minute": rounded(self.blinks_per_minute, 1),
            "blink_band": self.blink_band,
            "blink_band_per_minute": list(BLINK_BAND_PER_MINUTE),
            "head_movement_deg": rounded(self.head_movement_deg, 1),
        }


def looked_away_detail(length_s: float, face_lost: bool) -> str:
    """A looked-away event's detail: its length first, which looked_away_length reads back."""
    return f"{length_s:.1f} s away from the camera" + (", face lost" if face_lost else "")


def looked_away_length(detail: str) -> float | None:
    try:
        return float(detail.split(" ", 1)[0])
    except ValueError:
        return None


def blink_band(per_minute: float | None) -> str | None:
    if per_minute is None:
        return None
    low, high = BLINK_BAND_PER_MINUTE
    return "below" if per_minute < low else "above" if per_minute > high else "within"


def summarize_attention(
    rows: AttentionRows,
    threshold: float,
    looked_away_lengths: list[float],
    blinks: int,
    face_minutes: float | None = None,
) -> AttentionSummary:
    """`threshold`: the eye-contact model's; `face_minutes`: the time a face was seen, for the
    blink rate (None: the time the rows with a face cover; blinks are only seen then)."""
    if not len(rows):
        return AttentionSummary(None, None, len(looked_away_lengths), float(sum(looked_away_lengths)), None, None, None)
    present = ~np.isnan(rows.yaw)
    with_reading = present & ~np.isnan(rows.eye_contact)
    eye_share = float(np.mean(rows.eye_contact[with_reading] >= threshold)) if with_reading.any() else None
    movement = float(np.hypot(np.std(rows.yaw[present]), np.std(rows.pitch[present]))) if present.sum() >= 2 else None
    if face_minutes is None:
        face_minutes = _face_seconds(rows.t, present) / 60.0
    per_minute = blinks / face_minutes if face_minutes > 0 else None
    return AttentionSummary(
        face_present_share=float(np.mean(present)),
        eye_contact_share=eye_share,
        looked_away=len(looked_away_lengths),
        looked_away_s=float(sum(looked_away_lengths)),
        blinks_per_minute=per_minute,
        blink_band=blink_band(per_minute),
        head_movement_deg=movement,
    )


def _face_seconds(t: npt.NDArray[np.float64], present: npt.NDArray[np.bool_], max_gap_s: float = 1.0) -> float:
    """The time covered by rows with a face: each such row counts until the next row (gaps over max_gap_s not)."""
    if len(t) < 2:
        return 0.0
    steps = np.diff(t)
    counted = (steps <= max_gap_s) & present[:-1]
    return float(steps[counted].sum())
