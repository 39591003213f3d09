"""How fast `analyze` gets through a batch: local with 1 and 2 workers, Ray with 2, and what loading the models costs.

    python bench/analyze.py [--clips DIR] [--repeats 3] [--engines local1,local2,ray2] [--json]

Analyses every .mp4 in --clips (default ../shared/data/video/talking) as one batch per
engine and repeat, no annotated video (the default), each into a fresh temporary sessions
folder. Per engine it prints the median over the repeats of: files per minute, the real-time
factor (wall seconds per second of media: below 1 is faster than real time), the wall time
and, for Ray, the time to start its local cluster and actors (not in the wall time, which
is from the first job handed out to the last outcome).

Model loading: "before" is what every file paid when `analyze` loaded the landmark model,
the three ONNX models and the recogniser per file (RecordingAnalyzer built anew, the median
of --repeats builds in this process); "after" is what the batch pays per file now, once per
worker (the load seconds the outcomes report, divided by the files).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from overlay.analysis.batch import OK, collect_jobs
from overlay.analysis.engines import EngineOptions, open_engine
from overlay.analysis.recordings import AnalyzeSettings, RecordingAnalyzer

ENGINES = {"local1": ("local", 1), "local2": ("local", 2), "ray2": ("ray", 2)}


def measure(clips: Path, engine_name: str) -> dict[str, Any]:
    engine_kind, workers = ENGINES[engine_name]
    with tempfile.TemporaryDirectory() as folder:
        settings = AnalyzeSettings(timeline_folder=Path(folder))
        jobs = collect_jobs([clips])
        opened = time.perf_counter()
        engine = open_engine(engine_kind, EngineOptions(settings, workers))
        try:
            started = time.perf_counter()
            outcomes = list(engine.run(jobs))
            wall = time.perf_counter() - started
        finally:
            engine.close()
    failed = [o.error for o in outcomes if o.status != OK]
    if failed:
        raise SystemExit(f"analysis failed: {failed}")
    media = sum(o.media_s or 0.0 for o in outcomes)
    return {
        "engine": engine_name,
        "files": len(outcomes),
        "media_s": media,
        "wall_s": wall,
        "start_s": started - opened,
        "files_per_min": len(outcomes) / wall * 60,
        "realtime_factor": wall / media,
        "load_s_per_file": sum(o.load_s for o in outcomes) / len(outcomes),
    }


def model_load_seconds(repeats: int) -> list[float]:
    return [RecordingAnalyzer(AnalyzeSettings()).load_seconds for _ in range(repeats)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "video" / "talking"
    parser.add_argument("--clips", type=Path, default=default)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--engines", default="local1,local2,ray2")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not sorted(args.clips.glob("*.mp4")):
        raise SystemExit(f"no .mp4 clips in {args.clips}")
    loads = model_load_seconds(args.repeats)
    runs: dict[str, list[dict[str, Any]]] = {}
    for _ in range(args.repeats):  # interleaved, so a busy spell of the machine hits every engine alike
        for name in args.engines.split(","):
            runs.setdefault(name, []).append(measure(args.clips, name))
    median = {
        name: {key: statistics.median(row[key] for row in rows) for key in rows[0] if key != "engine"}
        for name, rows in runs.items()
    }
    load_average = os.getloadavg()
    report: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "load_average_after": load_average,
        "model_load_s_before_per_file": statistics.median(loads),
        "model_load_s_runs": loads,
        "engines": median,
        "runs": runs,
    }
    if args.json:
        print(json.dumps(report))
        return
    first = next(iter(median.values()))
    print(f"{first['files']:.0f} files, {first['media_s']:.1f} s of media; medians of {args.repeats} runs")
    print(
        f"model loading per file: before {statistics.median(loads):.2f} s (loads: "
        + ", ".join(f"{s:.2f}" for s in loads)
        + ")"
    )
    baseline = median.get("local1")
    for name, row in median.items():
        speedup = f", {baseline['wall_s'] / row['wall_s']:.2f}x local1" if baseline else ""
        print(
            f"{name:7s} {row['files_per_min']:6.1f} files/min, real-time factor {row['realtime_factor']:.2f}, "
            f"wall {row['wall_s']:.1f} s{speedup}, start {row['start_s']:.1f} s, "
            f"model loading after {row['load_s_per_file']:.2f} s per file"
        )
    print(f"load average after: {load_average[0]:.2f}")


if __name__ == "__main__":
    main()
