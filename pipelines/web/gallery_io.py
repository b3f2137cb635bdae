"""The gallery for the HTTP handlers, off the event loop: every read and change runs on one of its two
``gallery-http`` threads, with the gallery opened there (its schema was made once, at start), so a locked
gallery, a slow disk or a PostgreSQL round trip never stalls the cameras that share the loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from aiohttp import web

from gallery.store import GalleryStore
from pipelines.web.keys import SERVICES

T = TypeVar("T")


GALLERY_THREADS = 2  # gallery requests in flight at once; more wait their turn (each is a short read or write)
_threads = ThreadPoolExecutor(GALLERY_THREADS, thread_name_prefix="gallery-http")


async def in_gallery(request: web.Request, work: Callable[[GalleryStore], T]) -> T:
    """``work(store)`` on one of the gallery threads; what it returns or raises (``HTTPNotFound``, say) comes back.
    A few threads, not one per request: a flood of requests queues here instead of crowding the cameras' threads
    and the interpreter lock."""
    location = request.app[SERVICES].gallery

    def call() -> T:
        with GalleryStore(location, create=False) as store:
            return work(store)

    return await asyncio.get_running_loop().run_in_executor(_threads, call)


async def apply_change(request: web.Request) -> None:
    """After a change made here: the gallery watcher's pass, now, on a gallery thread (the path every change takes,
    ``gallery/watch.py``): the live pipeline names with the change from its next frame."""
    await in_gallery(request, request.app[SERVICES].watcher.catch_up)


def identity_or_404(store: GalleryStore, name: str):
    identity = store.find(name)
    if identity is None:
        raise web.HTTPNotFound(text=f"no identity named '{name}'")
    return identity
