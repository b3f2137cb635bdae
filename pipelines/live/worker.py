"""One camera's analysis loop on the event loop: frames in, tracks, identities and events out.

Per analysed frame: detect (model executor) -> match boxes to tracks -> embed only the faces
that need it (new tracks, unnamed tracks, or a named track whose face beats its best by
``reembed_gain``) -> update the tracker -> the gallery's verdict on each embedded face ->
each track's identity evidence -> events.
"""

from __future__ import annotations

import base64
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from gallery.identify import Identifier
from pipelines.events.publisher import EventPublisher
from pipelines.live.executor import ModelExecutor
from pipelines.live.sources import Frame, Mailbox
from pipelines.prometheus import Metrics
from tracker.config import CameraConfig, EventsConfig, TrackingConfig
from tracker.events import Event
from tracker.face.quality import face_weight, frontal_score
from tracker.track.identity import UNKNOWN, Observation, TrackIdentity
from tracker.track.tracking import FaceTracker, Track

logger = logging.getLogger(__name__)


@dataclass
class _TrackState:
    identity: TrackIdentity
    crop: str | None = None  # best face crop, JPEG base64
    crop_weight: float = -1.0
    first_time: float = 0.0  # capture time of the track's first and latest face
    last_time: float = 0.0
    embedded_at: float = -1e9  # frame time (tracker clock) of its latest embedding


@dataclass
class CameraStats:
    analysed: int = 0
    faces: int = 0
    embedded: int = 0
    skipped: int = 0  # frames over the analysis rate
    tracks: int = 0
    followed: int = 0  # frames between detections (pipeline.detect_every)
    latency: deque[float] = field(default_factory=lambda: deque(maxlen=50))  # capture to decision, seconds
    done_at: deque[float] = field(default_factory=lambda: deque(maxlen=50))  # monotonic time of recent frames

    def lag(self) -> float:
        """Median capture-to-decision seconds of the recent frames."""
        return float(np.median(self.latency)) if self.latency else 0.0

    def fps(self, window: float = 5.0) -> float:
        """Frames analysed per second over the last ``window`` seconds."""
        now = time.monotonic()
        return sum(1 for t in self.done_at if now - t <= window) / window


@dataclass(frozen=True)
class TrackView:
    """A track as the HTTP side shows it."""

    id: int
    box: list[float]
    name: str
    identity_id: int | None
    since: float
    last_seen: float
    crop_jpeg: str | None


def face_region(image: np.ndarray, box: np.ndarray, margin: float = 0.4) -> np.ndarray:
    """The face's box grown by ``margin`` of its size on every side, clipped to the image."""
    x1, y1, x2, y2 = box
    dx, dy = (x2 - x1) * margin, (y2 - y1) * margin
    h, w = image.shape[:2]
    left, top = max(0, int(x1 - dx)), max(0, int(y1 - dy))
    right, bottom = min(w, int(x2 + dx) + 1), min(h, int(y2 + dy) + 1)
    return image[top:bottom, left:right]


class CameraWorker:
    def __init__(self, camera: CameraConfig, mailbox: Mailbox, executor: ModelExecutor, identifier: Identifier,
                 tracking: TrackingConfig, events: EventsConfig, publisher: EventPublisher,
                 metrics: Metrics | None = None, detect_every: int = 1) -> None:
        self.camera = camera
        self.mailbox = mailbox
        self.executor = executor
        self.identifier = identifier
        self.tracking = tracking
        self.events = events
        self.publisher = publisher
        self.tracker = FaceTracker(tracking.min_iou, tracking.max_age,
                                   tracking.reid_share * identifier.threshold)
        self.states: dict[int, _TrackState] = {}
        self.present: dict[int, dict[int, float]] = {}  # identity -> {track id: since}
        self.stats = CameraStats()
        self.metrics = metrics
        self.detect_every = detect_every
        self.on_frame: Callable[[Frame, np.ndarray, float], None] | None = None  # (frame, face boxes, latency)
        self._frames = 0
        self.latest: Frame | None = None  # the newest analysed frame and its faces' tracks, for the live view
        self.latest_tracks: list[tuple[np.ndarray, int]] = []

    async def run(self) -> None:
        next_due = -1.0
        while (frame := await self.mailbox.get()) is not None:
            if frame.video_time < next_due:
                self.stats.skipped += 1
                continue
            next_due = frame.video_time + 1.0 / self.camera.fps - 1e-6
            await self.process(frame)
        self.finish()

    def finish(self) -> None:
        """The camera stopped: every open track ends."""
        for track in self.tracker.end_all():
            self._ended(track)

    async def process(self, frame: Frame) -> None:
        t = frame.video_time
        self._frames += 1
        if self._frames % self.detect_every != 1 % self.detect_every and self.tracker.tracks:
            self._follow(frame)
            return
        started = time.perf_counter()
        faces = await self.executor.detect(frame.image)
        detected = time.perf_counter()
        known = self.tracker.match(t, faces.boxes)
        proxy = face_weight(faces.sizes, frontal_score(faces.landmarks))
        need = [d for d in range(len(faces)) if self._wants_embedding(known.get(d), float(proxy[d]), t)]
        embeddings = np.full((len(faces), self.identifier.index_dim), np.nan, np.float32)
        analysis = None
        if need:
            analysis = await self.executor.embed(frame.image, faces.select(need))
            embeddings[need] = analysis.embeddings
        embedded = time.perf_counter()
        step = self.tracker.update(t, faces, embeddings, proxy)
        for track in step.started:
            self.stats.tracks += 1
            self.states[track.id] = _TrackState(TrackIdentity(self.identifier.threshold, self.identifier.margin,
                                                              self.tracking.resolve, self.tracking.dominance),
                                                first_time=frame.time)
            self._publish("track.started", track.id, frame.time, box=track.box.tolist())
        for track_id in step.track_ids:
            self.states[int(track_id)].last_time = frame.time
        if analysis is not None:
            for d in need:
                self.states[int(step.track_ids[d])].embedded_at = t
            self._observe(frame, analysis, [int(step.track_ids[d]) for d in need])
        for track in step.ended:
            self._ended(track)
        self.stats.analysed += 1
        self.stats.faces += len(faces)
        self.stats.embedded += len(need)
        self._done(frame, [(faces.boxes[d], int(step.track_ids[d])) for d in range(len(faces))])
        if self.metrics:
            for stage, seconds in (("detect", detected - started), ("embed", embedded - detected),
                                   ("frame", time.perf_counter() - started)):
                self.metrics.stage_seconds.labels(self.camera.id, stage).observe(seconds)

    def _follow(self, frame: Frame) -> None:
        """A frame between detections: the open tracks move on at their velocity, nothing is detected."""
        self.stats.followed += 1
        self._done(frame, [(track.predicted(frame.video_time), track.id) for track in self.tracker.tracks.values()])

    def _done(self, frame: Frame, tracks: list[tuple[np.ndarray, int]]) -> None:
        latency = time.time() - frame.time
        self.stats.latency.append(latency)
        self.stats.done_at.append(time.monotonic())
        self.latest, self.latest_tracks = frame, tracks
        if self.on_frame:
            self.on_frame(frame, np.array([box for box, _ in tracks], np.float32).reshape(-1, 4), latency)

    def tracks(self) -> list[TrackView]:
        """The open tracks, as last seen."""
        views = []
        for track in self.tracker.tracks.values():
            state = self.states.get(track.id)
            if state is None:
                continue
            who = state.identity.identity
            views.append(TrackView(track.id, [round(float(v), 1) for v in track.box], self._name(who),
                                   who if who != UNKNOWN else None, state.first_time, state.last_time, state.crop))
        return views

    def view(self) -> np.ndarray | None:
        """The newest analysed frame with its faces' boxes, track ids and names drawn (RGB)."""
        from pipelines.annotate import draw_boxes

        frame, tracks = self.latest, self.latest_tracks
        if frame is None:
            return None
        labels = []
        for box, track_id in tracks:
            state = self.states.get(track_id)
            who = state.identity.identity if state else UNKNOWN
            labels.append((box, f"#{track_id} {self._name(who)}", who != UNKNOWN))
        return draw_boxes(frame.image, labels)

    def _name(self, identity: int | None) -> str:
        if identity is None or identity == UNKNOWN:
            return "unknown"
        return self.identifier.names.get(identity, "unknown")

    def _wants_embedding(self, track_id: int | None, proxy: float, t: float) -> bool:
        """Which faces to embed: new tracks; unnamed tracks with some evidence for someone (every frame, to name
        them soon); unnamed tracks that matched no one (every ``unknown_interval``); any track whose face improves."""
        if track_id is None:
            return True
        track, state = self.tracker.tracks[track_id], self.states[track_id]
        if proxy > track.best_quality * self.tracking.reembed_gain:
            return True
        if state.identity.identity != UNKNOWN:
            return False
        return bool(state.identity.evidence) or t - state.embedded_at >= self.tracking.unknown_interval

    def _observe(self, frame: Frame, analysis, track_ids: list[int]) -> None:
        matches = self.identifier.match(analysis.embeddings)
        q = analysis.quality
        weights = face_weight(q.size, q.frontal, q.sharpness)
        for i, track_id in enumerate(track_ids):
            state = self.states[track_id]
            if weights[i] > state.crop_weight:
                state.crop_weight = float(weights[i])
                state.crop = self._jpeg(face_region(frame.image, analysis.faces.boxes[i]))
            previous = state.identity.identity
            decision = state.identity.observe(Observation(int(matches.nearest[i]), float(matches.distance[i]),
                                                          float(matches.margin[i]), float(weights[i])))
            if decision:
                box = [round(float(v), 1) for v in analysis.faces.boxes[i]]
                self._publish(f"identity.{decision}", track_id, frame.time, box=box,
                              distance=float(matches.distance[i]), margin=float(matches.margin[i]))
                self._leave(previous, track_id, frame.time)
                self._enter(state.identity.identity, track_id, frame.time, since=state.first_time)

    def _ended(self, track: Track) -> None:
        """A track ends: its event carries the time it was last seen and how long it was in view."""
        state = self.states.pop(track.id, None)
        if state is None:
            return
        identity = state.identity.identity
        best = state.identity.best_score if identity != UNKNOWN else None
        self._publish("track.ended", track.id, state.last_time, state=state, box=track.box.tolist(),
                      dwell_seconds=round(state.last_time - state.first_time, 3), best_distance=best)
        self._leave(identity, track.id, state.last_time)

    def _enter(self, identity: int, track_id: int, now: float, since: float) -> None:
        """``identity`` is in view on ``track_id`` (seen since ``since``); the first such track is an entry."""
        if identity == UNKNOWN:
            return
        tracks = self.present.setdefault(identity, {})
        if not tracks:
            self._publish("person.entered", track_id, now, identity=identity)
        tracks[track_id] = since

    def _leave(self, identity: int, track_id: int, now: float) -> None:
        tracks = self.present.get(identity)
        if identity == UNKNOWN or not tracks or track_id not in tracks:
            return
        since = min(tracks.values())
        del tracks[track_id]
        if not tracks:
            del self.present[identity]
            self._publish("person.left", track_id, now, identity=identity, dwell_seconds=round(now - since, 3))

    def _publish(self, kind: str, track_id: int, frame_time: float, state: _TrackState | None = None,
                 identity: int | None = None, **fields) -> None:
        state = state or self.states.get(track_id)
        if identity is None and state is not None:
            identity = state.identity.identity
        named = identity is not None and identity != UNKNOWN
        self.publisher.publish(Event(
            type=kind, camera=self.camera.id, track_id=track_id, frame_time=frame_time,
            identity_id=identity if named else None,
            name=self._name(identity),
            model_id=self.identifier.model_id, crop_jpeg=state.crop if state else None, **fields,
        ))

    def _jpeg(self, rgb: np.ndarray) -> str | None:
        if not self.events.crop_max_bytes:
            return None
        for quality in (90, 75, 50):
            ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
            if ok and len(data) <= self.events.crop_max_bytes:
                return base64.b64encode(data.tobytes()).decode()
        return None
