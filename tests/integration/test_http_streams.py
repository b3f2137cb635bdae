"""The HTTP side never stalls the cameras' event loop: gallery work waits on its own thread (a locked
gallery included), viewers are capped, and stopping the server ends open live views and feeds at once."""

import asyncio
import contextlib
import sqlite3

import aiohttp
import pytest

from pipelines import app
from pipelines.eval.synthetic import make_plan, write_video
from pipelines.events.redis_server import free_port
from pipelines.web.server import build_app, serve_app
from tests.support.data import LFW, needs_data
from tests.support.http import AUTH, TOKEN, live_app
from tracker.config import CameraConfig, with_changes

pytestmark = needs_data


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    plan = make_plan(LFW, order=("Colin_Powell", "Aaron_Eckhart"), lead=0.5, duration=3.0, tail=1.0)
    return write_video(plan, tmp_path_factory.mktemp("video") / "v.avi")


def test_a_locked_gallery_holds_up_the_change_waiting_for_it_not_the_server(analyzer, config, gallery, redis_url):
    async def scenario():
        async with live_app(analyzer, config, gallery, redis_url, pipeline=False) as (client, _):
            other = sqlite3.connect(gallery, isolation_level=None)
            other.execute("BEGIN IMMEDIATE")  # another writer holds the gallery (an import, a CLI change)
            try:
                rename = asyncio.create_task(client.patch("/api/identities/Colin Powell", headers=AUTH,
                                                          json={"name": "C. Powell"}))
                await asyncio.sleep(0.5)  # the rename is waiting on the lock by now
                health = await client.get("/health")
                people = await client.get("/api/identities")  # a read goes past a writer's lock
                answered_while_locked = not rename.done()
            finally:
                other.execute("ROLLBACK")
                other.close()
            renamed = await rename
            return health.status, people.status, answered_while_locked, renamed.status

    # before, the rename's 5 s wait for the lock ran on the event loop: nothing else was answered meanwhile
    assert asyncio.run(scenario()) == (200, 200, True, 200)


@contextlib.asynccontextmanager
async def _serving(settings, gallery, redis_url, analyzer, video):
    """A running runtime with camera ``hall`` (the video, looping) and its HTTP server; yields the runner."""
    with app.build(settings, gallery, redis_url, analyzer) as services:
        runtime = app.start_runtime(services)
        stop = asyncio.Event()
        running = asyncio.create_task(runtime.run(stop, until_ended=False))
        await asyncio.sleep(0.1)
        runtime.add_camera(CameraConfig(id="hall", url=str(video), loop=True))
        try:
            yield await serve_app(build_app(services, TOKEN, runtime), settings)
        finally:
            stop.set()
            await running


def test_viewers_past_the_cap_are_refused_and_stopping_the_server_ends_open_streams(
        analyzer, config, gallery, redis_url, video):
    settings = with_changes(config, "test", http={"max_viewers": 2, "port": free_port()})

    async def scenario():
        async with _serving(settings, gallery, redis_url, analyzer, video) as runner:
            base = f"http://127.0.0.1:{settings.http.port}"
            async with aiohttp.ClientSession() as session:
                live = await session.get(f"{base}/cameras/hall/live.mjpg")
                assert (await live.content.readuntil(b"\r\n\r\n")).startswith(b"--frame")
                feed = await session.ws_connect(f"{base}/ws/events?since=0")
                third = await session.get(f"{base}/cameras/hall/live.mjpg")
                refused = third.status, (await third.json())["error"]
                # stopping with a viewer and a feed open: they are ended, not waited for (aiohttp waits 60 s)
                await asyncio.wait_for(runner.cleanup(), 20)
                closed = await asyncio.wait_for(feed.receive(), 5)
                rest = await asyncio.wait_for(live.content.read(), 5)
                return refused, closed.type, rest

    refused, closed, rest = asyncio.run(scenario())
    assert refused[0] == 503 and "http.max_viewers" in refused[1]
    assert closed in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
    assert isinstance(rest, bytes)  # the live view's response ended


def test_a_client_flooding_the_api_is_paced_and_refused_while_health_answers_at_once(
        analyzer, config, gallery, redis_url):
    settings = with_changes(config, "test", http={"max_requests_per_second": 5.0})

    async def scenario():
        async with live_app(analyzer, settings, gallery, redis_url, pipeline=False) as (client, _):
            async def read():
                async with client.get("/api/identities") as response:
                    return response.status, response.headers.get("Retry-After")

            flood = [asyncio.create_task(read()) for _ in range(30)]  # 30 at once, from one address
            await asyncio.sleep(0.5)
            started = asyncio.get_running_loop().time()
            health = await client.get("/health")
            health_took = asyncio.get_running_loop().time() - started
            answers = await asyncio.gather(*flood)
            return health.status, health_took, answers

    health, health_took, answers = asyncio.run(scenario())
    assert health == 200 and health_took < 1.0  # never paced, while 25 reads wait their turn
    served = [a for a in answers if a[0] == 200]
    refused = [a for a in answers if a[0] == 429]
    assert len(served) == 5 + 10 and len(refused) == 15  # a second's worth at once, 2 s more in turn, the rest 429
    assert {a[1] for a in refused} == {"2"}  # Retry-After


async def _silent_feed(port: int) -> asyncio.StreamWriter:
    """An event-feed client that completes the WebSocket handshake and then never reads or answers again."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /ws/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
    return writer


def test_viewers_who_leave_or_never_answer_do_not_hold_up_the_stop_or_fill_the_log(
        analyzer, config, gallery, redis_url, video, caplog):
    settings = with_changes(config, "test", http={"port": free_port()})

    async def scenario():
        async with _serving(settings, gallery, redis_url, analyzer, video) as runner:
            port = settings.http.port
            for _ in range(2):  # a viewer who closes the page mid-stream
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(f"GET /cameras/hall/live.mjpg HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
                await reader.readuntil(b"--frame")
                writer.transport.abort()
                writer.close()
            await asyncio.sleep(1.0)  # the server writes the next frames to the closed connection
            silent = [await _silent_feed(port) for _ in range(3)]
            await asyncio.sleep(1.0)  # events reach the feeds until their send buffers are full
            started = asyncio.get_running_loop().time()
            await asyncio.wait_for(runner.cleanup(), 30)
            took = asyncio.get_running_loop().time() - started
            # a feed's Redis reader whose cancel was lost read on after the server stopped; once the cameras
            # were stopped too, nothing ended it, and asyncio.run waited on it at exit: the process hung
            left = [t.get_coro().__qualname__ for t in asyncio.all_tasks() if "live_events" in repr(t)]
            for writer in silent:
                writer.close()
            return took, len(silent), left

    took, feeds, left = asyncio.run(scenario())
    assert left == []
    assert feeds == 3 and took < 10.0, f"the stop took {took:.1f} s"  # within a container's grace period
    errors = [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    assert not errors, [r.getMessage() for r in errors]  # a viewer leaving is routine (it logged a traceback)
