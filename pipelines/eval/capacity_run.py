"""One configuration of the capacity benchmark, in a process of its own (its CPU is its own); prints JSON.

    python -m pipelines.eval.capacity_run decode|decode-sub|quiet|site CAMERAS FOLDER LFW off|gate|sub SECONDS SOURCE

SOURCE ``rtsp``: the cameras are served by GStreamer's RTSP server (a process beside this one, its CPU measured
apart: ``server_cores``), each camera a main-stream mount and a sub-stream mount sending its site video as it is
(H.264, no encoding); ``file``: the cameras are the looping video files, played in real time.
"""

from __future__ import annotations

import asyncio
import json
import math
import resource
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import av
import numpy as np

from pipelines.eval.capacity import (
    FPS,
    LAP,
    enrollment,
    entries,
    looped,
    score_entries,
    summary,
    videos,
)
from pipelines.eval.rtsp import serve_as_is

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


def run(kind: str, cameras: int, folder: Path, lfw: Path, mode: str, seconds: float, source: str) -> dict:
    # The runtime's modules load torch: only in the configurations that run it (the decode yardstick does not).
    from gallery.enroll import Enroller  # (as above)
    from gallery.store import GalleryStore  # (as above)
    from pipelines import app  # (as above)
    from pipelines.events.redis_server import EmbeddedRedis, free_port  # (as above)
    from tracker.config import Config, with_changes  # (as above)
    from tracker.face.analyzer import FaceAnalyzer  # (as above)

    plan = entries(lfw, cameras) if kind == "site" else [None] * cameras
    streams = [videos(folder, e) for e in plan]
    server = None
    if source == "rtsp":  # files long enough for the whole run: the server sends each one once
        laps = math.ceil((WARM + seconds + 30.0) / LAP)
        port = free_port()
        server = serve_as_is(port, {f"cam{k}{part}": looped(video, laps) for k, pair in enumerate(streams)
                                    for part, video in zip(("", "-sub"), pair)})
        urls = [tuple(f"rtsp://127.0.0.1:{port}/cam{k}{part}" for part in ("", "-sub")) for k in range(cameras)]
    else:
        urls = [(str(main), str(sub)) for main, sub in streams]
    as_file = {"realtime": True, "loop": True} if source == "file" else {}
    config = with_changes(Config(), "capacity", cameras=[
        {"id": f"cam{k}", "url": main, **as_file, **({"detect_url": sub} if mode == "sub" else {})}
        for k, (main, sub) in enumerate(urls)],
        pipeline={"status_interval": 3600.0, **({"idle_detect_seconds": 0.0} if mode == "off" else {})})
    analyzer = FaceAnalyzer.from_config(config)
    named: dict[str, list[tuple[float, str]]] = {}
    # Each camera's clock at its video's first frame (an RTSP camera starts when it connects): the smallest of its
    # frames' clock less their number's time (a live stream's first second is read late, in a burst: docs/cameras.md).
    origin: dict[str, float] = {}
    seen: dict[str, float] = {}  # each camera's last frame analysed, on its clock
    latencies: list[float] = []
    window = {"frames": 0, "cpu": 0.0, "wall": 0.0, "server": 0.0, "measuring": False}

    def record(camera: str, frame, faces, latency: float) -> None:
        origin[camera] = min(origin.get(camera, float("inf")), frame.video_time - frame.number / FPS)
        seen[camera] = frame.video_time
        named.setdefault(camera, []).extend((frame.video_time, f.name) for f in faces if f.name)
        if window["measuring"]:
            window["frames"] += 1
            if faces:
                latencies.append(latency)

    async def measure(stop: asyncio.Event) -> None:
        await asyncio.sleep(WARM)
        window.update(measuring=True, cpu=_cpu(), wall=time.monotonic(), server=server_cpu())
        await asyncio.sleep(seconds)
        window.update(measuring=False, cpu=_cpu() - window["cpu"], wall=time.monotonic() - window["wall"],
                      server=server_cpu() - window["server"])
        stop.set()

    def server_cpu() -> float:
        return server.cpu_seconds() if server else 0.0

    async def main(runtime) -> None:
        stop = asyncio.Event()
        async with asyncio.TaskGroup() as group:
            group.create_task(measure(stop))
            group.create_task(runtime.run(stop, until_ended=False))

    with (tempfile.TemporaryDirectory() as scratch, EmbeddedRedis(Path(scratch) / "redis") as redis,
          server or nullcontext()):
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
              "cores": window["cpu"] / window["wall"], "server_cores": window["server"] / window["wall"],
              "due_share": window["frames"] / due,
              "idle_frames": sum(c.frames_idle for c in status), "main_decoded": sum(c.main_decoded for c in status),
              "main_bursts": sum(c.main_bursts for c in status), "main_missed": sum(c.main_missed for c in status),
              "detected_lag_ms": float(np.median([c.lag_ms for c in status])),
              "latency_p50_ms": float(np.percentile(latencies, 50) * 1000) if latencies else None}
    if kind == "site":
        on_video = {c: [(t - origin[c], name) for t, name in times] for c, times in named.items()}
        until = min(seen[c] - origin[c] for c in origin)  # the entries every camera was seen through
        result.update(summary(score_entries({f"cam{k}": e for k, e in enumerate(plan)}, on_video, until)))
    return result


def main() -> None:
    kind, cameras, folder, lfw, mode, seconds, source = sys.argv[1:8]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if kind.startswith("decode"):
        main, sub = videos(folder, None)
        print(json.dumps(decode(sub if kind == "decode-sub" else main)))
    else:
        print(json.dumps(run(kind, int(cameras), folder, Path(lfw), mode, float(seconds), source)))


if __name__ == "__main__":
    main()
