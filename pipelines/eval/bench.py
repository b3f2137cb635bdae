"""``facetrack bench``: us and the peers on the same video, on this machine, in one run.

Each method runs in a process of its own (``pipelines/eval/bench_run.py``), ``runs`` times; the
table quotes the median. Recall is measured against a consensus reference built from the
methods' own detections on every frame: a face counts when at least two of the three
methods (ours, facenet-pytorch's MTCNN, dlib's HOG) found it (boxes overlapping by IoU 0.3),
so no single detector defines the truth. A method's recall is the share of reference faces
it reported on the frames it analysed (for us: the faces of our tracks on that frame).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np

from tracker.errors import TrackerError
from tracker.track.tracking import iou

PEERS = ("facenet-pytorch", "face_recognition")
MATCH_IOU = 0.3


def run_method(method: str, video: Path, cameras: int, config: Path) -> dict:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "pipelines.eval.bench_run", method, str(video), str(cameras),
                           str(config)], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise TrackerError(f"bench: {method} failed: {done.stderr.strip()[-1500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _boxes(frame: list | None) -> np.ndarray:
    return np.asarray(frame if frame else [], np.float32).reshape(-1, 4)


def consensus(methods: list[list]) -> list[np.ndarray]:
    """Per frame, the faces that at least two methods found (the first finder's box)."""
    frames = max(len(m) for m in methods)
    reference = []
    for n in range(frames):
        found = [_boxes(m[n]) if n < len(m) else _boxes(None) for m in methods]
        kept: list[np.ndarray] = []
        for i, boxes in enumerate(found):
            for box in boxes:
                if kept and iou(box[None], np.stack(kept)).max() >= MATCH_IOU:
                    continue  # already in the reference
                votes = 1 + sum(len(other) and iou(box[None], other).max() >= MATCH_IOU
                                for j, other in enumerate(found) if j != i)
                if votes >= 2:
                    kept.append(box)
        reference.append(np.stack(kept) if kept else _boxes(None))
    return reference


def recall(boxes: list, reference: list[np.ndarray]) -> float:
    """Share of the reference faces, on the frames this method analysed, that it reported."""
    hit = total = 0
    for n, truth in enumerate(reference):
        if n >= len(boxes) or boxes[n] is None or not len(truth):
            continue
        mine = _boxes(boxes[n])
        total += len(truth)
        if len(mine):
            hit += int((iou(truth, mine).max(axis=1) >= MATCH_IOU).sum())
    return hit / total if total else float("nan")


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def summarise(runs: list[dict]) -> dict:
    """Medians over the runs of every figure (boxes from the first run)."""
    keys = [k for k, v in runs[0].items() if isinstance(v, int | float) and v is not None]
    summary = {k: statistics.median(r[k] for r in runs) for k in keys}
    summary["runs"] = len(runs)
    summary["boxes"] = runs[0]["boxes"]
    return summary


def bench(video: Path, cameras: int, runs: int, config: Path, peers: bool, progress=None) -> dict:
    """Every method ``runs`` times; medians, recall against the consensus reference, the machine."""
    plan = [("ours", 1), ("ours", cameras), ("ours-live", 1), ("ours-live", cameras)]
    plan = list(dict.fromkeys(plan)) + ([(p, 1) for p in PEERS] if peers else [])
    task = progress.add_task("benchmark runs", total=len(plan) * runs) if progress else None
    results = {}
    for method, n in plan:
        outcomes = []
        for _ in range(runs):
            outcomes.append(run_method(method, video, n, config))
            if progress:
                progress.advance(task)
        results[f"{method} x{n}"] = summarise(outcomes)
    voters = [results["ours x1"]["boxes"]] + [results[f"{p} x1"]["boxes"] for p in PEERS if f"{p} x1" in results]
    reference = consensus(voters) if len(voters) >= 2 else None
    for row in results.values():
        row["recall"] = recall(row.pop("boxes"), reference) if reference else None
    return {"video": str(video), "cameras": cameras, "runs": runs, "machine": machine(),
            "reference_faces": int(sum(len(r) for r in reference)) if reference else None, "results": results}
