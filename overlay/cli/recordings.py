"""Commands on recordings and labelled data: analyze and eval."""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from overlay.cli.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, counted, load_config, positive_int
from overlay.errors import OverlayError

if TYPE_CHECKING:
    from overlay.analysis.recordings import AnalyzeSettings


def eval_command(args: argparse.Namespace) -> int:
    """Score the bundled (or given) model of one modality and print the report."""
    # Imported here so that `--help` stays fast (onnxruntime and OpenCV take a while to load).
    from overlay.analysis import evaluation
    from overlay.face.model import FaceExpressionModel
    from overlay.speech.text_model import TextEmotionModel
    from overlay.voice.model import VoiceEmotionModel

    if args.modality == "blinks":
        return _eval_blinks(args.data, args.json)
    if args.modality == "eye-contact":
        return _eval_eye_contact(args)
    if args.modality == "head":
        return _eval_head(args)
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


def _eval_blinks(data: Path, as_json: bool) -> int:
    """Each annotated video's scores as it is done (flushed), then the scores over all."""
    from overlay.analysis import blink_eval

    items = []
    for item in blink_eval.evaluate_blinks(data):
        items.append(item)
        print(json.dumps(item.to_json()) if as_json else blink_eval.format_item(item), flush=True)
    summary = blink_eval.summarize(items)
    print(json.dumps(summary.to_json()) if as_json else blink_eval.format_summary(summary))
    return EXIT_OK


def _eval_eye_contact(args: argparse.Namespace) -> int:
    """Each photo's eye contact as it is read (flushed), then the scores over all."""
    from overlay.analysis import eye_contact_eval
    from overlay.attention.eye_contact import EyeContactEstimator, EyeContactModel, EyeContactSettings
    from overlay.face.tracking import FaceTracker

    photos = eye_contact_eval.read_labels(args.data)
    settings = EyeContactSettings(threshold=args.threshold)
    estimator = EyeContactEstimator(settings, EyeContactModel(args.model, threads=args.threads))
    results = []
    for result in eye_contact_eval.score_photos(photos, estimator, FaceTracker()):
        results.append(result)
        if args.json:
            print(json.dumps(result.to_json()), flush=True)
    report = eye_contact_eval.summarize(results, estimator.threshold)
    print(json.dumps(report.to_json()) if args.json else eye_contact_eval.format_eye_contact_report(report))
    return EXIT_OK


def _eval_head(args: argparse.Namespace) -> int:
    """Each photo's head pose as it is read (flushed, with --json), then the scores over all."""
    from overlay.analysis import head_pose_eval
    from overlay.attention.head_pose import HeadPoseSettings
    from overlay.face.tracking import FaceTracker

    photos = head_pose_eval.read_labels(args.data)
    settings = HeadPoseSettings() if args.fov is None else HeadPoseSettings(horizontal_fov_deg=args.fov)
    results = []
    for result in head_pose_eval.score_photos(photos, FaceTracker(), settings):
        results.append(result)
        if args.json:
            print(json.dumps(result.to_json()), flush=True)
    report = head_pose_eval.summarize(results, settings)
    print(json.dumps(report.to_json()) if args.json else head_pose_eval.format_head_pose_report(report))
    return EXIT_OK


def analyze_command(args: argparse.Namespace) -> int:
    """Analyse a batch of recordings: each file's outcome printed as it finishes, none lost to another's failure."""
    from overlay.analysis.batch import FAILED, collect_jobs
    from overlay.analysis.engines import EngineOptions, open_engine

    if not args.files and not args.lists:
        print("emotion-overlay analyze: error: give FILE(s), folders or --from LIST", file=sys.stderr)
        return EXIT_USAGE
    if args.address and args.engine != "ray":
        print("emotion-overlay analyze: error: --address is for --engine ray", file=sys.stderr)
        return EXIT_USAGE
    settings = _analyze_settings(args)
    jobs = collect_jobs(args.files, args.recursive, args.lists, args.skip_existing)
    if not jobs:
        raise OverlayError("no recordings found in what was given (MP4, MOV, MKV, WAV, FLAC...); check the paths")
    summary = _open_summary(args.summary, jobs)
    counts: Counter[str] = Counter()
    videos_missing = 0  # asked for with --video and not written: the exit status says so
    progress = _BatchProgress(len(jobs))
    engine = None
    stopped_by: list[int] = []  # SIGTERM stops the batch as Ctrl-C does: workers end, the last line says what finished
    signal.signal(signal.SIGTERM, lambda signum, _: _interrupt(stopped_by, signum))
    try:
        engine = open_engine(args.engine, EngineOptions(settings, args.jobs, args.address))
        progress.started(engine.workers)
        for outcome in engine.run(jobs):
            counts[outcome.status] += 1
            videos_missing += outcome.video_error is not None
            _print_outcome(outcome, args.json)
            if summary is not None:
                summary.add(outcome)
            progress.advance(outcome, counts)
    except KeyboardInterrupt:
        progress.close()
        print(
            f"emotion-overlay: interrupted after {sum(counts.values())} of {len(jobs)} files; "
            "run the same command with --skip-existing to go on",
            file=sys.stderr,
        )
        return 128 + (stopped_by[0] if stopped_by else signal.SIGINT)
    finally:
        progress.close()
        if engine is not None:
            engine.close()
        if summary is not None:
            summary.close()
    totals = {"files": len(jobs), **{status: counts[status] for status in ("ok", "failed", "skipped")}}
    if args.json:
        print(json.dumps(totals), flush=True)
    else:
        print(
            f"{totals['files']} files: {totals['ok']} analysed, {totals['failed']} failed, {totals['skipped']} skipped"
        )
    return EXIT_FAILURE if counts[FAILED] or videos_missing else EXIT_OK


def _analyze_settings(args: argparse.Namespace) -> AnalyzeSettings:
    """The config file's settings with the command line's; --out checked before any work (an
    analysis must not be lost to a folder the video cannot be written in)."""
    from overlay.analysis.recordings import check_output_folder
    from overlay.app import analyze_settings

    config = load_config(args)
    if args.recognizer:
        config = dataclasses.replace(config, speech=dataclasses.replace(config.speech, recognizer=args.recognizer))
    _note_idle_flags(args)
    video_out = (args.out or Path(".")).absolute() if args.video else None
    if video_out is not None:
        check_output_folder(video_out)
    return dataclasses.replace(
        analyze_settings(config, video_out, args.thumbnails),
        timeline_folder=args.sessions.absolute() if args.sessions else None,  # workers may run elsewhere
        captions=args.captions,
        captions_out=args.out.absolute() if args.captions and args.out else None,  # None: beside each recording
        replace_captions=args.force,
    )


def _interrupt(stopped_by: list[int], signum: int) -> None:
    stopped_by.append(signum)
    raise KeyboardInterrupt


def _note_idle_flags(args: argparse.Namespace) -> None:
    """A note for flags that do nothing without another (the run goes on)."""
    if args.out is not None and not args.video and not args.captions:
        print("emotion-overlay: note: --out is where --video and --captions write; neither asked for", file=sys.stderr)
    if args.force and not args.captions:
        print("emotion-overlay: note: --force replaces caption files; no --captions asked for", file=sys.stderr)


def _open_summary(path: Path | None, jobs: Sequence[Any]) -> Any:
    from overlay.analysis.batch import SummaryFile

    return SummaryFile(path, [job.path for job in jobs]) if path is not None else None


def _print_outcome(outcome: Any, as_json: bool) -> None:
    """One file's outcome on stdout at once (flushed: a reader sees each as it finishes)."""
    if outcome.captions_error:
        print(f"emotion-overlay: note: {outcome.captions_error}", file=sys.stderr, flush=True)
    if outcome.video_error:
        print(f"emotion-overlay: error: {outcome.video_error} (the session is kept)", file=sys.stderr, flush=True)
    if as_json:
        print(json.dumps(outcome.to_json()), flush=True)
    elif outcome.status == "failed":
        print(f"emotion-overlay: error: {outcome.error}", file=sys.stderr, flush=True)
    elif outcome.status == "skipped":
        print(f"{outcome.file}: skipped, already analysed (session {outcome.session})", flush=True)
    else:
        print(_format_summary(outcome.file, outcome.summary, outcome.annotated_video, outcome.captions), flush=True)


def _format_summary(name: str, summary: dict[str, Any], video: str | None, captions: str | None = None) -> str:
    modalities = ", ".join(f"{m} {label or '-'}" for m, label in summary["modalities"].items())
    lines = [
        f"{name}: {summary['duration_s']:.1f} s, mostly {summary['dominant_emotion'] or '-'} "
        f"({summary['dominant_share'] * 100:.0f}% of the time); {modalities}",
        f"  blinks {summary['blinks']} ({summary['blinks_per_minute']:.1f}/min), "
        f"{counted(summary['utterances'], 'utterances')}, {counted(summary['disagreements'], 'disagreements')}",
    ]
    if summary["transcript"]:
        lines.append(f"  said: {summary['transcript']}")
    delivery = _delivery_line(summary)
    if delivery:
        lines.append(f"  delivery: {delivery}")
    attention = _attention_line(summary.get("attention"))
    if attention:
        lines.append(f"  attention: {attention}")
    lines.append(f"  timeline: {summary['timeline']}")
    if video:
        lines.append(f"  video: {video}")
    if captions:
        lines.append(f"  captions: {captions}")
    return "\n".join(lines)


def _attention_line(attention: dict[str, Any] | None) -> str:
    """Face present, eye contact, looking away, head movement: what a rehearsal coach counts."""
    if not attention or attention.get("face_present_share") is None:
        return ""
    parts = [f"face in view {attention['face_present_share'] * 100:.0f}%"]
    if attention.get("eye_contact_share") is not None:
        parts.append(f"eye contact {attention['eye_contact_share'] * 100:.0f}%")
    parts.append(f"looked away {counted(attention['looked_away'], 'times')} ({attention['looked_away_s']:.0f} s)")
    if attention.get("head_movement_deg") is not None:
        parts.append(f"head moved {attention['head_movement_deg']:.0f} deg")
    if attention.get("blink_band") is not None:
        low, high = attention["blink_band_per_minute"]
        parts.append(
            f"blinks {attention['blinks_per_minute']:.0f}/min ({attention['blink_band']} {low:.0f}-{high:.0f} at rest)"
        )
    return ", ".join(parts)


def _delivery_line(summary: dict[str, Any]) -> str:
    """Pace, long pauses, fillers, pitch range, talk share and level, those that were measured."""
    parts = []
    if summary.get("pace_wpm") is not None:
        parts.append(f"{summary['pace_wpm']:.0f} wpm")
    if summary.get("long_pauses") is not None:
        parts.append(counted(len(summary["long_pauses"]), "long pauses"))
    if summary.get("fillers_per_minute") is not None:
        parts.append(f"{summary['fillers_per_minute']:.1f} fillers/min")
    if summary.get("pitch_range_semitones") is not None:
        monotone = ", monotone" if summary.get("monotone") else ""
        parts.append(f"pitch range {summary['pitch_range_semitones']:.1f} semitones{monotone}")
    if summary.get("talk_share") is not None:
        parts.append(f"talking {summary['talk_share'] * 100:.0f}% of the time")
    if summary.get("level_dbfs") is not None:
        flags = ", too quiet" if summary.get("too_quiet") else ""
        flags += ", clipping" if summary.get("clipping") else ""
        parts.append(f"level {summary['level_dbfs']:.0f} dBFS{flags}")
    return ", ".join(parts)


class _BatchProgress:
    """Files done / failed / left, rate and time left on stderr: a tqdm bar on a terminal, else a
    line per file (a log of a long batch run in the background)."""

    def __init__(self, total: int) -> None:
        from tqdm import tqdm

        self.total = total
        self._terminal = sys.stderr.isatty()
        self._bar = tqdm(total=total, unit="file", file=sys.stderr, dynamic_ncols=True, disable=not self._terminal)
        self._closed = False

    def started(self, workers: int) -> None:
        self._bar.set_description(f"analyze ({workers} at once)")

    def advance(self, outcome: Any, counts: Counter[str]) -> None:
        self._bar.set_postfix(failed=counts["failed"], skipped=counts["skipped"], refresh=False)
        self._bar.update(1)
        if not self._terminal:
            done = sum(counts.values())
            rate = self._bar.format_dict.get("rate") or 0.0
            left = f", about {(self.total - done) / rate / 60:.0f} min left" if rate else ""
            print(
                f"emotion-overlay: [{done}/{self.total}] {outcome.status} {outcome.file} "
                f"({counts['failed']} failed, {self.total - done} left{left})",
                file=sys.stderr,
                flush=True,
            )

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._bar.close()


def add_eval_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument(
        "--model", type=Path, metavar="ONNX", help="another .onnx with its .json card (default: bundled)"
    )
    parser.add_argument("--threads", type=positive_int, default=2, help="onnxruntime threads (default 2)")
    parser.set_defaults(handler=eval_command)
