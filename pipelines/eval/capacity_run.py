"""One configuration of the capacity benchmark, in a process of its own (its CPU is its own); prints JSON.

    python -m pipelines.eval.capacity_run decode|decode-sub|quiet|site CAMERAS FOLDER LFW off|gate|sub SECONDS
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from pipelines.eval.capacity import (
    FPS,
    enrollment,
    entries,
    score_entries,
    summary,
    videos,
)

WARM = 8.0  # seconds after the start before the steady state is measured (models warm, first frames done)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def decode(video: Path) -> dict:
    """The yardstick: CPU seconds to decode one second of the stream, every frame, as the reader decodes it."""
    started, frames = _cpu(), 0
    with av.open(str(video)) as container:
        for _ in container.decode(video=0):
            frames += 1
    seconds = _cpu() - started
    return {"frames": frames, "cpu_per_frame_ms": seconds / frames * 1000, "cores": seconds / frames * FPS}


def run(kind: str, cameras: int, folder: Path, lfw: Path, mode: str, seconds: float) -> dict:
    # The runtime's modules load torch: only in the configurations that run it (the decode yardstick does not).
    from gallery.enroll import Enroller  # (as above)
    from gallery.store import GalleryStore  # (as above)
    from pipelines import app  # (as above)
    from pipelines.events.redis_server import EmbeddedRedis, free_port  # (as above)
    from tracker.config import Config, with_changes  # (as above)
    from tracker.face.analyzer import FaceAnalyzer  # (as above)

    plan = entries(lfw, cameras) if kind == "site" else [None] * cameras
    streams = [videos(folder, e) for e in plan]
    config = with_changes(Config(), "capacity", cameras=[
        {"id": f"cam{k}", "url": str(main), "realtime": True, "loop": True,
         **({"detect_url": str(sub)} if mode == "sub" else {})} for k, (main, sub) in enumerate(streams)],
        pipeline={"status_interval": 3600.0, **({"idle_detect_seconds": 0.0} if mode == "off" else {})})
    analyzer = FaceAnalyzer.from_config(config)
    named: dict[str, list[tuple[float, str]]] = {}
    latencies: list[float] = []
    window = {"frames": 0, "cpu": 0.0, "wall": 0.0, "measuring": False}

    def record(camera: str, frame, faces, latency: float) -> None:
        named.setdefault(camera, []).extend((frame.video_time, f.name) for f in faces if f.name)
        if window["measuring"]:
            window["frames"] += 1
            if faces:
                latencies.append(latency)

    async def measure(stop: asyncio.Event) -> None:
        await asyncio.sleep(WARM)
        window.update(measuring=True, cpu=_cpu(), wall=time.monotonic())
        await asyncio.sleep(seconds)
        window.update(measuring=False, cpu=_cpu() - window["cpu"], wall=time.monotonic() - window["wall"])
        stop.set()

    async def main(runtime) -> None:
        stop = asyncio.Event()
        async with asyncio.TaskGroup() as group:
            group.create_task(measure(stop))
            group.create_task(runtime.run(stop, until_ended=False))

    with tempfile.TemporaryDirectory() as scratch, EmbeddedRedis(Path(scratch) / "redis", free_port()) as redis:
        gallery = Path(scratch) / "gallery.db"
        with GalleryStore(gallery) as store:
            enroller = Enroller(analyzer, store, config.enroll)
            for name, photos in enrollment(lfw).items():
                enroller.enroll(name, *enroller.from_images([Path(p) for p in photos]))
        with app.build(config, gallery, redis.url, analyzer) as services:
            runtime = app.start_runtime(services, observers=(record,))
            asyncio.run(main(runtime))
            status = runtime.status().cameras.values()
    due = seconds * config.cameras[0].fps * cameras
    result = {"kind": kind, "cameras": cameras, "mode": mode, "seconds": window["wall"],
              "cores": window["cpu"] / window["wall"], "due_share": window["frames"] / due,
              "idle_frames": sum(c.frames_idle for c in status), "main_decoded": sum(c.main_decoded for c in status),
              "main_bursts": sum(c.main_bursts for c in status),
              "detected_lag_ms": float(np.median([c.lag_ms for c in status])),
              "latency_p50_ms": float(np.percentile(latencies, 50) * 1000) if latencies else None}
    if kind == "site":
        until = WARM + seconds
        result.update(summary(score_entries({f"cam{k}": e for k, e in enumerate(plan)}, named, until)))
    return result


def main() -> None:
    kind, cameras, folder, lfw, mode, seconds = sys.argv[1:7]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if kind.startswith("decode"):
        main, sub = videos(folder, None)
        print(json.dumps(decode(sub if kind == "decode-sub" else main)))
    else:
        print(json.dumps(run(kind, int(cameras), folder, Path(lfw), mode, float(seconds))))


if __name__ == "__main__":
    main()
