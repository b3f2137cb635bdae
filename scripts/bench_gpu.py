"""The GPU benchmark, in one call on a CUDA machine (it also runs on a CPU, for a dry run):

    .venv/bin/python scripts/bench_gpu.py [--device cuda] [--video ../shared/data/video/street_1080p.mp4]

Three tables, printed as Markdown and written to ``out/bench-gpu.json``:

1. embedder faces per second by batch size (the default embedder with ``models.flip``; CUDA runs
   it in half precision under autocast, as the live pipeline does);
2. detector frames per second by frame size, for each detector (YuNet runs in OpenCV on the
   CPU whatever the device; MTCNN runs in torch on the device, batched): the faster one on
   this machine is the one to choose for ``detector.model``;
3. how many 1080p cameras (copies of the video, played in real time, 5 analysed frames per
   second each) the whole pipeline sustains: the most cameras for which at least 95% of the
   frames due after the first 2 s are analysed (``facetrack bench``'s ``ours-live`` run).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import torch

from tracker.config import DetectorConfig, load_config, with_changes
from tracker.face.detect import load_detector
from tracker.face.embedders import load_embedder

BATCHES = (1, 8, 32, 128, 256)
SIZES = ((640, 360), (1280, 720), (1920, 1080))
CAMERAS = (1, 2, 4, 8, 12, 16, 24, 32)
SUSTAINED = 0.95


def timed(function, repeats: int) -> float:
    """Seconds per call: median of ``repeats`` calls after one warm-up."""
    function()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def embedder_rows(config, device: torch.device) -> list[dict]:
    embedder = load_embedder(config.models, device)
    size = embedder.template.size
    rows = []
    for batch in BATCHES:
        crops = np.random.default_rng(0).integers(0, 256, (batch, size, size, 3), dtype=np.uint8)
        seconds = timed(partial(embedder.embed, crops), repeats=5)
        rows.append({"embedder": embedder.model_id, "batch": batch, "faces_per_second": batch / seconds})
    return rows


def detector_rows(frame: np.ndarray, device: torch.device) -> list[dict]:
    rows = []
    for model in ("yunet", "mtcnn"):
        detector = load_detector(DetectorConfig(model=model), device)
        for width, height in SIZES:
            image = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
            for batch in (1, 4):
                frames = [image] * batch
                seconds = timed(partial(detector.detect_batch, frames), repeats=5)
                rows.append({"detector": model, "size": f"{width}x{height}", "batch": batch,
                             "frames_per_second": batch / seconds, "faces": len(detector.detect(image))})
    return rows


def cameras_sustained(video: Path, config_path: Path, device: str, most: int) -> list[dict]:
    rows = []
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "FACETRACK__MODELS__DEVICE": device}
    for cameras in (c for c in CAMERAS if c <= most):
        done = subprocess.run([sys.executable, "-m", "pipelines.eval.bench_run", "ours-live", str(video), str(cameras),
                               str(config_path)], capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise SystemExit(f"bench_run with {cameras} cameras failed: {done.stderr.strip()[-1500:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append({"cameras": cameras, "steady_share": result["steady_share"],
                     "steady_latency_p50_ms": result["steady_latency_p50_ms"], "cpu_cores": result["cpu_cores"]})
        if (result["steady_share"] or 0) < SUSTAINED:
            break
    return rows


def table(rows: list[dict]) -> str:
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "| " + " | ".join("---" for _ in keys) + " |"]
    for row in rows:
        lines.append("| " + " | ".join(f"{v:.2f}" if isinstance(v, float) else str(v) for v in row.values()) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--video", type=Path, default=Path("../shared/data/video/street_1080p.mp4"))
    parser.add_argument("--config", type=Path, default=Path("config.toml"))
    parser.add_argument("--out", type=Path, default=Path("out/bench-gpu.json"))
    parser.add_argument("--max-cameras", type=int, default=max(CAMERAS))
    args = parser.parse_args()
    config = with_changes(load_config(args.config), "bench_gpu", models={"device": args.device})
    device = torch.device("cuda" if args.device != "cpu" and torch.cuda.is_available() else "cpu")
    capture = cv2.VideoCapture(str(args.video))
    ok, bgr = capture.read()
    capture.release()
    if not ok:
        raise SystemExit(f"{args.video}: cannot read a frame")
    frame = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else "CPU"
    print(f"# GPU benchmark: {name}, torch {torch.__version__}, {os.cpu_count()} CPU cores\n")
    report = {"device": name, "torch": torch.__version__, "cpu_cores": os.cpu_count()}
    report["embedder"] = embedder_rows(config, device)
    print(table(report["embedder"]) + "\n")
    report["detector"] = detector_rows(frame, device)
    print(table(report["detector"]) + "\n")
    report["cameras"] = cameras_sustained(args.video, args.config, device.type, args.max_cameras)
    print(table(report["cameras"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
