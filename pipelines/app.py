"""The composition root: every entry point (``facetrack run``, ``serve``, ``bench``, the tests)
builds the running system here, and only here.

- ``build``: the face path on its executor thread, the gallery, the metrics (``Services``);
- ``start_runtime``: the cameras' runtime over those services, publishing to Redis;
- ``run``: ``facetrack run`` (Redis, the runtime, the HTTP side, signals, the exit);
- ``serve``: ``facetrack serve`` (the HTTP side for the gallery alone).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from gallery.database import is_url
from gallery.identify import Identifier
from gallery.store import GalleryStore
from gallery.watch import GalleryWatcher
from pipelines.events.publisher import EventPublisher, channel, stream_key
from pipelines.events.redis_server import EmbeddedRedis
from pipelines.live.camera_loop import FrameObserver
from pipelines.live.executor import ModelExecutor
from pipelines.live.retention import Retention
from pipelines.live.runtime import Runtime
from pipelines.live.sightings import SightingWriter
from pipelines.live.workers import Workers
from pipelines.prometheus import Metrics
from pipelines.services import Services
from pipelines.signals import stop_on_signal
from pipelines.web.access import token_for
from pipelines.web.server import build_app, serve_app
from tracker.config import Config
from tracker.errors import ConfigError, TrackerError
from tracker.events import Event
from tracker.face.analyzer import FaceAnalyzer
from tracker.redact import redact

logger = logging.getLogger(__name__)
SUPERVISE_SECONDS = 0.5


@contextmanager
def build(config: Config, gallery: Path | str, redis_url: str | None = None,
          analyzer: FaceAnalyzer | None = None) -> Iterator[Services]:
    """Load the face path (or use ``analyzer``) and the gallery, start the model executor; stop it on exit."""
    analyzer = analyzer or FaceAnalyzer.from_config(config)
    with GalleryStore(gallery) as store:
        identifier = Identifier(analyzer, store, config.match)
        _log_gallery(store, identifier)
    metrics = Metrics()
    executor = ModelExecutor(analyzer, config.pipeline.batch_size, on_batch=metrics.observe_batch).start()
    watcher = GalleryWatcher(gallery, identifier).start()  # changes made by other processes, within a second
    try:
        yield Services(config, gallery, identifier, executor, metrics, redis_url, watcher)
    finally:
        watcher.stop()
        executor.stop()


def _log_gallery(store: GalleryStore, identifier: Identifier) -> None:
    gallery = store.path  # a URL's password left out
    view = identifier.view
    logger.info("gallery %s: %d people, %d faces of %s", gallery, len(view.names), len(view.index), identifier.model_id)
    logger.info("match threshold in force: %s", view.rule.describe())
    if not view.names:
        logger.warning("gallery %s is empty: every face will be 'unknown' (enroll people with facetrack enroll)",
                       gallery)
    if warning := identifier.missing_warning(store):
        logger.warning("%s", warning)


def start_runtime(services: Services, observers: tuple[FrameObserver, ...] = (),
                  listeners: tuple[Callable[[Event], None], ...] = ()) -> Runtime:
    """The cameras' runtime over ``services``, publishing to their Redis; ``/metrics`` reports it. ``observers``:
    told each analysed frame; ``listeners``: each event published (the metrics' are always)."""
    if not services.redis_url:
        raise ConfigError("redis.url: the live pipeline publishes to Redis; none is configured")
    events = services.config.events
    workers = Workers(services.config, services.redis_url) if services.config.workers.enabled else None
    retention = Retention(services.config, services.gallery, services.redis_url)
    publisher = EventPublisher(services.redis_url, events.prefix, events.stream_maxlen,
                               fence=workers.fence if workers else None, on_tombstones=retention.soon)
    sightings = None
    if services.config.unknowns.enabled:
        join = services.config.unknowns.join_share * services.identifier.analyzer.verify_threshold
        sightings = SightingWriter(services.gallery, services.identifier.model_id, join, services.config).start()
    runtime = Runtime(services.config, services.identifier, services.executor, publisher,
                      services.metrics.stage_seconds, observers, sightings, retention, workers,
                      (services.metrics.observe_event, *listeners))
    services.metrics.watch(runtime.status)
    return runtime


def start_redis(config: Config) -> tuple[str, EmbeddedRedis | None]:
    """The configured Redis URL, or a freshly started embedded server and its URL."""
    if config.redis.url:
        return config.redis.url, None
    server = EmbeddedRedis(Path(config.redis.data_dir).expanduser()).start()
    prefix = config.events.prefix
    logger.info("embedded Redis at %s (its password is in %s): events stream %s, channels %s (pattern %s)",
                redact(server.url), server.data_dir / "password", stream_key(prefix), channel(prefix, "<camera>"),
                channel(prefix, "*"))
    return server.url, server


async def _supervise(server: EmbeddedRedis) -> None:
    """Start the embedded Redis again whenever it dies; the publisher holds the events meanwhile."""
    while True:
        await asyncio.sleep(SUPERVISE_SECONDS)
        try:
            server.revive()
        except (OSError, TrackerError) as error:
            logger.error("embedded Redis could not be started again (%s); retrying", error)


async def run_live(config: Config, gallery: Path | str, redis_url: str,
                   server: EmbeddedRedis | None = None) -> Runtime:
    """Run until stopped, or until every configured camera stopped by itself; returns the runtime (its stats)."""
    serving = config.http.port != 0
    if config.workers.enabled and not config.redis.url:
        raise ConfigError("workers.enabled: the workers share one Redis; set redis.url to it (each embedded Redis "
                          "would be a group of one)")
    if config.workers.enabled and not is_url(gallery):
        logger.warning("workers.enabled with the gallery file %s: only workers on this machine share it; set "
                       "gallery.url to a PostgreSQL database for workers on other machines", gallery)
    if not config.cameras and not serving and not config.workers.enabled:
        raise ConfigError("cameras: none configured; add a [[cameras]] table with an id and a url "
                          "(or set http.port to add cameras over HTTP)")
    with build(config, gallery, redis_url) as services:
        runtime = start_runtime(services)
        stop = stop_on_signal()
        web = await serve_app(build_app(services, token_for(config), runtime), config) if serving else None
        settle_heap()
        supervisor = asyncio.create_task(_supervise(server)) if server else None
        try:
            await runtime.run(stop, until_ended=bool(config.cameras) and not config.workers.enabled)
        finally:  # runtime.run has stopped and joined the readers, and drained the events
            if supervisor:
                supervisor.cancel()
            if web is not None:
                await web.cleanup()
    return runtime


def settle_heap() -> None:
    """Once started, the models, modules and gallery (about 230,000 objects) are kept out of the garbage
    collector's full passes: each pass scanned them all, 60-170 ms with the interpreter lock held, which stood
    every camera and HTTP answer still (the worst /health answers, even with no load)."""
    gc.collect()
    gc.freeze()


def first_cause(error: BaseException) -> BaseException:
    """The first real exception inside (nested) exception groups."""
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


def run(config: Config, gallery: Path | str) -> Runtime:
    """``facetrack run``: a stage that crashes becomes one CRITICAL line and a ``TrackerError``."""
    url, server = start_redis(config)
    started = time.monotonic()
    try:
        return asyncio.run(run_live(config, gallery, url, server))
    except TrackerError:
        raise
    except Exception as error:  # a stage crashed: one clear line, then a non-zero exit
        cause = first_cause(error)
        logger.critical("the live pipeline stopped: %s: %s", type(cause).__name__, cause, exc_info=cause)
        raise TrackerError(f"the live pipeline stopped: {type(cause).__name__}: {cause}") from error
    finally:
        if server:
            server.stop()
        logger.info("stopped after %.0f s", time.monotonic() - started)


async def serve(config: Config, gallery: Path | str) -> None:
    """``facetrack serve``: the API and dashboard for the gallery alone, until Ctrl-C or SIGTERM."""
    with build(config, gallery, config.redis.url or None) as services:
        stop = stop_on_signal()
        runner = await serve_app(build_app(services, token_for(config)), config)
        settle_heap()
        try:
            await stop.wait()
        finally:
            await runner.cleanup()
