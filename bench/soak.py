"""Soak test: the live path for many minutes, to show memory, rate and file handles stay flat.

    python bench/soak.py --minutes 30 [--clip FILE] [--every 10] [--json]

Runs `emotion-overlay run` as a user would (the clip looped as the camera, its sound as the
microphone, so face, voice, words and fusion all run; the annotated video written to a
file; the timeline recorded) and every --every seconds samples, over the app and its
speech child: resident memory (RSS, from /proc), open file descriptors, and from the
app's own `status`: frames out (the fps is taken between samples: frames out over the
app's uptime in between) and added latency (p50/p95). Prints the RSS slope (MB per
hour, least squares after the first two minutes, when the models' arenas have settled,
and over the second half alone) and the fps range, beside the clip's own frame rate.
Linux only (/proc).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CLIP = ROOT.parent / "shared" / "data" / "video" / "talking" / "1.mp4"
WARM_UP_S = 120.0


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return 0.0


def _open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _status(env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "overlay", "status", "--json"], capture_output=True, text=True, env=env, check=False
    )
    try:
        data: dict[str, Any] = json.loads(done.stdout)
    except ValueError:
        return {}
    return data


def _cpu_times() -> list[int]:
    """The machine's CPU time by kind since boot (user, nice, system, idle, iowait, irq, softirq, steal)."""
    return [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]


def _machine(before: list[int], after: list[int]) -> dict[str, float]:
    """How busy the machine was in between: idle, and stolen by the hypervisor (a VM's neighbours), in %."""
    spent = [b - a for a, b in zip(before, after, strict=True)]
    total = max(1, sum(spent))
    return {"idle_percent": round(100.0 * spent[3] / total, 1), "steal_percent": round(100.0 * spent[7] / total, 1)}


def sample(pid: int, env: dict[str, str], started: float, cpu_before: list[int]) -> dict[str, Any]:
    processes = [pid, *_children(pid)]
    status = _status(env)
    latency = status.get("latency_ms") or {}
    return {
        "t_s": round(time.monotonic() - started, 1),
        "rss_mb": round(sum(_rss_mb(p) for p in processes), 1),
        "rss_app_mb": round(_rss_mb(pid), 1),
        "open_files": sum(_open_files(p) for p in processes),
        "processes": len(processes),
        "frames_out": status.get("frames_out"),
        "uptime_s": status.get("uptime_s"),
        "output_fps": status.get("output_fps"),  # the app's own figure: its newest 90 frames
        "latency_p50_ms": latency.get("p50"),
        "latency_p95_ms": latency.get("p95"),
        **_machine(cpu_before, _cpu_times()),
    }


def interval_fps(samples: list[dict[str, Any]]) -> list[tuple[dict[str, Any], float]]:
    """Each sample with the frames out per second since the one before, both counts on the app's clock."""
    rates = []
    for before, after in itertools.pairwise(samples):
        if before["frames_out"] is None or after["frames_out"] is None:
            continue  # a `status` that did not answer
        seconds = after["uptime_s"] - before["uptime_s"]
        if seconds > 0:
            rates.append((after, round((after["frames_out"] - before["frames_out"]) / seconds, 2)))
    return rates


def summarise(samples: list[dict[str, Any]], source_fps: float) -> dict[str, Any]:
    settled = [s for s in samples if s["t_s"] >= WARM_UP_S] or samples
    t_h = np.array([s["t_s"] for s in settled]) / 3600.0
    rss = np.array([s["rss_mb"] for s in settled])
    slope = float(np.polyfit(t_h, rss, 1)[0]) if len(settled) >= 3 else float("nan")
    half = len(settled) // 2
    late_slope = float(np.polyfit(t_h[half:], rss[half:], 1)[0]) if len(settled) - half >= 3 else float("nan")
    rated = interval_fps(settled)
    fps = [f for _, f in rated]
    outside = [
        {"t_s": after["t_s"], "fps": f, "steal_percent": after.get("steal_percent")}
        for after, f in rated
        if abs(f - source_fps) > 0.02 * source_fps
    ]
    recent_fps = [s["output_fps"] for s in settled if s["output_fps"]]
    return {
        "samples": len(samples),
        "minutes": round(samples[-1]["t_s"] / 60.0, 1) if samples else 0.0,
        "rss_slope_mb_per_hour": round(slope, 2),
        "rss_slope_second_half_mb_per_hour": round(late_slope, 2),
        "rss_mb_first_last": [settled[0]["rss_mb"], settled[-1]["rss_mb"]],
        "source_fps": source_fps,
        "fps_min_median_max": [min(fps), statistics.median(fps), max(fps)] if fps else None,
        "fps_within_2_percent": bool(fps) and all(abs(f - source_fps) <= 0.02 * source_fps for f in fps),
        "intervals_outside_2_percent": outside,
        "steal_percent_median_max": [
            statistics.median(s["steal_percent"] for s in settled),
            max(s["steal_percent"] for s in settled),
        ],
        "fps_of_newest_90_frames_min_max": [min(recent_fps), max(recent_fps)] if recent_fps else None,
        "open_files_min_max": [min(s["open_files"] for s in settled), max(s["open_files"] for s in settled)],
        "latency_p95_ms_median": statistics.median([s["latency_p95_ms"] for s in settled if s["latency_p95_ms"]])
        if any(s["latency_p95_ms"] for s in settled)
        else None,
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--json", action="store_true", help="print the samples and summary as JSON")
    args = parser.parse_args()

    with av.open(str(args.clip)) as container:
        source_fps = float(container.streams.video[0].average_rate or 30)
    with tempfile.TemporaryDirectory(prefix="soak-") as work:
        folder = Path(work)
        env = os.environ | {
            "EMOTION_OVERLAY_SESSIONS": str(folder / "sessions"),
            "EMOTION_OVERLAY_RUNTIME": str(folder / "runtime"),
            "EMOTION_OVERLAY_CONFIG": str(folder / "config.toml"),
        }
        command = [sys.executable, "-m", "overlay", "run", "--camera", str(args.clip), "--loop", "--sink", "file"]
        run = subprocess.Popen(
            [*command, "--out", str(folder / "soak.mp4")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        started = time.monotonic()
        samples: list[dict[str, Any]] = []
        try:
            while time.monotonic() - started < args.minutes * 60 and run.poll() is None:
                cpu_before = _cpu_times()
                time.sleep(args.every)
                if run.poll() is None:
                    samples.append(sample(run.pid, env, started, cpu_before))
                    if not args.json:
                        print(json.dumps(samples[-1]), flush=True)
        finally:
            run.send_signal(signal.SIGTERM)
            _, stderr = run.communicate(timeout=60)
        if run.returncode not in (0, -signal.SIGTERM):
            raise SystemExit(f"the run failed ({run.returncode}): {stderr.decode(errors='replace')[-500:]}")
    summary = summarise(samples, source_fps)
    if args.json:
        print(json.dumps({"samples": samples, "summary": summary}))
    else:
        print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
