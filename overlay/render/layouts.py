"""One output's overlay: the layout it shows, drawn into each frame.

compact (overlay.render.compact) is for what other people see (virtual camera, OBS);
detailed (overlay.render.draw: the bars of every modality, the fused panel) for the
preview window and recordings; clean leaves the camera picture as it is (analysis and
recording still run), for a meeting where only the person should see the readings (in the
preview). `mirror` flips the picture like a selfie view before anything is drawn, so the
text stays readable for whoever watches this output.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from overlay.render import LAYOUTS
from overlay.render.compact import CompactLayer, blend, card_content
from overlay.render.detailed import DetailedLayer
from overlay.render.draw import OverlaySettings, OverlayState
from overlay.render.placement import Box, primary_face


class Renderer:
    """Draws one layout; keeps what the compact layout caches between frames."""

    def __init__(self, layout: str, settings: OverlaySettings) -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"unknown layout {layout!r}; layouts are {', '.join(LAYOUTS)}")
        self.layout = layout
        self.settings = settings
        self._compact = CompactLayer(rule=settings.wording_rule)
        self._detailed = DetailedLayer(settings)

    @property
    def detailed_boxes(self) -> dict[str, Box]:
        """Where the detailed layout drew each element in the last frame (for measuring what it hid)."""
        return dict(self._detailed.boxes)

    def draw(self, frame: npt.NDArray[np.uint8], state: OverlayState) -> npt.NDArray[np.uint8]:
        """A new frame (the input is not modified)."""
        if self.layout == "detailed":
            return self._detailed.draw(frame, state)
        image: npt.NDArray[np.uint8] = np.array(frame[:, ::-1] if self.settings.mirror else frame, dtype=np.uint8)
        if self.layout == "compact":
            height, width = image.shape[:2]
            fused = state.fused
            card = card_content(
                fused.probabilities if fused is not None else None,
                fused.valence if fused is not None else 0.0,
                fused.arousal if fused is not None else 0.0,
                state.blink.blinks_per_minute if state.blink is not None and self.settings.blinks else None,
                state.analysis_on,
                self._compact.rule,
                state.delivery if self.settings.compact_delivery else "",
                state.attention if self.settings.compact_attention else "",
            )
            captions = None
            if self.settings.captions and state.captions is not None:
                captions = (state.captions.finals, state.captions.partial)
            face = primary_face(state, width, self.settings.mirror)
            for patch in self._compact.patches((width, height), card, captions, face):
                blend(image, patch)
        return image
