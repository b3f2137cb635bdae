"""Publishing events to Redis: pub/sub for the live feed and a bounded Stream for replay.

Every event goes to ``<prefix>:events:<camera>`` (pub/sub; subscribe to one camera or to
the pattern ``<prefix>:events:*``) and is appended to the Stream ``<prefix>:events``
(trimmed to about ``stream_maxlen`` entries), the record a subscriber that was away
replays from. An event naming a person erased meanwhile is not written, nor is any event of a track that
carried them (its tombstone, camera/run/track, is in ``<prefix>:erased-tracks``: ``pipelines.events.erase``).
Events wait in a bounded in-order buffer: when Redis is away, or refuses writes
for a while (OOM, MISCONF, READONLY), they are held and delivered, in order, once it takes
them again; when the buffer is full the oldest is dropped and
counted. Publishing never blocks the pipeline.

A send that timed out may still have been applied (Redis stalled, then resumed), and is
sent again. The write is idempotent, so the retry cannot add the event twice: one Lua
script appends the event, only then marks its id as written (``<prefix>:event:<id>``, kept ``SEEN_SECONDS``),
and publishes it; a retry finds the mark and does nothing. The Stream thus holds each event id once.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from tracker.events import Event
from tracker.redact import redact

logger = logging.getLogger(__name__)


BUFFER_SIZE = 10_000  # events held in order while Redis is away; the oldest dropped past it (was a setting)
SEEN_SECONDS = 3600  # a retry comes seconds after the first try; an hour is ample

# KEYS: the event's mark, the Stream, the erased identities, the camera's run counter (a cluster's fence, or
# the mark again when none), the tombstoned tracks, those not yet swept; ARGV: payload, channel, Stream length,
# seconds the mark is kept, the event's identity id ('' when none), its run ('' when not fenced), its track's
# tombstone key ('' when none). Returns the Stream id, nil when the event was written before (a retry after a
# timeout), 0 when it names a person erased meanwhile or is of a tombstoned track, -2 when it names a person erased
# meanwhile and its track is tombstoned by it (a track that ended before its worker read the erasure has no other
# way to its earlier, unnamed events: a sweep is due), or -1 when a later
# run of its camera has started (another worker holds it now): those three are dropped. A Stream key that
# is not a Stream is an error, and so is any failed write: the mark is set only once the entry is written
# (a script is not undone by an error), so the event is held and tried again, never taken as written.
WRITE_ONCE = """
if ARGV[5] ~= '' and redis.call('SISMEMBER', KEYS[3], ARGV[5]) == 1 then
  if ARGV[7] ~= '' and redis.call('SADD', KEYS[5], ARGV[7]) == 1 then
    redis.call('SADD', KEYS[6], ARGV[7])
    return -2
  end
  return 0
end
if ARGV[7] ~= '' and redis.call('SISMEMBER', KEYS[5], ARGV[7]) == 1 then return 0 end
if ARGV[6] ~= '' and tonumber(redis.call('GET', KEYS[4]) or '0') > tonumber(ARGV[6]) then return -1 end
if redis.call('EXISTS', KEYS[1]) == 1 then return nil end
local kind = redis.call('TYPE', KEYS[2])['ok']
if kind ~= 'stream' and kind ~= 'none' then
  return redis.error_reply('WRONGTYPE the key ' .. KEYS[2] .. ' holds a ' .. kind .. ', not the event Stream')
end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'event', ARGV[1])
redis.call('SET', KEYS[1], '1', 'EX', ARGV[4])
redis.call('PUBLISH', ARGV[2], ARGV[1])
return id
"""


def stream_key(prefix: str) -> str:
    return f"{prefix}:events"


def channel(prefix: str, camera: str) -> str:
    return f"{prefix}:events:{camera}"


def entry_event(fields: dict) -> dict | None:
    """A Stream entry's event as a dict, or None when the entry is not one (written by hand, damaged): every
    reader of the Stream skips such an entry rather than fail on it."""
    try:
        event = json.loads(fields[b"event"])
    except (KeyError, ValueError, TypeError):
        return None
    return event if isinstance(event, dict) and "camera" in event and "type" in event else None


def erased_key(prefix: str) -> str:
    """The set of erased identity ids: an event naming one is never written (``pipelines.events.erase``)."""
    return f"{prefix}:erased"


def tombstones_key(prefix: str) -> str:
    """The set of tracks that carried an erased person (``track_key``): no event of one is ever written."""
    return f"{prefix}:erased-tracks"


def unswept_key(prefix: str) -> str:
    """The tombstoned tracks whose events already in the Stream are still to be deleted (``sweep_erased``)."""
    return f"{prefix}:erased-tracks:unswept"


def track_key(camera: str, run: str | None, track_id: int | None) -> str:
    """One track for ever: its camera, the camera's run, its id ('' when an event is of no track)."""
    return "" if run is None or track_id is None else f"{camera}/{run}/{track_id}"


def mark_key(prefix: str, event_id: str) -> str:
    return f"{prefix}:event:{event_id}"


@dataclass(frozen=True)
class PublisherStatus:
    published: int  # events delivered to Redis
    buffered: int  # waiting for Redis
    dropped: int  # dropped from a full buffer


class EventPublisher:
    def __init__(self, url: str, prefix: str, stream_maxlen: int, buffer_size: int = BUFFER_SIZE,
                 fence: Callable[[Event], tuple[str, int] | None] | None = None,
                 on_tombstones: Callable[[], None] | None = None) -> None:
        """``fence(event)``: the key of a counter and the value the event was made under; the event is written
        only while the counter is not past it (a cluster's camera runs: ``Workers.fence``). ``on_tombstones``: called
        once tombstones are in Redis (a sweep of their events already written is due)."""
        self.fence = fence
        self.on_tombstones = on_tombstones
        self._tombstones: list[str] = []  # to write into Redis before the next event
        self.url = url
        self.prefix = prefix
        self.stream_maxlen = stream_maxlen
        self._buffer: deque[Event] = deque()
        self._sending: Event | None = None  # the event being written (the buffer's first)
        self._buffer_size = buffer_size
        self._wake = asyncio.Event()
        self.published = 0
        self.dropped = 0
        self.withheld = 0  # events naming a person erased meanwhile
        self.fenced = 0  # events of a camera another worker holds now
        self._connected: bool | None = None

    def status(self) -> PublisherStatus:
        return PublisherStatus(self.published, len(self._buffer), self.dropped)

    def publish(self, event: Event) -> None:
        """Queue an event; never blocks. A full buffer drops its oldest event."""
        if len(self._buffer) >= self._buffer_size:
            self._buffer.popleft()
            self.dropped += 1
            logger.warning("event buffer full (%d): dropped the oldest event (%d dropped so far)",
                           self._buffer_size, self.dropped)
        self._buffer.append(event)
        self._wake.set()

    def tombstone(self, camera: str, run: str, track_ids: set[int]) -> None:
        """These tracks of ``camera``'s ``run`` carried a person erased: their waiting events are dropped, and their
        tombstones go into Redis before any other event, so that no event of theirs is written from then on (one
        being sent is stopped by the tombstone too when it is sent again) and the sweep deletes those written."""
        keys = {track_key(camera, run, track_id) for track_id in track_ids}
        keep = [e for e in self._buffer if e is self._sending or track_key(e.camera, e.run, e.track_id) not in keys]
        self.withheld += len(self._buffer) - len(keep)
        self._buffer = deque(keep)
        self._tombstones.extend(sorted(keys))
        self._wake.set()

    async def flushed(self, camera: str, timeout: float) -> bool:
        """Wait until no event of ``camera`` waits in the buffer (at most ``timeout`` s); whether none does."""
        deadline = asyncio.get_running_loop().time() + timeout
        while any(e.camera == camera for e in self._buffer):
            if asyncio.get_running_loop().time() >= deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver buffered events until ``stop`` is set and the buffer is empty (or Redis is away)."""
        client = aioredis.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=2)
        write_once = client.register_script(WRITE_ONCE)
        backoff = 0.2
        try:
            while not (stop.is_set() and (not (self._buffer or self._tombstones) or not self._connected)):
                if not (self._buffer or self._tombstones):
                    self._wake.clear()
                    await _wait_any(self._wake, stop)
                    continue
                try:
                    if self._tombstones:
                        await self._bury(client)
                        backoff = 0.2
                        continue
                    sent = self._sending = self._buffer[0]
                    await self._send(write_once, sent)
                    self._sending = None
                    if self._buffer and self._buffer[0] is sent:  # (a full buffer may have dropped it meanwhile)
                        self._buffer.popleft()
                    self._state(True)
                    backoff = 0.2
                except (RedisConnectionError, RedisTimeoutError, OSError, ResponseError) as error:
                    # ResponseError: a server that refuses writes for now (OOM, MISCONF, READONLY): held too
                    self._sending = None  # (tombstoned meanwhile, it is not tried again)
                    self._state(False, error)
                    await _wait_any(stop, timeout=backoff)
                    backoff = min(backoff * 2, 5.0)
        finally:
            await client.aclose()
            if self._tombstones:
                logger.warning("%d tombstones of erased people's tracks were not written: Redis at %s is unreachable; "
                               "those tracks' unnamed events already in the Stream may stay (a track that named the "
                               "person in the Stream is still erased whole)", len(self._tombstones), redact(self.url))
            if self._buffer:
                logger.warning("%d events were not delivered: Redis at %s is unreachable", len(self._buffer),
                               redact(self.url))

    async def _bury(self, client: aioredis.Redis) -> None:
        """Write the waiting tombstones into Redis (both sets, at once)."""
        keys = list(self._tombstones)
        async with client.pipeline(transaction=True) as pipe:
            await pipe.sadd(tombstones_key(self.prefix), *keys).sadd(unswept_key(self.prefix), *keys).execute()
        del self._tombstones[: len(keys)]
        self._state(True)
        if self.on_tombstones is not None:
            self.on_tombstones()

    async def _send(self, write_once, event: Event) -> None:
        payload = event.model_dump_json()
        mark = mark_key(self.prefix, event.id)
        fence = self.fence(event) if self.fence else None
        written = await write_once(
            keys=[mark, stream_key(self.prefix), erased_key(self.prefix), fence[0] if fence else mark,
                  tombstones_key(self.prefix), unswept_key(self.prefix)],
            args=[payload, channel(self.prefix, event.camera), self.stream_maxlen, SEEN_SECONDS,
                  "" if event.identity_id is None else event.identity_id, fence[1] if fence else "",
                  track_key(event.camera, event.run, event.track_id)])
        if written in (0, -2):
            self.withheld += 1
            logger.info("camera %s: an event of a person erased (or of their track) was not written", event.camera)
            if written == -2 and self.on_tombstones is not None:
                self.on_tombstones()
        elif written == -1:
            self.fenced += 1
            logger.warning("camera %s: an event of run %d was not written: another worker runs the camera now",
                           event.camera, fence[1])
        else:
            self.published += 1

    def _state(self, connected: bool, error: Exception | None = None) -> None:
        if connected == self._connected:
            return
        self._connected = connected
        if connected:
            logger.info("publishing events to %s", redact(self.url))
        else:
            what = "refuses writes" if isinstance(error, ResponseError) else "unreachable"
            logger.warning("Redis at %s %s (%s); holding events (up to %d) and retrying", redact(self.url), what, error,
                           self._buffer_size)


async def _wait_any(*events: asyncio.Event, timeout: float | None = None) -> None:
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
