"""The running cameras: a reader thread and a loop task (``CameraLoop``) per camera, the publisher and a status
log, all in one ``asyncio.TaskGroup``; cameras can be added and removed while running.

Shutdown (``stop`` set, or every camera ended by itself): readers stop, the camera loops finish their
frame and end their open tracks (``track.ended``), the publisher drains within
``grace_seconds``. A task that crashes cancels the group; ``run`` raises its error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import Histogram

from gallery.identify import Identifier
from pipelines.events.publisher import EventPublisher, PublisherStatus
from pipelines.live.camera_loop import CameraLoop, FrameObserver
from pipelines.live.executor import ModelExecutor
from pipelines.live.mainstream import MainStream
from pipelines.live.recordings import FolderReader, Played, is_folder
from pipelines.live.retention import Retention
from pipelines.live.sightings import SightingsStatus, SightingWriter
from pipelines.live.sources import CameraReader, Frame, Mailbox, is_file
from pipelines.live.workers import Workers
from tracker.config import CameraConfig, Config
from tracker.errors import TrackerError
from tracker.events import Event
from tracker.redact import redact
from tracker.track.activity import ActivityGate
from tracker.track.camera import CameraTracks
from tracker.track.sighting import SIGHTING_FACES
from tracker.track.state import CameraRules, TrackedFace, TrackView
from tracker.track.zones import Zones
from tracker.whereabouts import Person, Whereabouts

logger = logging.getLogger(__name__)
STATUS_LINE = ("camera %s: %s, %.1f fps analysed (%d idle in all), %d faces, %d tracks open, %d dropped, "
               "%d over rate, latency %.0f ms")


@dataclass(frozen=True)
class CameraStatus:
    """One camera's figures, as the status log, the REST API and Prometheus report them."""

    state: str  # connecting, live, stalled, failed, ended
    fps_analysed: float  # over the last few seconds
    frames_analysed: int
    frames_idle: int  # of those, left undetected by the activity gate (no open track, no change)
    faces: int  # faces detected
    embedded: int  # faces embedded
    tracks: int  # open now
    tracks_started: int
    dropped: int  # frames replaced in the mailbox before analysis
    over_rate: int  # frames over the analysis rate
    reconnects: int
    lag_ms: float  # capture to decision, median of recent frames
    main_state: str | None = None  # a sub-stream camera's main stream: connecting, live, stalled, failed
    main_decoded: int = 0  # ...its frames decoded (only while faces are in view)
    main_bursts: int = 0  # ...times its decoding started from a keyframe
    main_missed: int = 0  # ...frames whose faces were embedded from the sub-stream, the main stream's not in time


@dataclass(frozen=True)
class RuntimeStatus:
    cameras: dict[str, CameraStatus]
    events: PublisherStatus
    model_queue: int  # requests waiting for the model executor
    sightings: SightingsStatus | None = None  # None: unknowns.enabled is off
    retained: dict[str, int] | None = None  # what retention removed so far, by kind
    workers: WorkersStatus | None = None  # None: a worker on its own


@dataclass(frozen=True)
class WorkersStatus:
    worker: str
    live_workers: int
    cameras_held: int
    leases_lost: int
    last_heartbeat: float  # Unix seconds, by Redis's clock


@dataclass
class Camera:
    config: CameraConfig
    reader: CameraReader
    loop: CameraLoop
    task: asyncio.Task
    main: MainStream | None = None  # a sub-stream camera's main stream (``reader`` reads its sub-stream)

    def status(self, window: float = 5.0) -> CameraStatus:
        """The camera's figures (fps over the last ``window`` seconds)."""
        s, tracks = self.loop.stats, self.loop.tracks
        main = self.main
        return CameraStatus(self.reader.state, round(s.fps(window), 2), s.analysed, s.idle, s.faces, s.embedded,
                            tracks.open, tracks.started, self.loop.mailbox.dropped, self.reader.skipped,
                            self.reader.reconnects, round(s.lag() * 1000, 1), main.state if main else None,
                            main.decoded if main else 0, main.bursts if main else 0, s.main_missed)

    def stop(self) -> None:
        """Stop reading (the camera's loop then ends its tracks and its task)."""
        self.reader.stop()
        if self.main is not None:
            self.main.stop()

    def join(self, timeout: float) -> None:
        self.reader.join(timeout)
        if self.main is not None:
            self.main.join(timeout)

    def tracks(self) -> list[TrackView]:
        """The open tracks, as last seen."""
        return self.loop.tracks.views()

    def track(self, track_id: int) -> TrackView | None:
        return next((v for v in self.tracks() if v.id == track_id), None)

    def why(self, track_id: int) -> dict | None:
        """Why an open track is (not) named (None: no such open track)."""
        return self.loop.tracks.explain(track_id)

    def latest(self) -> tuple[Frame, list[TrackedFace]] | None:
        """The newest analysed frame and its faces, for the live view."""
        return self.loop.latest


class Runtime:
    """The cameras of ``config`` (and those added later) analysed on one shared model executor."""

    def __init__(self, config: Config, identifier: Identifier, executor: ModelExecutor, publisher: EventPublisher,
                 stage_seconds: Histogram | None = None, observers: tuple[FrameObserver, ...] = (),
                 sightings: SightingWriter | None = None, retention: Retention | None = None,
                 workers: Workers | None = None, listeners: tuple[Callable[[Event], None], ...] = ()) -> None:
        """``observers``: told each analysed frame; ``listeners``: each event as it is published."""
        self.config = config
        self.identifier = identifier
        self.executor = executor
        self.publisher = publisher
        self.stage_seconds = stage_seconds
        self.observers = observers
        self.listeners = listeners
        self.sightings = sightings
        self.retention = retention
        self.workers = workers  # several workers: it decides which cameras run here
        self.cameras: dict[str, Camera] = {}
        self.whereabouts = Whereabouts()  # who is where across this worker's cameras (GET /api/presence)
        self._group: asyncio.TaskGroup | None = None

    def _seen(self, event: Event) -> None:
        self.whereabouts.apply(event, time.time(), self.config.presence.away_seconds)
        for listener in self.listeners:
            listener(event)

    def presence(self) -> list[Person]:
        """Everyone named on these cameras since the start, away once ``presence.away_seconds`` have passed;
        people no longer in the gallery (erased) are forgotten here too."""
        self.whereabouts.due(time.time())
        for identity in [i for i in self.whereabouts.people if i not in self.identifier.view.names]:
            self.whereabouts.forget(identity)
        return sorted(self.whereabouts.people.values(), key=lambda p: p.name)

    def status(self, window: float = 5.0) -> RuntimeStatus:
        cameras = {cid: camera.status(window) for cid, camera in self.cameras.items()}
        c = self.workers
        workers = WorkersStatus(c.worker, len(c.live), len(c.held), c.leases_lost, c.last_heartbeat) if c else None
        return RuntimeStatus(cameras, self.publisher.status(), self.executor.depth,
                             self.sightings.status() if self.sightings else None,
                             dict(self.retention.removed) if self.retention else None, workers)

    def add_camera(self, camera: CameraConfig, first_track_id: int = 1,
                   may_analyse: Callable[[], bool] | None = None) -> Camera:
        """Start watching ``camera`` (while running); its track ids start at ``first_track_id``, and it analyses
        only frames ``may_analyse()`` allows (a worker of several: while it holds the camera's lease)."""
        if self._group is None:
            raise RuntimeError("the runtime is not running")
        if camera.id in self.cameras:
            raise TrackerError(f"camera '{camera.id}' exists already")
        mailbox = Mailbox(asyncio.get_running_loop())
        pipeline = self.config.pipeline
        reader = self._reader(camera, mailbox)
        main = MainStream(camera.id, camera.url, pipeline.stall_seconds, pipeline.max_backoff, camera.realtime,
                          camera.loop) if camera.detect_url else None
        gate = ActivityGate(pipeline.idle_detect_seconds) if pipeline.idle_detect_seconds else None  # 0: no gate
        loop = CameraLoop(camera, mailbox, self.executor, self.identifier, self._tracks(camera, first_track_id),
                          self.publisher, self.stage_seconds, pipeline.detect_every, self.observers,
                          self.sightings, may_analyse, self._seen, gate, main)
        reader.start()
        if main is not None:
            main.start()
        task = self._group.create_task(loop.run(), name=f"camera {camera.id}")
        self.cameras[camera.id] = Camera(camera, reader, loop, task, main)
        logger.info("camera %s: added (%s, %.1f fps analysed)", camera.id, redact(camera.url), camera.fps)
        return self.cameras[camera.id]

    def _reader(self, camera: CameraConfig, mailbox: Mailbox) -> CameraReader:
        """The thread that decodes the camera: a folder's recordings one after another, or its stream or file."""
        pipeline = self.config.pipeline
        if is_folder(camera.url):
            if camera.detect_url:
                raise TrackerError(f"camera '{camera.id}': detect_url: a folder of recordings has no sub-stream")
            played = Played(self.publisher.url, f"{self.config.events.prefix}:recordings:{camera.id}")
            return FolderReader(camera.id, camera.url, mailbox, played, camera.realtime, pipeline.stall_seconds,
                                camera.fps)
        return CameraReader(camera.id, camera.detect_url or camera.url, mailbox, camera.realtime,
                            pipeline.stall_seconds, pipeline.max_backoff, camera.fps, camera.loop)

    def _tracks(self, camera: CameraConfig, first_track_id: int) -> CameraTracks:
        config, unknowns = self.config, self.config.unknowns
        rules = CameraRules(config.tracking, self.identifier.analyzer.verify_threshold, config.events.crop_max_bytes,
                            SIGHTING_FACES if self.sightings else 0, unknowns.keep_named,
                            config.http.blur_unknown, is_file(camera.url) or is_folder(camera.url),
                            Zones(camera.zones))
        return CameraTracks(camera_id=camera.id, rules=rules, first_track_id=first_track_id)

    async def remove_camera(self, camera_id: str) -> None:
        """Stop watching a camera: its open tracks end (``track.ended``) before this returns."""
        camera = self.cameras.pop(camera_id)
        camera.stop()
        await camera.task
        await asyncio.to_thread(camera.join, 10)
        logger.info("camera %s: removed", camera_id)

    async def hand_over(self, camera_id: str) -> None:
        """The workers give the camera to another worker: stop it, then wait (up to ``pipeline.grace_seconds``)
        until its last events are delivered, so that they are written before the next owner's run starts."""
        await self.remove_camera(camera_id)
        if not await self.publisher.flushed(camera_id, self.config.pipeline.grace_seconds):
            logger.warning("camera %s: handed over with events still waiting for Redis (they are dropped once the "
                           "next worker runs it)", camera_id)

    def all_ended(self) -> bool:
        """Every camera stopped by itself (a file ended, or could not be opened)."""
        return bool(self.cameras) and all(c.task.done() for c in self.cameras.values())

    async def run(self, stop: asyncio.Event, until_ended: bool) -> None:
        """Run the cameras until ``stop`` is set (or, with ``until_ended``, every camera ended by itself)."""
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                await self._run(group, stop, until_ended)
        finally:  # a crash included: no reader outlives the run
            for camera in self.cameras.values():
                camera.stop()
            for camera in self.cameras.values():
                await asyncio.to_thread(camera.join, 10)
            if self.sightings is not None:
                await asyncio.to_thread(self.sightings.stop)

    async def _run(self, group: asyncio.TaskGroup, stop: asyncio.Event, until_ended: bool) -> None:
        publisher_stop = asyncio.Event()
        if self.sightings is not None:  # its thread's events reach the publisher through this loop
            loop = asyncio.get_running_loop()
            self.sightings.announce = lambda event: loop.call_soon_threadsafe(self.publisher.publish, event)
        publishing = group.create_task(self.publisher.run(publisher_stop), name="publisher")
        status = group.create_task(self._status(), name="status")
        retention = group.create_task(self.retention.run(), name="retention") if self.retention else None
        workers = group.create_task(self.workers.run(self.add_camera, self.hand_over), name="workers") \
            if self.workers else None
        for camera in self.config.cameras if not self.workers else ():  # the workers share them out themselves
            self.add_camera(camera)
        while not stop.is_set() and not (until_ended and self.all_ended()):
            try:
                await asyncio.wait_for(stop.wait(), 0.25)
            except TimeoutError:
                pass
        if workers:  # the others take this worker's cameras over at once
            workers.cancel()
            await self.workers.leave(self.hand_over)
        for camera in self.cameras.values():
            camera.stop()
        await asyncio.gather(*(c.task for c in self.cameras.values()))
        status.cancel()
        if retention:
            retention.cancel()
        publisher_stop.set()
        await self._drain(publishing)
        e = self.publisher.status()
        logger.info("events at the end: %d published, %d undelivered, %d dropped", e.published, e.buffered, e.dropped)

    async def _drain(self, publishing: asyncio.Task) -> None:
        grace = self.config.pipeline.grace_seconds
        try:
            await asyncio.wait_for(asyncio.shield(publishing), grace)
        except TimeoutError:
            logger.warning("%d events still buffered after %.0f s; giving up on them",
                           self.publisher.status().buffered, grace)
            publishing.cancel()

    async def _status(self) -> None:
        interval = self.config.pipeline.status_interval
        while True:
            await asyncio.sleep(interval)
            status = self.status(interval)
            for cid, c in status.cameras.items():
                logger.info(STATUS_LINE, cid, c.state, c.fps_analysed, c.frames_idle, c.faces, c.tracks, c.dropped,
                            c.over_rate, c.lag_ms)
            e = status.events
            logger.info("events: %d published, %d buffered, %d dropped; model queue %d", e.published, e.buffered,
                        e.dropped, status.model_queue)
