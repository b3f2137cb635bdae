"""The capacity benchmark of realistic sites: how many cameras this machine runs when most of them
show nobody most of the time, and what a quiet camera costs against the decoding of its own stream.

A site camera is a looping 1080p25 H.264 video (``site_video``): a still scene with sensor noise,
and, in a "busy" camera, one enrolled LFW person walking in for ``IN_VIEW`` seconds of every
``LAP`` (10% of the time), each camera's person entering at another moment. Each configuration runs
in a process of its own (``python -m pipelines.eval.capacity_run``), so its CPU is its own:

- ``decode``: the yardstick, every frame of the quiet video decoded as the reader decodes it (CPU per
  second of video);
- ``quiet``: N quiet cameras through the runtime in real time (cores in the steady state);
- ``site``: N cameras with entries: every entry named?, time from each entry to its first name,
  capture-to-decision latency of the frames with faces, and the share of due frames analysed.

Each runs in three modes: ``off`` (``pipeline.idle_detect_seconds`` 0, the path before the gate),
``gate`` (the default) and ``sub`` (the gate with sub-streams), in one run (``--modes`` picks some):
this machine's speed varies from day to day, so the figures to compare are the ratios of one run.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated

import av
import cv2
import numpy as np
import typer

from pipelines.eval.rtsp import MISSING, rtsp_available
from pipelines.eval.synthetic import ENROLLED, background, face_patch, lfw_photos, paste
from tracker.errors import TrackerError
from tracker.track.tracking import iou

SIZE = (1920, 1080)
SUB_SIZE = (640, 360)  # the sub-stream, as cameras send it
SUB_BITRATE = 512_000
DISTINCT = 8  # site videos written; more cameras reuse them
MODES = ("off", "gate", "sub")  # the path before the gate; the gate (the default); the gate with sub-streams
FPS = 25
LAP = 30.0  # seconds of one loop of a site video
IN_VIEW = 3.0  # seconds a person is in view per lap (10%)
FACE_SCALE = 0.75  # the LFW face patch's scale on the frame: a face about 110 px high, a doorway camera's
ENROLL_IMAGES = 3
BITRATE = 3_000_000  # a camera's usual 1080p main stream: 2-4 Mbit/s, much of it spent on sensor noise
ENCODING = {"preset": "veryfast", "bf": "0"}  # as most IP cameras send: no B-frames. (The RTSP server sends a file's
# frames in decoding order, a B-frame stream's reference frames ahead of their presentation time, which no camera can:
# the main and sub-stream met 3 frames apart, measured; without B-frames, the same frame.)
NOISE = 3.0  # the sensor noise, grey levels (standard deviation)


@dataclass(frozen=True)
class Entry:
    person: str
    start: float  # seconds into the lap
    photo: str  # the LFW photograph shown (never one of the enrolled ones)


def entries(lfw: Path, cameras: int) -> list[Entry]:
    """Camera k's entry: ``ENROLLED[k % 4]`` walks in at another moment of the lap than the 7 cameras before (a
    site of more than 8 cameras repeats the first 8's videos: two cameras then see someone at the same moment)."""
    out = []
    for k in range(cameras):
        person = ENROLLED[k % len(ENROLLED)]
        start = 4.0 + (k % DISTINCT * 7.3) % (LAP - IN_VIEW - 6.0)
        out.append(Entry(person, round(start, 2), str(lfw_photos(lfw, person)[ENROLL_IMAGES])))
    return out


def enrollment(lfw: Path) -> dict[str, list[str]]:
    return {p: [str(x) for x in lfw_photos(lfw, p)[:ENROLL_IMAGES]] for p in ENROLLED}


def site_video(path: Path, entry: Entry | None, seed: int = 0) -> Path:
    """A lap of a site camera as 1080p25 H.264 (a keyframe every 2 s, as cameras send): a still scene with
    sensor noise (at ``BITRATE``: a quiet scene decodes at a real camera's cost), and ``entry``'s person
    walking in from the left, pausing, and walking out."""
    if path.is_file():
        return path
    rng = np.random.default_rng(seed)
    scene = background(*SIZE, seed=7 + seed).astype(np.int16)
    noise = [rng.normal(0, NOISE, (SIZE[1], SIZE[0], 1)).astype(np.int16) for _ in range(5)]
    patch = face_patch(entry.photo) if entry else None
    tmp = path.with_suffix(".part.mp4")
    with av.open(str(tmp), "w") as container:
        stream = container.add_stream("libx264", rate=FPS, options=ENCODING)
        stream.width, stream.height, stream.pix_fmt, stream.bit_rate = *SIZE, "yuv420p", BITRATE
        stream.codec_context.gop_size = 2 * FPS
        for n in range(int(LAP * FPS)):
            frame = np.clip(scene + noise[n % len(noise)], 0, 255).astype(np.uint8)
            if entry is not None and 0.0 <= (t := n / FPS - entry.start) < IN_VIEW:
                x = min(t, 1.0) * 0.45 + max(t - IN_VIEW + 1.0, 0.0) * 0.5  # in over 1 s, still, out over 1 s
                paste(frame, *patch, SIZE[0] * (0.05 + x), SIZE[1] * 0.45, FACE_SCALE)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode(None))
    tmp.rename(path)
    return path


def videos(folder: Path, entry: Entry | None) -> tuple[Path, Path]:
    """A site camera's main stream and sub-stream (written the first time)."""
    name = f"site-{entry.person}-{entry.start}" if entry else "quiet"
    name += "-nob"  # (the videos before were written with B-frames)
    main = site_video(folder / f"{name}.mp4", entry)
    return main, sub_stream(main, folder / f"{name}-sub.mp4")


def sub_stream(main: Path, path: Path) -> Path:
    """The main stream's video as the camera's sub-stream: ``SUB_SIZE`` at ``SUB_BITRATE``, a keyframe every 2 s."""
    if path.is_file():
        return path
    tmp = path.with_suffix(".part.mp4")
    with av.open(str(main)) as source, av.open(str(tmp), "w") as container:
        stream = container.add_stream("libx264", rate=FPS, options=ENCODING)
        stream.width, stream.height, stream.pix_fmt, stream.bit_rate = *SUB_SIZE, "yuv420p", SUB_BITRATE
        stream.codec_context.gop_size = 2 * FPS
        for frame in source.decode(video=0):
            small = cv2.resize(frame.to_ndarray(format="rgb24"), SUB_SIZE, interpolation=cv2.INTER_AREA)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(small, format="rgb24")))
        container.mux(stream.encode(None))
    tmp.rename(path)
    return path


def looped(video: Path, laps: int) -> Path:
    """``video`` ``laps`` times over in one file, its packets copied (not encoded again): a camera the RTSP server
    sends from its start for a whole run (the server sends each client a file once, from its first frame)."""
    path = video.with_name(f"{video.stem}-x{laps}.mp4")
    if path.is_file():
        return path
    tmp = path.with_suffix(".part.mp4")
    with av.open(str(tmp), "w") as container:
        stream = None
        for lap in range(laps):
            with av.open(str(video)) as source:
                template = source.streams.video[0]
                stream = stream or container.add_stream_from_template(template)
                shift = round(lap * LAP / template.time_base)
                for packet in source.demux(template):
                    if packet.dts is None:  # the demuxer's last, empty packet
                        continue
                    packet.pts, packet.dts, packet.stream = packet.pts + shift, packet.dts + shift, stream
                    container.mux(packet)
    tmp.rename(path)
    return path


def run_config(kind: str, cameras: int, folder: Path, lfw: Path, mode: str, seconds: float, source: str) -> dict:
    """One configuration in a process of its own; its result as a dict."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "pipelines.eval.capacity_run", kind, str(cameras), str(folder), str(lfw),
               mode, str(seconds), source]
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise TrackerError(f"capacity: {kind} x{cameras} failed: {done.stderr.strip()[-1500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


@dataclass(frozen=True)
class EntryResult:
    camera: str
    person: str
    at: float  # the entry's time on the camera's clock
    named_after: float | None  # seconds from the entry to its first name; None: never named while in view


def score_entries(camera_entries: dict[str, Entry], named: dict[str, list[tuple[float, str]]],
                  until: float, since: float = 0.0) -> list[EntryResult]:
    """Each entry of each lap that started in [since, until - IN_VIEW): how long until its person was first
    named on its camera (``named``: camera -> (clock, name) of the frames showing a name)."""
    results = []
    for camera, entry in camera_entries.items():
        lap = 0
        while (at := lap * LAP + entry.start) < until - IN_VIEW:
            if at >= since:
                times = [t for t, name in named.get(camera, []) if name == entry.person and at <= t < at + IN_VIEW]
                results.append(EntryResult(camera, entry.person, at, min(times) - at if times else None))
            lap += 1
    return results


def summary(results: list[EntryResult]) -> dict:
    delays = [r.named_after for r in results if r.named_after is not None]
    return {"entries": len(results), "named": len(delays),
            "first_name_p50_s": float(np.median(delays)) if delays else None,
            "first_name_max_s": max(delays) if delays else None,
            "results": [asdict(r) for r in results]}


def passes(result: dict) -> bool:
    """A site run this machine keeps up with: every entry named, frames with faces decided in under 250 ms (p50)."""
    latency = result.get("latency_p50_ms")
    return result["named"] == result["entries"] > 0 and latency is not None and latency < 250.0


def run_all(folder: Path, lfw: Path, cameras: list[int], quiet: list[int], seconds: float, progress=None,
            modes: tuple[str, ...] = MODES, source: str = "rtsp") -> dict:
    """In one run: the decode yardsticks; one quiet camera in each mode; sites of each size in each mode, up to
    the first size the machine does not keep up with; ``quiet`` many quiet cameras in each mode, likewise."""
    def one(kind: str, n: int, mode: str) -> dict:
        if progress is not None:
            progress(f"{kind} x{n}, {mode}")
        return {"kind": kind, "cameras": n, "mode": mode, **run_config(kind, n, folder, lfw, mode, seconds, source)}

    results = [one("decode", 1, "off"), one("decode-sub", 1, "off")] + [one("quiet", 1, m) for m in modes]
    for kind, sizes, keeps_up in (("site", cameras, passes), ("quiet", quiet, keeps_pace)):
        for mode in modes:
            for n in sizes:
                results.append(one(kind, n, mode))
                if not keeps_up(results[-1]):
                    break
    return {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
            "seconds": seconds, "source": source, "results": results}


def keeps_pace(result: dict) -> bool:
    """Quiet cameras this machine keeps up with: 98% of due frames analysed, detected ones decided within 250 ms
    (the median over the cameras of each one's median of its last 50 detected frames)."""
    return result["due_share"] >= 0.98 and result["detected_lag_ms"] < 250.0


def table(report: dict) -> list[str]:
    """The report as text lines: CPU as cores and as multiples of decoding the camera's main stream."""
    decode = report["results"][0]["cores"]
    lines = [f"decode yardstick: main stream {decode:.3f} cores, sub-stream {report['results'][1]['cores']:.3f} "
             f"({report['machine']})",
             f"cameras: {report['source']} (server: the RTSP server's cores, apart)",
             "kind   cameras mode  cores x decode  server  due  idle  main decoded  named  first name p50/max s  p50 ms"
             "  ok"]
    for r in report["results"][2:]:
        named = f"{r['named']}/{r['entries']}" if "entries" in r else "-"
        first = f"{r['first_name_p50_s']:.2f}/{r['first_name_max_s']:.2f}" if r.get("first_name_p50_s") is not None \
            else "-"
        latency = f"{r['latency_p50_ms']:.0f}" if r["latency_p50_ms"] is not None else "-"
        per_camera = r["cores"] / decode / r["cameras"]
        lines.append(f"{r['kind']:6} {r['cameras']:7d} {r['mode']:5} {r['cores']:5.2f} {per_camera:8.2f}"
                     f" {r['server_cores']:7.2f} {r['due_share']:4.0%} {r['idle_frames']:5d} {r['main_decoded']:13d}"
                     f" {named:>6} {first:>21}"
                     f" {latency:>7}  {'yes' if (passes if r['kind'] == 'site' else keeps_pace)(r) else 'no'}")
    return lines


def main(
    lfw: Annotated[Path, typer.Option(help="LFW folder (holds images_deepfunneled/)")] = Path("../shared/data/lfw"),
    folder: Annotated[Path, typer.Option(help="Where the site videos are written (kept for the next run)")] = Path(
        "data/capacity"),
    cameras: Annotated[str, typer.Option(help="Site sizes to try, comma-separated")] = "1,2,4,8,16",
    quiet: Annotated[str, typer.Option(help="Numbers of quiet cameras to try, comma-separated")] = "4,8,16,32",
    modes: Annotated[str, typer.Option(help="Of off (the path before the gate), gate, sub")] = ",".join(MODES),
    seconds: Annotated[float, typer.Option(help="Seconds measured per configuration (after 8 s of warm-up)")] = LAP,
    source: Annotated[str, typer.Option(help="rtsp: the cameras served by GStreamer's RTSP server (main + sub "
                                        "mounts); file: the video files read in real time")] = "rtsp",
    json_file: Annotated[Path | None, typer.Option("--json", help="Write the results as JSON here")] = None,
    recall: Annotated[Path | None, typer.Option(help="Instead: what a 640x360 sub-stream loses on this video's faces")]
    = None,
) -> None:
    """Cameras per machine on realistic sites: quiet most of the time, someone in view 10% of it."""
    if recall is not None:
        from tracker.config import Config  # (the detector alone, for this measurement)
        from tracker.face.detect import load_detector  # (as above)

        for row in sub_stream_recall(recall, load_detector(Config().detector, "cpu")):
            print(f"faces {row['heights']:>7} px high on the main stream: {row['found']} of {row['faces']} found on "
                  f"the sub-stream")
        return
    if source not in ("rtsp", "file"):
        raise typer.BadParameter(f"'{source}': rtsp or file", param_hint="--source")
    if source == "rtsp" and not rtsp_available():
        raise typer.BadParameter(f"{MISSING}; or --source file", param_hint="--source")
    folder.mkdir(parents=True, exist_ok=True)
    report = run_all(folder, lfw, [int(n) for n in cameras.split(",")], [int(n) for n in quiet.split(",")], seconds,
                     lambda step: print(f"running {step}", file=sys.stderr, flush=True), tuple(modes.split(",")),
                     source)
    print("\n".join(table(report)))
    if json_file:
        json_file.write_text(json.dumps(report, indent=2) + "\n")



SIZE_BINS = (0, 40, 60, 100, 10_000)  # face heights on the main stream, pixels


def sub_stream_recall(video: Path, detector) -> list[dict]:
    """What detecting on a 640x360 sub-stream loses on real footage: each frame of ``video`` detected at full size
    (the reference) and shrunk to ``SUB_SIZE`` (boxes scaled back, the size cut in main-stream pixels), the share
    of the reference's faces found there (IoU 0.3), by face height on the main stream."""
    found, total = np.zeros(len(SIZE_BINS) - 1), np.zeros(len(SIZE_BINS) - 1)
    with av.open(str(video)) as container:
        for frame in container.decode(video=0):
            image = frame.to_ndarray(format="rgb24")
            zoom = (image.shape[1] / SUB_SIZE[0], image.shape[0] / SUB_SIZE[1])
            small = cv2.resize(image, SUB_SIZE, interpolation=cv2.INTER_AREA)
            reference = detector.detect_batch([image])[0]
            sub = detector.detect_batch([small], [min(zoom)])[0].scaled(zoom)
            overlap = iou(reference.boxes, sub.boxes) if len(sub) else np.zeros((len(reference), 1))
            bins = np.searchsorted(SIZE_BINS, reference.boxes[:, 3] - reference.boxes[:, 1], side="right") - 1
            np.add.at(total, bins, 1)
            np.add.at(found, bins, overlap.max(axis=1) >= 0.3)
    return [{"heights": f"{lo}-{hi}" if hi < 10_000 else f"{lo}+", "faces": int(t), "found": int(f)}
            for lo, hi, t, f in zip(SIZE_BINS, SIZE_BINS[1:], total, found)]


if __name__ == "__main__":
    typer.run(main)
