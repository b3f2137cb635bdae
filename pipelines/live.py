"""``facetrack run``: every camera, one model executor, one publisher, in one TaskGroup.

Start-up: Redis (the configured URL, or the embedded server), the face path, the gallery of
the active model, the executor thread, a reader thread and a worker per camera. Shutdown
(Ctrl-C, SIGTERM, or every camera ended): readers stop, workers finish their frame and end
their open tracks (``track.ended``), the publisher drains within ``grace_seconds``, then
everything closes. A task that crashes stops the process with a non-zero exit.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from pathlib import Path

import numpy as np

from gallery.identify import Identifier
from gallery.store import GalleryStore
from pipelines.camera_worker import CameraWorker
from pipelines.executor import ModelExecutor
from pipelines.publisher import EventPublisher, channel, stream_key
from pipelines.redis_server import EmbeddedRedis
from pipelines.sources import CameraReader, Mailbox
from tracker.analyzer import FaceAnalyzer
from tracker.config import Config
from tracker.errors import ConfigError, TrackerError

logger = logging.getLogger(__name__)


async def _status(workers: list[CameraWorker], readers: list[CameraReader], publisher: EventPublisher,
                  executor: ModelExecutor, interval: float) -> None:
    previous = {w.camera.id: 0 for w in workers}
    while True:
        await asyncio.sleep(interval)
        for worker, reader in zip(workers, readers):
            s = worker.stats
            fps = (s.analysed - previous[worker.camera.id]) / interval
            previous[worker.camera.id] = s.analysed
            latency = np.median(s.latency[-50:]) * 1000 if s.latency else 0.0
            logger.info("camera %s: %s, %.1f fps analysed, %d faces, %d tracks, %d dropped, %d over rate, "
                        "latency %.0f ms", worker.camera.id, reader.state, fps, s.faces, len(worker.tracker.tracks),
                        worker.mailbox.dropped, s.skipped, latency)
        logger.info("events: %d published, %d buffered, %d dropped; model queue %d",
                    publisher.published, publisher.buffered, publisher.dropped, executor.depth)


async def _stop_on_signal(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


async def _watch(stop: asyncio.Event, readers: list[CameraReader], worker_tasks: list[asyncio.Task]) -> None:
    """Stop the readers when asked to; report when every camera has ended by itself."""
    done = asyncio.ensure_future(asyncio.gather(*worker_tasks, return_exceptions=True))
    stopper = asyncio.ensure_future(stop.wait())
    await asyncio.wait([done, stopper], return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    for reader in readers:
        reader.stop()
    await done


async def run_live(config: Config, gallery: Path, redis_url: str) -> dict[str, CameraWorker]:
    """Run until stopped or every camera ended; returns the workers (their stats)."""
    if not config.cameras:
        raise ConfigError("cameras: none configured; add a [[cameras]] table with an id and a url")
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
    executor = ModelExecutor(analyzer, config.pipeline.batch_size, config.pipeline.max_wait_ms).start()
    publisher = EventPublisher(redis_url, config.events.prefix, config.events.stream_maxlen,
                               config.events.buffer_size)
    loop = asyncio.get_running_loop()
    stop, publisher_stop = asyncio.Event(), asyncio.Event()
    await _stop_on_signal(stop)
    readers, workers = [], []
    for camera in config.cameras:
        mailbox = Mailbox(loop)
        readers.append(CameraReader(camera.id, camera.url, mailbox, camera.realtime, config.pipeline.stall_seconds,
                                    config.pipeline.max_backoff))
        workers.append(CameraWorker(camera, mailbox, executor, identifier, config.tracking, config.events, publisher))
    try:
        async with asyncio.TaskGroup() as group:
            publishing = group.create_task(publisher.run(publisher_stop))
            status = group.create_task(_status(workers, readers, publisher, executor, config.pipeline.status_interval))
            for reader in readers:
                reader.start()
            worker_tasks = [group.create_task(w.run()) for w in workers]
            await _watch(stop, readers, worker_tasks)
            status.cancel()
            publisher_stop.set()
            try:
                await asyncio.wait_for(asyncio.shield(publishing), config.pipeline.grace_seconds)
            except TimeoutError:
                logger.warning("%d events still buffered after %.0f s; giving up on them",
                               publisher.buffered, config.pipeline.grace_seconds)
                publishing.cancel()
    finally:
        for reader in readers:
            reader.stop()
        executor.stop()
    return {w.camera.id: w for w in workers}


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


def run(config: Config, gallery: Path) -> dict[str, CameraWorker]:
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
