"""How long `run` takes to stop after SIGTERM (Ctrl+C in a terminal; `emotion-overlay stop`).

    python bench/stop_time.py [--runs 5] [--load N] [--clip FILE]

Starts `emotion-overlay run` on a looped talking clip with every modality (face, voice,
words in the speech child, fusion, timeline, annotated video), lets it run 8 s once its
first second of video is on disk (on a loaded machine starting alone takes seconds), sends
SIGTERM and times until the process has exited, --runs times. --load N keeps N busy-loop
processes running meanwhile (a loaded machine). Prints each time, the median and the
1-minute load average.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CLIP = ROOT.parent / "shared" / "data" / "video" / "talking" / "1.mp4"


def _spin() -> None:
    while True:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--load", type=int, default=0, help="busy-loop processes beside the run")
    parser.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    args = parser.parse_args()

    spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(args.load)]
    for spinner in spinners:
        spinner.start()
    times = []
    try:
        with tempfile.TemporaryDirectory(prefix="stop-") as work:
            env = os.environ | {"EMOTION_OVERLAY_SESSIONS": work, "EMOTION_OVERLAY_RUNTIME": work}
            for i in range(args.runs):
                out = Path(work) / f"run{i}.mp4"
                command = [sys.executable, "-m", "overlay", "run", "--camera", str(args.clip), "--loop"]
                run = subprocess.Popen(
                    [*command, "--sink", "file", "--out", str(out)],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                deadline = time.monotonic() + 120
                while not (out.exists() and out.stat().st_size > 20_000) and time.monotonic() < deadline:
                    time.sleep(0.1)  # the first fragment: running for real
                time.sleep(8)
                sent = time.monotonic()
                run.send_signal(signal.SIGTERM)
                run.wait(timeout=60)
                times.append(time.monotonic() - sent)
                print(f"run {i + 1}: stopped in {times[-1]:.2f} s (exit {run.returncode})", flush=True)
    finally:
        for spinner in spinners:
            spinner.terminate()
    print(f"median {statistics.median(times):.2f} s, max {max(times):.2f} s; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
