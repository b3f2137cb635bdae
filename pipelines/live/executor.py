"""The model executor: one thread owns the models and serves every camera in shared batches.

Requests wait in a bounded queue. The thread takes what is waiting, up to ``batch_size``
requests, or waits at most ``max_wait_ms`` for more after the first; detection requests of
one batch run as one MTCNN batch (frames of one size), embedding requests as one embedder
batch. Results come back to the event loop as futures. No locks: only this thread touches
the models.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tracker.face.analyzer import Analysis, FaceAnalyzer
from tracker.faces import Faces

logger = logging.getLogger(__name__)


@dataclass
class _Request:
    kind: str  # "detect" | "embed" | "call"
    image: np.ndarray | None
    faces: Faces | None
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop
    function: Callable[[FaceAnalyzer], Any] | None = None


class ModelExecutor:
    def __init__(self, analyzer: FaceAnalyzer, batch_size: int, max_wait_ms: float, queue_size: int = 64,
                 on_batch: Callable[[str, int], None] | None = None) -> None:
        self.analyzer = analyzer
        self.on_batch = on_batch
        self.batch_size = batch_size
        self.max_wait = max_wait_ms / 1000.0
        self._queue: queue.Queue[_Request | None] = queue.Queue(maxsize=queue_size)
        self._thread = threading.Thread(target=self._serve, name="models", daemon=True)
        self.error: BaseException | None = None

    def start(self) -> ModelExecutor:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    async def detect(self, image: np.ndarray) -> Faces:
        return await self._submit("detect", image, None)

    async def embed(self, image: np.ndarray, faces: Faces) -> Analysis:
        return await self._submit("embed", image, faces)

    async def call(self, function: Callable[[FaceAnalyzer], Any]) -> Any:
        """Run ``function(analyzer)`` on the model thread (enrollment, recognition); its errors are its own."""
        return await self._submit("call", None, None, function)

    async def _submit(self, kind: str, image: np.ndarray | None, faces: Faces | None,
                      function: Callable[[FaceAnalyzer], Any] | None = None):
        if self.error is not None:
            raise RuntimeError("the model executor has failed") from self.error
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        request = _Request(kind, image, faces, future, loop, function)
        while True:
            try:
                self._queue.put_nowait(request)
                break
            except queue.Full:
                await asyncio.sleep(0.005)
        if self.error is not None:  # failed while we queued: nobody will serve the request
            raise RuntimeError("the model executor has failed") from self.error
        return await future

    def _take(self) -> list[_Request] | None:
        first = self._queue.get()
        if first is None:
            return None
        batch = [first]
        deadline = time.monotonic() + self.max_wait
        while len(batch) < self.batch_size:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if item is None:
                self._queue.put(None)
                break
            batch.append(item)
        return batch

    def _serve(self) -> None:
        while (batch := self._take()) is not None:
            try:
                self._run(batch)
            except BaseException as error:  # reported to every waiter and to the runner
                logger.exception("model executor failed")
                self.error = error
                while True:  # this batch and everything still queued
                    for r in batch:
                        if r is not None:
                            r.loop.call_soon_threadsafe(_fail, r.future, error)
                    try:
                        batch = [self._queue.get_nowait()]
                    except queue.Empty:
                        return

    def _run(self, batch: list[_Request]) -> None:
        detects = [r for r in batch if r.kind == "detect"]
        embeds = [r for r in batch if r.kind == "embed"]
        for r in batch:
            if r.kind == "call":
                try:
                    r.loop.call_soon_threadsafe(_resolve, r.future, r.function(self.analyzer))
                except Exception as error:  # the caller's problem (a bad upload, say), not the executor's
                    r.loop.call_soon_threadsafe(_reject, r.future, error)
        for kind, requests in (("detect", detects), ("embed", embeds)):
            if requests and self.on_batch:
                self.on_batch(kind, len(requests))
        if detects:
            for r, faces in zip(detects, self.analyzer.detector.detect_batch([r.image for r in detects])):
                r.loop.call_soon_threadsafe(_resolve, r.future, faces)
        if embeds:
            analyses = self.analyzer.embed_faces([r.image for r in embeds], [r.faces for r in embeds])
            for r, analysis in zip(embeds, analyses):
                r.loop.call_soon_threadsafe(_resolve, r.future, analysis)


def _resolve(future: asyncio.Future, value: object) -> None:
    if not future.done():
        future.set_result(value)


def _reject(future: asyncio.Future, error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


def _fail(future: asyncio.Future, error: BaseException) -> None:
    if not future.done():
        future.set_exception(RuntimeError(f"model executor failed: {error}"))
