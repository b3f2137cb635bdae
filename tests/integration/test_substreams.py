"""Sub-stream cameras against a real two-stream RTSP camera (GStreamer: one live scene served as /main and
/sub): the main stream's frame found for a sub-stream frame is of the same moment, the main stream is decoded
only while wanted, and either stream may drop and come back while the other lives."""

import asyncio
import time
from pathlib import Path

import cv2
import pytest

from gallery.store import GalleryStore
from pipelines import app
from pipelines.eval.synthetic import background
from pipelines.events.redis_server import EmbeddedRedis, free_port
from pipelines.live.mainstream import HOLD, MainStream
from pipelines.live.sources import LIVE, CameraReader, Mailbox
from tests.support.proxy import CuttableProxy
from tests.support.rtsp import RtspCamera, needs_rtsp
from tracker.config import with_changes

pytestmark = needs_rtsp
CODES = 25  # a frame's number modulo this is written into its corner as a grey level (10 per step)


def coded_video(path: Path, seconds: float = 30.0, fps: int = 10) -> Path:
    """A still scene whose top-left corner's grey level says the frame's number (modulo ``CODES``)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (640, 360))
    backdrop = background(640, 360)
    for n in range(int(seconds * fps)):
        frame = backdrop.copy()
        frame[:96, :96] = (n % CODES) * 10
        writer.write(frame)
    writer.release()
    return path


def code(image, corner: int) -> int:
    """The frame number written in an RGB frame whose coded corner is ``corner`` pixels wide."""
    middle = image[corner // 4:3 * corner // 4, corner // 4:3 * corner // 4]
    return int(round(float(middle.mean()) / 10)) % CODES


@pytest.fixture(scope="module")
def camera(tmp_path_factory):
    server = RtspCamera(coded_video(tmp_path_factory.mktemp("camera") / "coded.avi"), free_port()).start()
    yield server
    server.stop()


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_the_main_streams_frame_for_a_sub_stream_frame_is_of_the_same_moment(camera):
    async def pairs():
        mailbox = Mailbox(asyncio.get_running_loop())
        reader = CameraReader("cam", camera.sub_url, mailbox, True, 5, 1, rate=5.0)
        main = MainStream("cam", camera.url, 5, 1)
        reader.start()
        main.start()
        found = []
        try:
            while len(found) < 40:
                frame = await asyncio.wait_for(mailbox.get(), 30)
                image = await main.frame_at(frame.video_time, 5.0)
                found.append(None if image is None else (code(frame.rgb(), 72), code(image, 192)))
        finally:
            reader.stop()
            main.stop()
            await asyncio.to_thread(reader.join, 10)
            await asyncio.to_thread(main.join, 10)
        return found, main

    found, main = asyncio.run(pairs())
    apart = [(m - s + CODES // 2) % CODES - CODES // 2 for s, m in filter(None, found)]  # frames, signed
    print(f"main minus sub, frames: {apart}")
    assert len(apart) >= 38, "a main-stream frame came for (nearly) every sub-stream frame"
    assert apart == [0] * len(apart), "each the same moment, the first frames too (the camera stamps both at capture)"
    assert main.bursts == 1, "decoding started once (from a keyframe) and went on while wanted"


def test_the_main_stream_is_decoded_only_while_wanted(camera):
    main = MainStream("cam", camera.url, 5, 1)
    main.start()
    try:
        wait_for(lambda: main.packets > 30, 30, "main-stream packets")
        assert (main.decoded, main.bursts) == (0, 0), "nobody wanted it: read, never decoded"
        wanted_until = time.monotonic() + 2.0
        while time.monotonic() < wanted_until:
            main.want(time.monotonic())
            time.sleep(0.1)
        wait_for(lambda: main.decoded > 10, 10, "decoding while wanted")

        def stopped() -> bool:  # nobody wants it any more: ten more packets read, none decoded
            decoded, packets = main.decoded, main.packets
            wait_for(lambda: main.packets >= packets + 10, 10, "more packets")
            return main.decoded == decoded

        wait_for(stopped, 10 * HOLD, "decoding to stop once nobody wants the main stream")
        assert main.bursts == 1
    finally:
        main.stop()
        main.join(10)


@pytest.mark.parametrize("dropped", ["sub", "main"])
def test_either_stream_may_drop_and_come_back_while_the_other_lives(camera, analyzer, config, tmp_path, dropped):
    proxy = CuttableProxy(camera.port)
    via = f"rtsp://127.0.0.1:{proxy.port}/{dropped}"
    urls = {"url": camera.url, "detect_url": camera.sub_url} | {"url" if dropped == "main" else "detect_url": via}
    settings = with_changes(config, "test", cameras=[{"id": "door", **urls}], http={"port": 0},
                            pipeline={"stall_seconds": 2.0, "max_backoff": 1.0, "status_interval": 3600.0})
    gallery = tmp_path / "gallery.db"
    GalleryStore(gallery).close()

    async def scenario(redis_url):
        stop = asyncio.Event()
        with app.build(settings, gallery, redis_url, analyzer) as services:
            runtime = app.start_runtime(services)
            running = asyncio.create_task(runtime.run(stop, until_ended=False))
            try:
                return await _drop_and_restore(runtime, proxy, dropped)
            finally:
                stop.set()
                await running

    try:
        with EmbeddedRedis(tmp_path / "redis") as redis:
            during, after = asyncio.run(scenario(redis.url))
    finally:
        proxy.close()
    cut, kept = ("state", "main_state") if dropped == "sub" else ("main_state", "state")
    assert during[cut] != LIVE and during[kept] == LIVE
    assert after["reconnects"] + after["main_reconnects"] >= 1


async def _drop_and_restore(runtime, proxy: CuttableProxy, dropped: str) -> tuple[dict, dict]:
    def status() -> dict:
        camera = runtime.cameras.get("door")  # added once the runtime runs
        if camera is None:
            return {"state": None, "main_state": None, "frames_analysed": 0}
        return {**camera.status().__dict__, "main_reconnects": camera.main.reconnects}

    async def until(condition, what: str) -> dict:
        deadline = time.monotonic() + 60
        while not condition(status()):
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {status()}"
            await asyncio.sleep(0.2)
        return status()

    await until(lambda s: s["state"] == LIVE and s["main_state"] == LIVE and s["frames_analysed"] > 5, "both live")
    proxy.cut()
    key = "state" if dropped == "sub" else "main_state"
    during = await until(lambda s: s[key] != LIVE, f"the {dropped} stream to be seen gone")
    if dropped == "main":  # the camera analyses on meanwhile
        analysed = during["frames_analysed"]
        during = await until(lambda s: s["frames_analysed"] > analysed + 5, "analysis without the main stream")
    proxy.restore()
    analysed = during["frames_analysed"]
    both = (LIVE, LIVE)
    after = await until(lambda s: (s["state"], s["main_state"]) == both and s["frames_analysed"] > analysed + 5,
                        "both back")
    return during, after
