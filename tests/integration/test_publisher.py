"""Events reach a real Redis (the embedded server) on pub/sub and the Stream, and survive an outage."""

import asyncio

import pytest
import redis

from pipelines.events.publisher import EventPublisher, stream_key
from pipelines.events.redis_server import EmbeddedRedis, embedded_url
from pipelines.events.subscriber import read_events
from tracker.errors import TrackerError
from tracker.events import Event


def event(n: int, camera: str = "door") -> Event:
    return Event(type="track.started", camera=camera, track_id=n, frame_time=float(n), model_id="m")


async def until(condition, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


def test_events_go_to_the_camera_channel_and_the_stream(tmp_path):
    async def scenario():
        with EmbeddedRedis(tmp_path / "redis") as server:
            received = []

            async def subscribe():
                async for _, e in read_events(server.url, "ft", cameras=["door"]):
                    received.append(e)

            listener = asyncio.create_task(subscribe())
            watcher = redis.Redis.from_url(server.url)
            await until(lambda: watcher.pubsub_numsub("ft:events:door")[0][1] == 1)  # subscribed
            watcher.close()
            publisher, stop = EventPublisher(server.url, "ft", 1000, 100), asyncio.Event()
            running = asyncio.create_task(publisher.run(stop))
            for e in (event(1), event(2, camera="yard"), event(3)):
                publisher.publish(e)
            await until(lambda: len(received) == 2)
            stop.set()
            await running
            listener.cancel()
            replay = []
            async for stream_id, e in read_events(server.url, "ft", since="0"):
                replay.append((stream_id, e.track_id, e.camera))
                if len(replay) == 3:
                    break
            return received, replay

    received, replay = asyncio.run(scenario())
    assert [e.track_id for e in received] == [1, 3]  # only camera "door", in order
    assert [(t, c) for _, t, c in replay] == [(1, "door"), (2, "yard"), (3, "door")]
    assert replay[0][0] < replay[1][0] < replay[2][0]


def test_a_stream_key_of_the_wrong_type_holds_events_as_unwritten_until_it_is_fixed(tmp_path):
    async def scenario():
        with EmbeddedRedis(tmp_path / "redis") as server:
            client = redis.Redis.from_url(server.url)
            client.set(stream_key("ft"), "not a stream")  # a careless operator's SET on the key
            publisher, stop = EventPublisher(server.url, "ft", 1000, 100), asyncio.Event()
            running = asyncio.create_task(publisher.run(stop))
            for n in (1, 2):
                publisher.publish(event(n))
            await until(lambda: publisher._connected is False)  # said: Redis refuses the writes
            held = publisher.status()
            client.delete(stream_key("ft"))
            await until(lambda: publisher.status().published == 2)
            stop.set()
            await running
            written = [Event.model_validate_json(f[b"event"]).track_id for _, f in client.xrange(stream_key("ft"))]
            client.close()
            return held, written

    held, written = asyncio.run(scenario())
    assert (held.published, held.buffered) == (0, 2)  # (each was taken as written, and lost)
    assert written == [1, 2]


def test_events_wait_out_a_redis_outage_in_order(tmp_path):
    async def scenario():
        server = EmbeddedRedis(tmp_path / "redis").start()
        publisher, stop = EventPublisher(server.url, "ft", 1000, 100), asyncio.Event()
        running = asyncio.create_task(publisher.run(stop))
        for n in range(1, 4):
            publisher.publish(event(n))
        await until(lambda: publisher.status().published == 3)
        server.stop()
        for n in range(4, 9):
            publisher.publish(event(n))
        await until(lambda: publisher._connected is False)  # it found Redis away, and holds them
        held = publisher.status().buffered
        server = EmbeddedRedis(tmp_path / "redis").start()  # same data: the stream comes back
        try:
            await until(lambda: publisher.status().published == 8)
            stop.set()
            await running
            client = redis.Redis.from_url(server.url)
            entries = client.xrange(stream_key("ft"))
            client.close()
        finally:
            server.stop()
        return held, [Event.model_validate_json(fields[b"event"]).track_id for _, fields in entries]

    held, stored = asyncio.run(scenario())
    assert held == 5
    assert stored == list(range(1, 9))


def test_a_full_buffer_drops_the_oldest_and_counts_it():
    publisher = EventPublisher("redis://127.0.0.1:1/0", "ft", 1000, 3)
    for n in range(1, 6):
        publisher.publish(event(n))
    assert (publisher.status().buffered, publisher.status().dropped) == (3, 2)


def test_a_second_embedded_server_on_the_same_data_is_refused_and_the_first_keeps_serving(tmp_path):
    with EmbeddedRedis(tmp_path / "redis") as first:
        with pytest.raises(TrackerError, match="in use by another facetrack run"):
            EmbeddedRedis(tmp_path / "redis").start()
        client = redis.Redis.from_url(first.url)
        assert client.ping()
        client.close()


def test_the_embedded_server_admits_only_who_can_read_its_password_and_listens_on_no_port(tmp_path):
    with EmbeddedRedis(tmp_path / "redis") as server:
        stranger = redis.Redis(unix_socket_path=str(server.socket))  # a process that cannot read the password
        with pytest.raises(redis.AuthenticationError):
            stranger.config_set("dir", "/tmp")  # before: allowed, and a way to write files as our user
        with pytest.raises(redis.AuthenticationError):
            stranger.xrange(stream_key("facetrack"))
        stranger.close()
        owner = redis.Redis.from_url(embedded_url(tmp_path / "redis"))  # facetrack events, gallery erase
        assert owner.ping()
        assert owner.config_get("port")["port"] == "0"  # no TCP port another user could take while it is down
        owner.close()
        # the socket sits in the data folder (700), so no other user can reach it nor put one of theirs there
        assert server.socket.parent == tmp_path / "redis" and server.socket.is_socket()
        assert server.socket.stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "redis" / "password").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "redis").stat().st_mode & 0o777 == 0o700
    with EmbeddedRedis(tmp_path / "redis") as again:  # the same password at the next run
        assert again.url == embedded_url(tmp_path / "redis")


def test_a_data_folder_whose_socket_path_is_too_long_is_refused_by_name(tmp_path):
    deep = tmp_path / ("d" * 120)
    with pytest.raises(TrackerError, match="redis.data_dir: .* longer than a unix socket's path may be"):
        EmbeddedRedis(deep)


def test_the_kit_waits_out_a_script_that_holds_redis_busy(tmp_path):
    """An erasure writes the Stream anew in one script; past Redis's script time limit, every other client is
    answered BUSY until it ends. A subscriber that starts (or reads) meanwhile waits, then reads on."""
    import threading

    async def scenario():
        with EmbeddedRedis(tmp_path / "redis") as server:
            client = redis.Redis.from_url(server.url)
            client.config_set("lua-time-limit", 100)  # BUSY after 0.1 s, not 5 s
            client.xadd(stream_key("ft"), {"event": event(1).model_dump_json()})

            def hold(seconds: float) -> None:  # a script that runs ``seconds`` (as REWRITE_STREAM on a long Stream)
                holder = redis.Redis.from_url(server.url)
                holder.eval("local t = redis.call('TIME'); while true do local n = redis.call('TIME'); "
                            "if (n[1] - t[1]) * 1000000 + (n[2] - t[2]) > tonumber(ARGV[1]) then break end end "
                            "return 0", 0, int(seconds * 1e6))
                holder.close()

            def busy() -> bool:
                try:
                    client.ping()
                    return False
                except redis.ResponseError as error:
                    return str(error).startswith("BUSY")

            holding = threading.Thread(target=hold, args=(3.0,))
            holding.start()
            await until(busy)
            got, waited = [], []

            async def read():
                async for _, e in read_events(server.url, "ft", since="0", waiting=lambda *a: waited.append(a)):
                    got.append(e.track_id)
                    if len(got) == 2:
                        return

            reader = asyncio.create_task(read())
            await asyncio.to_thread(holding.join)
            await until(lambda: got == [1])
            client.xadd(stream_key("ft"), {"event": event(2).model_dump_json()})
            await asyncio.wait_for(reader, 30)
            client.close()
            return got, waited

    got, waited = asyncio.run(scenario())
    assert got == [1, 2] and len(waited) == 1  # said once
