"""Events over HTTP: pages of recent events from the Redis stream, and a live WebSocket feed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re

import redis.asyncio as aioredis
from aiohttp import WSMsgType, web

from pipelines.events.publisher import entry_event, stream_key
from pipelines.events.subscriber import read_events
from pipelines.web.keys import SERVICES, STREAMS

routes = web.RouteTableDef()
STREAM_ID = r"^[0-9]{1,20}(-[0-9]{1,20})?$"
MAX_PART = 2**64 - 1  # Redis stream ids are two unsigned 64-bit numbers


def _redis(request: web.Request) -> str:
    url = request.app[SERVICES].redis_url
    if not url:
        raise web.HTTPNotFound(text="no Redis configured here (redis.url); events live in Redis")
    return url


def _filters(request: web.Request) -> tuple[set[str], set[str]]:
    """The ``camera`` and ``type`` query parameters, each a comma-separated set (empty: all)."""
    return tuple({v for v in request.query.get(key, "").split(",") if v} for key in ("camera", "type"))


def _stream_id(request: web.Request, key: str) -> str | None:
    value = request.query.get(key)
    if value is not None and (not re.fullmatch(STREAM_ID, value)
                              or any(int(part) > MAX_PART for part in value.split("-"))):
        raise web.HTTPBadRequest(text=f"{key}: '{value}' is not a stream id (like 1795771551431-0)")
    return value


@routes.get("/api/events")
async def recent_events(request: web.Request) -> web.Response:
    """Newest first; ``?camera=a,b&type=t1,t2&limit=50&before=<stream id>`` (the previous page's ``next``)."""
    url = _redis(request)
    cameras, types = _filters(request)
    before = _stream_id(request, "before")
    try:
        limit = int(request.query.get("limit", "50"))
    except ValueError:
        raise web.HTTPBadRequest(text="limit: must be a whole number 1-1000") from None
    if not 1 <= limit <= 1000:
        raise web.HTTPBadRequest(text="limit: must be a whole number 1-1000")
    key = stream_key(request.app[SERVICES].config.events.prefix)
    if before is not None and not any(part.strip("0") for part in before.split("-")):  # nothing is before 0-0
        return web.json_response({"events": [], "next": None})
    client = aioredis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    events, next_id = [], None
    try:
        high = f"({before}" if before else "+"
        while len(events) < limit:
            entries = await client.xrevrange(key, max=high, min="-", count=limit)
            if not entries:
                next_id = None
                break
            for entry_id, fields in entries:
                next_id = entry_id.decode()
                event = entry_event(fields)  # None: not an event (written by hand, damaged): skipped
                wanted = event is not None and (not cameras or event["camera"] in cameras)
                if wanted and (not types or event["type"] in types):
                    events.append({"stream_id": next_id, **event})
                    if len(events) == limit:
                        break
            high = f"({next_id}"
    except (OSError, aioredis.RedisError) as error:
        raise web.HTTPServiceUnavailable(text=f"Redis at {url} unreachable: {error}") from None
    finally:
        await client.aclose()
    return web.json_response({"events": events, "next": next_id if len(events) == limit else None})


@routes.get("/ws/events")
async def live_events(request: web.Request) -> web.WebSocketResponse:
    """WebSocket: one JSON message per event, ``{"stream_id": ..., **event}``, from ``?since=<stream id>``
    (0 = the oldest kept) or from now; ``?camera=a,b&type=t1,t2`` filter."""
    url = _redis(request)
    cameras, types = _filters(request)
    since = _stream_id(request, "since") or "$"
    prefix = request.app[SERVICES].config.events.prefix
    ws = web.WebSocketResponse(heartbeat=20)
    with request.app[STREAMS].viewer(ws):
        await ws.prepare(request)

        async def forward() -> None:
            with contextlib.suppress(ConnectionResetError):  # the client went; the receive loop below ends too
                async for stream_id, event in read_events(url, prefix, cameras, since):
                    if not types or event.type in types:
                        await ws.send_str(json.dumps({"stream_id": stream_id, **event.model_dump()}))

        sender = asyncio.create_task(forward())
        try:
            async for message in ws:  # until the client goes, or the server stops (Streams.close_all)
                if message.type == WSMsgType.ERROR:
                    break
        finally:
            await _end(sender)
    return ws


async def _end(task: asyncio.Task) -> None:
    """Cancel ``task`` and wait until it ended. A cancel that reaches the Redis read while the socket's send
    buffer is full can be lost (the task went on reading, and at exit ``asyncio.run`` waited on it for ever,
    so a stopped ``facetrack run`` hung), so it is sent again until the task ends."""
    while not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=0.2)
