"""Cameras under faults: a video file damaged mid-way plays on past the damage, and an RTSP
camera whose server dies reconnects while the other cameras never stop."""

import asyncio
import logging
import os
import time

import cv2

from gallery.store import GalleryStore
from pipelines.eval.synthetic import background
from pipelines.events.redis_server import EmbeddedRedis, free_port
from pipelines.live.sources import ENDED, CameraReader, Mailbox
from tests.support.http import AUTH, live_app
from tests.support.rtsp import RtspServer, needs_rtsp
from tests.support.videos import write_video
from tracker.config import with_changes

FRAMES = 200


def damaged_mp4(path):
    """An MPEG-4 video of 200 frames whose middle tenth of bytes is noise."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (320, 240))
    for n in range(FRAMES):
        frame = background(320, 240)
        cv2.putText(frame, str(n), (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 1, (255, 255, 255), 2)
        writer.write(frame)
    writer.release()
    data = bytearray(path.read_bytes())
    middle, tenth = len(data) // 2, len(data) // 10
    data[middle:middle + tenth] = os.urandom(tenth)
    path.write_bytes(bytes(data))
    return path


def test_a_video_damaged_mid_file_plays_on_past_the_damage(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    video = damaged_mp4(tmp_path / "damaged.mp4")

    async def consume():
        mailbox = Mailbox(asyncio.get_running_loop())
        reader = CameraReader("cam", str(video), mailbox, realtime=False, stall_seconds=5, max_backoff=1)
        reader.start()
        frames = 0
        while await asyncio.wait_for(mailbox.get(), 30) is not None:
            frames += 1
        reader.join(5)
        return frames, reader

    frames, reader = asyncio.run(consume())
    assert reader.state == ENDED and reader.reconnects == 0
    assert frames >= 0.8 * FRAMES  # the undamaged frames after the noise are read too, not only those before it
    assert "unreadable frame(s) skipped" in caplog.text


async def _cameras(client):
    return {c["id"]: c for c in await (await client.get("/api/cameras")).json()}


async def _until(client, condition, timeout, what):
    deadline = time.monotonic() + timeout
    while not condition(await _cameras(client)):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


@needs_rtsp
def test_an_rtsp_server_killed_mid_stream_is_reconnected_and_other_cameras_never_stop(analyzer, config, tmp_path):
    video = write_video(tmp_path / "v.avi", 120.0)
    servers = {cid: RtspServer(video, free_port()).start() for cid in ("door", "yard")}
    gallery = tmp_path / "gallery.db"
    GalleryStore(gallery).close()
    settings = with_changes(config, "test", pipeline={"stall_seconds": 3.0, "max_backoff": 1.0})

    async def scenario(redis_url):
        async with live_app(analyzer, settings, gallery, redis_url) as (client, _):
            for cid, server in servers.items():
                added = await client.post("/api/cameras", headers=AUTH, json={"id": cid, "url": server.url})
                assert added.status == 201
            await _until(client, lambda c: all(c[i]["state"] == "live" and c[i]["frames_analysed"] > 5
                                               for i in ("door", "yard")), 60, "both cameras live")
            servers["door"].stop()
            yard_progress = []
            for _ in range(16):  # 8 s with door's server gone
                await asyncio.sleep(0.5)
                yard_progress.append((await _cameras(client))["yard"]["frames_analysed"])
            outage = (await _cameras(client))["door"]
            servers["door"].start()
            before = outage["frames_analysed"]
            await _until(client, lambda c: c["door"]["state"] == "live" and c["door"]["frames_analysed"] > before + 5,
                         60, "door to come back")
            return yard_progress, outage, (await _cameras(client))

    try:
        with EmbeddedRedis(tmp_path / "redis") as events:
            yard_progress, outage, final = asyncio.run(scenario(events.url))
    finally:
        for server in servers.values():
            server.stop()
    assert outage["state"] in ("stalled", "failed", "connecting")
    assert all(later > earlier for earlier, later in zip(yard_progress[::2], yard_progress[2::2]))  # every second
    assert final["door"]["reconnects"] >= 1 and final["yard"]["reconnects"] == 0
