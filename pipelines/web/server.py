"""The HTTP side: one aiohttp application for ``facetrack run`` (with the running cameras) and
``facetrack serve`` (the gallery alone).

Every error is JSON, ``{"error": "...", "status": N}``, never a traceback. Requests that
change something (POST, PATCH, PUT, DELETE) need ``Authorization: Bearer <http.token>``;
with ``http.protect_all`` every request does (``/health`` and the dashboard's page and files, which
hold no data, excepted); GET requests may carry
it as ``?token=`` instead, for the dashboard's live views and WebSocket, which cannot send
headers.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
from pathlib import Path

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from gallery.store import GalleryUnavailable
from pipelines.live.runtime import Runtime
from pipelines.services import Services
from pipelines.web import cameras, events, identities, negatives, openapi, ops, unknowns
from pipelines.web.keys import RUNTIME, SERVICES, TOKEN
from tracker.config import Config
from tracker.errors import TrackerError

logger = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
READ_METHODS = {"GET", "HEAD", "OPTIONS"}


def json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message, "status": status}, status=status)


@web.middleware
async def errors(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        reason = error.text if error.text and not error.text.startswith(f"{error.status}:") else error.reason
        return json_error(error.status, reason)
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


@web.middleware
async def auth(request: web.Request, handler) -> web.StreamResponse:
    protect_all = request.app[SERVICES].config.http.protect_all
    protected = request.method not in READ_METHODS or (protect_all and not _open_to_all(request.path))
    if protected:
        given = request.headers.get("Authorization", "")
        if not given and request.method == "GET" and "token" in request.query:  # <img> and WebSocket can't send headers
            given = f"Bearer {request.query['token']}"
        if not given.startswith("Bearer "):
            return json_error(401, "this endpoint needs 'Authorization: Bearer <token>' (http.token)")
        # surrogateescape: a header that is not UTF-8 arrives as surrogates; it is a wrong token, not a crash
        if not hmac.compare_digest(given[7:].encode("utf-8", "surrogateescape"), request.app[TOKEN].encode()):
            return json_error(403, "wrong token")
    return await handler(request)


def _open_to_all(path: str) -> bool:
    """``/health``, and the dashboard's page and files: they hold no data (the page asks for the token and
    sends it with every request for data), and a browser loads them without headers."""
    return path in ("/health", "/") or path.startswith("/static/")


def build_app(services: Services, token: str, runtime: Runtime | None = None) -> web.Application:
    """The application for ``services`` (and the running cameras, under ``facetrack run``)."""
    app = web.Application(middlewares=[errors, auth], client_max_size=services.config.http.max_upload_bytes)
    app[SERVICES] = services
    app[TOKEN] = token
    if runtime is not None:
        app[RUNTIME] = runtime
    for module in (ops, cameras, identities, negatives, unknowns, events, openapi):
        app.router.add_routes(module.routes)
    app.router.add_get("/", dashboard)
    app.router.add_static("/static", STATIC)
    return app


async def dashboard(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


def token_for(config: Config) -> str:
    if config.http.token:
        return config.http.token
    token = secrets.token_urlsafe(16)
    logger.warning("http.token is not set: changes over HTTP need this token for this run: %s", token)
    return token


async def serve_app(app: web.Application, config: Config) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
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
