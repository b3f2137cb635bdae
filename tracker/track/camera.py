"""One camera's rules, pure and synchronous: which faces to embed, and what events a frame makes.

``CameraTracks`` owns the camera's tracks (``FaceTracker``), each track's identity evidence
(``TrackIdentity``), its best face crop, and who is in view. It reads no clock and does no
I/O: the caller awaits the models, then hands the results in and publishes the events that
come out. Per analysed frame:

1. ``plan(frame, faces)``: note a shot cut, match the detected boxes to tracks and choose the
   faces to embed: new tracks; unnamed tracks with some evidence for someone (every frame, to
   name them soon); unnamed tracks that matched no one (every ``unknown_interval``, doubling
   with each embedding in a row that matches no one, up to 8 times); named
   tracks that did not agree on the previous analysed frame, whose box jumped, or whose box touches
   another face or track (and once more when they come apart); any track back after a detected
   frame without its face (someone else may have walked into its place); any track whose face
   beats its best by ``reembed_gain``; every face after a cut.
2. ``update(frame, faces, plan, analysis, verdicts)``: an embedded face that disagrees with
   its track goes to the open track it is as close to as a lost track must be to be re-joined
   (swapped tracks go back), else to a new track, and the track it left ends; the tracks move
   on; the gallery's verdict on each embedded face adds its calibrated evidence to the track's
   sequential test (``identity.py``); events come back.
3. The faces come back with their names where the name has evidence (``_tracked``): the
   track's face agreed on this detected frame, or on the one before with no cut between.
"""

from __future__ import annotations

import json
import logging
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tracker.config import TrackingConfig
from tracker.events import Event, EventType
from tracker.face.quality import face_weight, frontal_score
from tracker.faces import Faces
from tracker.images import blurred_jpeg_base64, face_region, jpeg_base64
from tracker.track.cuts import CutDetector
from tracker.track.identity import UNKNOWN, TrackIdentity
from tracker.track.presence import Presence
from tracker.track.schedule import EmbeddingSchedule
from tracker.track.sighting import BestFaces, Sighting

if TYPE_CHECKING:  # annotations only: the tracker's rules need no torch
    from tracker.face.analyzer import Analysis
from tracker.track.splitting import Splitter
from tracker.track.state import FrameInfo, FramePlan, TrackState, Verdict
from tracker.track.tracking import FaceTracker, Track
from tracker.track.zones import Zones

logger = logging.getLogger(__name__)  # DEBUG: each naming decision and each ended track, with why (JSON)


@dataclass(frozen=True)
class TrackView:
    """An open track as the HTTP side shows it."""

    id: int
    box: list[float]
    name: str
    identity_id: int | None
    since: float
    last_seen: float
    crop_jpeg: str | None


@dataclass(frozen=True)
class TrackedFace:
    """A face of an analysed frame: its box, its track, and the track's name (None: unknown)."""

    box: np.ndarray  # (4,) x1 y1 x2 y2, frame pixels
    track_id: int
    name: str | None

    def label(self) -> str:
        return f"#{self.track_id} {self.name or 'unknown'}"


class CameraTracks:
    def __init__(self, camera_id: str, tracking: TrackingConfig, threshold: float, margin: float, model_id: str,
                 name_of: Callable[[int], str], crop_max_bytes: int, scale: float, sighting_faces: int = 0,
                 keep_named: bool = False, blur_unknown: bool = False, first_track_id: int = 1,
                 video: bool = False, zones: Zones | None = None) -> None:
        """``threshold``: the gallery's threshold in force; ``scale``: the embedder's own (LFW) threshold, the
        unit of its distances, in which ``tracking.split_share`` is given. ``sighting_faces``: the best faces
        an unknown track's sighting keeps (0: no sightings); ``keep_named``: named tracks leave one too;
        ``blur_unknown``: the events of a track not (yet) named carry its face crop blurred; ``first_track_id``:
        where track ids start (unique across workers); ``video``: the camera is a video file, whose events carry
        the frame's position in it (``video_time``: the tracker clock); ``zones``: the camera's zones, which
        events name and which people enter and leave one by one."""
        self.video = video
        self.run = uuid.uuid4().hex[:16]  # this run of the camera: (camera, run, track id) names one track
        self.zones = zones or Zones({})
        self._zone_presence = {name: Presence() for name in self.zones.polygons}
        self._in_zones: dict[int, set[str]] = {}  # track id -> the zones its named face is in
        self._frame_size = (1, 1)
        self.camera_id = camera_id
        self.tracking = tracking
        self.margin = margin
        self.schedule = EmbeddingSchedule(tracking)
        self.splitter = Splitter(tracking.split_share * scale, margin)
        self.presence = Presence()
        self.bound = math.log(1000.0)  # the latest verdicts' (the gallery's) bound
        self.model_id = model_id
        self.name_of = name_of
        self.crop_max_bytes = crop_max_bytes
        self.sighting_faces = sighting_faces
        self.keep_named = keep_named
        self.blur_unknown = blur_unknown
        self._sightings: list[Sighting] = []
        self.tracker = FaceTracker(tracking.min_iou, tracking.max_age, tracking.reid_share * threshold,
                                   first_id=first_track_id)
        self.states: dict[int, TrackState] = {}
        self.started = 0  # tracks started since the camera started
        self.splits = 0  # tracks ended because a face did not agree with them
        self._cuts = CutDetector(tracking.cut_hard, tracking.cut_soft, tracking.cut_ratio)
        self._events: list[Event] = []
        self._previous = -np.inf  # the clock of the detected frame before the latest
        self._clock = -np.inf  # the latest detected frame's
        self._cut = False  # whether the latest detected frame was a cut

    @property
    def cuts(self) -> int:
        return self._cuts.cuts

    @property
    def open(self) -> int:
        return len(self.tracker.tracks)

    def plan(self, frame: FrameInfo, faces: Faces) -> FramePlan:
        """Which of this frame's faces to embed; notes a shot cut."""
        t, cut = frame.clock, self._cuts.update(frame.image)
        self._previous, self._clock, self._cut = self._clock, t, cut
        known = self.tracker.match(t, faces.boxes)
        proxy = face_weight(faces.sizes, frontal_score(faces.landmarks))
        embed, touching = self.schedule.choose(t, self._previous, faces, known, proxy, cut, self.tracker.tracks,
                                               self.states)
        return FramePlan(proxy, embed, known, cut, touching)

    def update(self, frame: FrameInfo, faces: Faces, plan: FramePlan, analysis: Analysis | None,
               verdicts: list[Verdict]) -> tuple[list[TrackedFace], list[Event]]:
        """Advance by one analysed frame; returns its faces with their tracks and names, and the events it made.

        ``analysis`` holds the faces ``plan.embed`` chose (None: none), ``verdicts`` the gallery's on each.
        """
        embeddings = None  # (n, d), NaN rows for the faces not embedded
        self._frame_size = frame.box_size()
        if analysis is not None:
            embeddings = np.full((len(faces), analysis.embeddings.shape[1]), np.nan, np.float32)
            embeddings[plan.embed] = analysis.embeddings
        if verdicts:  # a lost track is re-joined within a share of the threshold in force
            self.tracker.reid_distance = self.tracking.reid_share * verdicts[0].threshold
            self.bound = verdicts[0].bound
        fixed = self._split(plan, analysis, verdicts) if analysis is not None else {}
        step = self.tracker.update(frame.clock, faces, embeddings, plan.quality, fixed)
        for track in step.started:
            self._start(track, frame.time)
        for track_id in step.track_ids:
            self.states[int(track_id)].last_time = frame.time
            self.states[int(track_id)].last_clock = frame.clock
        if analysis is not None:
            track_ids = [int(step.track_ids[d]) for d in plan.embed]
            for track_id in track_ids:
                self.states[track_id].embedded_at = frame.clock
            self._observe(frame, analysis, track_ids, verdicts)
        for track in step.ended:
            self._ended(track)
        if self.zones:
            self._zone_step(faces, step.track_ids, frame.time)
        return [self._tracked(faces.boxes[d], int(step.track_ids[d])) for d in range(len(faces))], self._take_events()

    def _zone_step(self, faces: Faces, track_ids: np.ndarray, now: float) -> None:
        """Each named track's face in or out of each zone: ``person.entered`` / ``left`` with ``zone`` set, the
        first of a person's tracks to enter a zone and the last to leave it."""
        for d, track_id in enumerate(int(t) for t in track_ids):
            state = self.states.get(track_id)
            who = state.identity.identity if state else UNKNOWN
            now_in = set(self.zones.of(faces.boxes[d], *self._frame_size)) if who != UNKNOWN else set()
            before = self._in_zones.get(track_id, set())
            for zone in sorted(before - now_in):
                self._leave_zone(zone, who, track_id, now)
            for zone in sorted(now_in - before):
                if self._zone_presence[zone].enter(who, track_id, now):
                    self._event("person.entered", track_id, now, identity=who, zone=zone)
            self._in_zones[track_id] = now_in

    def _leave_zone(self, zone: str, identity: int, track_id: int, now: float, of_track: bool = True) -> None:
        dwell = self._zone_presence[zone].leave(identity, track_id, now)
        if dwell is not None:
            self._event("person.left", track_id if of_track else None, now, identity=identity, zone=zone,
                        dwell_seconds=round(dwell, 3))

    def follow(self, t: float) -> list[TrackedFace]:
        """A frame between detections: each open track's box moved on at its velocity to ``t``."""
        return [self._tracked(track.predicted(t), track.id) for track in self.tracker.tracks.values()]

    def _tracked(self, box: np.ndarray, track_id: int) -> TrackedFace:
        """A face with its name where the name has evidence: the track's face agreed with it on this detected
        frame, or on the one before with no cut between. Elsewhere the face shows no name, the track keeps it."""
        state = self.states.get(track_id)
        who = state.identity.identity if state else UNKNOWN
        shown = state is not None and who != UNKNOWN and (
            state.agreed_at == self._clock or (state.agreed_at == self._previous and not self._cut))
        return TrackedFace(box, track_id, self._name(who) if shown else None)

    def finish(self) -> list[Event]:
        """The camera stopped: every open track ends."""
        for track in self.tracker.end_all():
            self._ended(track)
        return self._take_events()

    def erase(self, identities: set[int]) -> list[int]:
        """The gallery erased these people: each open track that carries one of them (named them, now or before)
        ends at once and in silence: no event of it follows (what it published named them, and is erased from
        the Stream with them), its crops and best faces go, it leaves no sighting, and its face is a new track
        (a new id) on the next frame it is detected on; when it names someone else now, they leave (``person.left``
        of no track, with the next frame's events). Returns the ended tracks' ids."""
        ended = [track_id for track_id, state in self.states.items() if state.carried & identities]
        for track_id in ended:
            state = self.states.pop(track_id)
            self.tracker.end(track_id)
            who = state.identity.identity
            if who != UNKNOWN and who not in identities:  # named someone else now: they leave, as of no track
                self._leave(who, track_id, state.last_time, of_track=False)
                continue
            for zone in self._in_zones.pop(track_id, set()):
                self._zone_presence[zone].leave(who, track_id, 0.0)
            self.presence.leave(who, track_id, 0.0)
        return ended

    def forget(self, identities: set[int] | None, now: float) -> list[Event]:
        """The gallery changed these people (None: anyone): renamed, a face rejected as not them, faces added (the
        tracks of people erased are ended first: ``erase``). A track named one of them is unnamed at once
        (``identity.changed`` to unknown) and embedded on its next frame, so a name stands only on evidence against
        the gallery as it is now."""
        for track_id, state in self.states.items():
            who = state.identity.identity
            if who == UNKNOWN or (identities is not None and who not in identities):
                continue
            state.identity.forget(who)
            state.agreed_at = -1e9
            box = self.tracker.tracks[track_id].box.tolist()
            self._event("identity.changed", track_id, now, identity=UNKNOWN, box=box)
            self._leave(who, track_id, now)
        return self._take_events()

    def explain(self, track_id: int) -> dict | None:
        """Why an open track is (not) named: its evidence per identity, the bound, its latest observations."""
        state = self.states.get(track_id)
        if state is None:
            return None
        why = state.identity.explain()

        def by_name(evidence: dict[int, float]) -> dict[str, float]:
            return {self._name(k): v for k, v in evidence.items()}

        return {"track": track_id, **why, "name": self._name(why["identity"]), "evidence": by_name(why["evidence"]),
                "observations": [{**o, "nearest": self._name(o["nearest"]), "evidence": by_name(o["evidence"])}
                                 for o in why["observations"]]}

    def views(self) -> list[TrackView]:
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

    def _name(self, identity: int | None) -> str:
        if identity is None or identity == UNKNOWN:
            return "unknown"
        return self.name_of(identity)

    def _split(self, plan: FramePlan, analysis: Analysis, verdicts: list[Verdict]) -> dict[int, int | None]:
        """Faces that do not fit their track leave it (``splitting.py``); the tracks they leave for good end.
        Returns the faces' new tracks (None: a new one) for the tracker."""
        moved, ended = self.splitter.decide(plan, analysis.embeddings, verdicts, self.tracker.tracks, self.states,
                                            self.tracker.reid_distance)
        for own in ended:  # someone new took its place
            self.splits += 1
            self._ended(self.tracker.end(own))
        return moved

    def _start(self, track: Track, now: float) -> None:
        self.started += 1
        identity = TrackIdentity(self.bound)
        self.states[track.id] = TrackState(identity, first_time=now, best=BestFaces(self.sighting_faces))
        self._event("track.started", track.id, now, box=track.box.tolist())

    def _observe(self, frame: FrameInfo, analysis: Analysis, track_ids: list[int], verdicts: list[Verdict]) -> None:
        q = analysis.quality
        weights = face_weight(q.size, q.frontal, q.sharpness)
        for i, (track_id, seen) in enumerate(zip(track_ids, verdicts, strict=True)):
            state = self.states[track_id]
            if weights[i] > state.crop_weight:
                self._take_crop(state, frame, analysis.faces.boxes[i], float(weights[i]))
            if state.identity.identity == UNKNOWN or self.keep_named:  # a named track never ends unknown
                quality = {"size": float(q.size[i]), "sharpness": float(q.sharpness[i]),
                           "frontal": float(q.frontal[i])}
                state.best.offer(frame.image, frame.in_image(analysis.faces.landmarks[i]), quality,
                                 analysis.embeddings[i], frame.time, float(weights[i]))
            previous = state.identity.identity
            # Evidence is discounted by pose alone: strangers' faces fall within a distance no more often when
            # small or blurred (LFW measured at 26-48 px), about twice as often when turned.
            seen_here = seen.observation(float(q.frontal[i]), frame.time, self._cut)
            state.misses = 0 if seen_here.evidence > 0 else state.misses + 1
            decision = state.identity.observe(seen_here, seen.bound)
            if state.identity.agrees(seen_here):
                state.agreed_at = frame.clock
            if decision:
                if state.carried - {state.identity.identity}:  # the best face so far was shown as someone else's
                    state.blurred = None
                    self._take_crop(state, frame, analysis.faces.boxes[i], float(weights[i]))
                state.carried.add(state.identity.identity)
                kind: EventType = "identity.resolved" if decision == "resolved" else "identity.changed"
                self._log_why(kind, track_id)
                box = [round(float(v), 1) for v in analysis.faces.boxes[i]]
                self._event(kind, track_id, frame.time, box=box, distance=seen.distance,
                            margin=seen.margin)
                self._leave(previous, track_id, frame.time)
                self._enter(state.identity.identity, track_id, frame.time, since=state.first_time)

    def _take_crop(self, state: TrackState, frame: FrameInfo, box: np.ndarray, weight: float) -> None:
        """The face in ``box`` becomes the track's best (its crop, and blurred when unknown tracks' are)."""
        state.crop_weight = weight
        state.crop = self._crop(frame.image, frame.in_image(box))
        if self.blur_unknown and state.crop:
            state.blurred = blurred_jpeg_base64(state.crop, self.crop_max_bytes)

    def _crop(self, image: np.ndarray, box: np.ndarray) -> str | None:
        if not self.crop_max_bytes:
            return None
        return jpeg_base64(face_region(image, box), self.crop_max_bytes)

    def _log_why(self, what: str, track_id: int) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s", json.dumps({"camera": self.camera_id, "event": what, **(self.explain(track_id) or {})}))

    def _ended(self, track: Track) -> None:
        """A track ends: its event carries the time it was last seen and how long it was in view."""
        if track.id in self.states:
            self._log_why("track.ended", track.id)
        state = self.states.pop(track.id, None)
        if state is None:
            return
        identity = state.identity.identity
        best = state.identity.best_distance if identity != UNKNOWN else None
        self._event("track.ended", track.id, state.last_time, state=state, box=track.box.tolist(),
                    dwell_seconds=round(state.last_time - state.first_time, 3), best_distance=best)
        self._leave(identity, track.id, state.last_time)
        if state.best.faces and (identity == UNKNOWN or self.keep_named):
            self._sightings.append(Sighting(self.camera_id, track.id, state.first_time, state.last_time,
                                            self.model_id, state.best.faces,
                                            None if identity == UNKNOWN else identity))

    def take_sightings(self) -> list[Sighting]:
        """The sightings of the tracks that ended since the last call."""
        sightings, self._sightings = self._sightings, []
        return sightings

    def _enter(self, identity: int, track_id: int, now: float, since: float) -> None:
        """``identity`` is in view on ``track_id`` (seen since ``since``); the first such track is an entry."""
        if self.presence.enter(identity, track_id, since):
            self._event("person.entered", track_id, now, identity=identity)

    def _leave(self, identity: int, track_id: int, now: float, of_track: bool = True) -> None:
        """``of_track``: the events name the track (not when it ended in silence, tombstoned)."""
        for zone in sorted(self._in_zones.pop(track_id, set())):
            self._leave_zone(zone, identity, track_id, now, of_track)
        dwell = self.presence.leave(identity, track_id, now)
        if dwell is not None:
            self._event("person.left", track_id if of_track else None, now, identity=identity,
                        dwell_seconds=round(dwell, 3))

    def _event(self, kind: EventType, track_id: int | None, frame_time: float, state: TrackState | None = None,
               identity: int | None = None, **fields) -> None:
        state = state or (self.states.get(track_id) if track_id is not None else None)
        if identity is None and state is not None:
            identity = state.identity.identity
        named = identity is not None and identity != UNKNOWN
        if self.zones and fields.get("box") is not None:
            fields["zones"] = self.zones.of(fields["box"], *self._frame_size)
        clock = state.last_clock if kind == "track.ended" and state is not None else self._clock
        self._events.append(Event(
            type=kind, camera=self.camera_id, track_id=track_id, run=self.run, frame_time=frame_time,
            video_time=round(float(clock), 3) if self.video and np.isfinite(clock) else None,
            identity_id=identity if named else None, name=self._name(identity), model_id=self.model_id,
            crop_jpeg=(state.crop if named or not self.blur_unknown else state.blurred) if state else None, **fields,
        ))

    def _take_events(self) -> list[Event]:
        events, self._events = self._events, []
        return events
