"""Requests per client: each client address gets ``http.max_requests_per_second``, so one busy or hostile
client cannot take the event loop that runs the cameras.

A burst of one second's worth goes at once; past it, each request waits its turn (a generic cell rate
algorithm: one theoretical arrival time per client). A request whose turn is more than ``MAX_WAIT`` seconds
away waits that long and is then refused with 429 and ``Retry-After``: waiting first keeps a client that
retries at once from spinning on refusals. ``/health`` and ``/ready`` are never paced (probes must see the
truth). Behind a reverse proxy every client has the proxy's address: the limit is then the server's.
"""

from __future__ import annotations

import asyncio
import math
import time

from aiohttp import web

from pipelines.web.access import json_error

MAX_WAIT = 2.0  # seconds a request may wait for its turn
UNPACED = ("/health", "/ready")
PRUNE_AT = 10_000  # clients remembered before the idle ones are forgotten


class Pace:
    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.tolerance = max(0.0, 1.0 - self.interval)  # a second's worth goes at once (under 1 a second: one)
        self._due: dict[str, float] = {}  # client -> its theoretical arrival time

    def wait(self, client: str, now: float) -> float | None:
        """Seconds ``client``'s request waits for its turn; ``None``: refused (its turn is too far away)."""
        due = max(self._due.get(client, now), now)
        wait = max(0.0, due - now - self.tolerance)
        if wait > MAX_WAIT + 1e-9:
            return None
        self._due[client] = due + self.interval
        if len(self._due) > PRUNE_AT:
            self._due = {c: t for c, t in self._due.items() if t > now}
        return wait


def paced(rate: float):
    """The middleware pacing each client to ``rate`` requests a second."""
    limit = Pace(rate)

    @web.middleware
    async def pace(request: web.Request, handler) -> web.StreamResponse:
        if request.path in UNPACED:
            return await handler(request)
        wait = limit.wait(request.remote or "", time.monotonic())
        if wait is None:
            await asyncio.sleep(MAX_WAIT)
            refused = json_error(429, f"more than {rate:g} requests a second from {request.remote} "
                                      "(http.max_requests_per_second); slow down")
            refused.headers["Retry-After"] = str(math.ceil(MAX_WAIT))
            return refused
        if wait:
            await asyncio.sleep(wait)
        return await handler(request)

    return pace
