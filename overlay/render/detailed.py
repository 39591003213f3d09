"""The detailed layout: every modality's reading, placed around the face, never over it.

Each element (the analysis indicator, the fused reading, the face and voice bars, captions,
the blink line, the delivery line) has a full form and a condensed one (one line of text). Elements are placed
in order of importance: each slides along a frame edge from its usual corner, past the
elements already placed and past the face, in its full form where it fits and else in its
condensed form; one that fits nowhere is left out (a tight close-up at 256 px keeps the
indicator and the headline rather than hiding the face). The face is the primary face's box
grown to take in the forehead, on a coarse grid so that panels do not jitter with the
detector's box; an element keeps its place until another is clearly better, as the compact
card does.

Sizes follow the frame's shorter side (designed at 720), but never below the smallest text
a person can read in a recording (MIN_FONT_SCALE for the smallest text): small frames get
fewer, condensed elements instead of unreadable ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

from overlay.fusion import FusedState
from overlay.labels import EMOTIONS
from overlay.render.draw import (
    ACCENT,
    BARS_W,
    FONT,
    FUSED_W,
    OverlaySettings,
    OverlayState,
    bars_height,
    draw_bars,
    draw_face_boxes,
    draw_fused,
    fused_height,
    panel,
    recognizer_label,
    text,
    wrap_text,
)
from overlay.render.placement import Box, overlaps, primary_face
from overlay.render.wording import headline

# The smallest font scale drawn (bar percentages at 0.5 x scale): about 11 px tall letters,
# the least that reads in a recording. Below 720 p the whole layout grows to keep it.
MIN_FONT_SCALE: Final = 0.4
SMALLEST_TEXT: Final = 0.5  # the smallest text's size at scale 1 (bar percentages)
SMALLEST_SCALE: Final = MIN_FONT_SCALE / SMALLEST_TEXT
SHRINK_WORTH: Final = 1.15  # a frame this much above the smallest scale also tries its elements shrunk to it
CAPTION_LINES: Final = 3
# How far the face is grown before panels keep clear of it (fractions of the face box):
# dlib's box starts at the eyebrows, so most of the forehead is above it.
FACE_GROW: Final = {"top": 0.2, "bottom": 0.05, "sides": 0.05}
GRID_FRACTION: Final = 0.02  # the face's grid, of the shorter side
_WHITE = (255, 255, 255)
_GREY = (170, 170, 170)
_DIMMED = (175, 175, 175)  # the utterance in progress
_CUE = (200, 230, 120)  # BGR teal: the eye-contact cue, as the review page's

Painter = Callable[[npt.NDArray[np.uint8], int, int], None]


def layout_scale(width: int, height: int) -> float:
    """The detailed layout's scale: 1.0 at a 720 px shorter side, never so small that text is unreadable."""
    return max(min(width, height) / 720.0, SMALLEST_SCALE)


@dataclass(frozen=True)
class Block:
    """One form of an element: its size and how to paint it at a top-left corner."""

    size: tuple[int, int]
    paint: Painter


@dataclass(frozen=True)
class Element:
    """What to place: its forms (fullest first) and the edges it may slide along (preferred first)."""

    name: str
    forms: tuple[Block, ...]
    anchors: tuple[str, ...]


# Edge anchors: the corner an element starts from and the way it slides (down from a top corner, up from a bottom one).
EDGE_ANCHORS: Final = ("top_left", "top_right", "bottom_left", "bottom_right")


def face_zone(face: Box, width: int, height: int) -> Box:
    """The face box grown to take in the forehead, snapped outward to a coarse grid."""
    x, y, w, h = face
    grid = max(1, round(GRID_FRACTION * min(width, height)))
    x0 = x - FACE_GROW["sides"] * w
    x1 = x + w + FACE_GROW["sides"] * w
    y0 = y - FACE_GROW["top"] * h
    y1 = y + h + FACE_GROW["bottom"] * h
    gx0, gy0 = int(np.floor(x0 / grid)) * grid, int(np.floor(y0 / grid)) * grid
    gx1, gy1 = int(np.ceil(x1 / grid)) * grid, int(np.ceil(y1 / grid)) * grid
    gx0, gy0, gx1, gy1 = max(0, gx0), max(0, gy0), min(width, gx1), min(height, gy1)
    return gx0, gy0, gx1 - gx0, gy1 - gy0


def _slide(x: int, w: int, h: int, downward: bool, band: tuple[int, int], obstacles: list[Box], gap: int) -> Box | None:
    """Slide a w x h box at column x from one end of the vertical band (top, bottom) to the other until it is clear."""
    top, bottom = band
    y = top if downward else bottom - h
    while top <= y and y + h <= bottom:
        box = (x, y, w, h)
        hit = next((o for o in obstacles if overlaps(box, o)), None)
        if hit is None:
            return box
        y = hit[1] + hit[3] + gap if downward else hit[1] - gap - h
    return None


@dataclass(frozen=True)
class Frame:
    """The frame being laid out: its size, the margin and gap between elements, and what to keep clear of."""

    width: int
    height: int
    margin: int
    gap: int


def _edge_box(anchor: str, size: tuple[int, int], frame: Frame, obstacles: list[Box]) -> Box | None:
    w, h = size
    m = frame.margin
    if w > frame.width - 2 * m:
        return None
    x = m if anchor.endswith("left") else frame.width - m - w
    return _slide(x, w, h, anchor.startswith("top"), (m, frame.height - m), obstacles, frame.gap)


@dataclass
class DetailedLayer:
    """The detailed layout of one output; remembers where each element went (for steadiness)."""

    settings: OverlaySettings = field(default_factory=OverlaySettings)
    placed: dict[str, tuple[int, str]] = field(default_factory=dict)  # element -> (form, anchor) last used
    boxes: dict[str, Box] = field(default_factory=dict)  # where each element was drawn in the last frame

    def draw(self, frame: npt.NDArray[np.uint8], state: OverlayState) -> npt.NDArray[np.uint8]:
        """A new BGR frame with the overlay drawn; the input frame is not modified."""
        settings = self.settings
        image = np.ascontiguousarray(frame[:, ::-1] if settings.mirror else frame).copy()
        height, width = image.shape[:2]
        s = layout_scale(width, height)
        layout = Frame(width, height, round(16 * s), round(8 * s))
        if settings.face_boxes:
            draw_face_boxes(image, state.faces, settings.mirror, s)
        face = primary_face(state, width, settings.mirror)
        zone = face_zone(face, width, height) if face is not None else None
        placed: list[Box] = []
        self.boxes = {}
        for element in _elements(state, settings, s, width, zone, layout):
            choice = self._choose(element, layout, zone, placed)
            if choice is None:
                self.placed.pop(element.name, None)
                continue
            form, anchor, box = choice
            self.placed[element.name] = (form, anchor)
            element.forms[form].paint(image, box[0], box[1])
            placed.append(box)
            self.boxes[element.name] = box
        return np.asarray(image, dtype=np.uint8)

    def _choose(
        self, element: Element, frame: Frame, zone: Box | None, placed: list[Box]
    ) -> tuple[int, str, Box] | None:
        """The fullest form at the most preferred anchor that is clear; the last choice while it still is."""
        ranked = [(form, anchor) for form in range(len(element.forms)) for anchor in element.anchors]
        obstacles = [*placed, zone] if zone is not None else list(placed)
        # A choice better than the last one must be clear with room to spare, so that a face
        # moving by a few pixels does not flip an element between two places.
        roomy = [*placed, _grow(zone, frame.gap * 3, frame)] if zone is not None else list(placed)

        def box_of(choice: tuple[int, str], avoid: list[Box]) -> Box | None:
            return _box_at(choice[1], element.forms[choice[0]].size, frame, avoid)

        last = self.placed.get(element.name)
        if last is not None and last in ranked and (box := box_of(last, obstacles)) is not None:
            better = next((c for c in ranked[: ranked.index(last)] if box_of(c, roomy) is not None), None)
            if better is None:
                return last[0], last[1], box
        for choice in ranked:
            if (box := box_of(choice, obstacles)) is not None:
                return choice[0], choice[1], box
        return None


def _grow(box: Box, by: int, frame: Frame) -> Box:
    x, y, w, h = box
    x0, y0 = max(0, x - by), max(0, y - by)
    x1, y1 = min(frame.width, x + w + by), min(frame.height, y + h + by)
    return x0, y0, x1 - x0, y1 - y0


def _box_at(anchor: str, size: tuple[int, int], frame: Frame, obstacles: list[Box]) -> Box | None:
    if anchor in EDGE_ANCHORS:
        return _edge_box(anchor, size, frame, obstacles)
    # Centred anchors (captions): bottom centre slides up, top centre slides down.
    w, h = size
    if w > frame.width - 2 * frame.margin:
        return None
    x = (frame.width - w) // 2
    return _slide(x, w, h, anchor == "top_centre", (frame.margin, frame.height - frame.margin), obstacles, frame.gap)


def render(frame: npt.NDArray[np.uint8], state: OverlayState, settings: OverlaySettings) -> npt.NDArray[np.uint8]:
    """One frame in the detailed layout, with nothing remembered from earlier frames."""
    return DetailedLayer(settings).draw(frame, state)


def _elements(
    state: OverlayState, settings: OverlaySettings, s: float, width: int, zone: Box | None, frame: Frame
) -> Iterator[Element]:
    """The elements to place, most important first, each with its forms: full, full at the
    smallest readable scale, then condensed (one line) at each."""
    scales = (s, SMALLEST_SCALE) if s > SHRINK_WORTH * SMALLEST_SCALE else (s,)
    if settings.indicator:
        yield Element("indicator", _indicator_forms(state.analysis_on, s), ("top_right", "top_left"))
    # Captions first: they need a wide band, which the small elements placed before would break up.
    if settings.captions and state.captions is not None and (captions := _caption_forms(state, s, width, zone, frame)):
        yield Element("captions", captions, ("bottom_centre", "top_centre", *EDGE_ANCHORS))
    fused = state.fused
    if settings.fused and fused is not None and fused.label is not None:
        title = headline(fused.label, fused.confidence, fused.probabilities, settings.wording_rule)
        forms = tuple(_fused_block(fused, title, k) for k in scales)
        forms += tuple(_line(title, 0.75 * k, k, ACCENT) for k in scales)
        yield Element("fused", forms, ("top_right", "top_left", "bottom_right", "bottom_left"))
    if settings.attention and state.attention:
        forms = tuple(_line(state.attention, 0.6 * k, k, _CUE) for k in scales)
        yield Element("attention", forms, ("top_right", "top_left", "bottom_right", "bottom_left"))
    if settings.expression_bars and state.expression is not None:
        yield Element("face", _bars_forms("face", state.expression, scales), EDGE_ANCHORS)
    if settings.voice and state.voice_enabled:
        voice = state.voice
        if voice is not None and voice.probabilities is not None:
            forms = _bars_forms("voice", voice.probabilities, scales)
        else:
            forms = tuple(_line("voice: no speech", 0.6 * k, k, _GREY) for k in scales)
        yield Element("voice", forms, ("top_left", "top_right", "bottom_left", "bottom_right"))
    if settings.blinks and state.blink is not None:
        blink = state.blink
        rate = blink.blinks_per_minute
        words = f"blinks {blink.blink_count}" + (f"  {rate:.0f}/min" if rate is not None else "")
        if blink.eyes_closed:
            words += "  eyes closed"
        forms = tuple(_line(words, 0.7 * k, k) for k in scales)
        yield Element("blinks", forms, ("bottom_left", "bottom_right", "top_left"))
    if settings.delivery and state.delivery:
        forms = tuple(_line(state.delivery, 0.7 * k, k) for k in scales)
        yield Element("delivery", forms, ("bottom_left", "bottom_right", "top_left", "top_right"))


def _fused_block(fused: FusedState, title: str, s: float) -> Block:
    return Block(
        (round(FUSED_W * s), fused_height(fused, s)),
        lambda image, x, y: draw_fused(image, fused, title, x, y, s),
    )


def _line(words: str, size: float, s: float, colour: tuple[int, int, int] = _WHITE) -> Block:
    """One line of text on a panel, sized to the text."""
    (tw, th), _ = cv2.getTextSize(words, FONT, size, max(1, round(2 * size)))
    pad = round(7 * s)
    w, h = tw + 2 * pad, th + 2 * pad

    def paint(image: npt.NDArray[np.uint8], x: int, y: int) -> None:
        panel(image, x, y, x + w, y + h)
        text(image, words, (x + pad, y + pad + th), size, colour)

    return Block((w, h), paint)


def _indicator_forms(analysis_on: bool, s: float) -> tuple[Block, ...]:
    colour = (60, 200, 60) if analysis_on else (60, 60, 220)
    label = "analysis on" if analysis_on else "analysis paused"
    radius = max(3, round(8 * s))
    size = 0.6 * s
    (tw, th), _ = cv2.getTextSize(label, FONT, size, max(1, round(2 * size)))
    pad = round(8 * s)
    h = max(2 * radius, th) + round(4 * s)

    def with_label(image: npt.NDArray[np.uint8], x: int, y: int) -> None:
        text(image, label, (x, y + h // 2 + th // 2), size)
        cv2.circle(image, (x + tw + pad + radius, y + h // 2), radius, colour, -1, cv2.LINE_AA)

    def dot_only(image: npt.NDArray[np.uint8], x: int, y: int) -> None:
        cv2.circle(image, (x + radius, y + h // 2), radius, colour, -1, cv2.LINE_AA)

    return Block((tw + pad + 2 * radius, h), with_label), Block((2 * radius, h), dot_only)


def _bars_forms(title: str, probabilities: npt.NDArray[np.float32], scales: tuple[float, ...]) -> tuple[Block, ...]:
    top = int(np.argmax(probabilities))
    words = f"{title}: {EMOTIONS[top]} {probabilities[top] * 100:.0f}%"
    full = tuple(_bars_block(title, probabilities, k) for k in scales)
    return full + tuple(_line(words, 0.6 * k, k, ACCENT) for k in scales)


def _bars_block(title: str, probabilities: npt.NDArray[np.float32], s: float) -> Block:
    return Block(
        (round(BARS_W * s), bars_height(s)), lambda image, x, y: draw_bars(image, title, probabilities, x, y, s)
    )


def _caption_forms(state: OverlayState, s: float, width: int, zone: Box | None, frame: Frame) -> tuple[Block, ...]:
    """Captions as wide as the frame allows, then as narrow as the room beside the face; the newest lines."""
    captions = state.captions
    assert captions is not None
    size = 0.8 * s
    line_h = round(34 * s)
    pad = round(10 * s)
    label = recognizer_label(captions.recognizer) if captions.recognizer else ""
    label_h = round(18 * s) if label else 0
    widths = [width - 2 * frame.margin]
    if zone is not None:  # beside the face: the wider side first
        zx, _, zw, _ = zone
        widths += sorted((zx - 2 * frame.margin, width - zx - zw - 2 * frame.margin), reverse=True)
    forms: list[Block] = []
    for panel_w in widths:
        if panel_w < round(160 * s):  # fewer than about a dozen letters a line: not worth reading
            continue
        inner = panel_w - 2 * pad
        lines = [(line, _WHITE) for final in captions.finals for line in wrap_text(final, size, inner)]
        lines += [(line, _DIMMED) for line in wrap_text(captions.partial, size, inner)]
        if not lines:
            return ()
        # Where three lines do not fit, the newest two, then the newest one.
        for count in range(CAPTION_LINES, 0, -1):
            if count <= len(lines):
                forms.append(_caption_block(lines[-count:], panel_w, line_h, pad, label, label_h, size, s))
    return tuple(forms)


def _fitted(words: str, size: float, max_width: int) -> str:
    """`words`, cut short with "..." where they would run wider than `max_width` pixels (Hershey fonts are ASCII)."""

    def width(candidate: str) -> int:
        return int(cv2.getTextSize(candidate, FONT, size, max(1, round(2 * size)))[0][0])

    if width(words) <= max_width:
        return words
    while words:
        words = words[:-1].rstrip()
        if width(words + "...") <= max_width:
            return words + "..."
    return ""


def _caption_block(
    lines: list[tuple[str, tuple[int, int, int]]],
    panel_w: int,
    line_h: int,
    pad: int,
    label: str,
    label_h: int,
    size: float,
    s: float,
) -> Block:
    h = label_h + line_h * len(lines) + round(12 * s)
    label = _fitted(label, SMALLEST_TEXT * s, panel_w - 2 * pad)

    def paint(image: npt.NDArray[np.uint8], x: int, y: int) -> None:
        if label:
            text(image, label, (x + pad, y + label_h - round(5 * s)), SMALLEST_TEXT * s, _GREY)
        top = y + label_h
        panel(image, x, top, x + panel_w, y + h)
        for i, (line, colour) in enumerate(lines):
            text(image, line, (x + pad, top + line_h * (i + 1) - round(2 * s)), size, colour)

    return Block((panel_w, h), paint)
