"""Commands on recordings and labelled data: analyze and eval."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from overlay.cli.common import EXIT_FAILURE, EXIT_OK, load_config, positive_int


def eval_command(args: argparse.Namespace) -> int:
    """Score the bundled (or given) model of one modality and print the report."""
    # Imported here so that `--help` stays fast (onnxruntime and OpenCV take a while to load).
    from overlay.analysis import evaluation
    from overlay.face.model import FaceExpressionModel
    from overlay.speech.text_model import TextEmotionModel
    from overlay.voice.model import VoiceEmotionModel

    if args.modality == "face":
        face_model = FaceExpressionModel(args.model, threads=args.threads)
        report = evaluation.evaluate_face(args.data, face_model, ferplus_votes=args.ferplus)
    elif args.modality == "voice":
        model = VoiceEmotionModel(args.model, threads=args.threads)
        report = evaluation.evaluate_voice(args.data, model, actors=args.actors)
    else:
        text_model = TextEmotionModel(args.model, threads=args.threads)
        report = evaluation.evaluate_text(args.data, text_model, as_transcripts=args.as_transcripts)
    print(json.dumps(report.to_json()) if args.json else evaluation.format_report(report))
    return EXIT_OK


def analyze_command(args: argparse.Namespace) -> int:
    """Analyse recordings; one summary per file, a bad file reported without stopping the others."""
    from overlay.analysis.recordings import analyze_files
    from overlay.app import analyze_settings

    config = load_config(args)
    settings = analyze_settings(config, (args.out or Path(".")) if args.video else None, args.thumbnails)
    if args.out is not None and not args.video:
        print("emotion-overlay: note: --out is where --video writes; no video asked for", file=sys.stderr)
    outcomes = analyze_files(args.files, settings, jobs=args.jobs, progress=_analysis_progress(args.files))
    failed = 0
    for outcome in outcomes:
        if outcome.summary is None:
            failed += 1
            print(f"emotion-overlay: error: {outcome.error}", file=sys.stderr)
            if args.json:
                print(json.dumps({"file": str(outcome.path), "error": outcome.error}))
            continue
        summary = outcome.summary.to_json()
        video = str(outcome.annotated_video) if outcome.annotated_video else None
        if args.json:
            print(json.dumps({"file": str(outcome.path), **summary, "annotated_video": video}))
        else:
            print(_format_summary(str(outcome.path), summary, video))
    return EXIT_FAILURE if failed else EXIT_OK


def _format_summary(name: str, summary: dict[str, Any], video: str | None) -> str:
    modalities = ", ".join(f"{m} {label or '-'}" for m, label in summary["modalities"].items())
    lines = [
        f"{name}: {summary['duration_s']:.1f} s, mostly {summary['dominant_emotion'] or '-'} "
        f"({summary['dominant_share'] * 100:.0f}% of the time); {modalities}",
        f"  blinks {summary['blinks']} ({summary['blinks_per_minute']:.1f}/min), "
        f"{summary['utterances']} utterances, {summary['disagreements']} disagreements",
    ]
    if summary["transcript"]:
        lines.append(f"  said: {summary['transcript']}")
    lines.append(f"  timeline: {summary['timeline']}")
    if video:
        lines.append(f"  video: {video}")
    return "\n".join(lines)


def _analysis_progress(paths: Sequence[Path]) -> Callable[[Path, float], None]:
    """One bar per file on stderr: redrawn in place on a terminal, else a line when a file is done."""
    done: dict[Path, float] = dict.fromkeys(paths, 0.0)
    terminal = sys.stderr.isatty()
    drawn = [False]

    def show(path: Path, fraction: float) -> None:
        if path not in done or (fraction - done[path] < 0.01 and fraction < 1.0):
            return
        finished_now = fraction >= 1.0 > done[path]
        done[path] = fraction
        if not terminal:
            if finished_now:
                print(f"emotion-overlay: analysed {path}", file=sys.stderr)
            return
        if drawn[0]:
            print(f"\x1b[{len(done)}A", end="", file=sys.stderr)  # back to the first bar
        for name, share in done.items():
            bar = "#" * round(share * 25)
            print(f"\r{name.name[:30]:<30} [{bar:<25}] {share * 100:3.0f}%\x1b[K", file=sys.stderr)
        drawn[0] = True

    return show


def add_eval_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument(
        "--model", type=Path, metavar="ONNX", help="another .onnx with its .json card (default: bundled)"
    )
    parser.add_argument("--threads", type=positive_int, default=2, help="onnxruntime threads (default 2)")
    parser.set_defaults(handler=eval_command)
