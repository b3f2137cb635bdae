"""The cluster's rules against a real Redis, with two or three members in one process whose cameras are
only recorded (the unit here is the coordination, not the analysis): each camera is held by exactly one
member; a member that stops heartbeating loses its cameras to the others within the failover time, and
stops analysing before they start; a member that leaves hands over at once."""

import asyncio
import json
import time

import redis

from pipelines.events.publisher import EventPublisher, stream_key
from pipelines.live.workers import TRACKS_PER_RUN, Workers, owner, status
from tracker.config import with_changes
from tracker.events import Event

CAMERAS = [{"id": f"cam{i}", "url": f"/videos/{i}.mp4"} for i in range(6)]


class Member:
    """A worker's cluster side with a record of what it was told to run."""

    def __init__(self, config, redis_url, name):
        settings = with_changes(config, "test", workers={"enabled": True, "worker_id": name, "failover_seconds": 0.5},
                                cameras=CAMERAS)
        self.workers = Workers(settings, redis_url)
        self.running: dict[str, tuple[int, object]] = {}
        self.history: list[tuple[str, str, float]] = []

    def start(self, camera, first_track_id, may_analyse):
        self.running[camera.id] = (first_track_id, may_analyse)
        self.history.append(("start", camera.id, first_track_id))

    async def stop(self, camera_id):
        self.running.pop(camera_id)
        self.history.append(("stop", camera_id, None))

    async def tick(self):
        await self.workers.tick(self.start, self.stop)


def test_cameras_are_shared_handed_over_on_silence_and_on_leaving(config, redis_url):
    client = redis.Redis.from_url(redis_url)
    client.flushdb()

    async def scenario():
        a, b, c = (Member(config, redis_url, n) for n in ("w-a", "w-b", "w-c"))
        await a.workers.register(a.workers.own_cameras)
        for _ in range(3):  # everyone sees everyone, then takes its share
            for m in (a, b, c):
                await m.tick()
        shares = {m.workers.worker: sorted(m.running) for m in (a, b, c)}
        held = sorted(cam for m in (a, b, c) for cam in m.running)
        first_ids = {}  # camera -> the first track id of each of its runs, on whichever worker
        for m in (a, b, c):
            for kind, cam, first in m.history:
                if kind == "start":
                    first_ids.setdefault(cam, []).append(first)
        snapshot = status(client, "facetrack", 0.5)

        # c falls silent (killed): its leases run out, then a and b take its cameras
        orphans, silenced_at = sorted(c.running), time.monotonic()
        _, c_may = next(iter(c.running.values())) if c.running else (None, None)
        taken_at = None
        while taken_at is None and time.monotonic() - silenced_at < 5:
            await asyncio.sleep(0.1)
            for m in (a, b):
                await m.tick()
            if all(cam in a.running or cam in b.running for cam in orphans):
                taken_at = time.monotonic()
        fenced = c_may is None or not c_may()  # the silent worker may no longer analyse its old cameras

        # b leaves properly: a has everything at its next heartbeat
        await b.workers.leave(b.stop)
        await a.tick()
        await a.tick()
        result = (shares, held, first_ids, snapshot, orphans, taken_at and taken_at - silenced_at, fenced,
                  sorted(a.running), b.running)
        for m in (a, c):
            await m.workers._client.aclose()
        return result

    shares, held, first_ids, snapshot, orphans, failover, fenced, finally_a, left_b = asyncio.run(scenario())
    assert held == [c["id"] for c in CAMERAS], "every camera is held by exactly one worker"
    assert all(shares.values()), shares  # six cameras over three workers: everyone has some
    assert all(f % TRACKS_PER_RUN == 1 and len(set(fs)) == len(fs) for fs in first_ids.values() for f in fs), \
        first_ids  # each run of a camera, on any worker, numbers its tracks apart from every other run
    assert [w["id"] for w in snapshot["workers"]] == ["w-a", "w-b", "w-c"]
    assert {c["id"]: c["worker"] for c in snapshot["cameras"]} == {
        cam: w for w, cams in shares.items() for cam in cams}
    assert orphans and failover is not None and failover <= 0.5 + 0.1, failover  # failover + scheduling slack
    assert fenced
    assert finally_a == [c["id"] for c in CAMERAS] and left_b == {}
    client.close()


def test_a_camera_changing_hands_is_never_run_by_two_workers_at_once(config, redis_url):
    """Workers joining one by one move cameras between them; at every moment each camera runs on at most one."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()

    async def scenario():
        members = [Member(config, redis_url, f"w-{i}") for i in range(3)]
        await members[0].workers.register(members[0].workers.own_cameras)
        overlaps = []
        for joined in range(1, 4):
            for _ in range(4):
                for m in members[:joined]:
                    await m.tick()
                    running = [cam for x in members for cam in x.running]
                    overlaps += [cam for cam in set(running) if running.count(cam) > 1]
        final = {m.workers.worker: sorted(m.running) for m in members}
        for m in members:
            await m.workers.leave(m.stop)
        return overlaps, final

    overlaps, final = asyncio.run(scenario())
    assert overlaps == []
    assert {cam: w for w, cams in final.items() for cam in cams} == {
        c["id"]: owner(c["id"], list(final)) for c in CAMERAS}  # each camera with its rendezvous owner
    client.close()


def test_an_invalid_registry_entry_is_left_out_and_the_others_still_run(config, redis_url, caplog):
    client = redis.Redis.from_url(redis_url)
    client.flushdb()

    async def scenario():
        a = Member(config, redis_url, "w-a")
        await a.workers.register(a.workers.own_cameras)
        bad = {"broken": b"not json", "nourl": b'{"id": "nourl", "url": ""}', "other": b'{"id": "x", "url": "a.mp4"}'}
        client.hset(a.workers.keys.cameras, mapping=bad)
        for _ in range(3):
            await a.tick()  # used to raise on the first bad entry, every heartbeat
        await a.workers._client.aclose()
        return sorted(a.running)

    running = asyncio.run(scenario())
    client.close()
    assert running == [c["id"] for c in CAMERAS]
    refused = [r.getMessage() for r in caplog.records if "is not a camera and is left out" in r.getMessage()]
    assert len(refused) == 3 and any("'broken'" in m for m in refused)  # each said once, not per heartbeat


def test_an_event_of_a_run_that_another_worker_took_over_is_not_written(config, redis_url):
    """A frame in flight when the lease ran out, or a worker back from a partition with a full buffer: its
    camera's next run has started elsewhere, so its events must not join the new owner's."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    member = Member(config, redis_url, "w-a")
    client.set(member.workers.keys.runs("cam0"), 2)  # runs 1 (this worker's, once) and 2 (another's, now)

    def event(track_id):
        return Event(type="track.started", camera="cam0", track_id=track_id, frame_time=1.0, model_id="m")

    async def scenario():
        publisher = EventPublisher(redis_url, "facetrack", 1000, 100, fence=member.workers.fence)
        stop = asyncio.Event()
        running = asyncio.create_task(publisher.run(stop))
        late, current = event(1 * TRACKS_PER_RUN + 7), event(2 * TRACKS_PER_RUN + 1)
        for e in (late, current):
            publisher.publish(e)
        while publisher.status().buffered:
            await asyncio.sleep(0.05)
        stop.set()
        await running
        await member.workers._client.aclose()
        return publisher, current

    publisher, current = asyncio.run(scenario())
    written = [json.loads(f[b"event"])["id"] for _, f in client.xrange(stream_key("facetrack"))]
    client.close()
    assert written == [current.id] and (publisher.fenced, publisher.published) == (1, 1)


def test_two_processes_given_one_worker_id_never_share_a_lease(config, redis_url):
    client = redis.Redis.from_url(redis_url)
    client.flushdb()

    async def scenario():
        first, second = Member(config, redis_url, "w-same"), Member(config, redis_url, "w-same")
        await first.workers.register(first.workers.own_cameras)
        for _ in range(2):
            await first.tick()
        await asyncio.sleep(0.7)  # first stalls past its leases (0.4 s): they run out
        await second.tick()  # the other process of the same name takes the cameras
        await first.tick()  # first is back: its renewal must fail, not extend second's lease
        shares = sorted(first.running), sorted(second.running)
        for m in (first, second):
            await m.workers.leave(m.stop)
        return shares

    first, second = asyncio.run(scenario())
    client.close()
    assert second == sorted(c["id"] for c in CAMERAS)
    assert first == []  # before, its renewal of "w-same"'s leases succeeded: both ran every camera


def test_a_camera_that_will_not_stop_does_not_cost_the_others_their_leases(config, redis_url):
    client = redis.Redis.from_url(redis_url)
    client.flushdb()

    async def scenario():
        a, b = Member(config, redis_url, "w-a"), Member(config, redis_url, "w-b")

        async def hung(camera_id):  # a reader stuck in a network call: stopping it never returns
            await asyncio.Event().wait()

        await a.workers.register(a.workers.own_cameras)
        for _ in range(2):
            await a.tick()
        assert len(a.running) == len(CAMERAS)
        await b.tick()  # b joins: some of a's cameras are b's now, and a's stop hangs on them
        began = time.monotonic()
        for _ in range(10):  # 10 heartbeats: well past the leases' 0.4 s
            await asyncio.wait_for(a.workers.tick(a.start, hung), 2)
            await b.tick()
            await asyncio.sleep(0.1)
        kept = [cam for cam in a.running if owner(cam, ["w-a", "w-b"]) == "w-a"]
        allowed = [a.running[cam][1]() for cam in kept]
        elapsed = time.monotonic() - began
        for task in list(a.workers._stopping):
            task.cancel()
        await a.workers._client.aclose()
        await b.workers._client.aclose()
        return kept, allowed, elapsed

    kept, allowed, elapsed = asyncio.run(scenario())
    client.close()
    assert kept and all(allowed) and elapsed > 0.6  # a's own cameras renewed all along
