"""The compact layout: one small card in a corner away from the face, and subtitle-style captions.

The card holds the fused reading in words (overlay.render.wording: one label only when it is
clear), a confidence cue (five dots), a valence/arousal mark (a dot in a small square:
right = pleasant, up = aroused) and the blink rate; with [overlay] compact_delivery, a line of
delivery under them (pace and fillers per minute, overlay.delivery). Captions are at most two lines at the
bottom centre (the top centre when the face is there), the line in progress dimmed, drawn
as outlined text without a panel, so they hide little of the picture.

Speed: what is drawn changes at most at the analysis rate, so the card and the captions are
drawn into small patches (colour + alpha) only when their content or place changes, and
each frame only alpha-blends those patches: a few small blends instead of a redraw.
Sizes follow the frame's shorter side (designed at 720), so 16:9, 4:3, 1:1 and 9:16 all work.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import cv2
import numpy as np
import numpy.typing as npt

from overlay.render.draw import wrap_text
from overlay.render.placement import Box, CardPlacer, areas, overlaps, safe_area
from overlay.render.wording import WordingRule, describe

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_WHITE = (255, 255, 255)
_DIM = (170, 170, 170)
_ACCENT = (80, 200, 255)  # BGR amber, as the detailed layout
_PANEL = (30, 30, 30)
_PANEL_ALPHA = 0.6
CARD_SIZE = (250, 78)  # at a 720 px shorter side
DELIVERY_LINE_H = 22  # what the delivery line adds to the card's height
CAPTION_LINES = 2


@dataclass
class Patch:
    """Pixels to blend at (x, y): colour (h, w, 3) uint8 and alpha (h, w, 1) float32 in [0, 1]."""

    x: int
    y: int
    colour: npt.NDArray[np.uint8]
    alpha: npt.NDArray[np.float32]

    @property
    def box(self) -> Box:
        return self.x, self.y, self.colour.shape[1], self.colour.shape[0]

    @cached_property
    def weights(self) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """(image weight, patch weight) per pixel, (h, w): made once, blended on every frame."""
        alpha = np.ascontiguousarray(self.alpha[:, :, 0], dtype=np.float32)
        return 1.0 - alpha, alpha


def blend(image: npt.NDArray[np.uint8], patch: Patch) -> None:
    """Alpha-blend the patch into the image in place (clipped to the image)."""
    h, w = image.shape[:2]
    x0, y0 = max(0, patch.x), max(0, patch.y)
    x1, y1 = min(w, patch.x + patch.colour.shape[1]), min(h, patch.y + patch.colour.shape[0])
    if x1 <= x0 or y1 <= y0:
        return
    rows, cols = slice(y0 - patch.y, y1 - patch.y), slice(x0 - patch.x, x1 - patch.x)
    keep, add = patch.weights
    region = image[y0:y1, x0:x1]
    # OpenCV blends in one C++ pass with the GIL released: at 1080p a caption patch took 5.0 ms
    # in numpy's float arithmetic (which held up the video thread) and 0.5 ms here.
    region[:] = cv2.blendLinear(region, patch.colour[rows, cols], keep[rows, cols], add[rows, cols])


class _Canvas:
    """Draws into a patch: a translucent panel, text with a dark outline, dots and marks."""

    def __init__(self, width: int, height: int) -> None:
        self.colour = np.zeros((height, width, 3), np.uint8)
        self.alpha = np.zeros((height, width), np.float32)

    def panel(self) -> None:
        self.colour[:] = _PANEL
        self.alpha[:] = _PANEL_ALPHA

    def text(self, text: str, origin: tuple[int, int], size: float, colour: tuple[int, int, int]) -> None:
        thickness = max(1, round(2 * size))
        ink = np.zeros(self.alpha.shape, np.uint8)
        cv2.putText(ink, text, origin, _FONT, size, 255, thickness, cv2.LINE_AA)
        # The dark outline is the ink grown by a few pixels (a thicker putText would advance
        # each glyph further and drift off the letters).
        radius = max(1, round(2 * size))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        dark = cv2.dilate(ink, kernel).astype(np.float32) / 255.0
        self.colour[:] = (self.colour * (1 - dark[..., None])).astype(np.uint8)
        self.alpha[:] = np.maximum(self.alpha, dark * 0.85)
        lit = ink.astype(np.float32)[..., None] / 255.0
        self.colour[:] = (self.colour * (1 - lit) + np.array(colour, np.float32) * lit).astype(np.uint8)
        self.alpha[:] = np.maximum(self.alpha, lit[..., 0])

    def circle(self, centre: tuple[int, int], radius: int, colour: tuple[int, int, int]) -> None:
        cv2.circle(self.colour, centre, radius, colour, -1, cv2.LINE_AA)
        self._opaque(lambda mask: cv2.circle(mask, centre, radius, 255, -1, cv2.LINE_AA))

    def square(self, corner: tuple[int, int], side: int, colour: tuple[int, int, int]) -> None:
        far = (corner[0] + side, corner[1] + side)
        cv2.rectangle(self.colour, corner, far, colour, 1, cv2.LINE_AA)
        self._opaque(lambda mask: cv2.rectangle(mask, corner, far, 255, 1, cv2.LINE_AA))

    def _opaque(self, draw: Callable[[npt.NDArray[np.uint8]], object]) -> None:
        mask = np.zeros(self.alpha.shape, np.uint8)
        draw(mask)
        self.alpha[:] = np.maximum(self.alpha, mask.astype(np.float32) / 255.0)

    def patch(self, x: int, y: int) -> Patch:
        return Patch(x, y, self.colour, self.alpha[..., None])


@dataclass(frozen=True)
class CardContent:
    """What the card says; a new patch is drawn only when this changes."""

    words: str
    kind: str  # "confident", "mixed", "unsure", "waiting", "paused"
    dots: int  # 0-5, the confidence cue
    valence: float  # rounded, for the mark
    arousal: float
    blinks: str  # "12 blinks/min" or ""
    delivery: str = ""  # "142 wpm, 2 fillers/min" or "": a line of its own under the rest
    attention: str = ""  # "eye contact", "looking away 3 s" or "": a line of its own under the rest


def card_content(
    probabilities: npt.NDArray[np.float32] | None,
    valence: float,
    arousal: float,
    blinks_per_minute: float | None,
    analysis_on: bool,
    rule: WordingRule,
    delivery: str = "",
    attention: str = "",
) -> CardContent:
    blinks = f"{blinks_per_minute:.0f} blinks/min" if blinks_per_minute is not None else ""
    if not analysis_on:
        return CardContent("analysis paused", "paused", 0, 0.0, 0.0, "")
    if probabilities is None:
        return CardContent("reading...", "waiting", 0, 0.0, 0.0, blinks, delivery, attention)
    wording = describe(probabilities, rule)
    dots = max(1, min(5, round(wording.confidence * 5)))
    return CardContent(
        wording.text, wording.kind, dots, round(valence, 1), round(arousal, 1), blinks, delivery, attention
    )


def draw_card(content: CardContent, scale: float) -> _Canvas:
    w, h = round(CARD_SIZE[0] * scale), round(CARD_SIZE[1] * scale)
    lines = [line for line in (content.delivery, content.attention) if line]  # each a line under the rest
    extra = round(DELIVERY_LINE_H * scale) * len(lines)
    canvas = _Canvas(w, h + extra)
    canvas.panel()
    pad = round(10 * scale)
    for i, line in enumerate(lines):
        baseline = h + round(DELIVERY_LINE_H * scale) * (i + 1) - pad
        canvas.text(_fitted(line, 0.45 * scale, w - 2 * pad), (pad, baseline), 0.45 * scale, _DIM)
    words_size = 0.75 * scale if len(content.words) <= 12 else 0.55 * scale
    colour = _ACCENT if content.kind == "confident" else _WHITE
    canvas.text(content.words, (pad, pad + round(24 * scale)), words_size, colour)
    dot_r = max(2, round(4 * scale))
    for i in range(5):
        tone = _ACCENT if i < content.dots else (90, 90, 90)
        canvas.circle((pad + dot_r + i * 3 * dot_r, h - pad - dot_r), dot_r, tone)
    if content.blinks:
        canvas.text(content.blinks, (pad + 16 * dot_r, h - pad), 0.45 * scale, _DIM)
    if content.kind not in ("paused", "waiting"):
        side = h - 2 * pad
        x0 = w - pad - side
        canvas.square((x0, pad), side, (120, 120, 120))
        cx = x0 + round((content.valence + 1) / 2 * side)
        cy = pad + round((1 - (content.arousal + 1) / 2) * side)
        canvas.circle((cx, cy), max(2, round(5 * scale)), _ACCENT)
    return canvas


def _fitted(words: str, size: float, max_width: int) -> str:
    """`words` cut at the last word that fits in max_width pixels (the line never runs off the card)."""
    thickness = max(1, round(2 * size))
    while words and cv2.getTextSize(words, _FONT, size, thickness)[0][0] > max_width:
        words = words.rsplit(" ", 1)[0] if " " in words else ""
    return words


def caption_lines(finals: tuple[str, ...], partial: str, size: float, max_width: int) -> list[tuple[str, bool]]:
    """The newest CAPTION_LINES lines, each with whether it is still in progress (dimmed)."""
    lines = [(line, False) for final in finals for line in wrap_text(final, size, max_width)]
    lines += [(line, True) for line in wrap_text(partial, size, max_width)]
    return lines[-CAPTION_LINES:]


def draw_captions(lines: list[tuple[str, bool]], size: float) -> _Canvas:
    thickness = max(1, round(2 * size))
    line_h = round(36 * size)
    widths = [cv2.getTextSize(text, _FONT, size, thickness)[0][0] for text, _ in lines]
    pad = round(8 * size)
    canvas = _Canvas(max(widths) + 2 * pad, line_h * len(lines) + pad)
    for i, (text, in_progress) in enumerate(lines):
        x = (canvas.alpha.shape[1] - widths[i]) // 2
        canvas.text(text, (x, line_h * (i + 1) - pad // 2), size, _DIM if in_progress else _WHITE)
    return canvas


@dataclass
class CompactLayer:
    """The compact layout of one output: its cached patches and where its card is."""

    rule: WordingRule = field(default_factory=WordingRule)
    placer: CardPlacer = field(default_factory=CardPlacer)
    _card_key: tuple[object, ...] | None = None
    _card: _Canvas | None = None
    _captions_key: tuple[object, ...] | None = None
    _captions: Patch | None = None

    def patches(
        self,
        frame_size: tuple[int, int],
        card: CardContent,
        captions: tuple[tuple[str, ...], str] | None,
        face: Box | None,
    ) -> list[Patch]:
        """The patches to blend into a frame of frame_size = (width, height) for this reading."""
        width, height = frame_size
        scale = min(width, height) / 720.0
        key = (card, scale)
        if key != self._card_key:
            self._card, self._card_key = draw_card(card, scale), key
        assert self._card is not None
        size = (self._card.colour.shape[1], self._card.colour.shape[0])
        x, y, _, _ = self.placer.place(width, height, size, face)
        out = [self._card.patch(x, y)]
        if captions is not None:
            patch = self._caption_patch(frame_size, captions, scale)
            if patch is not None:
                placed = _place_captions(patch, frame_size, [b for b in (face, out[0].box) if b is not None])
                if placed is not None:
                    out.append(placed)
        return out

    def _caption_patch(
        self, frame_size: tuple[int, int], captions: tuple[tuple[str, ...], str], scale: float
    ) -> Patch | None:
        """The captions drawn (at 0, 0), redrawn only when the words change."""
        key = (captions, frame_size)
        if key != self._captions_key:
            self._captions_key = key
            size = 0.7 * scale
            lines = caption_lines(captions[0], captions[1], size, round(safe_area(*frame_size)[2] * 0.55))
            self._captions = draw_captions(lines, size).patch(0, 0) if lines else None
        return self._captions


def _place_captions(patch: Patch, frame_size: tuple[int, int], avoid: list[Box]) -> Patch | None:
    """Bottom centre of the safe area, else its top centre, else the same in the whole frame; None if all collide."""
    w, h = patch.colour.shape[1], patch.colour.shape[0]
    for ax, ay, aw, ah in areas(*frame_size):
        x = ax + (aw - w) // 2
        for y in (ay + ah - h, ay):
            box = (x, y, w, h)
            if not any(overlaps(box, other) for other in avoid):
                return Patch(x, y, patch.colour, patch.alpha)
    return None
