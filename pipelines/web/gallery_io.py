"""The gallery for the HTTP handlers, off the event loop: every read and change runs on a worker thread
with the gallery opened there (its schema was made once, at start), so a locked gallery, a slow disk or a
PostgreSQL round trip never stalls the cameras that share the loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from aiohttp import web

from gallery.store import GalleryStore
from pipelines.web.keys import SERVICES

T = TypeVar("T")


async def in_gallery(request: web.Request, work: Callable[[GalleryStore], T]) -> T:
    """``work(store)`` on a worker thread; what it returns or raises (an ``HTTPNotFound``, say) comes back."""
    location = request.app[SERVICES].gallery

    def call() -> T:
        with GalleryStore(location, create=False) as store:
            return work(store)

    return await asyncio.to_thread(call)


async def reload_gallery(request: web.Request) -> None:
    """After a change made here: the live pipeline's gallery read again and swapped in, on a worker thread."""
    identifier = request.app[SERVICES].identifier
    await in_gallery(request, identifier.reload)


def identity_or_404(store: GalleryStore, name: str):
    identity = store.find(name)
    if identity is None:
        raise web.HTTPNotFound(text=f"no identity named '{name}'")
    return identity
