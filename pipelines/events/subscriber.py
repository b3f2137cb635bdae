"""The subscriber kit: identity events back from Redis, as typed ``Event`` objects.

For apps::

    from pipelines.events.subscriber import subscribe

    async for event in subscribe(url, cameras={"door"}, types={"identity.resolved"}):
        print(event.name, event.camera)

``read_events`` yields ``(stream_id, Event)``: with ``since`` it reads the Stream from that id
on (``"0"``: the oldest kept; ``"$"``: from now) and keeps following it (``stream_id`` is the
entry id to resume from); without, it subscribes to the live channels (``stream_id`` is
None). While Redis is unreachable it calls ``waiting`` once and retries, resuming the Stream
where it left off. An event id already yielded (the last ``REMEMBERED`` ids) is not yielded
again, so a consumer sees each event once even when a source repeats one. An entry or message that is not
an event (written by hand, damaged) is skipped, never the end of the feed. Events are read by the schema's
rules (``tracker.events.read_event``): fields of a later minor version are ignored; an event of another major
version is skipped and said in the log (update the kit).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Collection

import redis.asyncio as aioredis
from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from pipelines.events.publisher import channel, entry_event, stream_key
from tracker.events import Event, SchemaError, read_event

logger = logging.getLogger(__name__)
RETRY_SECONDS = 0.5
REMEMBERED = 10_000


async def subscribe(url: str, cameras: Collection[str] | None = None, types: Collection[str] | None = None,
                    since: str | None = None, prefix: str = "facetrack") -> AsyncIterator[Event]:
    """Events of ``cameras`` (default all) and ``types`` (default all): live, or from the stream id ``since``."""
    async for _, event in read_events(url, prefix, cameras, since):
        if not types or event.type in types:
            yield event


async def read_events(
    url: str, prefix: str, cameras: Collection[str] | None = None, since: str | None = None,
    waiting: Callable[[str, Exception], None] | None = None,
) -> AsyncIterator[tuple[str | None, Event]]:
    told = False
    seen = _Seen(REMEMBERED)
    while True:
        client = aioredis.Redis.from_url(url, socket_connect_timeout=2)
        try:
            if since is None:
                async for event in _live(client, prefix, cameras):
                    if seen.first(event.id):
                        yield None, event
            else:
                async for stream_id, event in _replay(client, prefix, cameras, since):
                    since = stream_id
                    if seen.first(event.id):
                        yield stream_id, event
            return
        except (RedisConnectionError, RedisTimeoutError, OSError, ResponseError) as error:
            if isinstance(error, ResponseError) and not str(error).startswith("BUSY"):
                raise  # BUSY: a script runs (an erasure writes the Stream anew), and Redis answers once it ends
            if waiting and not told:
                waiting(url, error)
                told = True
        finally:
            await client.aclose()
        await asyncio.sleep(RETRY_SECONDS)


async def _live(client: aioredis.Redis, prefix: str, cameras: Collection[str] | None) -> AsyncIterator[Event]:
    async with client.pubsub() as pubsub:
        if cameras:
            await pubsub.subscribe(*(channel(prefix, c) for c in cameras))
        else:
            await pubsub.psubscribe(channel(prefix, "*"))
        async for message in pubsub.listen():
            if message["type"] in ("message", "pmessage"):
                event = _event(entry_event({b"event": message["data"]}))
                if event is not None:
                    yield event


async def _replay(client: aioredis.Redis, prefix: str, cameras: Collection[str] | None,
                  since: str) -> AsyncIterator[tuple[str, Event]]:
    key = stream_key(prefix)
    if since == "$":  # "from now" as a concrete id, so nothing slips between two reads
        newest = await client.xrevrange(key, count=1)
        since = newest[0][0].decode() if newest else "0"
    while True:
        reply = await client.xread({key: since}, count=100, block=1000)
        for _, entries in reply:
            for entry_id, fields in entries:
                since = entry_id.decode()
                data = entry_event(fields)
                event = _event(data)
                if data is None:
                    logger.warning("stream entry %s is not a facetrack event; skipped", since)
                elif event is not None and (not cameras or event.camera in cameras):  # (None: said once)
                    yield since, event


def _event(fields: dict | None) -> Event | None:
    try:
        return None if fields is None else read_event(fields)
    except SchemaError as error:
        _say_once(str(error))
        return None
    except ValidationError as error:
        logger.warning("an event that does not fit the schema (%s); skipped", str(error).splitlines()[0])
        return None


@functools.cache
def _say_once(message: str) -> None:
    logger.warning("%s; such events are skipped", message)


class _Seen:
    """The last ``size`` event ids, to drop repeats."""

    def __init__(self, size: int) -> None:
        self._order: deque[str] = deque()
        self._ids: set[str] = set()
        self._size = size

    def first(self, event_id: str) -> bool:
        """True the first time ``event_id`` comes (and remembers it)."""
        if event_id in self._ids:
            return False
        self._ids.add(event_id)
        self._order.append(event_id)
        if len(self._order) > self._size:
            self._ids.discard(self._order.popleft())
        return True
