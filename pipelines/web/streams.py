"""Long-lived responses: the live MJPEG views and the event WebSockets.

A camera's analysed frame is drawn and encoded once, on a thread of the default executor, however many people watch it;
at most ``http.max_viewers`` streams are open at once (more get 503), so viewers cannot pile up work or
connections; and when the server stops, every open stream is ended at once, so shutdown does not wait for
viewers to leave.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator

from aiohttp import web

CLOSE_SECONDS = 2.0  # how long a stopping server waits for event-feed clients to answer its close

class Streams:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0
        self.closing = asyncio.Event()
        self._sockets: set[web.WebSocketResponse] = set()
        self._frames: dict[str, tuple[object, asyncio.Future]] = {}  # camera -> (frame, its JPEG being made)

    @contextlib.contextmanager
    def viewer(self, socket: web.WebSocketResponse | None = None) -> Iterator[None]:
        """One open stream while inside; refused with 503 past the limit or while the server stops."""
        if self.closing.is_set():
            raise web.HTTPServiceUnavailable(text="the server is stopping")
        if self.open >= self.limit:
            raise web.HTTPServiceUnavailable(text=f"{self.open} live views and event feeds are open, the most "
                                                  "http.max_viewers allows; try again later")
        self.open += 1
        if socket is not None:
            self._sockets.add(socket)
        try:
            yield
        finally:
            self.open -= 1
            self._sockets.discard(socket)

    async def frame(self, camera: str, frame: object, draw: Callable[[], bytes | None]) -> bytes | None:
        """The JPEG of ``camera``'s ``frame``: ``draw`` runs once per frame, off the event loop, for every viewer."""
        held = self._frames.get(camera)
        if held is None or held[0] is not frame:
            held = (frame, asyncio.ensure_future(asyncio.to_thread(draw)))
            self._frames[camera] = held
        return await asyncio.shield(held[1])

    async def close_all(self, app: web.Application) -> None:
        """``on_shutdown``: end every open stream now."""
        self.closing.set()
        closes = [asyncio.ensure_future(s.close(code=1001, message=b"server stopping")) for s in self._sockets]
        if closes:
            _, late = await asyncio.wait(closes, timeout=CLOSE_SECONDS)  # a client that never answers the close
            for close in late:
                close.cancel()
