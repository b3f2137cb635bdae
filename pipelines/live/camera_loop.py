"""One camera's loop on the event loop: await the models, hand the results to the camera's rules
(``tracker.track.camera.CameraTracks``), publish the events that come out.

At most ``fps`` frames per second are analysed. With no open track, the activity gate
(``tracker.track.activity``) sends a frame to detection only when it changed, or once every
``idle_detect_seconds``; a frame it leaves is analysed as one without faces. With
``detect_every = k`` detection runs on every k-th analysed frame and the tracks move on at
their velocity in between.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
from prometheus_client import Histogram

from gallery.identify import Identifier
from gallery.view import GalleryView
from pipelines.events.publisher import EventPublisher
from pipelines.live.executor import ModelExecutor
from pipelines.live.mainstream import MainStream
from pipelines.live.sightings import SightingWriter
from pipelines.live.sources import Frame, Mailbox
from tracker.config import CameraConfig
from tracker.events import Event
from tracker.face.analyzer import Analysis
from tracker.faces import Faces
from tracker.track.activity import HEARTBEAT, TRACKING, ActivityGate
from tracker.track.camera import CameraTracks
from tracker.track.state import FrameInfo, GalleryTerms, TrackedFace, Verdict

logger = logging.getLogger(__name__)
IDLE_SECONDS = 1.0  # without frames, the gallery's changes are still applied this often

MAIN_WAIT = 1.0  # seconds a sub-stream camera waits for its main stream's frame (a burst decodes a GOP)

FrameObserver = Callable[[str, Frame, list[TrackedFace], float], None]
"""Called after every analysed frame: camera id, the frame, its faces with tracks and names, capture-to-decision s."""


@dataclass
class CameraStats:
    analysed: int = 0  # frames analysed (detected, followed between detections, or left by the activity gate)
    idle: int = 0  # frames the activity gate left undetected (no open track, no change, no heartbeat due)
    faces: int = 0
    embedded: int = 0
    fenced: int = 0  # frames left alone: the camera's lease ran out before it was renewed
    from_main: int = 0  # sub-stream camera: frames whose faces were embedded from the main stream
    main_missed: int = 0  # ...and from the sub-stream's frame, the main stream's not coming in time
    latency: deque[float] = field(default_factory=lambda: deque(maxlen=50))  # capture to decision, seconds (detected
    # and followed frames)
    done_at: deque[float] = field(default_factory=lambda: deque(maxlen=50))  # monotonic time of recent frames

    def lag(self) -> float:
        """Median capture-to-decision seconds of the recent frames."""
        return float(np.median(self.latency)) if self.latency else 0.0

    def fps(self, window: float = 5.0) -> float:
        """Frames analysed per second over the last ``window`` seconds."""
        now = time.monotonic()
        return sum(1 for t in self.done_at if now - t <= window) / window


class CameraLoop:
    def __init__(self, camera: CameraConfig, mailbox: Mailbox, executor: ModelExecutor, identifier: Identifier,
                 tracks: CameraTracks, publisher: EventPublisher, stage_seconds: Histogram | None = None,
                 detect_every: int = 1, observers: tuple[FrameObserver, ...] = (),
                 sightings: SightingWriter | None = None, may_analyse: Callable[[], bool] | None = None,
                 on_event: Callable[[Event], None] | None = None, gate: ActivityGate | None = None,
                 main: MainStream | None = None) -> None:
        """``on_event``: told each event as it is published (the runtime's whereabouts); ``gate``: the activity
        gate (None: every analysed frame is detected); ``main``: a sub-stream camera's main stream (the mailbox's
        frames are then the sub-stream's; boxes are in the main stream's pixels, faces embedded from its frames)."""
        self.gate = gate
        self.main = main
        self.camera = camera
        self.on_event = on_event
        self.mailbox = mailbox
        self.executor = executor
        self.identifier = identifier
        self.tracks = tracks
        self.publisher = publisher
        self.stage_seconds = stage_seconds
        self.detect_every = detect_every
        self.observers = observers
        self.sightings = sightings
        self.may_analyse = may_analyse  # several workers: only while this one holds the camera's lease
        self.stats = CameraStats()
        self.latest: tuple[Frame, list[TrackedFace]] | None = None  # for the live view
        self._view = identifier.view  # the gallery as the open tracks were named against it
        self._main: tuple[int, int] | None = None  # the main stream's size the open tracks' boxes are in
        self._recording: str | None = None  # a folder camera's recording the open tracks are in

    async def run(self) -> None:
        while True:
            try:  # the reader keeps to camera.fps (a timer, not a task, per frame)
                async with asyncio.timeout(IDLE_SECONDS):
                    frame = await self.mailbox.get()
            except TimeoutError:  # no frame (a camera reconnecting, stalled): gallery changes still apply
                self._follow_gallery(time.time())
                if self._recording is not None:  # a folder camera between recordings: the last one's tracks end
                    self._recording = None
                    self._publish(self.tracks.finish())
                continue
            if frame is None:
                break
            if self.may_analyse is not None and not self.may_analyse():
                self.stats.fenced += 1
                continue
            await self.process(frame)
        self._follow_gallery(time.time())  # a person erased since the last frame: their tracks end in silence
        self._publish(self.tracks.finish())

    def _follow_gallery(self, now: float) -> GalleryView:
        """The gallery as it is now, read once (a frame keeps it to the end). Someone changed in it since the last
        read: the tracks of people erased end, the tracks named someone changed are unnamed (``follow_gallery``)."""
        view, before = self.identifier.view, self._view
        self._view = view
        if view.revision != before.revision:
            ended, events = follow_gallery(self.tracks, view.changed_since(before.revision), now, view.terms,
                                           self.publisher)
            if ended:
                self.latest = None  # the live view's last frame showed them: none until the next one
                logger.info("camera %s: %d track(s) of erased people ended", self.camera.id, len(ended))
            self._publish(events)
        return view

    async def process(self, frame: Frame) -> None:
        view = self._follow_gallery(frame.time)
        main = self._main_size()
        if main != self._main:  # a sub-stream camera's boxes change pixels (its main stream opened): tracks end
            self._main = main
            self._publish(self.tracks.finish())
        recording = frame.source[0] if frame.source else None
        if recording != self._recording:  # a folder camera's next recording: no track goes on into it
            self._recording = recording
            self._publish(self.tracks.finish())
        if self.stats.analysed % self.detect_every and self.tracks.open:
            self._done(frame, self.tracks.follow(frame.video_time))
            return
        due = self._due(frame)
        if due is None:
            self._done(frame, [], idle=True)
            return
        started = time.perf_counter()
        image = await asyncio.to_thread(frame.rgb)  # converted off the loop, and only when detected
        frame = replace(frame, picture=image)  # the live view and the observers take it converted
        faces, info = await self._detect(frame, image, glance=due == HEARTBEAT)
        detected = time.perf_counter()
        self.tracks.note(info)
        plan = self.tracks.plan(info, faces)
        info, analysis, verdicts = await self._embed(info, faces.select(plan.embed), view) if plan.embed \
            else (info, None, [])
        embedded = time.perf_counter()
        tracked, events = self.tracks.update(info, faces, plan, analysis, verdicts, view.terms)
        self._publish(events)
        self.stats.faces += len(faces)
        self.stats.embedded += len(plan.embed)
        self._done(frame, tracked)
        self._time(("detect", detected - started), ("embed", embedded - detected),
                   ("frame", time.perf_counter() - started))

    async def _detect(self, frame: Frame, image: np.ndarray, glance: bool) -> tuple[Faces, FrameInfo]:
        """The frame's faces (``glance``: a quick look, a quiet camera's heartbeat), in the camera's pixels: a
        sub-stream camera's are its main stream's (once it has opened), kept decoding while faces are in view."""
        if self._main is None:
            faces = await self.executor.detect(image, glance=glance)
            return faces, FrameInfo(frame.time, frame.video_time, image, source=frame.source)
        zoom = self._zoom(frame)
        faces = (await self.executor.detect(image, min(zoom), glance)).scaled(zoom)
        if len(faces) or self.tracks.open:
            self.main.want(frame.video_time)
        return faces, FrameInfo(frame.time, frame.video_time, image, self._main)

    def _main_size(self) -> tuple[int, int] | None:
        """A sub-stream camera's main stream's width and height (None: a single-stream camera, or a main stream
        not yet opened: the camera then runs on its sub-stream alone)."""
        return self.main.size if self.main is not None else None

    def _zoom(self, frame: Frame) -> tuple[float, float]:
        """The main stream's pixels per pixel of the frame (a sub-stream's)."""
        return self._main[0] / frame.size[0], self._main[1] / frame.size[1]

    async def _embed(self, info: FrameInfo, chosen: Faces,
                     view: GalleryView) -> tuple[FrameInfo, Analysis, list[Verdict]]:
        """The chosen faces embedded and judged by the frame's ``view`` (both on the embedding lane): a sub-stream
        camera's from its main stream's frame of the same moment (which then becomes the frame), or, that not
        coming in time, from the sub-stream's own frame."""
        if info.size is None:
            return info, *await self.executor.embed(info.image, chosen, view.verdicts)
        image = await self.main.frame_at(info.clock, MAIN_WAIT)
        if image is not None:
            self.stats.from_main += 1
            return FrameInfo(info.time, info.clock, image), *await self.executor.embed(image, chosen, view.verdicts)
        self.stats.main_missed += 1
        shrink = info.image.shape[1] / info.size[0], info.image.shape[0] / info.size[1]
        analysis, verdicts = await self.executor.embed(info.image, chosen.scaled(shrink), view.verdicts)
        return info, replace(analysis, faces=chosen), verdicts

    def _due(self, frame: Frame) -> str | None:
        """Why the frame goes to detection (the activity gate's say), or None: it does not."""
        if self.gate is None or frame.thumb is None:
            return TRACKING
        return self.gate.update(frame.thumb, frame.video_time, self.tracks.open > 0)

    def _publish(self, events) -> None:
        for event in events:
            self.publisher.publish(event)
            if self.on_event is not None:
                self.on_event(event)
        for sighting in self.tracks.outbox.take_sightings():
            if self.sightings is not None:
                self.sightings.put(sighting)

    def _done(self, frame: Frame, faces: list[TrackedFace], idle: bool = False) -> None:
        """``idle``: the activity gate left the frame undetected (its latency is not the camera's lag)."""
        latency = time.time() - frame.time
        self.stats.analysed += 1
        self.stats.idle += idle
        if not idle:
            self.stats.latency.append(latency)
        self.stats.done_at.append(time.monotonic())
        self.latest = frame, self._in_frame(frame, faces)
        for observer in self.observers:
            observer(self.camera.id, frame, faces, latency)

    def _in_frame(self, frame: Frame, faces: list[TrackedFace]) -> list[TrackedFace]:
        """The faces with their boxes in the frame's own pixels (a sub-stream camera's are in its main stream's)."""
        if self._main is None:
            return faces
        zoom = self._zoom(frame)
        shrink = np.float32([1 / zoom[0], 1 / zoom[1]] * 2)
        return [replace(f, box=f.box * shrink) for f in faces]

    def _time(self, *stages: tuple[str, float]) -> None:
        if self.stage_seconds is not None:
            for stage, seconds in stages:
                self.stage_seconds.labels(self.camera.id, stage).observe(seconds)


def follow_gallery(tracks: CameraTracks, changed: set[int] | None, now: float, terms: GalleryTerms,
                   publisher: EventPublisher) -> tuple[list[int], list[Event]]:
    """The gallery changed ``changed`` (None: anyone) and is now ``terms``: ``CameraTracks.forget``; the tracks
    that ended (of people erased) are tombstoned, so that no event of theirs is written from then on and those
    written are swept. Returns the ended tracks' ids and the events to publish."""
    ended, events = tracks.forget(changed, now, terms)
    if ended:
        publisher.tombstone(tracks.camera_id, tracks.outbox.run, set(ended))
    return ended, events
