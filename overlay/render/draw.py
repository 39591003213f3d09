"""What the overlay draws and with what: the settings and state, and the drawing primitives
(text with a shadow, translucent panels, face boxes, expression bars, the fused panel) that
the detailed layout (overlay.render.detailed) places and OBS's bars image uses.

Sizes are given at scale `s` (1.0 at 720 p); the layouts choose the scale.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from overlay.face.blinks import BlinkState
from overlay.face.tracking import TrackedFace
from overlay.fusion import FusedState
from overlay.labels import EMOTIONS
from overlay.records import VoiceEstimate
from overlay.render.wording import WordingRule

FONT = cv2.FONT_HERSHEY_SIMPLEX
_WHITE = (255, 255, 255)
ACCENT = (80, 200, 255)  # BGR amber
_PANEL_GREY = 30  # the panels' grey level
_PANEL_OPACITY = 0.55


@dataclass(frozen=True)
class OverlaySettings:
    """The layout ("" = each output's own), the wording thresholds, and which detailed elements are drawn."""

    layout: str = ""
    confident_at: float = 0.45
    lead_at: float = 0.15
    mixed_at: float = 0.6
    face_boxes: bool = True
    expression_bars: bool = True
    blinks: bool = True
    indicator: bool = True
    voice: bool = True
    captions: bool = True
    fused: bool = True
    delivery: bool = True  # the pace and fillers line, in the detailed layout
    compact_delivery: bool = False  # ... and on the compact card (what others see: off unless asked for)
    attention: bool = True  # the eye-contact cue, in the detailed layout
    compact_attention: bool = False  # ... and on the compact card (off unless asked for)
    mirror: bool = False

    @functools.cached_property
    def wording_rule(self) -> WordingRule:
        """The thresholds above as one rule, built once (render() asks for it every frame)."""
        return WordingRule(self.confident_at, self.lead_at, self.mixed_at)


@dataclass(frozen=True)
class Captions:
    """What was said: the last final lines, the utterance in progress, and which recognizer heard it."""

    finals: tuple[str, ...] = ()
    partial: str = ""
    recognizer: str = ""


@dataclass(frozen=True)
class OverlayState:
    """The latest analysis to draw; any part may be absent."""

    faces: tuple[TrackedFace, ...] = ()
    expression: npt.NDArray[np.float32] | None = None
    blink: BlinkState | None = None
    voice: VoiceEstimate | None = None  # the latest fresh one; probabilities None while nobody speaks
    voice_enabled: bool = False  # whether a voice path runs at all (else nothing is drawn for it)
    captions: Captions | None = None  # None: no words path
    fused: FusedState | None = None  # the smoothed reading of all modalities; None before any
    analysis_on: bool = True
    delivery: str = ""  # the delivery line, e.g. "142 wpm, 2 fillers/min" (overlay.delivery); "" when none
    attention: str = ""  # the eye-contact cue, e.g. "looking away 3 s" (overlay.render.state.attention_line)


def text(
    image: npt.NDArray[np.uint8], text: str, origin: tuple[int, int], size: float, colour: tuple[int, int, int] = _WHITE
) -> None:
    """Text with a drop shadow, so it reads on light and dark video alike."""
    thickness = max(1, round(2 * size))
    offset = max(1, round(1.5 * size))
    shadow = (origin[0] + offset, origin[1] + offset)
    cv2.putText(image, text, shadow, FONT, size, (0, 0, 0), thickness, cv2.LINE_AA)
    cv2.putText(image, text, origin, FONT, size, colour, thickness, cv2.LINE_AA)


def panel(image: npt.NDArray[np.uint8], x0: int, y0: int, x1: int, y1: int) -> None:
    """A translucent dark panel, so text reads on any background."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    region = image[y0:y1, x0:x1]
    if region.size:
        # One OpenCV pass with the GIL released (numpy's float arithmetic held it ~1 ms a panel).
        cv2.convertScaleAbs(region, region, 1.0 - _PANEL_OPACITY, _PANEL_GREY * _PANEL_OPACITY)


def draw_face_boxes(image: npt.NDArray[np.uint8], faces: tuple[TrackedFace, ...], mirror: bool, s: float) -> None:
    width = image.shape[1]
    for face in faces:
        x, y, w, h = face.box
        if mirror:
            x = width - x - w
        colour = ACCENT if face.primary else (160, 160, 160)
        thickness = max(1, round((3 if face.primary else 1) * s))
        cv2.rectangle(image, (x, y), (x + w, y + h), colour, thickness, cv2.LINE_AA)


BARS_W = 380  # bar panel width at 720 p
FUSED_W = 330  # fused panel width at 720 p
_DISAGREE = (70, 70, 235)  # BGR red


def fused_height(fused: FusedState, s: float) -> int:
    rows = 3 + (fused.disagreement is not None)
    return round((44 + 28 * (rows - 1) + 10) * s)


def draw_fused(image: npt.NDArray[np.uint8], fused: FusedState, headline: str, x: int, y: int, s: float) -> None:
    """The overall label and confidence, valence/arousal, each modality's share, disagreement."""
    panel(image, x, y, x + round(FUSED_W * s), y + fused_height(fused, s))
    left = x + round(10 * s)
    size = 1.1 * s if len(headline) <= 12 else 0.75 * s
    text(image, headline, (left, y + round(34 * s)), size, ACCENT)
    text(image, f"valence {fused.valence:+.2f}  arousal {fused.arousal:+.2f}", (left, y + round(66 * s)), 0.55 * s)
    shares = "  ".join(f"{name} {share * 100:.0f}%" for name, share in fused.weights.items())
    text(image, shares, (left, y + round(94 * s)), 0.55 * s, (200, 200, 200))
    if fused.disagreement is not None:
        text(image, "{} and {} disagree".format(*fused.disagreement), (left, y + round(122 * s)), 0.55 * s, _DISAGREE)


def wrap_text(text: str, size: float, max_width: int) -> list[str]:
    """Greedy word wrap to `max_width` pixels at font scale `size`."""
    return list(_wrapped(text, size, max_width))


@functools.lru_cache(maxsize=256)
def _wrapped(text: str, size: float, max_width: int) -> tuple[str, ...]:
    # Cached: the same captions are wrapped on every frame until the words change.
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if current and cv2.getTextSize(candidate, FONT, size, max(1, round(2 * size)))[0][0] > max_width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return tuple(lines)


def recognizer_label(name: str) -> str:
    """Who wrote the captions, in a few words: "whisper:whisper-tiny.en" -> "captions: Whisper tiny.en"."""
    engine, _, model = name.partition(":")
    if engine == "pocketsphinx":
        return "captions: PocketSphinx (no Whisper or Vosk model: less accurate)"
    model = model.removeprefix(f"{engine}-").removeprefix("model-")
    return f"captions: {engine.capitalize()} {model}".rstrip()


def bars_height(s: float) -> int:
    return round(44 * s) + len(EMOTIONS) * (round(18 * s) + round(6 * s)) + round(6 * s)


def draw_bars(
    image: npt.NDArray[np.uint8], title: str, probabilities: npt.NDArray[np.float32], x: int, y: int, s: float
) -> None:
    """The modality and its top label in large type, then one bar per label."""
    bar_w, bar_h, gap, label_w = round(200 * s), round(18 * s), round(6 * s), round(110 * s)
    top = int(np.argmax(probabilities))
    header_h = round(44 * s)
    panel(image, x, y, x + round(BARS_W * s), y + bars_height(s))
    text(
        image,
        f"{title}: {EMOTIONS[top]} {probabilities[top] * 100:.0f}%",
        (x + round(10 * s), y + round(32 * s)),
        1.0 * s,
        ACCENT,
    )
    for i, (label, p) in enumerate(zip(EMOTIONS, probabilities, strict=True)):
        top_y = y + header_h + i * (bar_h + gap)
        text(image, label, (x + round(10 * s), top_y + bar_h - round(3 * s)), 0.55 * s)
        x0 = x + label_w
        cv2.rectangle(image, (x0, top_y), (x0 + bar_w, top_y + bar_h), (90, 90, 90), -1)
        fill = round(bar_w * float(np.clip(p, 0, 1)))
        cv2.rectangle(image, (x0, top_y), (x0 + fill, top_y + bar_h), ACCENT if i == top else (200, 200, 200), -1)
        text(image, f"{p * 100:.0f}", (x0 + bar_w + round(8 * s), top_y + bar_h - round(3 * s)), 0.5 * s)


def bars_size(scale: float) -> tuple[int, int]:
    """Width and height of the bar panel at `scale` (1.0 at 720 p)."""
    return round(BARS_W * scale), bars_height(scale)


def bars_image(title: str, probabilities: npt.NDArray[np.float32] | None, scale: float) -> npt.NDArray[np.uint8]:
    """The bar panel alone as a BGRA image with true transparency (for OBS's image source).

    Drawn twice, over black and over white: where the two differ the panel is see-through,
    and the difference gives the alpha exactly (text and bars are opaque, the panel keeps its
    translucency, anti-aliased edges blend). Without probabilities the image is fully
    transparent, at the same size, so that nothing moves in OBS.
    """
    width, height = bars_size(scale)
    if probabilities is None:
        return np.zeros((height, width, 4), dtype=np.uint8)
    on_black = np.zeros((height, width, 3), dtype=np.uint8)
    on_white = np.full((height, width, 3), 255, dtype=np.uint8)
    draw_bars(on_black, title, probabilities, 0, 0, scale)
    draw_bars(on_white, title, probabilities, 0, 0, scale)
    see_through = (on_white.astype(np.int16) - on_black.astype(np.int16)).max(axis=2)
    alpha = np.clip(255 - see_through, 0, 255).astype(np.float32)
    colour = on_black.astype(np.float32) * 255.0 / np.maximum(alpha, 1.0)[..., None]
    bgra = np.dstack([np.clip(colour, 0, 255), alpha])
    return np.asarray(np.rint(bgra), dtype=np.uint8)
