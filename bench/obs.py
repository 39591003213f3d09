"""OBS benchmark: what the overlay costs OBS and us, and how fast frames come out of OBS.

    python bench/obs.py [--port P --password PW] [--seconds N] [--json]

Without --port it starts its own headless OBS (Debian's obs-studio under Xvfb, as the tests
do: tests/obs.py) and ends it afterwards. Prints one JSON object (or a table):
- text_update_ms: round trip of SetInputSettings changing a text source (p50, p95);
- image_reload_ms: writing the bars PNG and SetInputSettings with the same file (p50, p95),
  and image_visible_ms: from the request until a screenshot of the source shows the new
  picture (p50), i.e. when OBS has really reloaded it;
- screenshot_fps: GetSourceScreenshot of a 1280x720 source as JPEG and PNG at 640x360 and
  1280x720 (frames a second, one request after another), with the decode included;
- capture_obs_cpu_percent: OBS's extra CPU (of one core) while `--camera obs:` takes its
  default 640-wide frames at 10 a second, over OBS's own idle CPU;
- sink: the OBS overlay sink fed a changing state at 30 frames/s for --seconds: text and
  image updates a second, the CPU of its "obs-overlay" thread and OBS's extra CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from overlay.obs.connection import ObsAddress, ObsConnection
from overlay.obs.scene import remove_overlay
from overlay.render.draw import OverlayState
from overlay.sinks.obs import ObsOverlaySink, ObsSinkSettings
from overlay.sources.obs_source import ObsFrameSource

TEXT = "bench: text"
IMAGE = "bench: image"
PICTURE = "bench: picture"


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50": round(statistics.median(ordered), 2),
        "p95": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 2),
    }


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_percent(pid: int | None, seconds: float, work: Callable[[], None] | None = None) -> float | None:
    """CPU of `pid` (percent of one core) over `seconds`, while `work()` runs (or idle)."""
    if pid is None:
        return None
    started, wall = _cpu_seconds(pid), time.monotonic()
    if work is None:
        time.sleep(seconds)
    else:
        work()
    return round(100 * (_cpu_seconds(pid) - started) / (time.monotonic() - wall), 1)


def _decode(data: str) -> npt.NDArray[np.uint8]:
    import base64

    image = cv2.imdecode(np.frombuffer(base64.b64decode(data.partition(",")[2]), np.uint8), cv2.IMREAD_COLOR)
    return np.asarray(image, dtype=np.uint8)


def _camera_like(path: Path) -> None:
    """A 1280x720 picture that compresses like a camera's (smooth shapes and some noise)."""
    rng = np.random.default_rng(1)
    small = rng.integers(0, 256, (9, 16, 3), dtype=np.uint8)
    image = cv2.resize(small, (1280, 720), interpolation=cv2.INTER_CUBIC).astype(np.int16)
    image += rng.integers(-12, 13, image.shape, dtype=np.int16)
    cv2.imwrite(str(path), np.clip(image, 0, 255).astype(np.uint8))


def measure(address: ObsAddress, obs_pid: int | None, seconds: float, folder: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    picture, bars = folder / "camera.png", folder / "bars.png"
    _camera_like(picture)
    with ObsConnection(address) as obs:
        scene = obs.request("GetCurrentProgramScene")["currentProgramSceneName"]
        for name in (TEXT, IMAGE, PICTURE):
            if name in {i["inputName"] for i in obs.request("GetInputList")["inputs"]}:
                obs.request("RemoveInput", inputName=name)
        time.sleep(0.5)
        obs.request("CreateInput", sceneName=scene, inputName=TEXT, inputKind="text_ft2_source_v2", inputSettings={})
        cv2.imwrite(str(bars), np.zeros((64, 64, 4), np.uint8))
        obs.request(
            "CreateInput", sceneName=scene, inputName=IMAGE, inputKind="image_source", inputSettings={"file": str(bars)}
        )
        obs.request(
            "CreateInput",
            sceneName=scene,
            inputName=PICTURE,
            inputKind="image_source",
            inputSettings={"file": str(picture)},
        )
        time.sleep(1.0)
        results["obs_idle_cpu_percent"] = _cpu_percent(obs_pid, 3.0)

        texts = []
        for i in range(200):
            started = time.perf_counter()
            obs.request("SetInputSettings", inputName=TEXT, inputSettings={"text": f"happy {i % 100}%"})
            texts.append((time.perf_counter() - started) * 1000)
        results["text_update_ms"] = _percentiles(texts)

        reloads, visible = [], []
        for i in range(20):
            colour = (i * 37 % 200 + 40, 100, 200 - i * 5, 255)
            image = np.zeros((260, 380, 4), np.uint8)
            image[:] = colour
            started = time.perf_counter()
            _, png = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 1])
            partial = bars.with_suffix(".tmp")
            partial.write_bytes(png.tobytes())
            os.replace(partial, bars)
            obs.request("SetInputSettings", inputName=IMAGE, inputSettings={"file": str(bars)})
            reloads.append((time.perf_counter() - started) * 1000)
            while time.perf_counter() - started < 2.0:
                shot = obs.request(
                    "GetSourceScreenshot", sourceName=IMAGE, imageFormat="png", imageWidth=38, imageHeight=26
                )
                if abs(int(_decode(shot["imageData"])[13, 19, 0]) - colour[0]) <= 3:
                    visible.append((time.perf_counter() - started) * 1000)
                    break
            time.sleep(0.05)
        results["image_reload_ms"] = _percentiles(reloads)
        results["image_visible_ms"] = _percentiles(visible) if visible else None

        shots: dict[str, float] = {}
        for fmt in ("jpg", "png"):
            for width, height in ((640, 360), (1280, 720)):
                count, started = 0, time.perf_counter()
                while time.perf_counter() - started < 2.0:
                    shot = obs.request(
                        "GetSourceScreenshot",
                        sourceName=PICTURE,
                        imageFormat=fmt,
                        imageWidth=width,
                        imageHeight=height,
                        imageCompressionQuality=85 if fmt == "jpg" else -1,
                    )
                    _decode(shot["imageData"])
                    count += 1
                shots[f"{fmt}_{width}x{height}"] = round(count / (time.perf_counter() - started), 1)
        results["screenshot_fps"] = shots

        source = ObsFrameSource(address, PICTURE)  # the defaults of --camera obs:
        frames = [0]

        def capture() -> None:
            until = time.monotonic() + seconds
            while time.monotonic() < until:
                if source.read() is not None:
                    frames[0] += 1

        results["capture_obs_cpu_percent"] = _subtract(_cpu_percent(obs_pid, seconds, capture), results)
        results["capture"] = {"width": source.width, "height": source.height, "fps": round(frames[0] / seconds, 1)}
        source.close()

        for name in (TEXT, IMAGE, PICTURE):
            obs.request("RemoveInput", inputName=name)
        remove_overlay(obs)
        time.sleep(0.5)

    sink = ObsOverlaySink(ObsSinkSettings(address, bars_file=folder / "overlay-bars.png"))
    states = _changing_states()

    def feed() -> None:
        until, i = time.monotonic() + seconds, 0
        while time.monotonic() < until:
            sink.show(states[i % len(states)])
            i += 1
            time.sleep(1 / 30)

    obs_cpu = _subtract(_cpu_percent(obs_pid, seconds, feed), results)
    sink.close()
    stats = sink.stats
    results["sink"] = {
        "text_updates_per_s": round(stats.text_updates / seconds, 1),
        "image_updates_per_s": round(stats.image_updates / seconds, 2),
        "text_ms_mean": round(1000 * stats.text_seconds / max(1, stats.text_updates), 2),
        "image_ms_mean": round(1000 * stats.image_seconds / max(1, stats.image_updates), 2),
        "thread_cpu_percent": round(100 * stats.cpu_seconds / seconds, 2),
        "obs_extra_cpu_percent": obs_cpu,
    }
    with ObsConnection(address) as obs:
        remove_overlay(obs)
    return results


def _subtract(busy: float | None, results: dict[str, Any]) -> float | None:
    idle = results.get("obs_idle_cpu_percent")
    return None if busy is None or idle is None else round(busy - idle, 1)


def _changing_states() -> list[OverlayState]:
    """A face reading that drifts like a real one (the label's percent changes a few times a second)."""
    from overlay.face.blinks import BlinkState
    from overlay.render.draw import Captions

    states = []
    for i in range(300):
        happy = 0.5 + 0.3 * np.sin(i / 15)
        probabilities = np.array([0.05, 0.05, 0.05, happy, 0.1, 0.1, 0.0], dtype=np.float32)
        probabilities[6] = max(0.0, 1 - probabilities[:6].sum())
        blink = BlinkState(0.3, 0.3, False, i // 90, 14.0)
        captions = Captions(("so this is my talk",), "about the" if i % 60 < 30 else "about the weather")
        states.append(OverlayState(expression=probabilities, blink=blink, captions=captions))
    return states


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, help="an OBS already running (default: start a headless one)")
    parser.add_argument("--password", default=os.environ.get("OBS_WEBSOCKET_PASSWORD", ""))
    parser.add_argument("--pid", type=int, help="that OBS's process id, for its CPU figures")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the CPU measurements")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    instance = None
    if args.port is None:
        from tests.obs import ObsInstance

        instance = ObsInstance()
        address, pid = ObsAddress("127.0.0.1", instance.port, instance.password), instance.pid
        time.sleep(2.0)  # let it settle before measuring its idle CPU
    else:
        address, pid = ObsAddress("127.0.0.1", args.port, args.password), args.pid
    try:
        with tempfile.TemporaryDirectory(prefix="bench-obs-") as folder:
            results = measure(address, pid, args.seconds, Path(folder))
    finally:
        if instance is not None:
            instance.close()
    if args.json:
        print(json.dumps(results))
    else:
        for key, value in results.items():
            print(f"{key:>26}: {value}")


if __name__ == "__main__":
    main()
