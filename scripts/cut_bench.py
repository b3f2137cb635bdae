"""Shot-cut detection on real footage with known cuts: ours (tracker/track/cuts.py, at the analysed rate
the live tracker sees) against the rule it replaced and PySceneDetect's content and adaptive detectors.

    .venv/bin/pip install scenedetect==0.6.7 --no-deps     # the comparison only; facetrack does not need it
    .venv/bin/python scripts/cut_bench.py ../shared/data/real/friends [--fps 5]

A true cut (the first frame of every shot after the first in shots.csv) is found by an analysed-rate
detector when it flags the first analysed frame at or after the cut, and by a full-rate detector when it
flags a frame within one of the cut. Every other flag is a false detection.
"""

from __future__ import annotations

import argparse
import bisect
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.eval.real import cut_frames, read_shots  # noqa: E402
from tracker.config import TrackingConfig  # noqa: E402
from tracker.track.cuts import CutDetector  # noqa: E402


def grey_rule(difference: float):
    """The rule before: mean absolute difference of a 32x18 grey thumbnail at least ``difference``."""
    previous = None

    def update(rgb: np.ndarray) -> bool:
        nonlocal previous
        thumb = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (32, 18), interpolation=cv2.INTER_AREA) / 255.0
        cut = previous is not None and float(np.abs(thumb - previous).mean()) >= difference
        previous = thumb
        return cut
    return update


def scored(name: str, flagged: list[int], cuts: list[int], analysed: list[int] | None) -> tuple:
    """(name, cuts found, false detections)."""
    if analysed is None:  # full rate: within a frame of the cut
        found = {c for c in cuts if any(abs(f - c) <= 1 for f in flagged)}
        false = [f for f in flagged if all(abs(f - c) > 1 for c in cuts)]
    else:
        previous = {n: p for p, n in zip(analysed, analysed[1:])}
        found = {c for c in cuts for f in flagged if previous.get(f, f) < c <= f}
        false = [f for f in flagged if not any(previous.get(f, f) < c <= f for c in cuts)]
    return name, len(found), len(cuts), false


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("--fps", type=float, default=5.0)
    args = parser.parse_args()
    from scenedetect.detectors import AdaptiveDetector, ContentDetector

    cuts = cut_frames(read_shots(args.folder / "shots.csv"))
    video = next(args.folder.glob("*.mp4"))
    tracking = TrackingConfig()
    ours = CutDetector(tracking.cut_hard)
    old = grey_rule(0.12)
    full = {"PySceneDetect content (every frame)": ContentDetector(),
            "PySceneDetect adaptive (every frame)": AdaptiveDetector()}
    sampled = {"PySceneDetect content (analysed frames)": ContentDetector(min_scene_len=1),
               "PySceneDetect adaptive (analysed frames)": AdaptiveDetector(min_scene_len=1)}
    flags: dict[str, list[int]] = {name: [] for name in [*full, *sampled, "ours", "before (grey 32x18 >= 0.12)"]}
    capture = cv2.VideoCapture(str(video))
    rate = capture.get(cv2.CAP_PROP_FPS) or 25.0
    number, due, analysed, spent = 0, -1.0, [], 0.0
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        for name, detector in full.items():
            flags[name] += detector.process_frame(number, bgr)
        if number / rate >= due:  # as the camera's loop picks its frames
            due = number / rate + 1.0 / args.fps - 1e-6
            analysed.append(number)
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            started = time.perf_counter()
            if ours.update(rgb):
                flags["ours"].append(number)
            spent += time.perf_counter() - started
            if old(rgb):
                flags["before (grey 32x18 >= 0.12)"].append(number)
            for name, detector in sampled.items():
                flags[name] += [analysed[-1] for _ in detector.process_frame(number, bgr)]
        number += 1
    for name, detector in {**full, **sampled}.items():
        flags[name] += detector.post_process(number - 1)
    print(f"{video.name}: {number} frames, {len(analysed)} analysed at {args.fps:g} fps, {len(cuts)} cuts; "
          f"ours {spent / len(analysed) * 1000:.2f} ms a frame")
    print("| detector | cuts found | false detections (frames) |\n| --- | --- | --- |")
    for name, flagged in flags.items():
        if name == "PySceneDetect adaptive (analysed frames)":  # it numbers a cut window_width frames back, as if
            # its input were every frame: count that many analysed frames back instead
            flagged = [analysed[max(bisect.bisect_right(analysed, f + 2) - 1 - 2, 0)] for f in flagged]
        title, found, total, false = scored(name, sorted(set(flagged)), cuts, None if "every frame" in name
                                            else analysed)
        print(f"| {title} | {found} of {total} | {len(false)} ({', '.join(map(str, false[:8]))}) |")


if __name__ == "__main__":
    main()
