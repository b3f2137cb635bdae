"""The HTTP app as ``facetrack run`` and ``facetrack serve`` build it (through ``pipelines.app``),
behind aiohttp's test client, and small helpers for the HTTP tests."""

import asyncio
import contextlib
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestClient, TestServer

from pipelines import app
from pipelines.web.server import build_app

TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@contextlib.asynccontextmanager
async def live_app(analyzer, config, gallery: Path, redis_url: str | None, pipeline: bool = True):
    """A running runtime (no cameras yet) and a test client for its app; or, without ``pipeline``,
    the gallery alone as ``facetrack serve`` has it."""
    with app.build(config, gallery, redis_url, analyzer) as services:
        runtime, running, stop = None, None, asyncio.Event()
        if pipeline:
            runtime = app.start_runtime(services)
            running = asyncio.create_task(runtime.run(stop, until_ended=False))
            await asyncio.sleep(0.1)
        try:
            async with TestClient(TestServer(build_app(services, TOKEN, runtime))) as client:
                yield client, runtime
        finally:
            stop.set()
            if running:
                await running


def upload(name: str | None, *files: tuple[str, bytes]) -> aiohttp.FormData:
    form = aiohttp.FormData()
    if name is not None:
        form.add_field("name", name)
    for filename, data in files:
        form.add_field("image", data, filename=filename, content_type="application/octet-stream")
    return form


async def until(condition, timeout: float = 60.0, what: str = "") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)
