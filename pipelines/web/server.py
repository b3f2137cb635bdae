"""The HTTP side: one aiohttp application for ``facetrack run`` (with the running cameras) and
``facetrack serve`` (the gallery alone).

Every error is JSON, ``{"error": "...", "status": N}``, never a traceback, and never a password (URLs in it
are redacted). Requests that change something (POST, PATCH, PUT, DELETE) need
``Authorization: Bearer <http.token>``; reads do too when the server listens on an address other than
loopback, or with ``http.protect_all`` (``/health``, ``/ready``'s yes or no, and the dashboard's page and
files, which hold no data, excepted). GET requests may carry it as ``?token=`` instead, for the dashboard's
live views and WebSocket, which cannot send headers.

Against other web pages in the user's browser: a loopback server answers only to a loopback ``Host`` (or
one in ``http.allowed_hosts``), so a page cannot rebind its DNS name to this machine, and a request with
an ``Origin`` other than this server's (a cross-site ``fetch`` or WebSocket) is refused. Data is sent with
``Cache-Control: no-store``: a face crop does not stay in a browser's or proxy's cache.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from gallery.store import GalleryUnavailable
from pipelines.live.runtime import Runtime
from pipelines.services import Services
from pipelines.web import audit, cameras, events, identities, negatives, openapi, ops, reviews, unknowns
from pipelines.web.access import guard, json_error, no_store
from pipelines.web.keys import RUNTIME, SERVICES, STREAMS, TOKEN
from pipelines.web.pace import paced
from pipelines.web.streams import Streams
from tracker.config import Config
from tracker.errors import TrackerError

logger = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
SHUTDOWN_SECONDS = 5.0  # at a stop, how long a request still being answered may take (open streams end at once)


@web.middleware
async def errors(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        reason = error.text if error.text and not error.text.startswith(f"{error.status}:") else error.reason
        response = json_error(error.status, reason)
        if "Allow" in error.headers:  # a 405 says which methods the path takes
            response.headers["Allow"] = error.headers["Allow"]
        return response
    except GalleryUnavailable as error:  # locked by another writer, disk full: try again later
        return json_error(503, str(error))
    except TrackerError as error:
        return json_error(400, str(error))
    except HttpProcessingError as error:  # a malformed body (multipart headers, say)
        return json_error(400, f"malformed request: {error.message}".strip())
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception:
        logger.exception("%s %s failed", request.method, request.path)
        return json_error(500, "internal error; the server log has the details")


def build_app(services: Services, token: str, runtime: Runtime | None = None) -> web.Application:
    """The application for ``services`` (and the running cameras, under ``facetrack run``)."""
    http = services.config.http
    pacing = [paced(http.max_requests_per_second)] if http.max_requests_per_second else []
    app = web.Application(middlewares=[errors, *pacing, guard], client_max_size=http.max_upload_bytes)
    app[SERVICES] = services
    app[TOKEN] = token
    app[STREAMS] = Streams(services.config.http.max_viewers)
    app.on_shutdown.append(app[STREAMS].close_all)
    app.on_response_prepare.append(no_store)
    if runtime is not None:
        app[RUNTIME] = runtime
    for module in (ops, cameras, identities, audit, negatives, unknowns, reviews, events, openapi):
        app.router.add_routes(module.routes)
    app.router.add_get("/", dashboard)
    app.router.add_static("/static", STATIC)
    return app


async def dashboard(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


async def serve_app(app: web.Application, config: Config) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_SECONDS)
    await runner.setup()
    site = web.TCPSite(runner, config.http.host, config.http.port)
    try:
        await site.start()
    except OSError as error:
        await runner.cleanup()
        raise TrackerError(f"http: cannot listen on {config.http.host}:{config.http.port} ({error.strerror}); "
                           "set http.port to a free port, or 0 for no HTTP server") from None
    logger.info("HTTP on http://%s:%d/ (dashboard), /api, /metrics", config.http.host, config.http.port)
    return runner
