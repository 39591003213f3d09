"""The overlay's elements in OBS, each shown by a source of its own (overlay.obs.scene lays them out)."""

from __future__ import annotations

from typing import Final

ELEMENTS: Final = ("label", "blinks", "captions", "bars")
TEXT_ELEMENTS: Final = ("label", "blinks", "captions")  # text sources; "bars" is an image we render
