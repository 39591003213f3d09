"""Blink detection on the annotated zju_dev streams, run as the product runs it.

    python bench/blinks.py [--data DIR] [--strict] [--json]

Each `<subject>_concat.mp4` under DIR (default ../shared/data/blink/zju_dev) goes through the
face stage as `analyze` feeds it (decoded frames with their own timestamps), and its blink
events (blinks and eyes-closed spans) are scored against the `.tag` annotation beside it
(overlay.analysis.blink_eval): per person and over all, precision, recall, F1 and the count
error (found minus true), under both matching rules of the set's README (any overlap, one to
one; IoU > 0.2), over every blink and without each stream's first 2 s. With cuts.json, the
recall in each of the four conditions (no glasses, thin rims, black frames, looking up) and
the detections within 0.5 s after a cut that match no blink (false blinks from a change of
glasses or view). Frames the annotation leaves out (the end of some clips, where the
person is often closing the eyes) are not scored; --strict counts them as open eyes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from overlay.analysis.blink_eval import (
    RULES,
    SKIP_S,
    BlinkItem,
    BlinkScores,
    FaceStageBlinks,
    Span,
    evaluate_blinks,
    match,
    summarize,
)

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("EMOTION_OVERLAY_DATA", ROOT.parent / "shared" / "data")) / "blink" / "zju_dev"
CONDITIONS = {"FN": "no glasses", "FT": "thin rims", "FB": "black frames", "UN": "looking up"}  # ZJU clip codes
AFTER_CUT_S = 0.5


def by_condition(item: BlinkItem, clips: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """True blinks found (overlap rule) in each clip, and unmatched detections soon after its cut."""
    detected = [Span(e.start, e.end) for e in item.events]
    pairs = match(detected, item.truth, "overlap")
    found = set(pairs.values())
    out: dict[str, dict[str, int]] = {}
    for k, clip in enumerate(clips):
        a = clip["start_s"]  # the streams' clocks start at 0, as cuts.json's times
        b = clips[k + 1]["start_s"] if k + 1 < len(clips) else float("inf")
        truth = [j for j, t in enumerate(item.truth) if a <= t.start < b]
        false_after_cut = [
            i
            for i, d in enumerate(detected)
            if k > 0 and a <= d.start < a + AFTER_CUT_S and i not in pairs
            and not any(d.overlaps(u) for u in item.unannotated)
        ]  # fmt: skip
        condition = CONDITIONS.get(clip["clip"][-3:-1], clip["clip"])
        out[condition] = {
            "true": len(truth),
            "found": sum(1 for j in truth if j in found),
            "false_after_cut": len(false_after_cut),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA, help="folder of <name>.tag + <name>.mp4 (and cuts.json)")
    parser.add_argument("--strict", action="store_true", help="frames missing from the annotation count as open")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of tables")
    args = parser.parse_args()
    cuts_file = args.data / "cuts.json"
    cuts = {v["video"]: v["clips"] for v in json.loads(cuts_file.read_text())} if cuts_file.is_file() else {}
    began = time.perf_counter()
    items = list(evaluate_blinks(args.data, FaceStageBlinks(), strict=args.strict))
    seconds = time.perf_counter() - began
    summary = summarize(items)
    conditions = {item.name: by_condition(item, cuts[item.name]) for item in items if item.name in cuts}
    pooled: dict[str, dict[str, int]] = {}
    for per in conditions.values():
        for name, counts in per.items():
            total = pooled.setdefault(name, {"true": 0, "found": 0, "false_after_cut": 0})
            for key, value in counts.items():
                total[key] += value
    if args.json:
        report = {
            "data": str(args.data),
            "strict": args.strict,
            "items": [item.to_json() for item in items],
            "conditions": pooled,
            "summary": summary.to_json(),
            "seconds": round(seconds, 1),
        }
        print(json.dumps(report, indent=1))
        return
    after = f"after {SKIP_S:g} s"
    print(f"{'person':<16}{'true':>5}{'found':>6}{'P':>7}{'R':>7}{'F1':>7}{'F1 iou':>8}{'F1 ' + after:>15}{'count':>7}")
    for item in items:
        o, i, a = item.scores["overlap"], item.scores["iou"], item.scores_after["overlap"]
        print(
            f"{item.name:<16}{o.true:>5}{o.detected:>6}{o.precision:>7.3f}{o.recall:>7.3f}{o.f1:>7.3f}"
            f"{i.f1:>8.3f}{a.f1:>15.3f}{o.count_error:>+7d}"
        )
    print()
    print(f"{'over all':<28}{'true':>5}{'found':>6}{'matched':>8}{'P':>7}{'R':>7}{'F1':>7}")
    for label, scores in (("every blink", summary.scores), (after, summary.scores_after)):
        for rule in RULES:
            s: BlinkScores = scores[rule]
            print(
                f"{label + ', ' + rule:<28}{s.true:>5}{s.detected:>6}{s.matched:>8}"
                f"{s.precision:>7.3f}{s.recall:>7.3f}{s.f1:>7.3f}"
            )
    print(
        f"mean |count error| per person: {summary.mean_abs_count_error:.2f} every blink, "
        f"{summary.mean_abs_count_error_after:.2f} {after}"
    )
    if pooled:
        print()
        print(f"{'condition':<14}{'true':>5}{'found':>6}{'recall':>8}{'false <0.5 s after cut':>24}")
        for name, c in pooled.items():
            recall = c["found"] / c["true"] if c["true"] else 1.0
            print(f"{name:<14}{c['true']:>5}{c['found']:>6}{recall:>8.3f}{c['false_after_cut']:>24}")
    strict = " (strict: unannotated frames count as open)" if args.strict else ""
    print(f"\n{len(items)} streams in {seconds:.0f} s{strict}")


if __name__ == "__main__":
    main()
