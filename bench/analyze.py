"""How fast `analyze` gets through recordings: one file at a time vs one per core.

    python bench/analyze.py [--clips DIR] [--json]

Analyses every .mp4 in --clips (default ../shared/data/video/talking) twice: with one
worker, then with one worker per core, no annotated video (the default). Prints the wall
time, the media seconds analysed and the speed as a multiple of real time. Timelines go to
a temporary sessions folder that is removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from overlay.analysis.recordings import AnalyzeSettings, analyze_files


def measure(clips: list[Path], jobs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        os.environ["EMOTION_OVERLAY_SESSIONS"] = folder
        started = time.perf_counter()
        outcomes = analyze_files(clips, AnalyzeSettings(), jobs=jobs)
        wall = time.perf_counter() - started
    failed = [o.error for o in outcomes if o.summary is None]
    if failed:
        raise SystemExit(f"analysis failed: {failed}")
    media = sum(o.summary.duration_s for o in outcomes if o.summary is not None)
    return {
        "jobs": jobs,
        "files": len(clips),
        "media_s": round(media, 2),
        "wall_s": round(wall, 2),
        "x_realtime": round(media / wall, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "video" / "talking"
    parser.add_argument("--clips", type=Path, default=default)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    clips = sorted(args.clips.glob("*.mp4"))
    if not clips:
        raise SystemExit(f"no .mp4 clips in {args.clips}")
    results = [measure(clips, 1), measure(clips, os.cpu_count() or 1)]
    if args.json:
        print(json.dumps(results))
        return
    for row in results:
        print(
            f"jobs {row['jobs']}: {row['files']} files, {row['media_s']:.1f} s of media in {row['wall_s']:.1f} s "
            f"= {row['x_realtime']:.2f}x real time"
        )
    print(f"parallel speed-up: {results[0]['wall_s'] / results[1]['wall_s']:.2f}x")


if __name__ == "__main__":
    main()
