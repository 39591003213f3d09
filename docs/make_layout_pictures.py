"""The README's pictures of each layout, made from a real talking-face clip by the real `run`.

    python docs/make_layout_pictures.py [--clip ../shared/data/video/talking/1.mp4] [--seconds 6]

For each layout, `emotion-overlay run` plays the clip as the camera (its sound as the
microphone, so face, voice, words and fusion all run) into an MP4 with that layout, and the
frame at --seconds minus one is saved as docs/layouts/<layout>.jpg (960 px wide).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import av
import cv2

ROOT = Path(__file__).resolve().parents[1]
LAYOUTS = ("compact", "detailed", "clean")


def picture(clip: Path, layout: str, seconds: float, folder: Path) -> Path:
    video = folder / f"{layout}.mp4"
    command = [sys.executable, "-m", "overlay", "run", "--camera", str(clip), "--sink", "file", "--out", str(video)]
    command += ["--file-layout", layout, "--seconds", str(seconds), "--loop", "--force"]
    env = {**os.environ, "EMOTION_OVERLAY_SESSIONS": str(folder / "sessions")}  # not into the user's sessions
    subprocess.run(command, check=True, cwd=ROOT, env=env)
    with av.open(str(video)) as container:
        wanted = seconds - 1.0
        frame = next(f for f in container.decode(video=0) if f.time is not None and f.time >= wanted)
        image = frame.to_ndarray(format="bgr24")
    scale = 960 / image.shape[1]
    image = cv2.resize(image, (960, round(image.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    out = ROOT / "docs" / "layouts" / f"{layout}.jpg"
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), image, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=ROOT.parent / "shared" / "data" / "video" / "talking" / "1.mp4")
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="layout-pictures-") as folder:
        for layout in LAYOUTS:
            print(picture(args.clip, layout, args.seconds, Path(folder)))


if __name__ == "__main__":
    main()
