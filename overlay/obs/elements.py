"""The overlay's elements in OBS, each shown by a source of its own (overlay.obs.scene lays them out)."""

from __future__ import annotations

from typing import Final

ELEMENTS: Final = ("label", "blinks", "captions", "bars", "delivery")
TEXT_ELEMENTS: Final = ("label", "blinks", "captions", "delivery")  # text sources; "bars" is an image we render
# Shown by the compact layout only when asked for ([overlay] compact_delivery): the audience sees OBS.
OPT_IN_ELEMENTS: Final = ("delivery",)
