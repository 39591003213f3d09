"""Scoring blink detection on videos annotated frame by frame (the `eval blinks` command's work).

The annotation is the Eyeblink8 `.tag` format (version 1.1): after `#start`, one line per
frame `frame:blink_id:NF:LE_FC:LE_NV:RE_FC:RE_NV:...`; frames are numbered from 1 (decoded
frame n-1) and a blink is the run of frames that carry one id (-1 outside blinks). The
video beside it (same stem) is run through the face stage exactly as `analyze` runs it:
decoded frames with their own timestamps, one after another, so the figures are the
product's. Every event the detector reports counts as a detection (blinks and eyes-closed
spans alike: a user sees both).

A detection matches a true blink when their intervals overlap (`overlap`), or, stricter,
when their intersection over union exceeds 0.2 (`iou`, the annotators' own evaluation);
either way one to one, as many pairs as possible. The detector learns each person for a
moment at the start, so the scores are also given without the first seconds (`after`):
blinks and detections starting before then are neither counted nor held against it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from overlay.errors import DataError
from overlay.face.blinks import BlinkEvent

if TYPE_CHECKING:
    from overlay.face.stage import FaceStage

logger = logging.getLogger(__name__)

IOU_THRESHOLD: Final[float] = 0.2
RULES: Final[tuple[str, ...]] = ("overlap", "iou")
SKIP_S: Final[float] = 2.0  # the `after` scores leave out what starts in the first 2 s
VIDEO_SUFFIXES: Final[tuple[str, ...]] = (".mp4", ".avi", ".mov", ".mkv", ".webm")


@dataclass(frozen=True)
class Span:
    """[start, end) in seconds on the video's clock."""

    start: float
    end: float

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end

    def iou(self, other: Span) -> float:
        inter = min(self.end, other.end) - max(self.start, other.start)
        if inter <= 0:
            return 0.0
        return inter / (max(self.end, other.end) - min(self.start, other.start))


@dataclass(frozen=True)
class BlinkAnnotation:
    """A `.tag` file: each true blink as decoded frames [first, last + 1), and which frames were annotated."""

    blinks: tuple[tuple[int, int], ...]
    annotated: frozenset[int]  # decoded frame indices with a line in the file


def read_tag(path: Path) -> BlinkAnnotation:
    """The blinks of an Eyeblink8 `.tag` file (frame numbers from 1 become decoded indices from 0)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise DataError(f"{path}: cannot read the annotation ({err.strerror})") from err
    head, found, body = text.partition("#start")
    if not found:
        raise DataError(f"{path}: not an eye-blink annotation (no #start line)")
    runs: dict[int, list[int]] = {}
    annotated = set()
    for number, line in enumerate(body.splitlines(), start=head.count("\n") + 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split(":")
        try:
            frame, blink_id = int(fields[0]) - 1, int(fields[1])
        except (IndexError, ValueError) as err:
            raise DataError(f"{path}:{number}: expected frame:blink_id:..., got {line[:40]!r}") from err
        annotated.add(frame)
        if blink_id >= 0:
            runs.setdefault(blink_id, []).append(frame)
    blinks = sorted((min(frames), max(frames) + 1) for frames in runs.values())
    return BlinkAnnotation(tuple(blinks), frozenset(annotated))


def match(detected: Sequence[Span], truth: Sequence[Span], rule: str) -> dict[int, int]:
    """Detection index -> true blink index, one to one and as many pairs as the rule allows
    (augmenting paths: with intervals a detection meets at most a few true blinks)."""
    if rule not in RULES:
        raise ValueError(f"unknown matching rule {rule!r}; rules are {', '.join(RULES)}")

    def fits(d: Span, t: Span) -> bool:
        return d.overlaps(t) if rule == "overlap" else d.iou(t) > IOU_THRESHOLD

    candidates = [[j for j, t in enumerate(truth) if fits(d, t)] for d in detected]
    owner: dict[int, int] = {}  # true blink -> detection

    def claim(i: int, seen: set[int]) -> bool:
        for j in candidates[i]:
            if j not in seen:
                seen.add(j)
                if j not in owner or claim(owner[j], seen):
                    owner[j] = i
                    return True
        return False

    for i in range(len(detected)):
        claim(i, set())
    return {i: j for j, i in owner.items()}


@dataclass(frozen=True)
class BlinkScores:
    """Counts of one item (or pooled over items) under one matching rule. With nothing to
    divide by, precision (nothing found) and recall (no blink) are 1: nothing was got wrong."""

    true: int
    detected: int
    matched: int

    @property
    def precision(self) -> float:
        return self.matched / self.detected if self.detected else 1.0

    @property
    def recall(self) -> float:
        return self.matched / self.true if self.true else 1.0

    @property
    def f1(self) -> float:
        total = self.true + self.detected
        return 2 * self.matched / total if total else 1.0

    @property
    def count_error(self) -> int:
        """Detected minus true: positive counts too many."""
        return self.detected - self.true

    def __add__(self, other: BlinkScores) -> BlinkScores:
        return BlinkScores(self.true + other.true, self.detected + other.detected, self.matched + other.matched)

    def to_json(self) -> dict[str, Any]:
        return {
            "true": self.true,
            "detected": self.detected,
            "matched": self.matched,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "count_error": self.count_error,
        }


def score(
    detected: Sequence[Span],
    truth: Sequence[Span],
    rule: str,
    after: float = 0.0,
    unannotated: Sequence[Span] = (),
) -> BlinkScores:
    """Scores of detections against true blinks, counting only those that start at `after` s or
    later (matched on everything first, so a pair across that moment is not split into two
    errors). An unmatched detection that touches `unannotated` frames is not counted: the
    annotation says nothing there (ZJU's clips end on closings it leaves out)."""
    pairs = match(detected, truth, rule)
    kept_true = [j for j, t in enumerate(truth) if t.start >= after]
    matched = sum(1 for j in pairs.values() if truth[j].start >= after)
    # A detection matched to a blink left out is left out with it.
    kept_detected = [
        i
        for i, d in enumerate(detected)
        if (truth[pairs[i]].start if i in pairs else d.start) >= after
        and (i in pairs or not any(d.overlaps(u) for u in unannotated))
    ]
    return BlinkScores(len(kept_true), len(kept_detected), matched)


@dataclass(frozen=True)
class BlinkItem:
    """One annotated video: its true blinks, the detector's events, and their scores."""

    name: str
    duration_s: float
    truth: tuple[Span, ...]
    events: tuple[BlinkEvent, ...]
    unannotated: tuple[Span, ...]  # not scored (empty when strict)
    scores: dict[str, BlinkScores]  # rule -> scores over the whole video
    scores_after: dict[str, BlinkScores]  # rule -> scores without the first SKIP_S seconds

    def to_json(self) -> dict[str, Any]:
        return {
            "item": self.name,
            "duration_s": round(self.duration_s, 3),
            "blinks": sum(1 for e in self.events if e.kind == "blink"),
            "eyes_closed": sum(1 for e in self.events if e.kind == "eyes_closed"),
            **{rule: s.to_json() for rule, s in self.scores.items()},
            f"after_{SKIP_S:g}s": {rule: s.to_json() for rule, s in self.scores_after.items()},
        }


def score_item(
    name: str,
    frame_times: Sequence[float],
    annotation: BlinkAnnotation,
    events: Sequence[BlinkEvent],
    strict: bool = False,
) -> BlinkItem:
    """Score one video's detector events; `frame_times[k]` is decoded frame k's timestamp.
    `strict`: frames without a line in the annotation count as open eyes."""
    if not frame_times:
        raise DataError(f"{name}: the video has no frames")
    step = frame_times[-1] - frame_times[-2] if len(frame_times) > 1 else 1 / 30

    def frame_span(first: int, stop: int) -> Span:
        end = frame_times[stop] if stop < len(frame_times) else frame_times[-1] + step
        return Span(frame_times[min(first, len(frame_times) - 1)], end)

    truth = tuple(frame_span(first, stop) for first, stop in annotation.blinks if first < len(frame_times))
    unannotated = _runs([k for k in range(len(frame_times)) if k not in annotation.annotated])
    gaps = [] if strict else [frame_span(first, stop) for first, stop in unannotated]
    spans = [Span(e.start, e.end) for e in events]
    start = frame_times[0]
    return BlinkItem(
        name=name,
        duration_s=frame_times[-1] + step - start,
        truth=truth,
        events=tuple(events),
        unannotated=tuple(gaps),
        scores={rule: score(spans, truth, rule, unannotated=gaps) for rule in RULES},
        scores_after={rule: score(spans, truth, rule, start + SKIP_S, gaps) for rule in RULES},
    )


def _runs(frames: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted frame numbers as runs [first, last + 1)."""
    runs: list[tuple[int, int]] = []
    for k in frames:
        if runs and runs[-1][1] == k:
            runs[-1] = (runs[-1][0], k + 1)
        else:
            runs.append((k, k + 1))
    return runs


def annotated_videos(data_dir: Path) -> list[tuple[Path, Path]]:
    """(annotation, video) pairs: each `.tag` under DIR with the video of the same stem beside it."""
    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: no such folder; pass the folder of .tag files and their videos")
    pairs = []
    for tag in sorted(data_dir.rglob("*.tag")):
        video = next((tag.with_suffix(s) for s in VIDEO_SUFFIXES if tag.with_suffix(s).is_file()), None)
        if video is None:
            raise DataError(f"{tag}: no video of the same name beside it ({', '.join(VIDEO_SUFFIXES)})")
        pairs.append((tag, video))
    if not pairs:
        raise DataError(f"{data_dir}: no .tag annotation files found")
    return pairs


Detect = Callable[[Path], tuple[list[float], list[BlinkEvent]]]


def evaluate_blinks(data_dir: Path, detect: Detect | None = None, strict: bool = False) -> Iterator[BlinkItem]:
    """Score each annotated video under DIR as it is done. `detect(video)` gives the frame
    times and blink events (default: the face stage, as `analyze` runs it); `strict` as in score_item."""
    detect = detect or FaceStageBlinks()
    for tag, video in annotated_videos(data_dir):
        annotation = read_tag(tag)
        times, events = detect(video)
        logger.info("%s: %d events, %d true blinks", video.name, len(events), len(annotation.blinks))
        yield score_item(tag.stem, times, annotation, events, strict)


class FaceStageBlinks:
    """Frame times and blink events of a video through one face stage (reset for each video),
    fed as `analyze` feeds it: decoded frames with their own timestamps."""

    def __init__(self, stage: FaceStage | None = None) -> None:
        from overlay.face.stage import FaceStage

        self._stage = stage or FaceStage()

    def __call__(self, video: Path) -> tuple[list[float], list[BlinkEvent]]:
        from overlay.media.video_frames import VideoFrames
        from overlay.records import VideoFrame

        self._stage.reset()
        times: list[float] = []
        events: list[BlinkEvent] = []
        with VideoFrames(video) as frames:
            for decoded in frames:
                times.append(decoded.time)
                events += self._stage.analyze(VideoFrame(decoded.image, decoded.time, decoded.index)).blink_events
        return times, events


@dataclass(frozen=True)
class BlinkSummary:
    """Pooled over items: counts summed (micro) under each rule, and the per-person count error."""

    items: int
    scores: dict[str, BlinkScores]
    scores_after: dict[str, BlinkScores]
    mean_abs_count_error: float  # over items, every blink
    mean_abs_count_error_after: float

    def to_json(self) -> dict[str, Any]:
        return {
            "summary": True,
            "items": self.items,
            **{rule: s.to_json() for rule, s in self.scores.items()},
            f"after_{SKIP_S:g}s": {rule: s.to_json() for rule, s in self.scores_after.items()},
            "mean_abs_count_error": round(self.mean_abs_count_error, 3),
            f"mean_abs_count_error_after_{SKIP_S:g}s": round(self.mean_abs_count_error_after, 3),
        }


def summarize(items: Sequence[BlinkItem]) -> BlinkSummary:
    if not items:
        raise DataError("no annotated videos were scored")
    zero = BlinkScores(0, 0, 0)

    def pooled(of: Callable[[BlinkItem], dict[str, BlinkScores]]) -> dict[str, BlinkScores]:
        return {rule: sum((of(item)[rule] for item in items), zero) for rule in RULES}

    # The count error does not depend on the matching rule.
    return BlinkSummary(
        items=len(items),
        scores=pooled(lambda item: item.scores),
        scores_after=pooled(lambda item: item.scores_after),
        mean_abs_count_error=sum(abs(i.scores["overlap"].count_error) for i in items) / len(items),
        mean_abs_count_error_after=sum(abs(i.scores_after["overlap"].count_error) for i in items) / len(items),
    )


def format_item(item: BlinkItem) -> str:
    """One line: a video's scores under both rules, every blink and after the first seconds."""
    overlap, iou, after = item.scores["overlap"], item.scores["iou"], item.scores_after["overlap"]
    return (
        f"{item.name}: {overlap.true} blinks, {overlap.detected} found ({overlap.count_error:+d}); "
        f"overlap P {overlap.precision:.3f} R {overlap.recall:.3f} F1 {overlap.f1:.3f}; "
        f"IoU>{IOU_THRESHOLD:g} F1 {iou.f1:.3f}; after {SKIP_S:g} s F1 {after.f1:.3f}"
    )


def format_summary(summary: BlinkSummary) -> str:
    """A small table over all videos: both rules, every blink and after the first seconds."""
    lines = [
        f"{summary.items} videos; mean |count error| {summary.mean_abs_count_error:.2f} "
        f"({summary.mean_abs_count_error_after:.2f} after {SKIP_S:g} s)",
        f"{'':<22}{'true':>6}{'found':>7}{'precision':>11}{'recall':>8}{'f1':>7}",
    ]
    for label, scores in (("every blink", summary.scores), (f"after {SKIP_S:g} s", summary.scores_after)):
        for rule in RULES:
            s = scores[rule]
            name = f"{label}, {rule}"
            lines.append(f"{name:<22}{s.true:>6}{s.detected:>7}{s.precision:>11.3f}{s.recall:>8.3f}{s.f1:>7.3f}")
    return "\n".join(lines)
