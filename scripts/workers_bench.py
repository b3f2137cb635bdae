"""Several workers measured (docs/benchmarks.md, "Several workers"): how fast a gallery change reaches
another worker, how fast a killed worker's cameras are analysed again, and the throughput of 1, 2
and 3 workers on this machine. Needs a PostgreSQL database and a Redis that the workers share:

    .venv/bin/python scripts/workers_bench.py --gallery-url postgresql://... --redis-url redis://...

Workers run the default config apart from what sharing needs (workers.enabled, redis.url,
gallery.url, an HTTP port each); cameras are six copies of a synthetic LFW video played as fast as
the workers take it (realtime = false, looping) for the throughput, at their own speed otherwise.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines.eval.synthetic import make_plan, write_video  # noqa: E402
from pipelines.events.redis_server import free_port  # noqa: E402

FACETRACK = Path(sys.executable).parent / "facetrack"
LFW = ROOT.parent / "shared" / "data" / "lfw"
PEOPLE = ["Colin_Powell", "Tony_Blair", "Hugo_Chavez", "Ariel_Sharon", "Jean_Chretien"]
TOKEN = "bench"


def configs(folder: Path, workers: int, gallery: str, redis_url: str, video: Path | None, fast: bool) -> list:
    out = []
    for i in range(1, workers + 1):
        port = free_port()
        cameras = "".join(f'[[cameras]]\nid = "cam{c}"\nurl = "{video}"\nfps = {60 if fast else 5}\nloop = true\n'
                          f'realtime = {"false" if fast else "true"}\n\n' for c in range(6)) if video else ""
        path = folder / f"w{i}.toml"
        path.write_text(f'[gallery]\nurl = "{gallery}"\n\n[redis]\nurl = "{redis_url}"\n\n[http]\nport = {port}\n'
                        f'token = "{TOKEN}"\n\n[workers]\nenabled = true\nworker_id = "w{i}"\n\n{cameras}')
        out.append((f"w{i}", port, path))
    return out


def start(folder: Path, setup: list) -> dict:
    procs = {}
    for worker, port, path in setup:
        log = (folder / f"{worker}.log").open("w")
        procs[worker] = (subprocess.Popen([str(FACETRACK), "run", "--config", str(path)], stderr=log), port, log)
    for worker, (_, port, _) in procs.items():
        until(lambda p=port: get(p, "/health"), 180, f"{worker} up")
    return procs


def stop(procs: dict) -> None:
    for process, _, _ in procs.values():
        if process.poll() is None:
            process.terminate()
    for process, _, log in procs.values():
        process.wait(60)
        log.close()


def get(port: int, path: str):
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5)
    except OSError:
        return None


def until(condition, timeout: float, what: str, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(every)
    raise SystemExit(f"timed out waiting for {what}")


def people_in_index(port: int) -> int:
    return int(get(port, "/api/identities").headers["X-Gallery-People"])


def enroll(port: int, name: str) -> None:
    photos = sorted((LFW / "images_deepfunneled" / name).glob("*.jpg"))[:3]
    parts = [b'--x\r\nContent-Disposition: form-data; name="name"\r\n\r\n' + name.encode() + b"\r\n"]
    parts += [b'--x\r\nContent-Disposition: form-data; name="image"; filename="' + p.name.encode()
              + b'"\r\nContent-Type: image/jpeg\r\n\r\n' + p.read_bytes() + b"\r\n" for p in photos]
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/identities", data=b"".join(parts) + b"--x--\r\n",
                                     method="POST", headers={"Content-Type": "multipart/form-data; boundary=x",
                                                             "Authorization": f"Bearer {TOKEN}"})
    urllib.request.urlopen(request, timeout=120)


def remove(port: int, name: str) -> None:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/identities/{name}", method="DELETE",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
    urllib.request.urlopen(request, timeout=60)


def propagation(folder: Path, gallery: str, redis_url: str) -> dict:
    """A change made through w1 (its HTTP call returned), until w2's in-memory index holds it."""
    procs = start(folder, configs(folder, 2, gallery, redis_url, None, False))
    (_, p1, _), (_, p2, _) = procs["w1"], procs["w2"]
    added, removed = [], []
    try:
        for name in PEOPLE:
            before = people_in_index(p2)
            enroll(p1, name)
            done = time.monotonic()
            until(lambda b=before: people_in_index(p2) == b + 1, 10, "the enrollment on w2", every=0.005)
            added.append(time.monotonic() - done)
            remove(p1, name)
            done = time.monotonic()
            until(lambda b=before: people_in_index(p2) == b, 10, "the removal on w2", every=0.005)
            removed.append(time.monotonic() - done)
    finally:
        stop(procs)
    return {"enroll_ms": [round(1000 * s) for s in added], "remove_ms": [round(1000 * s) for s in removed]}


def analysed_total(port: int) -> float:
    text = get(port, "/metrics").read().decode()
    return sum(float(v) for v in re.findall(r"^facetrack_camera_frames_analysed_total\{[^}]*\} (\S+)$", text, re.M))


def throughput(folder: Path, gallery: str, redis_url: str, video: Path, workers: int, seconds: float) -> dict:
    procs = start(folder, configs(folder, workers, gallery, redis_url, video, True))
    client = redis.Redis.from_url(redis_url)
    try:
        until(lambda: all(client.get(f"facetrack:cluster:lease:cam{c}") for c in range(6)), 60, "all leased")
        time.sleep(5)  # warm up
        ports = {w: port for w, (_, port, _) in procs.items()}
        t0, f0 = time.monotonic(), {w: analysed_total(p) for w, p in ports.items()}
        time.sleep(seconds)
        t1, f1 = time.monotonic(), {w: analysed_total(p) for w, p in ports.items()}
    finally:
        client.close()
        stop(procs)
    per_worker = {w: round((f1[w] - f0[w]) / (t1 - t0), 2) for w in ports}
    return {"workers": workers, "frames_per_second": round(sum(per_worker.values()), 2), "per_worker": per_worker}


def failover(folder: Path, gallery: str, redis_url: str, video: Path) -> dict:
    """Default heartbeat (1 s) and failover (5 s): a worker killed, until its cameras are analysed again."""
    procs = start(folder, configs(folder, 3, gallery, redis_url, video, False))
    client = redis.Redis.from_url(redis_url)
    try:
        def holders():
            return {c: (v.decode() if (v := client.get(f"facetrack:cluster:lease:cam{c}")) else None)
                    for c in range(6)}
        until(lambda: all(holders().values()), 60, "all leased")
        time.sleep(3)
        victim = max(procs, key=lambda w: list(holders().values()).count(w))
        orphans = [c for c, w in holders().items() if w == victim]
        killed = time.time()
        procs[victim][0].send_signal(signal.SIGKILL)

        def again():
            log = [(f[b"camera"].decode(), f[b"worker"].decode(), float(f[b"first"]))
                   for _, f in client.xrange("facetrack:cluster:log")]
            firsts = {c: min((t for cam, w, t in log if cam == f"cam{c}" and w != victim and t > killed), default=None)
                      for c in orphans}
            return firsts if all(v is not None for v in firsts.values()) else None
        firsts = until(again, 30, "the orphans analysed again")
    finally:
        client.close()
        stop(procs)
    return {"victim_cameras": len(orphans), "seconds": [round(t - killed, 2) for t in firsts.values()]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gallery-url", required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--parts", default="propagation,throughput,failover", help="which measurements")
    args = parser.parse_args()
    parts = args.parts.split(",")
    folder = Path(tempfile.mkdtemp(prefix="facetrack-workers-bench-"))
    plan = make_plan(LFW, order=("Colin_Powell", "Hugo_Chavez", "Tony_Blair"), enrolled=(), duration=2.0, gap=0.5)
    video = write_video(plan, folder / "door.avi")
    client = redis.Redis.from_url(args.redis_url)
    client.flushdb()
    client.close()
    report = {}
    if "propagation" in parts:
        p = report["propagation"] = propagation(folder, args.gallery_url, args.redis_url)
        print(f"propagation: {json.dumps(p)}; enroll median {statistics.median(p['enroll_ms'])} ms, remove median "
              f"{statistics.median(p['remove_ms'])} ms", flush=True)
    if "throughput" in parts:
        report["throughput"] = []
        for n in (1, 2, 3):
            report["throughput"].append(throughput(folder, args.gallery_url, args.redis_url, video, n, args.seconds))
            print(json.dumps(report["throughput"][-1]), flush=True)
    if "failover" in parts:
        report["failover"] = [failover(folder, args.gallery_url, args.redis_url, video) for _ in range(3)]
        print(json.dumps(report["failover"]), flush=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
