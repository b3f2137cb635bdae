"""One benchmark run of one method, in a process of its own (so memory and CPU figures are its
own): ``python -m pipelines.eval.bench_run METHOD VIDEO CAMERAS CONFIG``; prints one JSON object.

Methods:
- ``ours``: ``facetrack run``'s pipeline (``pipelines.app``'s runtime, embedded Redis) on CAMERAS copies of the
  video, every frame analysed as fast as it can (sustained fps);
- ``ours-live``: the same, the video played in real time, 5 frames per second analysed per
  camera (capture-to-event latency); also the share of due frames analysed, and the latency,
  after the first 2 s (all cameras start on the same frame, so every face is new at once);
- ``facenet-pytorch``: the loop of facenet-pytorch's README: MTCNN, then InceptionResnetV1 on
  every face of every frame (random weights: the speed is the same);
- ``face_recognition``: ageitgey's library: HOG detector and dlib encodings on every frame.

Every method decodes the video itself. Boxes per frame (of the first camera) come back for recall.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

import cv2
import numpy as np


def _frames(video: str):
    capture = cv2.VideoCapture(video)
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    capture.release()


def _usage() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_facenet(video: str) -> dict:
    # Each method's process loads only its own code, so its memory and CPU figures are its own.
    import torch  # (as above)
    from facenet_pytorch import MTCNN, InceptionResnetV1  # (as above)

    mtcnn = MTCNN(keep_all=True, device="cpu")
    resnet = InceptionResnetV1(pretrained=None).eval()
    boxes_per_frame, faces = [], 0
    started, cpu = time.perf_counter(), _usage()
    with torch.inference_mode():
        for rgb in _frames(video):
            boxes, _ = mtcnn.detect(rgb)
            boxes = np.zeros((0, 4)) if boxes is None else boxes
            if len(boxes):
                crops = mtcnn.extract(rgb, boxes, None)
                resnet(crops)
            faces += len(boxes)
            boxes_per_frame.append(np.asarray(boxes, float).tolist())
    return _result(boxes_per_frame, faces, started, cpu)


def run_face_recognition(video: str) -> dict:
    with warnings.catch_warnings():  # face_recognition_models imports the deprecated pkg_resources
        warnings.simplefilter("ignore")
        try:
            import face_recognition  # the optional peer (scripts/setup.sh bench)
        except ImportError as error:
            sys.exit(f"face_recognition is not installed ({error}): scripts/setup.sh bench installs it")

    boxes_per_frame, faces = [], 0
    started, cpu = time.perf_counter(), _usage()
    for rgb in _frames(video):
        locations = face_recognition.face_locations(rgb)
        face_recognition.face_encodings(rgb, locations)
        faces += len(locations)
        boxes_per_frame.append([[left, top, right, bottom] for top, right, bottom, left in locations])
    return _result(boxes_per_frame, faces, started, cpu)


LIVE_FPS = 5.0  # frames analysed per video second and camera in the live runs
STEADY_AFTER = 2.0  # seconds of video after which a live run counts as steady


def run_ours(video: str, cameras: int, config_path: str, live: bool) -> dict:
    # Each method's process loads only its own code, so its memory and CPU figures are its own.
    from pipelines import app  # (as above)
    from pipelines.events.redis_server import EmbeddedRedis  # (as above)
    from tracker.config import load_config, with_changes  # (as above)
    from tracker.face.analyzer import FaceAnalyzer  # (as above)

    cameras_config = [{"id": f"cam{i}", "url": video, "fps": LIVE_FPS if live else 60.0, "realtime": live}
                      for i in range(cameras)]
    config = with_changes(load_config(Path(config_path)), config_path, cameras=cameras_config,
                          pipeline={"status_interval": 3600.0})
    analyzer = FaceAnalyzer.from_config(config)
    boxes_per_frame: dict[int, list] = {}
    latencies: list[float] = []
    steady: list[float] = []  # the latencies of the frames after the first STEADY_AFTER s

    def record(camera: str, frame, faces, latency: float) -> None:
        latencies.append(latency)
        if frame.video_time >= STEADY_AFTER - 1e-6:
            steady.append(latency)
        if camera == "cam0":
            boxes_per_frame[frame.number] = [[float(v) for v in f.box] for f in faces]

    with tempfile.TemporaryDirectory() as scratch, EmbeddedRedis(Path(scratch) / "redis") as redis:
        started, cpu = time.perf_counter(), _usage()
        with app.build(config, Path(scratch) / "gallery.db", redis.url, analyzer) as services:
            runtime = app.start_runtime(services, observers=(record,))
            asyncio.run(runtime.run(asyncio.Event(), until_ended=True))
    frames = max(boxes_per_frame) + 1 if boxes_per_frame else 0
    ordered = [boxes_per_frame.get(n) for n in range(frames)]  # None: a frame not analysed
    statuses = runtime.status().cameras.values()
    result = _result(ordered, sum(c.faces for c in statuses), started, cpu,
                     frames_done=sum(c.frames_analysed for c in statuses))
    result.update(tracks=sum(c.tracks_started for c in statuses), embedded=sum(c.embedded for c in statuses),
                  latency_p50_ms=float(np.percentile(latencies, 50) * 1000) if latencies else None,
                  latency_p99_ms=float(np.percentile(latencies, 99) * 1000) if latencies else None)
    if live:  # all cameras start at once on the same frames: the first seconds carry every new face's work
        due = _due_after(video, STEADY_AFTER, LIVE_FPS) * cameras
        result.update(steady_share=len(steady) / due if due else None,
                      steady_latency_p50_ms=float(np.percentile(steady, 50) * 1000) if steady else None)
    return result


def _due_after(video: str, start: float, fps: float) -> int:
    """How many frames a camera analysing ``fps`` per video second is due from ``start`` s to the video's end."""
    capture = cv2.VideoCapture(video)
    seconds = capture.get(cv2.CAP_PROP_FRAME_COUNT) / (capture.get(cv2.CAP_PROP_FPS) or 25.0)
    capture.release()
    return max(0, int(np.ceil((seconds - start) * fps - 1e-6)))


def _result(boxes_per_frame: list, faces: int, started: float, cpu: float, frames_done: int | None = None) -> dict:
    seconds = time.perf_counter() - started
    frames = frames_done if frames_done is not None else len(boxes_per_frame)
    return {"seconds": seconds, "frames": frames, "fps": frames / seconds, "faces": faces,
            "faces_per_second": faces / seconds, "cpu_cores": (_usage() - cpu) / seconds,
            "peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "boxes": boxes_per_frame}


def main() -> None:
    method, video, cameras, config = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    if method == "facenet-pytorch":
        result = run_facenet(video)
    elif method == "face_recognition":
        result = run_face_recognition(video)
    elif method in ("ours", "ours-live"):
        result = run_ours(video, cameras, config, live=method == "ours-live")
    else:
        sys.exit(f"unknown method {method}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
