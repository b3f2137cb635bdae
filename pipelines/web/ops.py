"""Operations: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import redis.asyncio as aioredis
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from pipelines.web.server import STATE

routes = web.RouteTableDef()


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    """The process is alive."""
    return web.json_response({"status": "ok"})


@routes.get("/ready")
async def ready(request: web.Request) -> web.Response:
    """Models loaded, Redis reachable, and each camera's state; 503 when something is not ready."""
    state = request.app[STATE]
    problems = []
    if state.executor.error is not None:
        problems.append(f"model executor failed: {state.executor.error}")
    redis_ok = None
    if state.redis_url:
        client = aioredis.Redis.from_url(state.redis_url, socket_connect_timeout=1, socket_timeout=1)
        try:
            redis_ok = bool(await client.ping())
        except (OSError, aioredis.RedisError) as error:
            redis_ok = False
            problems.append(f"Redis at {state.redis_url} unreachable: {error}")
        finally:
            await client.aclose()
    cameras = {}
    if state.tracker is not None:
        cameras = {cid: camera.reader.state for cid, camera in state.tracker.cameras.items()}
    body = {"ready": not problems, "models": state.executor.error is None, "model_id": state.identifier.model_id,
            "redis": redis_ok, "cameras": cameras, "problems": problems}
    return web.json_response(body, status=200 if not problems else 503)


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """Prometheus text format."""
    body = request.app[STATE].metrics.render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
