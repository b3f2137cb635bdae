"""Operations: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import redis.asyncio as aioredis
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from pipelines.live.sources import FAILED
from pipelines.web.access import reads_guarded
from pipelines.web.keys import AUTHORISED, RUNTIME, SERVICES
from tracker.redact import redact

routes = web.RouteTableDef()


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    """The process is alive."""
    return web.json_response({"status": "ok"})


@routes.get("/ready")
async def ready(request: web.Request) -> web.Response:
    """Models loaded, Redis reachable, and each camera's state; 503 when something is not ready."""
    services = request.app[SERVICES]
    problems = []
    if services.executor.error is not None:
        problems.append(f"model executor failed: {services.executor.error}")
    redis_ok = None
    if services.redis_url:
        redis_ok = await _ping(services.redis_url, problems)
    cameras = {}
    if RUNTIME in request.app:
        cameras = {cid: camera.state for cid, camera in request.app[RUNTIME].status().cameras.items()}
        if cameras and all(state == FAILED for state in cameras.values()):
            problems.append(f"every camera has failed ({', '.join(sorted(cameras))}): see GET /api/cameras")
    status = 200 if not problems else 503
    if reads_guarded(request) and not request[AUTHORISED]:  # a probe's yes or no; the details are data
        return web.json_response({"ready": not problems}, status=status)
    body = {"ready": not problems, "models": services.executor.error is None,
            "model_id": services.identifier.model_id, "redis": redis_ok, "cameras": cameras, "problems": problems}
    return web.json_response(body, status=status)


async def _ping(url: str, problems: list[str]) -> bool:
    client = aioredis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(await client.ping())
    except (OSError, aioredis.RedisError) as error:
        problems.append(redact(f"Redis at {url} unreachable: {error}"))
        return False
    finally:
        await client.aclose()


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """Prometheus text format."""
    body = request.app[SERVICES].metrics.render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
