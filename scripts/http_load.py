"""HTTP load while cameras run: does the HTTP side take anything from the cameras' event loop?

    .venv/bin/python scripts/http_load.py [--video V] [--cameras N] [--seconds S] [--rate R]

Starts ``facetrack run`` (the default config; the street video as N looping cameras, in real time), lets it
warm up, then measures two phases of S seconds each: quiet, and under load from this process (20 MJPEG
viewers, 200 concurrent gallery reads, the gallery file locked by another writer throughout with a rename
waiting on it). Prints, per phase, the frames analysed per second (from ``/metrics``) and ``/health``'s
answer time (asked every 100 ms from a process of its own). ``--rate`` sets http.max_requests_per_second
(default: the config's default; 0: no limit). The figures go to docs/reliability.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines.events.redis_server import free_port  # noqa: E402

TOKEN = "http-load-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def analysed(base: str) -> float:
    text = urllib.request.urlopen(f"{base}/metrics", timeout=10).read().decode()
    return sum(float(v) for v in re.findall(r'^facetrack_camera_frames_analysed_total\{[^}]*\} (\S+)$', text, re.M))


PROBE = """
import sys, time, urllib.request
base = sys.argv[1]
while True:
    began = time.perf_counter()
    urllib.request.urlopen(base + "/health", timeout=30).read()
    print(f"{time.time():.3f} {(time.perf_counter() - began) * 1000:.2f}", flush=True)
    time.sleep(0.1)
"""


class HealthProbe(threading.Thread):
    """Asks /health every 100 ms from a process of its own (not sharing the load's interpreter lock), and keeps
    the answer times (ms) with when they came."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.process = subprocess.Popen([sys.executable, "-c", PROBE, base], stdout=subprocess.PIPE, text=True)
        self.times: list[tuple[float, float]] = []

    def run(self) -> None:
        for line in self.process.stdout:
            at, ms = line.split()
            self.times.append((float(at), float(ms)))

    def between(self, start: float, end: float) -> list[float]:
        return [ms for at, ms in self.times if start <= at <= end]

    def stop(self) -> None:
        self.process.kill()


async def load(base: str, gallery: Path, seconds: float) -> dict:
    """20 MJPEG viewers and 200 concurrent gallery reads for ``seconds``, the gallery locked meanwhile."""
    stop = time.monotonic() + seconds
    counts = {"frames": 0, "reads": 0, "refused_429": 0, "read_errors": 0}
    lock = sqlite3.connect(gallery, isolation_level=None, timeout=30)
    lock.execute("BEGIN IMMEDIATE")  # another writer holds the gallery for the whole phase
    async with aiohttp.ClientSession(headers=AUTH, timeout=aiohttp.ClientTimeout(total=None)) as session:
        async def viewer():
            async with session.get(f"{base}/cameras/cam0/live.mjpg") as live:
                while time.monotonic() < stop:
                    await live.content.readuntil(b"--frame")
                    counts["frames"] += 1

        async def reader():
            while time.monotonic() < stop:
                async with session.get(f"{base}/api/identities") as answer:
                    await answer.read()
                    key = {200: "reads", 429: "refused_429"}.get(answer.status, "read_errors")
                    counts[key] += 1

        async def rename():  # waits on the lock (5 s busy timeout), again and again
            while time.monotonic() < stop:
                async with session.patch(f"{base}/api/identities/Colin Powell", json={"name": "Colin Powell"}) as a:
                    await a.read()

        await asyncio.gather(*(viewer() for _ in range(20)), *(reader() for _ in range(200)), rename())
    lock.execute("ROLLBACK")
    lock.close()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=ROOT.parent / "shared" / "data" / "video" / "street_1080p.mp4")
    parser.add_argument("--cameras", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=None, help="http.max_requests_per_second (default: the config's)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="facetrack-http-load-"))
    gallery = folder / "gallery.db"
    lfw = ROOT.parent / "shared" / "data" / "lfw" / "images_deepfunneled"
    photos = sorted((lfw / "Colin_Powell").glob("*.jpg"))[:3]
    facetrack = Path(sys.executable).parent / "facetrack"
    subprocess.run([str(facetrack), "enroll", "Colin Powell", *map(str, photos), "--gallery", str(gallery)],
                   check=True, capture_output=True)
    port = free_port()
    cameras = "".join(f'[[cameras]]\nid = "cam{i}"\nurl = "{args.video}"\nloop = true\n\n' for i in range(args.cameras))
    config = folder / "config.toml"
    config.write_text(f'[http]\nport = {port}\n\n[redis]\ndata_dir = "{folder / "redis"}"\n\n'
                      + cameras)
    env = {**os.environ, "FACETRACK__HTTP__TOKEN": TOKEN}
    if args.rate is not None:
        env["FACETRACK__HTTP__MAX_REQUESTS_PER_SECOND"] = str(args.rate)
    run = subprocess.Popen([str(facetrack), "run", "--config", str(config), "--gallery", str(gallery)],
                           stderr=subprocess.DEVNULL, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{base}/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        time.sleep(args.warmup)
        probe = HealthProbe(base)
        probe.start()
        time.sleep(2.0)  # its first answers (a cold interpreter's lazy imports) fall before the phases
        rows = []
        for phase in ("quiet", "load"):
            before, began, wall = analysed(base), time.monotonic(), time.time()
            counts = asyncio.run(load(base, gallery, args.seconds)) if phase == "load" else time.sleep(args.seconds)
            fps = (analysed(base) - before) / (time.monotonic() - began)
            times = probe.between(wall, time.time())
            rows.append((phase, fps, statistics.median(times), sorted(times)[int(0.95 * (len(times) - 1))],
                         max(times), counts))
        probe.stop()
    finally:
        run.send_signal(signal.SIGTERM)
        run.wait(60)
    rate = "default" if args.rate is None else f"http.max_requests_per_second = {args.rate:g}"
    print(f"{args.cameras} camera(s) of {args.video.name}, {args.seconds:.0f} s a phase, {rate} config")
    print(f"{'phase':<6} {'analysed fps':>13} {'/health p50 ms':>15} {'p95 ms':>8} {'max ms':>8}  load")
    for phase, fps, p50, p95, worst, counts in rows:
        print(f"{phase:<6} {fps:>13.2f} {p50:>15.1f} {p95:>8.1f} {worst:>8.1f}  {counts or ''}")
    print(f"analysed rate under load: {rows[1][1] / rows[0][1]:.1%} of quiet")


if __name__ == "__main__":
    main()
