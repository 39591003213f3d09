"""How much of the face does each layout hide? Measured on the talking clips at every size.

    python bench/face_coverage.py [--clips DIR] [--frames 8] [--json]

For each clip in --clips (default ../shared/data/video/talking), --frames frames spread over
the clip are decoded and the face found in each (the product's tracker, at the clip's own
size). Each frame is then scaled to every size (square 256, 512, 720, 1080, and 1280x720
with the clip pillarboxed as a 16:9 webcam would frame it) and drawn in every layout with
a full reading: fused panel, face and voice bars, three lines of captions, the blink line
and the indicator (face boxes off: the box is the annotation of the face, not a cover).
The share of the face box's pixels that the drawing changed is reported per layout and
size: the mean over frames, the worst frame, and the share of frames where anything of
the face was covered. Each layout draws the frames of a clip in order with one renderer,
as a recording would (the layouts keep their places between frames).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import av
import cv2
import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from overlay.face.blinks import BlinkState
from overlay.face.tracking import FaceTracker, FaceTrackingSettings, TrackedFace
from overlay.fusion import FusedState
from overlay.labels import EMOTIONS
from overlay.records import VoiceEstimate
from overlay.render import LAYOUTS
from overlay.render.draw import Captions, OverlaySettings, OverlayState
from overlay.render.layouts import Renderer

SIZES = {"256": (256, 256), "512": (512, 512), "720": (720, 720), "1080": (1080, 1080), "1280x720": (1280, 720)}
READING = np.array([0.08, 0.02, 0.05, 0.55, 0.1, 0.05, 0.15], dtype=np.float32)  # happy leads
assert len(READING) == len(EMOTIONS)


def sampled_frames(clip: Path, count: int) -> list[npt.NDArray[np.uint8]]:
    with av.open(str(clip)) as container:
        images = [frame.to_ndarray(format="bgr24") for frame in container.decode(video=0)]
    picks = np.linspace(0, len(images) - 1, count).round().astype(int)
    return [images[i] for i in picks]


Box = tuple[int, int, int, int]


def placed(image: npt.NDArray[np.uint8], box: Box, size: tuple[int, int]) -> tuple[npt.NDArray[np.uint8], Box]:
    """The frame at `size` (pillarboxed when wider than the square clip) and the face box in it."""
    width, height = size
    side = min(width, height)
    scale = side / image.shape[0]
    scaled = cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)
    canvas = np.zeros((height, width, 3), np.uint8)
    left = (width - side) // 2
    canvas[:, left : left + side] = scaled
    x, y, w, h = box
    return canvas, (left + round(x * scale), round(y * scale), round(w * scale), round(h * scale))


def full_state(face: TrackedFace) -> OverlayState:
    fused = FusedState(0.0, READING, "happy", 0.55, 0.4, 0.2, {"face": 0.6, "voice": 0.2, "text": 0.2}, None)
    said = ("so this is the part of the talk where I explain the results we got last year",)
    return OverlayState(
        faces=(face,),
        expression=READING,
        blink=BlinkState(0.3, 0.3, False, 14, 17.0),
        voice=VoiceEstimate(0.0, 2.0, READING, 1.0),
        voice_enabled=True,
        captions=Captions(said, "and then the second part of it", "whisper:whisper-tiny.en"),
        fused=fused,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "video" / "talking"
    parser.add_argument("--clips", type=Path, default=default)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    settings = OverlaySettings(face_boxes=False)
    shares: dict[tuple[str, str], list[float]] = defaultdict(list)
    shown: dict[str, list[set[str]]] = defaultdict(list)  # size -> the detailed elements drawn, per frame
    for clip in sorted(args.clips.glob("*.mp4")):
        tracker = FaceTracker(FaceTrackingSettings())
        found = []
        for image in sampled_frames(clip, args.frames):
            faces = tracker.track(image)
            if faces:
                found.append((image, faces[0].box))
        for size_name, size in SIZES.items():
            renderers = {layout: Renderer(layout, settings) for layout in LAYOUTS}
            for image, box in found:
                picture, face_box = placed(image, box, size)
                x, y, w, h = face_box
                state = full_state(TrackedFace(face_box, np.zeros((68, 2), np.float32), primary=True))
                for layout, renderer in renderers.items():
                    drawn = renderer.draw(picture, state)
                    changed = np.any(drawn[y : y + h, x : x + w] != picture[y : y + h, x : x + w], axis=2)
                    shares[(layout, size_name)].append(float(changed.mean()))
                shown[size_name].append(set(renderers["detailed"].detailed_boxes))
    rows = []
    for (layout, size_name), values in sorted(
        shares.items(), key=lambda item: (item[0][0], list(SIZES).index(item[0][1]))
    ):
        rows.append(
            {
                "layout": layout,
                "size": size_name,
                "frames": len(values),
                "mean_share_covered": round(float(np.mean(values)), 4),
                "worst_share_covered": round(float(np.max(values)), 4),
                "frames_with_any_covered": round(float(np.mean([v > 0 for v in values])), 3),
            }
        )
    elements = ("indicator", "fused", "captions", "face", "voice", "blinks")
    kept = {
        size_name: {e: round(float(np.mean([e in frame for frame in frames])), 3) for e in elements}
        for size_name, frames in shown.items()
    }
    if args.json:
        print(json.dumps({"coverage": rows, "detailed_elements_shown": kept}))
        return
    print(f"{'layout':<10}{'size':<10}{'frames':>7}{'mean covered':>14}{'worst':>8}{'any covered':>13}")
    for row in rows:
        print(
            f"{row['layout']:<10}{row['size']:<10}{row['frames']:>7}{row['mean_share_covered']:>14.1%}"
            f"{row['worst_share_covered']:>8.1%}{row['frames_with_any_covered']:>13.0%}"
        )
    print("\nthe detailed layout's elements: share of frames each is drawn (in full or condensed)")
    for size_name, share in kept.items():
        print(f"{size_name:<10}" + "  ".join(f"{e} {v:.0%}" for e, v in share.items()))


if __name__ == "__main__":
    main()
