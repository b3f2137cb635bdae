"""``facetrack run``: every camera, one model executor, one publisher, the HTTP side, in one TaskGroup.

Start-up: Redis (the configured URL, or the embedded server), the face path, the gallery of
the active model, the executor thread, the HTTP server (when ``http.port`` is set), and a
reader thread and a worker task per camera; cameras can be added and removed while running.
Shutdown (Ctrl-C, SIGTERM, or every camera ended by itself): readers stop, workers finish
their frame and end their open tracks (``track.ended``), the publisher drains within
``grace_seconds``, then everything closes. A task that crashes stops the process with a
non-zero exit.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from gallery.identify import Identifier
from gallery.store import GalleryStore
from pipelines.events.publisher import EventPublisher, channel, stream_key
from pipelines.events.redis_server import EmbeddedRedis
from pipelines.live.executor import ModelExecutor
from pipelines.live.sources import CameraReader, Mailbox
from pipelines.live.worker import CameraWorker
from pipelines.prometheus import Metrics
from tracker.config import CameraConfig, Config
from tracker.errors import ConfigError, TrackerError
from tracker.face.analyzer import FaceAnalyzer

logger = logging.getLogger(__name__)
STATUS_LINE = ("camera {id}: {state}, {fps_analysed:.1f} fps analysed, {faces} faces, {tracks} tracks, "
               "{dropped} dropped, {over_rate} over rate, latency {lag_ms:.0f} ms")


@dataclass
class Camera:
    config: CameraConfig
    reader: CameraReader
    worker: CameraWorker
    task: asyncio.Task

    def status(self, window: float = 5.0) -> dict:
        """What the status log, the REST API and the metrics report of this camera (fps over ``window`` s)."""
        s = self.worker.stats
        return {"state": self.reader.state, "fps_analysed": round(s.fps(window), 2), "frames_analysed": s.analysed,
                "faces": s.faces, "tracks": len(self.worker.tracker.tracks), "dropped": self.worker.mailbox.dropped,
                "over_rate": s.skipped, "reconnects": self.reader.reconnects, "lag_ms": round(s.lag() * 1000, 1)}


class LiveTracker:
    """The running system: the model executor, the gallery, the publisher and the cameras."""

    def __init__(self, config: Config, gallery: Path, identifier: Identifier, executor: ModelExecutor,
                 publisher: EventPublisher, metrics: Metrics) -> None:
        self.config = config
        self.gallery = gallery
        self.identifier = identifier
        self.executor = executor
        self.publisher = publisher
        self.metrics = metrics
        self.cameras: dict[str, Camera] = {}
        self.redis_url = publisher.url
        self._group: asyncio.TaskGroup | None = None

    def add_camera(self, camera: CameraConfig) -> Camera:
        """Start watching ``camera`` (while running)."""
        if self._group is None:
            raise RuntimeError("the tracker is not running")
        if camera.id in self.cameras:
            raise TrackerError(f"camera '{camera.id}' exists already")
        mailbox = Mailbox(asyncio.get_running_loop())
        pipeline = self.config.pipeline
        reader = CameraReader(camera.id, camera.url, mailbox, camera.realtime, pipeline.stall_seconds,
                              pipeline.max_backoff)
        worker = CameraWorker(camera, mailbox, self.executor, self.identifier, self.config.tracking,
                              self.config.events, self.publisher, self.metrics, pipeline.detect_every)
        reader.start()
        task = self._group.create_task(worker.run(), name=f"camera {camera.id}")
        self.cameras[camera.id] = Camera(camera, reader, worker, task)
        logger.info("camera %s: added (%s, %.1f fps analysed)", camera.id, camera.url, camera.fps)
        return self.cameras[camera.id]

    async def remove_camera(self, camera_id: str) -> None:
        """Stop watching a camera: its open tracks end (``track.ended``) before this returns."""
        camera = self.cameras.pop(camera_id)
        camera.reader.stop()
        await camera.task
        logger.info("camera %s: removed", camera_id)

    def all_ended(self) -> bool:
        """Every camera stopped by itself (a file ended, or could not be opened)."""
        return bool(self.cameras) and all(c.task.done() for c in self.cameras.values())

    async def run(self, stop: asyncio.Event, until_ended: bool) -> None:
        """Run the cameras until ``stop`` is set (or, with ``until_ended``, every camera ended by itself)."""
        publisher_stop = asyncio.Event()
        grace = self.config.pipeline.grace_seconds
        try:
            await self._run(stop, until_ended, publisher_stop, grace)
        finally:  # a crash included: no reader outlives the run
            for camera in self.cameras.values():
                camera.reader.stop()
            for camera in self.cameras.values():
                await asyncio.to_thread(camera.reader.join, 10)

    async def _run(self, stop: asyncio.Event, until_ended: bool, publisher_stop: asyncio.Event, grace: float) -> None:
        async with asyncio.TaskGroup() as group:
            self._group = group
            publishing = group.create_task(self.publisher.run(publisher_stop), name="publisher")
            status = group.create_task(self._status(), name="status")
            for camera in self.config.cameras:
                self.add_camera(camera)
            while not stop.is_set() and not (until_ended and self.all_ended()):
                try:
                    await asyncio.wait_for(stop.wait(), 0.25)
                except TimeoutError:
                    pass
            for camera in self.cameras.values():
                camera.reader.stop()
            await asyncio.gather(*(c.task for c in self.cameras.values()))
            status.cancel()
            publisher_stop.set()
            try:
                await asyncio.wait_for(asyncio.shield(publishing), grace)
            except TimeoutError:
                logger.warning("%d events still buffered after %.0f s; giving up on them",
                               self.publisher.buffered, grace)
                publishing.cancel()

    async def _status(self) -> None:
        interval = self.config.pipeline.status_interval
        while True:
            await asyncio.sleep(interval)
            for camera in list(self.cameras.values()):
                logger.info(STATUS_LINE.format(id=camera.config.id, **camera.status(interval)))
            logger.info("events: %d published, %d buffered, %d dropped; model queue %d", self.publisher.published,
                        self.publisher.buffered, self.publisher.dropped, self.executor.depth)


def _stop_on_signal(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


async def run_live(config: Config, gallery: Path, redis_url: str) -> LiveTracker:
    """Run until stopped, or until every configured camera stopped by itself; returns the tracker (its stats)."""
    serving = config.http.port != 0
    if not config.cameras and not serving:
        raise ConfigError("cameras: none configured; add a [[cameras]] table with an id and a url "
                          "(or set http.port to add cameras over HTTP)")
    analyzer = FaceAnalyzer.from_config(config)
    with GalleryStore(gallery) as store:
        identifier = Identifier(analyzer, store, config.match)
    logger.info("gallery %s: %d people, %d faces of %s", gallery, len(identifier.names), len(identifier.index),
                identifier.model_id)
    if not identifier.names:
        logger.warning("gallery %s is empty: every face will be 'unknown' (enroll people with facetrack enroll)",
                       gallery)
    if identifier.missing:
        logger.warning("%d gallery faces have no %s embedding and are not matched: run facetrack gallery reembed",
                       identifier.missing, identifier.model_id)
    metrics = Metrics()
    executor = ModelExecutor(analyzer, config.pipeline.batch_size, config.pipeline.max_wait_ms,
                             on_batch=lambda kind, n: metrics.batch_size.labels(kind).observe(n)).start()
    publisher = EventPublisher(redis_url, config.events.prefix, config.events.stream_maxlen,
                               config.events.buffer_size)
    tracker = LiveTracker(config, gallery, identifier, executor, publisher, metrics)
    stop = asyncio.Event()
    _stop_on_signal(stop)
    web = None
    try:
        if serving:
            from pipelines.web.server import start_web

            web = await start_web(config, tracker)
        await tracker.run(stop, until_ended=bool(config.cameras))
    finally:  # tracker.run has stopped and joined the readers
        if web is not None:
            await web.cleanup()
        executor.stop()
    return tracker


def _first(error: BaseException) -> BaseException:
    """The first real exception inside (nested) exception groups."""
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


def start_redis(config: Config) -> tuple[str, EmbeddedRedis | None]:
    """The configured Redis URL, or a freshly started embedded server and its URL."""
    if config.redis.url:
        return config.redis.url, None
    server = EmbeddedRedis(Path(config.redis.data_dir).expanduser(), config.redis.port).start()
    prefix = config.events.prefix
    logger.info("embedded Redis at %s: events stream %s, channels %s (pattern %s)", server.url,
                stream_key(prefix), channel(prefix, "<camera>"), channel(prefix, "*"))
    return server.url, server


def run(config: Config, gallery: Path) -> LiveTracker:
    url, server = start_redis(config)
    started = time.monotonic()
    try:
        return asyncio.run(run_live(config, gallery, url))
    except TrackerError:
        raise
    except Exception as error:  # a stage crashed: one clear line, then a non-zero exit
        cause = _first(error)
        logger.critical("the live pipeline stopped: %s: %s", type(cause).__name__, cause, exc_info=cause)
        raise TrackerError(f"the live pipeline stopped: {type(cause).__name__}: {cause}") from error
    finally:
        if server:
            server.stop()
        logger.info("stopped after %.0f s", time.monotonic() - started)
