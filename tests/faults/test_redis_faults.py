"""Redis stalls and dies under the publisher: counted end to end by event id, nothing is lost
and nothing is repeated, on the embedded server and on an external one; the embedded server under a
running ``facetrack run`` is restarted when it dies, stops only after the drain, and never outlives it."""

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import redis

from pipelines.eval.synthetic import make_plan, write_video
from pipelines.events.publisher import EventPublisher, channel, stream_key
from pipelines.events.redis_server import EmbeddedRedis, embedded_url, free_port, server_binary, serving, socket_path
from pipelines.events.subscriber import read_events
from tests.support.cli import FACETRACK
from tests.support.data import LFW, needs_data
from tracker.errors import TrackerError
from tracker.events import Event

SOCKET_TIMEOUT = 5.0  # the publisher's; a stall longer than this makes it send again
EVENTS = 40


class ExternalRedis:
    """A redis-server that facetrack did not start (as an operator's own server), persistent."""

    def __init__(self, data_dir, port):
        self.data_dir, self.port = data_dir, port
        self.url = f"redis://127.0.0.1:{port}/0"
        self._process = None

    def start(self):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            [str(server_binary()), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.data_dir),
             "--appendonly", "yes", "--save", ""], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        for _ in range(200):
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("the external Redis did not start")

    @property
    def pid(self):
        return self._process.pid

    def stop(self):
        if self._process.poll() is None:
            self._process.terminate()
        self._process.wait()


def make_server(kind, data_dir, port):
    return (EmbeddedRedis(data_dir) if kind == "embedded" else ExternalRedis(data_dir, port)).start()


def event(n):
    return Event(type="track.started", camera="door", track_id=n, frame_time=float(n), model_id="m")


def listen_raw(url, received, ready, stop):
    """Every pub/sub message as it arrives, repeats included (not the kit, which drops them)."""
    client = redis.Redis.from_url(url)
    pubsub = client.pubsub()
    pubsub.subscribe(channel("ft", "door"))
    ready.set()
    while not stop.is_set():
        try:
            message = pubsub.get_message(timeout=0.2)
        except redis.ConnectionError:
            return  # the server died: pub/sub is live only, the Stream is the record
        if message and message["type"] == "message":
            received.append(Event.model_validate_json(message["data"]).id)
    pubsub.close()
    client.close()


def inject(fault, seconds, servers, restart):
    """Pause the server for ``seconds``, or kill it and start another on its data ``seconds`` later."""
    server = servers[0]
    if fault == "pause":
        os.kill(server.pid, signal.SIGSTOP)
        time.sleep(seconds)  # the fault's length, not a wait for something
        os.kill(server.pid, signal.SIGCONT)
    else:
        os.kill(server.pid, signal.SIGKILL)
        server.stop()
        time.sleep(seconds)
        servers.append(restart())  # the same data folder: the Stream comes back


@pytest.mark.parametrize("kind", ["embedded", "external"])
@pytest.mark.timeout(300)  # a stuck restart fails by the assertions, inside this
@pytest.mark.parametrize("fault, seconds", [("pause", 2.0), ("pause", SOCKET_TIMEOUT + 2.0), ("kill", 3.0)])
def test_events_survive_a_redis_fault_once_each(tmp_path, kind, fault, seconds):
    port, data = free_port(), tmp_path / "redis"
    servers = [make_server(kind, data, port)]
    raw, ready, done = [], threading.Event(), threading.Event()
    listener = threading.Thread(target=listen_raw, args=(servers[0].url, raw, ready, done))
    listener.start()
    ready.wait(5)

    injection_failed = []

    def fault_injection():
        try:
            inject(fault, seconds, servers, lambda: make_server(kind, data, port))
        except Exception as error:  # said by the test, not lost in a thread
            injection_failed.append(repr(error))

    async def scenario():
        publisher, stop = EventPublisher(servers[0].url, "ft", 10_000, 1_000), asyncio.Event()
        running = asyncio.create_task(publisher.run(stop))
        injector = threading.Thread(target=fault_injection)
        sent = []
        for n in range(EVENTS):
            if n == EVENTS // 4:
                injector.start()
            e = event(n)
            sent.append(e.id)
            publisher.publish(e)
            await asyncio.sleep(0.1)
        await asyncio.to_thread(injector.join)
        assert not injection_failed, injection_failed  # e.g. the restarted server did not come up
        deadline = time.monotonic() + 30
        while publisher.status().published < EVENTS and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        stop.set()
        await running
        replayed = []

        async def replay():
            async for _, e in read_events(servers[-1].url, "ft", since="0"):
                replayed.append(e.id)
                if len(replayed) == EVENTS:
                    break

        with contextlib.suppress(TimeoutError):  # fewer than sent: the assertions below say which are missing
            await asyncio.wait_for(replay(), 10)
        return sent, publisher.status(), replayed

    try:
        sent, status, replayed = asyncio.run(asyncio.wait_for(scenario(), 90))
        deadline = time.monotonic() + 10  # the last pub/sub message (none after a kill: the listener has gone)
        while listener.is_alive() and sent[-1] not in raw and time.monotonic() < deadline:
            time.sleep(0.05)
        done.set()
        listener.join(5)
        client = redis.Redis.from_url(servers[-1].url)
        stored = [Event.model_validate_json(fields[b"event"]).id for _, fields in client.xrange(stream_key("ft"))]
        client.close()
    finally:
        done.set()
        servers[-1].stop()
    assert (status.published, status.buffered, status.dropped) == (EVENTS, 0, 0)
    assert stored == sent  # the Stream: every event, once, in order
    assert replayed == sent  # what a subscriber replays
    assert max(Counter(raw).values()) == 1  # pub/sub never repeats an event
    if fault == "pause":
        assert raw == sent  # the live connection outlived the stall: every event, once, in order


def test_two_runs_cannot_share_one_redis_data_folder(tmp_path):
    with EmbeddedRedis(tmp_path / "redis") as first:
        with pytest.raises(TrackerError, match=f"{tmp_path / 'redis'} is in use by another facetrack run "
                                               f"\\(pid {os.getpid()}\\); give each run its own redis.data_dir"):
            EmbeddedRedis(tmp_path / "redis").start()
        assert redis.Redis.from_url(first.url).ping()  # the first run is untouched
    with EmbeddedRedis(tmp_path / "redis"):  # free again once the first has stopped
        pass


@pytest.mark.timeout(240)
def test_events_survive_redis_refusing_writes_for_ten_seconds(tmp_path, caplog):
    """Out of memory (maxmemory reached, noeviction): every write answers OOM for 10 s; nothing is lost."""
    server = make_server("embedded", tmp_path / "redis", free_port())
    admin = redis.Redis.from_url(server.url)

    async def scenario():
        publisher, stop = EventPublisher(server.url, "ft", 10_000, 1_000), asyncio.Event()
        running = asyncio.create_task(publisher.run(stop))
        sent = []
        for n in range(EVENTS):
            if n == EVENTS // 4:
                admin.config_set("maxmemory-policy", "noeviction")
                admin.config_set("maxmemory", "1")
                threading.Timer(10.0, lambda: admin.config_set("maxmemory", "0")).start()
            e = event(n)
            sent.append(e.id)
            publisher.publish(e)
            await asyncio.sleep(0.1)
        deadline = time.monotonic() + 40
        while publisher.status().published < EVENTS and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        stop.set()
        await running
        return sent, publisher.status(), running.exception()

    try:
        sent, status, crashed = asyncio.run(asyncio.wait_for(scenario(), 80))
        stored = [Event.model_validate_json(fields[b"event"]).id for _, fields in admin.xrange(stream_key("ft"))]
    finally:
        admin.close()
        server.stop()
    assert crashed is None and (status.published, status.buffered, status.dropped) == (EVENTS, 0, 0)
    assert stored == sent
    assert any("refuses writes" in r.getMessage() and "OOM" in r.getMessage() for r in caplog.records)


def _redis_pids(data_dir: Path) -> list[int]:
    """The redis-server processes serving ``data_dir``'s socket (read from /proc, as ``ps`` would: Redis sets its
    title to ``redis-server unixsocket:<path>``)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                title = Path(f"/proc/{entry}/cmdline").read_bytes()
                alive = not Path(f"/proc/{entry}/stat").read_text().split(") ")[1].startswith("Z")
            except OSError:
                continue
            if alive and b"redis-server" in title and f"unixsocket:{socket_path(data_dir)}\0".encode() in title + b"\0":
                pids.append(int(entry))
    return pids


def _wait(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out: {what}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def looping_video(tmp_path_factory):
    plan = make_plan(LFW, order=("Colin_Powell", "Aaron_Eckhart"), lead=0.5, duration=2.0, tail=0.5)
    return write_video(plan, tmp_path_factory.mktemp("video") / "v.avi")


def _start_run(tmp_path, cache_dir, video):
    config = tmp_path / "config.toml"
    config.write_text(
        f'[models]\ncache_dir = "{cache_dir}"\ndevice = "cpu"\n\n[redis]\n'
        f'data_dir = "{tmp_path / "redis"}"\n\n[http]\nport = 0\n\n[pipeline]\ngrace_seconds = 10.0\n\n'
        f'[[cameras]]\nid = "hall"\nurl = "{video}"\nloop = true\n')
    log = (tmp_path / "run.log").open("w")
    process = subprocess.Popen([str(FACETRACK), "run", "--config", str(config), "--gallery", str(tmp_path / "g.db")],
                               stderr=log, start_new_session=True)  # its own group, as a systemd unit has
    return process, log


@needs_data
def test_the_embedded_redis_is_restarted_when_it_dies_and_outlasts_a_group_sigterm_until_the_drain(
        tmp_path, cache_dir, looping_video):
    data = tmp_path / "redis"
    run, log = _start_run(tmp_path, cache_dir, looping_video)
    client = redis.Redis.from_url(embedded_url(data), socket_connect_timeout=1, socket_timeout=2)

    def events():
        try:
            return [f[b"event"] for _, f in client.xrange(stream_key("facetrack"))]
        except redis.RedisError:
            return []

    try:
        _wait(lambda: any(b'"track.started"' in e for e in events()), 120, "the first track in the Stream")
        first = _redis_pids(data)
        assert len(first) == 1
        os.kill(first[0], signal.SIGKILL)  # Redis dies under a running facetrack
        _wait(lambda: _redis_pids(data) and _redis_pids(data) != first, 10, "the embedded Redis started again")
        before = len(events())
        _wait(lambda: len(events()) > before, 30, "events after the restart")
        os.killpg(run.pid, signal.SIGTERM)  # what systemd's KillMode=control-group and Ctrl-C do: the whole group
        assert run.wait(timeout=60) == 0, (tmp_path / "run.log").read_text()[-3000:]
    finally:
        if run.poll() is None:
            run.kill()
        client.close()
        log.close()
    assert _redis_pids(data) == []  # stopped by facetrack, after the drain
    with EmbeddedRedis(tmp_path / "redis") as server:  # read what it kept
        kept = [json.loads(f[b"event"]) for _, f in redis.Redis.from_url(server.url).xrange(stream_key("facetrack"))]
    started = {e["track_id"] for e in kept if e["type"] == "track.started"}
    ended = {e["track_id"] for e in kept if e["type"] == "track.ended"}
    assert started and started == ended  # every track's end delivered: Redis outlived the group's SIGTERM


@needs_data
def test_the_embedded_redis_does_not_outlive_a_killed_facetrack(tmp_path, cache_dir, looping_video):
    data = tmp_path / "redis"
    run, log = _start_run(tmp_path, cache_dir, looping_video)
    try:
        _wait(lambda: bool(_redis_pids(data)) and serving(data), 120, "the embedded Redis")
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=10)
    finally:
        if run.poll() is None:
            run.kill()
        log.close()
    _wait(lambda: not _redis_pids(data) and not serving(data), 10, "the orphaned Redis to end")
