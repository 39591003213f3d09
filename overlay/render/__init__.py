"""Drawing the readings onto video frames, in one of three layouts (overlay.render.layouts)."""

from typing import Final

# compact: one card away from the face + subtitles (virtual camera, OBS); detailed: bars per
# modality (preview, recordings); clean: the picture untouched, analysis still running.
LAYOUTS: Final = ("compact", "detailed", "clean")
