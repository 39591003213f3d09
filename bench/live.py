"""Live-path benchmark: a clip replayed as the camera, through `run`'s pipeline, into a virtual camera.

    python bench/live.py --input CLIP --seconds N [--height 720|1080] [--recognizer auto|whisper|...] [--json]

Prints, for our pipeline and for a naive baseline (what the seed project did: full-frame
HOG detection, landmarks and the model on every frame, synchronously, before sending),
each measured in its own process in the same run: output_fps, latency_ms (frame read ->
frame sent: p50, p95, p99), analysis_hz, cpu_percent (of one core) and peak_rss_mb.
Ours also runs the sound path on the clip's own audio track, as `run` does (voice
activity + voice model every 0.5 s in a thread; speech recognition and text emotion per
utterance in a child process; delivery: pace, pauses, pitch in a thread), and reports what
it adds under `audio`: voice_cpu_percent, speech_cpu_percent and delivery_cpu_percent (of one
core; `--no-delivery` leaves that stage out), voice_windows_hz and utterances; its cpu_percent
includes the child's CPU, and the child's peak RSS is given as peak_rss_mb_speech_process.
Ours also fuses the three and writes the session timeline, as `run` does. `--no-audio`
leaves the sound path out. `--file-sink h264|mpeg4` also writes the annotated MP4 (with its
sound) as `run --sink file --out` does, encoded that way, into a temp file thrown away
afterwards; `--no-baseline` measures ours only.

The clip is first converted to 1280x720 (or 1920x1080) at 30 fps (letterboxed; a cached
copy in the temp folder) unless it already is. The virtual camera is pyvirtualcam's real
Camera with a registered backend that discards frames, since no v4l2loopback exists here.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

FPS = 30.0


def prepare_clip(path: Path, height: int) -> Path:
    """The clip as 16:9 `height`p at 30 fps (converted once with OpenCV and cached)."""
    width = height * 16 // 9
    capture = cv2.VideoCapture(str(path))
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    if size == (width, height) and round(capture.get(cv2.CAP_PROP_FPS)) == FPS:
        return path
    from overlay.sinks.letterbox import letterbox

    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    out = Path(tempfile.gettempdir()) / f"emotion-overlay-bench-{path.stem}-{digest}-{height}p30.mp4"
    if not out.exists():
        writer = cv2.VideoWriter(str(out), cv2.VideoWriter.fourcc(*"mp4v"), FPS, (width, height))
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            writer.write(letterbox(np.asarray(frame, dtype=np.uint8), width, height))
        writer.release()
    return out


class DiscardingBackend:
    """A pyvirtualcam backend (its documented contract) that counts frames and drops them."""

    def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **kw: Any) -> None:
        self.frames = 0

    def send(self, frame: npt.NDArray[np.uint8]) -> None:
        self.frames += 1

    def close(self) -> None:
        pass

    def device(self) -> str:
        return "bench://discard"

    def native_fourcc(self) -> int | None:
        return None


def _figures(frames: int, seconds: float, latencies: Sequence[float], analyses: int, cpu: float) -> dict[str, Any]:
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99]) if latencies else (0.0, 0.0, 0.0)
    return {
        "output_fps": frames / seconds,
        "latency_ms": {"p50": float(p50), "p95": float(p95), "p99": float(p99)},
        "analysis_hz": analyses / seconds,
        "cpu_percent": 100.0 * cpu / seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_ours(
    clip: Path,
    seconds: float,
    sound: Path | None,
    layout: str = "compact",
    recognizer: str = "auto",
    file_sink: str = "none",
    delivery: bool = True,
) -> dict[str, Any]:
    from overlay.delivery.live import delivery_stage
    from overlay.delivery.stage import DeliveryStage
    from overlay.face.live import face_stage
    from overlay.face.stage import FaceStage
    from overlay.media.audio_file import read_audio
    from overlay.runtime.pipeline import LivePipeline
    from overlay.runtime.stages import PipelineSettings, Sound
    from overlay.session.timeline import TimelineWriter
    from overlay.sinks.virtual_camera import VirtualCameraSink
    from overlay.sources.file_audio import FileAudioSource
    from overlay.sources.video_file import VideoFileSource
    from overlay.speech.live import speech_stage
    from overlay.speech.process import SpeechProcess
    from overlay.speech.stage import RecognizerSettings
    from overlay.voice.live import voice_stage
    from overlay.voice.stage import VoiceStage

    stage = FaceStage()  # loaded before timing starts, as `run` does
    source = VideoFileSource(clip, loop=True)
    sink = VirtualCameraSink(source.width, source.height, source.fps, backend="bench-discard")
    stages = [face_stage(lambda: stage)]
    audio = None
    if sound is not None:
        track = read_audio(sound)
        # The converted clip has no sound: the original's track loops on its own length.
        audio = FileAudioSource(track, lambda: source.origin, loop_seconds=track.duration_seconds)
        voice = VoiceStage()
        speech = SpeechProcess(RecognizerSettings(recognizer))  # as `run` does: the words path in a child process
        stages += [voice_stage(lambda: voice), speech_stage(lambda: speech)]
        if delivery:
            stages.append(delivery_stage(DeliveryStage))
    # The session timeline (and the MP4) are written as `run` writes them, into a folder thrown away afterwards.
    folder = tempfile.mkdtemp(prefix="bench-live-")
    timeline = TimelineWriter(Path(folder) / "session.sqlite", {"kind": "bench"})
    video_out = _file_sink(file_sink, Path(folder) / "out.mp4", source, audio.sample_rate if audio else None)
    cpu = _cpu_seconds()
    sinks: list[Any] = [sink] if video_out is None else [sink, video_out]
    settings = PipelineSettings(layouts=(layout,) * len(sinks))  # compact by default, as `run`
    listeners = (video_out.add_sound,) if video_out is not None else ()
    heard = Sound(audio, listeners) if audio is not None else None
    pipeline = LivePipeline(source, stages, sinks, settings, sound=heard, timeline=timeline)
    stats = pipeline.run(max_seconds=seconds)
    timeline.close(stats.seconds)
    cpu = _cpu_seconds() - cpu
    written = None
    if video_out is not None:  # closed by the pipeline
        megabits = video_out.path.stat().st_size * 8 / 1e6 if video_out.path.exists() else 0.0
        written = {"frames": video_out.frames_written, "left_out": video_out.frames_left_out}
        written["mbit_s"] = megabits / stats.seconds
    shutil.rmtree(folder, ignore_errors=True)
    speech_cpu = stats.cpu_seconds.get("speech-recognition", 0.0)
    cpu += speech_cpu  # the speech child's CPU counts as the app's
    figures = _figures(stats.frames_out, stats.seconds, stats.latencies_ms.newest().tolist(), stats.analyses, cpu)
    if written is not None:
        figures["file"] = written
    if audio is not None:
        figures["peak_rss_mb_speech_process"] = stats.peak_rss_mb.get("speech-recognition", 0.0)
        figures["audio"] = {
            "voice_cpu_percent": 100.0 * stats.cpu_seconds.get("voice-analysis", 0.0) / stats.seconds,
            "speech_cpu_percent": 100.0 * speech_cpu / stats.seconds,
            "delivery_cpu_percent": 100.0 * stats.cpu_seconds.get("delivery-analysis", 0.0) / stats.seconds,
            "voice_windows_hz": stats.counts.get("voice windows", 0) / stats.seconds,
            "utterances": stats.counts.get("utterances", 0),
        }
    return figures


def _file_sink(codec: str, out: Path, source: Any, sound_rate: int | None) -> Any:
    """The annotated MP4 `run --sink file` writes, with `codec` ("none": no file)."""
    if codec == "none":
        return None
    import dataclasses

    from overlay.media.video_encoding import LIVE
    from overlay.sinks.video_file import VideoFileSink

    encoding = dataclasses.replace(LIVE, h264=codec == "h264")
    return VideoFileSink(out, source.width, source.height, source.fps, True, sound_rate, encoding)


def run_baseline(clip: Path, seconds: float) -> dict[str, Any]:
    """Full-frame HOG + landmarks + model on every frame, then draw and send, all in one thread."""
    import dlib

    from overlay.face.align import aligned_face_crop
    from overlay.face.dlib import DEFAULT_LANDMARKS_PATH
    from overlay.face.model import FaceExpressionModel
    from overlay.face.tracking import TrackedFace
    from overlay.render.detailed import render
    from overlay.render.draw import OverlaySettings, OverlayState
    from overlay.sinks.virtual_camera import VirtualCameraSink
    from overlay.sources.video_file import VideoFileSource

    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(DEFAULT_LANDMARKS_PATH))
    model = FaceExpressionModel(threads=1)
    source = VideoFileSource(clip, loop=True)
    sink = VirtualCameraSink(source.width, source.height, source.fps, backend="bench-discard")
    latencies: list[float] = []
    frames = 0
    cpu = _cpu_seconds()
    started = time.monotonic()
    while time.monotonic() - started < seconds and (frame := source.read()) is not None:
        gray = cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY)
        faces: list[TrackedFace] = []
        expression = None
        for rect in detector(gray, 0):
            shape = predictor(gray, rect)
            points = np.array([[shape.part(i).x, shape.part(i).y] for i in range(68)], dtype=np.float32)
            box = (rect.left(), rect.top(), rect.width(), rect.height())
            faces.append(TrackedFace(box, points, primary=not faces))
            if expression is None:
                expression = model.predict_face(aligned_face_crop(frame.image, points))
        sink.send(render(frame.image, OverlayState(faces=tuple(faces), expression=expression), OverlaySettings()))
        latencies.append((time.monotonic() - frame.timestamp) * 1000)
        frames += 1
    elapsed = time.monotonic() - started
    cpu = _cpu_seconds() - cpu
    sink.close()
    source.close()
    return _figures(frames, elapsed, latencies, frames, cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", type=Path, required=True, help="a talking-face clip")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--height", type=int, choices=(720, 1080), default=720, help="output size (16:9)")
    parser.add_argument("--no-audio", action="store_true", help="face path only")
    parser.add_argument("--layout", choices=("compact", "detailed", "clean"), default="compact", help="ours' layout")
    parser.add_argument(
        "--recognizer", choices=("auto", "vosk", "whisper", "pocketsphinx"), default="auto", help="ours' words"
    )
    parser.add_argument("--file-sink", choices=("none", "h264", "mpeg4"), default="none", help="ours' MP4 too")
    parser.add_argument("--no-baseline", action="store_true", help="measure ours only")
    parser.add_argument("--no-delivery", action="store_true", help="ours without the delivery stage")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--variant", choices=("ours", "baseline"), help=argparse.SUPPRESS)  # the worker process
    parser.add_argument("--sound", type=Path, help=argparse.SUPPRESS)  # the worker's audio track
    args = parser.parse_args()

    import pyvirtualcam

    pyvirtualcam.register_backend("bench-discard", DiscardingBackend)
    if args.variant:
        clip = args.input
        result = (
            run_ours(clip, args.seconds, args.sound, args.layout, args.recognizer, args.file_sink, not args.no_delivery)
            if args.variant == "ours"
            else run_baseline(clip, args.seconds)
        )
        print(json.dumps(result))
        return

    clip = prepare_clip(args.input, args.height)
    results: dict[str, Any] = {"input": str(clip), "seconds": args.seconds}
    variants = ("ours",) if args.no_baseline else ("ours", "baseline")
    for variant in variants:
        command = [sys.executable, __file__, "--input", str(clip), "--seconds", str(args.seconds), "--variant", variant]
        command += ["--layout", args.layout, "--recognizer", args.recognizer, "--file-sink", args.file_sink]
        if variant == "ours" and not args.no_audio:
            command += ["--sound", str(args.input)]
        if args.no_delivery:
            command.append("--no-delivery")
        worker = subprocess.run(command, capture_output=True, text=True, check=True)
        results[variant] = json.loads(worker.stdout.strip().splitlines()[-1])
    if args.json:
        print(json.dumps(results))
        return
    print(f"{clip} replayed for {args.seconds:.0f} s per variant, {args.height * 16 // 9}x{args.height}, {args.layout}")
    print(f"{'':10}{'out fps':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'analysis/s':>12}{'CPU %':>8}{'RSS MB':>8}")
    for variant in variants:
        r = results[variant]
        lat = r["latency_ms"]
        print(
            f"{variant:10}{r['output_fps']:>9.1f}{lat['p50']:>9.1f}{lat['p95']:>9.1f}{lat['p99']:>9.1f}"
            f"{r['analysis_hz']:>12.1f}{r['cpu_percent']:>8.0f}{r['peak_rss_mb']:>8.0f}"
        )
    if "audio" in results["ours"]:
        a = results["ours"]["audio"]
        print(
            f"ours' sound path: voice {a['voice_cpu_percent']:.1f} % CPU ({a['voice_windows_hz']:.1f} windows/s), "
            f"speech recognition + text {a['speech_cpu_percent']:.1f} % CPU ({a['utterances']} utterances), "
            f"delivery {a['delivery_cpu_percent']:.1f} % CPU"
        )


if __name__ == "__main__":
    main()
