"""The model executor: two threads own the models and serve every camera in shared batches.

One thread, the detection lane, owns the detector (and runs the whole-analyzer calls of
enrollment and recognition); the other, the embedding lane, runs the embedder and then the callers' match of
the embeddings (the gallery search, so the frame comes back judged in one hop): one call for the requests of a
batch that share it (the cameras reading one gallery view), one pass over the gallery for all of them. So one
camera's faces are embedded while another camera's frame is detected. Each lane's requests
wait in a bounded queue; a lane takes what is waiting, up to ``batch_size`` requests, or
waits at most ``MAX_WAIT_MS`` for more after the first; detection requests of one batch run
as one detector batch, embedding requests as one embedder batch. Results come back to the
event loop as futures. No locks: the detector is touched by its lane only, and the embedder's
torch module only reads its weights, so the two lanes may both run it.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from tracker.face.analyzer import Analysis, FaceAnalyzer
from tracker.faces import Faces

logger = logging.getLogger(__name__)
T = TypeVar("T")
MAX_WAIT_MS = 5.0  # how long a batch waits for more requests after its first (was pipeline.max_wait_ms)


@dataclass
class _Request:
    kind: str  # "detect" | "embed" | "call"
    image: np.ndarray | None
    faces: Faces | None
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop
    function: Callable[[FaceAnalyzer], Any] | None = None
    zoom: float = 1.0  # detect: the camera's pixels per pixel of the image (a sub-stream's)
    glance: bool = False  # detect: a quick look (a quiet camera's heartbeat)
    match: Callable[[np.ndarray], Any] | None = None  # embed: what the embeddings are then handed to


class _Lane:
    """One model thread and its queue."""

    def __init__(self, name: str, queue_size: int, serve: Callable[[_Lane], None]) -> None:
        self.queue: queue.Queue[_Request | None] = queue.Queue(maxsize=queue_size)
        self.thread = threading.Thread(target=serve, args=(self,), name=name, daemon=True)


class ModelExecutor:
    def __init__(self, analyzer: FaceAnalyzer, batch_size: int, max_wait_ms: float = MAX_WAIT_MS, queue_size: int = 64,
                 on_batch: Callable[[str, int], None] | None = None) -> None:
        self.analyzer = analyzer
        self.on_batch = on_batch
        self.batch_size = batch_size
        self.max_wait = max_wait_ms / 1000.0
        self._detect = _Lane("models-detect", queue_size, self._serve)
        self._embed = _Lane("models-embed", queue_size, self._serve)
        self.error: BaseException | None = None

    def start(self) -> ModelExecutor:
        for lane in (self._detect, self._embed):
            lane.thread.start()
        return self

    def stop(self) -> None:
        for lane in (self._detect, self._embed):
            lane.queue.put(None)
        for lane in (self._detect, self._embed):
            lane.thread.join(timeout=30)

    @property
    def depth(self) -> int:
        return self._detect.queue.qsize() + self._embed.queue.qsize()

    async def detect(self, image: np.ndarray, zoom: float = 1.0, glance: bool = False) -> Faces:
        """The faces of ``image``; ``zoom``: the camera's pixels per pixel of it (a sub-stream's frame); ``glance``:
        a quick look (``Detector.detect_batch``)."""
        return await self._submit("detect", image, None, zoom=zoom, glance=glance)

    async def embed(self, image: np.ndarray, faces: Faces,
                    match: Callable[[np.ndarray], Sequence[T]]) -> tuple[Analysis, list[T]]:
        """The ``faces`` of ``image`` embedded, and ``match`` (the gallery's verdicts, say: one item per row of
        embeddings) of their embeddings, run on the embedding lane too, in one call with the batch's other requests
        of an equal ``match``; an error of ``match`` is its callers', not the executor's."""
        return await self._submit("embed", image, faces, match=match)

    async def call(self, function: Callable[[FaceAnalyzer], Any]) -> Any:
        """Run ``function(analyzer)`` on the detection lane (enrollment, recognition); its errors are its own."""
        return await self._submit("call", None, None, function)

    async def _submit(self, kind: str, image: np.ndarray | None, faces: Faces | None,
                      function: Callable[[FaceAnalyzer], Any] | None = None, zoom: float = 1.0,
                      glance: bool = False, match: Callable[[np.ndarray], Any] | None = None):
        if self.error is not None:
            raise RuntimeError("the model executor has failed") from self.error
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        request = _Request(kind, image, faces, future, loop, function, zoom, glance, match)
        lane = self._embed if kind == "embed" else self._detect
        while True:
            try:
                lane.queue.put_nowait(request)
                break
            except queue.Full:
                await asyncio.sleep(0.005)
        if self.error is not None:  # failed while we queued: nobody will serve the request
            raise RuntimeError("the model executor has failed") from self.error
        return await future

    def _take(self, lane: _Lane) -> list[_Request] | None:
        first = lane.queue.get()
        if first is None:
            return None
        batch = [first]
        deadline = time.monotonic() + self.max_wait
        while len(batch) < self.batch_size:
            try:
                item = lane.queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if item is None:
                lane.queue.put(None)
                break
            batch.append(item)
        return batch

    def _serve(self, lane: _Lane) -> None:
        while (batch := self._take(lane)) is not None:
            try:
                self._run(batch)
            except BaseException as error:  # reported to every waiter and to the runner
                logger.exception("model executor failed")
                self.error = error
                while True:  # this batch and everything still queued in this lane
                    for r in batch:
                        if r is not None:
                            r.loop.call_soon_threadsafe(_fail, r.future, error)
                    try:
                        batch = [lane.queue.get_nowait()]
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
            found = self.analyzer.detector.detect_batch([r.image for r in detects], [r.zoom for r in detects],
                                                        [r.glance for r in detects])
            for r, faces in zip(detects, found):
                r.loop.call_soon_threadsafe(_resolve, r.future, faces)
        if embeds:
            analyses = self.analyzer.embed_faces([r.image for r in embeds], [r.faces for r in embeds])
            groups: dict[Callable, list[int]] = {}  # requests with one match (cameras reading one gallery view)
            for i, r in enumerate(embeds):
                groups.setdefault(r.match, []).append(i)
            for match, members in groups.items():
                _judge(match, [embeds[i] for i in members], [analyses[i] for i in members])


def _judge(match: Callable[[np.ndarray], Any], requests: list[_Request], analyses: list[Analysis]) -> None:
    """Each request's analysis with ``match`` of its embeddings, made by one call over all of theirs (one pass over
    the gallery, however many cameras asked); an error of ``match`` is theirs, not the executor's."""
    sizes = [len(a.embeddings) for a in analyses]
    try:
        judged = list(match(np.concatenate([a.embeddings for a in analyses]))) if match is not None else None
    except Exception as error:
        for r in requests:
            r.loop.call_soon_threadsafe(_reject, r.future, error)
        return
    start = 0
    for r, analysis, size in zip(requests, analyses, sizes):
        part = judged[start:start + size] if judged is not None else None
        start += size
        r.loop.call_soon_threadsafe(_resolve, r.future, (analysis, part))


def _resolve(future: asyncio.Future, value: object) -> None:
    if not future.done():
        future.set_result(value)


def _reject(future: asyncio.Future, error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


def _fail(future: asyncio.Future, error: BaseException) -> None:
    if not future.done():
        future.set_exception(RuntimeError(f"model executor failed: {error}"))
