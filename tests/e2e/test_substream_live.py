"""A sub-stream camera end to end with real parts: a real two-stream RTSP camera (1280x720 main, 480x270 sub,
one scene of LFW people crossing), the real models, a real Redis. Faces are found on the sub-stream, cut
from the main stream, and named; the main stream is decoded only while someone is in view."""

import asyncio
import base64
import json
import time

import cv2
import numpy as np
import pytest
import redis

from pipelines import app
from pipelines.eval.synthetic import ORDER, make_plan, write_demo
from pipelines.events.publisher import stream_key
from pipelines.events.redis_server import EmbeddedRedis, free_port
from tests.support.data import LFW, needs_data
from tests.support.rtsp import RtspCamera, needs_rtsp
from tests.support.videos import enroll_plan
from tracker.config import with_changes

pytestmark = [needs_data, needs_rtsp]
MAIN, SUB = (1280, 720), (480, 270)


@pytest.fixture(scope="module")
def scene(tmp_path_factory, analyzer, config):
    folder = tmp_path_factory.mktemp("substream")
    plan = make_plan(LFW, order=ORDER[:3], size=MAIN, lead=2.0, tail=4.0)  # two enrolled people, a stranger
    video = write_demo(plan, folder)
    gallery = enroll_plan(plan, folder / "gallery.db", analyzer, config)
    return plan, video, gallery


def test_a_sub_stream_camera_names_people_from_main_stream_faces(scene, analyzer, config, tmp_path):
    plan, video, gallery = scene
    camera = RtspCamera(video, free_port(), main=f"{MAIN[0]}x{MAIN[1]}", sub=f"{SUB[0]}x{SUB[1]}").start()
    settings = with_changes(config, "test", http={"port": 0}, pipeline={"status_interval": 3600.0},
                            cameras=[{"id": "door", "url": camera.url, "detect_url": camera.sub_url}])
    enrolled = {a.name for a in plan.appearances if a.enrolled}
    try:
        with EmbeddedRedis(tmp_path / "redis") as server:
            client = redis.Redis.from_url(server.url)
            try:
                events, status, stats = asyncio.run(_watch(settings, gallery, analyzer, server.url, client, enrolled,
                                                            plan.seconds))
            finally:
                client.close()
    finally:
        camera.stop()

    resolved = [e for e in events if e["type"] == "identity.resolved"]
    assert {e["name"] for e in resolved} == enrolled, "every enrolled person named, nobody else"
    boxes = np.array([e["box"] for e in events if e.get("box")])
    assert (boxes >= -50).all() and (boxes[:, 2] <= MAIN[0] + 50).all() and (boxes[:, 3] <= MAIN[1] + 50).all()
    assert boxes[:, 2].max() > SUB[0] * 1.2, "boxes are in the main stream's pixels"
    crops = [cv2.imdecode(np.frombuffer(base64.b64decode(e["crop_jpeg"]), np.uint8), cv2.IMREAD_COLOR)
             for e in resolved]
    # a crop is the face's box (main-stream pixels) grown by 40% each side: 1.8 times the box's height when cut
    # from the main stream, 0.675 times (1.8 x 270 / 720) from the sub-stream
    heights = [(c.shape[0], e["box"][3] - e["box"][1]) for c, e in zip(crops, resolved)]
    assert all(crop >= 1.5 * box for crop, box in heights), f"(crop, box) heights: {heights}"
    assert stats.from_main > 0 and stats.main_missed <= stats.from_main // 10
    assert status.main_decoded > 0 and status.frames_idle > 0
    assert status.main_bursts >= 2, "decoding stopped while nobody was in view (the scene's empty 6 s between laps)"


async def _watch(settings, gallery, analyzer, redis_url, client, enrolled, lap):
    """Run the camera until every enrolled person was named once and the scene went round once; its events."""
    stop = asyncio.Event()
    with app.build(settings, gallery, redis_url, analyzer) as services:
        runtime = app.start_runtime(services)
        running = asyncio.create_task(runtime.run(stop, until_ended=False))
        try:
            started = time.monotonic()
            while True:
                events = await asyncio.to_thread(_events, client)
                named = {e["name"] for e in events if e["type"] == "identity.resolved"}
                if named >= enrolled and time.monotonic() - started > lap + 5:
                    break
                assert time.monotonic() - started < 200, f"named so far: {named}"
                await asyncio.sleep(1.0)
            camera = runtime.cameras["door"]
            return events, camera.status(), camera.loop.stats
        finally:
            stop.set()
            await running


def _events(client: redis.Redis) -> list[dict]:
    return [json.loads(fields[b"event"]) for _, fields in client.xrange(stream_key("facetrack"))]
