"""``facetrack eval video``: a video through the live pipeline, as ``facetrack run`` would play it,
each analysed frame's tracks and names scored against ground truth (``video_metrics``).

The video is one camera, read frame by frame (no real-time pacing, so the result does not
depend on the machine's speed) and analysed at ``fps`` frames per video second, with the
embedded Redis receiving the events. Ground truth is ``truth.json`` as ``scenarios.py``
writes it: ``{"fps": F, "frames": [{"number": N, "time": T, "faces": [{"person", "enrolled",
"box"}]}]}``.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

from pipelines import app
from pipelines.eval.video_metrics import SeenFace, TruthFace, VideoScore, score
from pipelines.events.redis_server import EmbeddedRedis
from pipelines.live.sources import Frame
from tracker.config import Config, with_changes
from tracker.errors import DatasetError
from tracker.events import Event
from tracker.face.analyzer import FaceAnalyzer
from tracker.track.state import TrackedFace


def read_truth(path: Path) -> tuple[dict[int, list[TruthFace]], dict[int, float]]:
    """Each frame's true faces and time, by frame number."""
    try:
        frames = json.loads(path.read_text())["frames"]
        truth = {int(f["number"]): [TruthFace(str(x["person"]), bool(x["enrolled"]), tuple(map(float, x["box"])))
                                    for x in f["faces"]] for f in frames}
        return truth, {int(f["number"]): float(f["time"]) for f in frames}
    except OSError as error:
        raise DatasetError(f"{path}: cannot read ground truth: {error.strerror or error}") from None
    except (ValueError, KeyError, TypeError) as error:
        raise DatasetError(f"{path}: not ground truth as facetrack eval video reads it ({error!r})") from None


def play(config: Config, video: Path, gallery: Path, fps: float, analyzer: FaceAnalyzer | None = None,
         sightings: bool = False, listeners: tuple[Callable[[Event], None], ...] = ()) -> dict[int, list[SeenFace]]:
    """Every analysed frame's faces with their tracks and names, by frame number. With ``sightings``,
    the unknown tracks' sightings are written into ``gallery`` as ``facetrack run`` writes them; ``listeners`` are
    told each event."""
    camera = {"id": "video", "url": str(video), "fps": fps, "realtime": False}
    config = with_changes(config, "eval video", cameras=[camera], pipeline={"status_interval": 3600.0},
                          http={"port": 0}, unknowns={"enabled": sightings})  # by default, none written
    seen: dict[int, list[SeenFace]] = {}

    def record(camera: str, frame: Frame, faces: list[TrackedFace], latency: float) -> None:
        seen[frame.number] = [SeenFace(f.track_id, f.name, tuple(float(v) for v in f.box)) for f in faces]

    with tempfile.TemporaryDirectory() as scratch, EmbeddedRedis(Path(scratch) / "redis") as redis:
        with app.build(config, gallery, redis.url, analyzer) as services:
            runtime = app.start_runtime(services, observers=(record,), listeners=listeners)
            asyncio.run(runtime.run(asyncio.Event(), until_ended=True))
    return seen


def evaluate_video(config: Config, video: Path, truth_file: Path, gallery: Path, fps: float = 5.0,
                   analyzer: FaceAnalyzer | None = None) -> VideoScore:
    if not video.is_file():
        raise DatasetError(f"{video}: no such video")
    if not gallery.is_file():
        raise DatasetError(f"{gallery}: no such gallery (enroll the scenario's people first)")
    truth, times = read_truth(truth_file)
    seen = play(config, video, gallery, fps, analyzer)
    missing = sorted(set(seen) - set(times))
    if missing:
        raise DatasetError(f"{truth_file}: no ground truth for analysed frame {missing[0]} (is it this video's?)")
    return score(truth, seen, times, 1.0 / fps)
