"""The application's state, as typed aiohttp keys (set once by ``server.build_app``)."""

from __future__ import annotations

from aiohttp import web

from pipelines.live.runtime import Runtime
from pipelines.services import Services
from pipelines.web.streams import Streams

SERVICES = web.AppKey("services", Services)
STREAMS = web.AppKey("streams", Streams)  # the open live views and event feeds
TOKEN = web.AppKey("token", str)  # the bearer token for changes
AUTHORISED = web.RequestKey("authorised", bool)  # the request carries the right token
RUNTIME = web.AppKey("runtime", Runtime)  # the running cameras; absent under facetrack serve
