"""Several workers sharing the cameras, coordinated through the Redis they share (``redis.url``).

Nothing here is a cluster manager: each worker runs the same loop every
heartbeat (``workers.failover_seconds / HEARTBEATS_PER_FAILOVER``) and they agree without talking to each other.

1. **Heartbeat.** The worker writes its name into a sorted set scored by Redis's own clock (one
   script, so the workers' clocks do not matter) and drops every name silent for
   ``failover_seconds`` less one heartbeat: what is left is the live workers.
2. **Assignment.** Each camera of the registry (a hash: the config's cameras of every worker,
   and those added over HTTP) belongs to the live worker with the highest
   ``blake2b(worker, camera)``: rendezvous hashing. Every worker computes the same owner, and a
   worker joining or leaving moves only the cameras it gains or held.
3. **Leases.** A worker analyses a camera only while it holds the camera's lease:
   ``SET lease token NX PX ttl`` (the same ``failover - heartbeat``; the token is the worker's name and
   a number of this process, so two processes given one ``worker_id`` never share a lease), renewed each
   heartbeat and released by its holder only, both checked atomically in Lua. A camera changing hands is
   analysed by the new owner only once the old one stopped it, delivered its last events and released
   it, or its lease ran out, so two workers never analyse one camera at once, whatever they each believe
   about who is alive. A worker that cannot renew (Redis away, its loop stalled) stops analysing when
   its lease would have run out (``may_analyse``, counted from before the renewal was sent), before
   another worker can take it. Renewals come before stopping cameras, and a camera slow to stop (a hung
   reader) is left to stop in the background: it cannot cost the others their leases.
4. **Track ids** stay unique across workers: each time a camera starts, a counter in Redis gives
   it a run number, and its track ids start at ``run x 1,000,000``.
5. **Fencing.** The run number is also the fencing token: the publisher's script writes an event of a
   camera's run only while no later run of the camera has started (``fence``), so a frame that was in
   flight when the lease ran out, or a worker back from a partition with events in its buffer, cannot
   add events beside the new owner's.

Each heartbeat also appends, for each camera held, the interval of wall-clock time in which
it was analysed to a Stream (``<prefix>:cluster:log``): who analysed what, when.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass

import redis
import redis.asyncio as aioredis

from tracker.config import CameraConfig, Config
from tracker.events import Event
from tracker.redact import redact

logger = logging.getLogger(__name__)
HEARTBEATS_PER_FAILOVER = 5  # a worker says it is alive this many times in failover_seconds (was heartbeat_seconds)
TRACKS_PER_RUN = 1_000_000
LOG_LENGTH = 100_000

HEARTBEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('SET', KEYS[2], ARGV[3], 'PX', tonumber(ARGV[2]) * 3)
return {now, redis.call('ZRANGE', KEYS[1], 0, -1)}
"""
RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def owner(camera: str, workers: list[str]) -> str | None:
    """The live worker a camera belongs to: the highest rendezvous weight (None: no worker)."""
    def weight(worker: str) -> int:
        return int.from_bytes(hashlib.blake2b(f"{worker}\0{camera}".encode(), digest_size=8).digest(), "big")
    return max(workers, key=weight, default=None)


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Keys:
    """The shared state in Redis. The keys keep their old name, ``:cluster:``, so workers of the release before
    the rename (docs/workers.md, "Names") and of this one share it during a rolling upgrade."""

    def __init__(self, prefix: str) -> None:
        self.cameras = f"{prefix}:cluster:cameras"
        self.workers = f"{prefix}:cluster:workers"
        self.log = f"{prefix}:cluster:log"
        self._prefix = prefix

    def worker(self, worker: str) -> str:
        return f"{self._prefix}:cluster:worker:{worker}"

    def lease(self, camera: str) -> str:
        return f"{self._prefix}:cluster:lease:{camera}"

    def runs(self, camera: str) -> str:
        return f"{self._prefix}:cluster:runs:{camera}"


@dataclass
class Held:
    """A camera this worker holds the lease of."""

    valid_until: float  # monotonic time the lease runs out, as this worker last renewed it
    first: float | None = None  # wall-clock times of the first and last frame analysed since the last log entry
    last: float | None = None


class Workers:
    """This worker's side of the group: call ``run`` as a task; it starts and stops cameras through
    ``start(camera, first_track_id, may_analyse)`` and ``stop(camera_id)``."""

    def __init__(self, config: Config, redis_url: str) -> None:
        self.config = config.workers
        self.redis_url = redis_url
        self.worker = self.config.worker_id or default_worker_id()
        self.token = f"{self.worker}/{uuid.uuid4().hex[:12]}"  # this process's lease value
        self.keys = Keys(config.events.prefix)
        self.own_cameras = config.cameras  # this worker's config adds them to the registry
        # A silent worker leaves the live set, and its leases run out, one heartbeat before failover_seconds: the
        # others' next heartbeat (at most one later) takes its cameras, so within failover_seconds of its last.
        self.heartbeat = self.config.failover_seconds / HEARTBEATS_PER_FAILOVER  # seconds
        self.ttl_ms = int((self.config.failover_seconds - self.heartbeat) * 1000)
        self.held: dict[str, Held] = {}
        self.live: list[str] = []
        self.last_heartbeat = 0.0  # wall clock, by Redis's time
        self.leases_lost = 0
        self.started_at = time.time()
        self._client = aioredis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
        self._heartbeat = self._client.register_script(HEARTBEAT)
        self._renew = self._client.register_script(RENEW)
        self._release = self._client.register_script(RELEASE)
        self._refused: set[tuple[str, bytes]] = set()  # registry entries said to be invalid once
        self._stopping: set[asyncio.Task] = set()  # cameras being stopped and handed over

    def may_analyse(self, camera_id: str) -> bool:
        """Whether this worker may analyse a frame of the camera now (it holds a lease not yet run out); a frame
        analysed is noted for the log."""
        held = self.held.get(camera_id)
        if held is None or time.monotonic() >= held.valid_until:
            return False
        now = time.time()
        held.first = now if held.first is None else held.first
        held.last = now
        return True

    def fence(self, event: Event) -> tuple[str, int] | None:
        """For the publisher: the key of the camera's run counter and the run the event was made in (its track
        ids carry it); the event is written only while no later run has started. None: nothing to fence."""
        if event.track_id is None or event.track_id < TRACKS_PER_RUN:
            return None
        return self.keys.runs(event.camera), event.track_id // TRACKS_PER_RUN

    async def register(self, cameras: list[CameraConfig]) -> None:
        """Put cameras into the shared registry (replacing ones of the same id)."""
        if cameras:
            await self._client.hset(self.keys.cameras, mapping={c.id: c.model_dump_json() for c in cameras})

    async def unregister(self, camera_id: str) -> bool:
        return bool(await self._client.hdel(self.keys.cameras, camera_id))

    async def registry(self) -> dict[str, CameraConfig]:
        """The registry's cameras; an entry that is not a valid camera (written by hand, or by another version)
        is left out and said once, instead of failing every worker's heartbeat."""
        cameras = {}
        for key, value in (await self._client.hgetall(self.keys.cameras)).items():
            camera_id = key.decode(errors="replace")
            try:
                camera = CameraConfig.model_validate_json(value)
                if camera.id != camera_id:
                    raise ValueError(f"the entry's id is {camera.id!r}")
            except ValueError as error:  # pydantic's ValidationError is one
                if (camera_id, value) not in self._refused:
                    self._refused.add((camera_id, value))
                    logger.warning("workers: registry entry %r in %s is not a camera and is left out: %s", camera_id,
                                   self.keys.cameras, str(error).splitlines()[0])
                continue
            cameras[camera_id] = camera
        return cameras

    async def run(self, start: Callable[[CameraConfig, int, Callable[[], bool]], object],
                  stop: Callable[[str], Awaitable[None]]) -> None:
        await self.register(self.own_cameras)
        logger.info("workers: worker %s joins (heartbeat %.1f s, failover %.1f s)", self.worker,
                    self.heartbeat, self.config.failover_seconds)
        while True:
            began = time.monotonic()
            try:
                await self.tick(start, stop)
            except redis.RedisError as error:
                logger.warning("workers: redis %s (%s); leases run out unless renewed in time",
                               redact(self.redis_url), error)
            await asyncio.sleep(max(0.0, self.heartbeat - (time.monotonic() - began)))

    async def tick(self, start, stop) -> None:
        """One heartbeat: say alive, renew or give up leases, take the cameras that are now this worker's."""
        info = json.dumps({"cameras": sorted(self.held), "host": socket.gethostname(), "pid": os.getpid(),
                           "started": self.started_at})
        now_ms, live = await self._heartbeat(keys=[self.keys.workers, self.keys.worker(self.worker)],
                                             args=[self.worker, self.ttl_ms, info])
        self.last_heartbeat, self.live = now_ms / 1000, sorted(w.decode() for w in live)
        cameras = await self.registry()
        mine = {c for c in cameras if owner(c, self.live) == self.worker}
        await self._log()
        for camera_id in list(self.held):  # renewals first: stopping a camera must not delay them
            if camera_id not in mine:
                continue
            sent = time.monotonic()  # the lease runs from when Redis applies the renewal, after this
            if await self._renew(keys=[self.keys.lease(camera_id)], args=[self.token, self.ttl_ms]):
                self.held[camera_id].valid_until = sent + self.ttl_ms / 1000
            else:
                self.leases_lost += 1
                logger.warning("workers: lost the lease of camera %s; stopping it", camera_id)
                self.held.pop(camera_id)
                self._background(stop(camera_id))
        for camera_id in list(self.held):
            if camera_id not in mine:
                self._background(self._hand_over(camera_id, self.held.pop(camera_id), stop,
                                                 "it belongs to another worker now" if camera_id in cameras
                                                 else "it left the registry"))
        if self._stopping:  # most stop at once; one that hangs goes on in the background
            await asyncio.wait(self._stopping, timeout=self.heartbeat)
        for camera_id in sorted(mine - set(self.held)):
            acquired_at = time.monotonic()
            if not await self._client.set(self.keys.lease(camera_id), self.token, nx=True, px=self.ttl_ms):
                continue  # its previous owner still holds it: taken when released or run out
            run = await self._client.incr(self.keys.runs(camera_id))
            self.held[camera_id] = Held(acquired_at + self.ttl_ms / 1000)
            logger.info("workers: camera %s is this worker's now (run %d)", camera_id, run)
            start(cameras[camera_id], run * TRACKS_PER_RUN + 1, lambda c=camera_id: self.may_analyse(c))

    def _background(self, work: Coroutine) -> None:
        task = asyncio.create_task(work)
        self._stopping.add(task)
        task.add_done_callback(self._stopped)

    def _stopped(self, task: asyncio.Task) -> None:
        self._stopping.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("workers: stopping a camera failed: %r", task.exception())

    async def _hand_over(self, camera_id: str, held: Held, stop, why: str) -> None:
        """Stop the camera (its last events delivered: ``stop`` waits for them), log it, release its lease."""
        logger.info("workers: handing camera %s over (%s)", camera_id, why)
        await stop(camera_id)
        await self._log({camera_id: held})
        await self._release(keys=[self.keys.lease(camera_id)], args=[self.token])

    async def _log(self, held: dict[str, Held] | None = None) -> None:
        """Append the analysed intervals since the last entry to the workers' log."""
        pipe = self._client.pipeline(transaction=False)
        for camera_id, h in (held if held is not None else self.held).items():
            if h.first is not None:
                pipe.xadd(self.keys.log, {"camera": camera_id, "worker": self.worker, "first": repr(h.first),
                                          "last": repr(h.last)}, maxlen=LOG_LENGTH, approximate=True)
                h.first = h.last = None
        await pipe.execute()

    async def leave(self, stop) -> None:
        """Stop every camera, release the leases and leave the group at once (the others take over now)."""
        for camera_id in list(self.held):
            self._background(self._hand_over(camera_id, self.held.pop(camera_id), stop, "this worker stops"))
        if self._stopping:
            done, pending = await asyncio.wait(self._stopping, timeout=self.config.failover_seconds)
            for task in pending:  # a camera that never stopped: its lease runs out
                task.cancel()
        try:
            await self._client.zrem(self.keys.workers, self.worker)
            await self._client.delete(self.keys.worker(self.worker))
        except redis.RedisError:
            pass
        await self._client.aclose()


def status(client: redis.Redis, prefix: str, failover_seconds: float) -> dict:
    """The workers as Redis holds them: live workers (last heartbeat, cameras), the registry and who holds each
    camera's lease. For ``GET /api/workers`` and ``facetrack workers status``."""
    keys = Keys(prefix)
    seconds, micros = client.time()
    now = seconds + micros / 1e6
    workers = []
    for name, score in client.zrange(keys.workers, 0, -1, withscores=True):
        worker = name.decode()
        raw = client.get(keys.worker(worker))
        info = json.loads(raw) if raw else {}
        workers.append({"id": worker, "last_heartbeat": score / 1000, "age_seconds": round(now - score / 1000, 3),
                        "alive": now - score / 1000 < failover_seconds, "cameras": info.get("cameras", []),
                        "host": info.get("host"), "pid": info.get("pid")})
    cameras = sorted(k.decode() for k in client.hkeys(keys.cameras))
    holders = client.mget([keys.lease(c) for c in cameras]) if cameras else []
    return {"workers": workers, "cameras": [{"id": c, "worker": h.decode().split("/")[0] if h else None}
                                            for c, h in zip(cameras, holders)]}
