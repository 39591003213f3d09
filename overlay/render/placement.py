"""Where the compact card goes: the corner of the safe area farthest from the person's face.

The safe area is what every meeting app shows: the frame's central 16:9 part when the
camera is taller than 16:9 (a 4:3 or 1:1 camera is cropped to it in a 16:9 tile), inset by
a margin of 4 % of its shorter side (tiles have rounded corners). The card takes the
corner whose box is farthest from the primary face's box, and stays there until another
corner is clearly better (by `switch_gain` of the area's shorter side) or the face moves
under it, so that it does not jump from corner to corner as the head moves. When the face
fills the safe area (a portrait close-up), the corners of the whole frame (inset by the
margin) are used instead: never over the face.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from overlay.render.draw import OverlayState

Box = tuple[int, int, int, int]  # x, y, width, height

CORNERS: Final = ("top_right", "top_left", "bottom_right", "bottom_left")  # preference on ties
MEETING_ASPECT: Final = 16 / 9
MARGIN_FRACTION: Final = 0.04


def safe_area(width: int, height: int) -> Box:
    """The part of a width x height frame that meeting apps show, inset by the margin."""
    if width / height < MEETING_ASPECT:
        shown_h = round(width / MEETING_ASPECT)
        x, y, w, h = 0, (height - shown_h) // 2, width, shown_h
    else:
        x, y, w, h = 0, 0, width, height
    margin = round(MARGIN_FRACTION * min(w, h))
    return x + margin, y + margin, w - 2 * margin, h - 2 * margin


def areas(width: int, height: int) -> tuple[Box, Box]:
    """Where elements may go, in order of preference: the safe area, then the whole frame inset by the margin."""
    margin = round(MARGIN_FRACTION * min(width, height))
    return safe_area(width, height), (margin, margin, width - 2 * margin, height - 2 * margin)


def corner_box(area: Box, corner: str, size: tuple[int, int]) -> Box:
    ax, ay, aw, ah = area
    w, h = size
    x = ax if corner.endswith("left") else ax + aw - w
    y = ay if corner.startswith("top") else ay + ah - h
    return x, y, w, h


def overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _gap(a: Box, b: Box) -> float:
    """Distance between two boxes (0 when they touch or overlap)."""
    dx = max(b[0] - (a[0] + a[2]), a[0] - (b[0] + b[2]), 0)
    dy = max(b[1] - (a[1] + a[3]), a[1] - (b[1] + b[3]), 0)
    return float((dx * dx + dy * dy) ** 0.5)


@dataclass
class CardPlacer:
    """Remembers the card's corner between frames (one per output)."""

    switch_gain: float = 0.15
    corner: str = "top_right"
    in_safe_area: bool = True

    def place(self, width: int, height: int, size: tuple[int, int], face: Box | None) -> Box:
        """The card's box in a width x height frame, `size` = (card width, card height)."""
        safe, whole = areas(width, height)
        if face is None:
            area = safe if self.in_safe_area else whole
            return corner_box(area, self.corner, _fit(size, area))
        candidates = [(True, corner) for corner in CORNERS] + [(False, corner) for corner in CORNERS]

        def box(candidate: tuple[bool, str]) -> Box:
            area = safe if candidate[0] else whole
            return corner_box(area, candidate[1], _fit(size, area))

        clear = [c for c in candidates if not overlaps(box(c), face)]
        usable = [c for c in clear if c[0]] or clear or candidates
        best = max(usable, key=lambda c: _gap(box(c), face))
        current = (self.in_safe_area, self.corner)
        gain = self.switch_gain * min(safe[2], safe[3])
        if current not in usable or _gap(box(best), face) - _gap(box(current), face) > gain:
            self.in_safe_area, self.corner = best
        return box((self.in_safe_area, self.corner))


def _fit(size: tuple[int, int], area: Box) -> tuple[int, int]:
    return min(size[0], area[2]), min(size[1], area[3])


def primary_face(state: OverlayState, width: int, mirror: bool) -> Box | None:
    """The user's face box in the drawn (possibly mirrored) picture."""
    for face in state.faces:
        if face.primary:
            x, y, w, h = face.box
            return (width - x - w if mirror else x), y, w, h
    return None
