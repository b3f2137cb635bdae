"""One camera's rules, pure and synchronous: which faces to embed, and what events a frame makes.

``CameraTracks`` coordinates the camera's tracks (``FaceTracker``), each track's identity evidence
(``TrackIdentity``) and best faces, who is in view and in which zone (``CameraPresence``) and the events
(``Outbox``). It reads no clock and does no I/O: the caller awaits the models, then hands the results in,
with the gallery as it read it once for the frame (``GalleryTerms``), and publishes the events that come out.
Per analysed frame:

1. ``note(frame)``: the frame's clock, and whether it is a shot cut.
2. ``plan(frame, faces)``, a query: match the detected boxes to tracks and choose the faces to embed
   (``schedule.py``): new tracks; unnamed tracks with some evidence for someone (every frame);
   unnamed tracks that matched no one (every ``unknown_interval``, doubling with each miss in a row,
   up to 8 times); named tracks that did not agree on the previous analysed frame, whose box jumped,
   or whose box touches another face or track (and once more when they come apart); any track back
   after a detected frame without its face; any track whose face beats its best by ``REEMBED_GAIN``;
   every face after a cut.
3. ``update(frame, faces, plan, analysis, verdicts, gallery)``: an embedded face that disagrees with
   its track goes to the open track it is as close to as a lost track must be to be re-joined
   (swapped tracks go back), else to a new track, and the track it left ends (``splitting.py``); the
   tracks move on; the gallery's verdict on each embedded face adds its calibrated evidence to the
   track's sequential test (``identity.py``); events come back.
4. The faces come back with their names where the name has evidence (``_tracked``): the
   track's face agreed on this detected frame, or on the one before with no cut between.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

import numpy as np

from tracker.events import Event, EventType
from tracker.face.quality import face_weight, frontal_score
from tracker.faces import Faces
from tracker.track.cuts import CutDetector
from tracker.track.identity import UNKNOWN, TrackIdentity
from tracker.track.outbox import Outbox
from tracker.track.presence import CameraPresence, Move
from tracker.track.schedule import EmbeddingSchedule
from tracker.track.sighting import BestFaces, Sighting
from tracker.track.splitting import Splitter
from tracker.track.state import (
    CameraRules,
    FrameInfo,
    FramePlan,
    GalleryTerms,
    TrackedFace,
    TrackState,
    TrackView,
    Verdict,
)
from tracker.track.tracking import FaceTracker, Track

if TYPE_CHECKING:  # annotations only: the tracker's rules need no torch
    from tracker.face.analyzer import Analysis

logger = logging.getLogger(__name__)  # DEBUG: each naming decision and each ended track, with why (JSON)
NO_GALLERY = GalleryTerms("none", threshold=0.0, margin=0.0)  # before the first frame: no track, no event yet


class CameraTracks:
    def __init__(self, *, camera_id: str, rules: CameraRules, first_track_id: int = 1) -> None:
        """``first_track_id``: where track ids start (unique across workers). The gallery comes with each frame."""
        self.camera_id = camera_id
        self.rules = rules
        tracking = rules.tracking
        self.gallery = NO_GALLERY  # as the latest frame (or change) read it
        self.schedule = EmbeddingSchedule(tracking)
        self.splitter = Splitter(rules.split_share * rules.scale)
        self.presence = CameraPresence(rules.zones)
        self.outbox = Outbox(camera_id, rules)
        self.tracker = FaceTracker(max_age=tracking.max_age, first_id=first_track_id)  # reid_distance: ``update``
        self.states: dict[int, TrackState] = {}
        self.started = 0  # tracks started since the camera started
        self.splits = 0  # tracks ended because a face did not agree with them
        self._sightings: list[Sighting] = []
        self._cuts = CutDetector(tracking.cut_hard)
        self._frame_size = (1, 1)  # the latest frame's, that of the tracks' boxes
        self._previous = -np.inf  # the clock of the detected frame before the latest
        self._clock = -np.inf  # the latest detected frame's
        self._cut = False  # whether the latest detected frame was a cut

    @property
    def run(self) -> str:
        return self.outbox.run

    @property
    def cuts(self) -> int:
        return self._cuts.cuts

    @property
    def open(self) -> int:
        return len(self.tracker.tracks)

    def note(self, frame: FrameInfo) -> None:
        """A detected frame: its clock, and whether it starts a new shot."""
        self._previous, self._clock, self._cut = self._clock, frame.clock, self._cuts.update(frame.image)

    def plan(self, frame: FrameInfo, faces: Faces) -> FramePlan:
        """Which of the ``note``d frame's faces to embed (a query: nothing changes)."""
        known = self.tracker.match(frame.clock, faces.boxes)
        proxy = face_weight(faces.sizes, frontal_score(faces.landmarks))
        embed, touching = self.schedule.choose(frame.clock, self._previous, faces, known, proxy, self._cut,
                                               self.tracker.tracks, self.states)
        return FramePlan(proxy, embed, known, self._cut, touching)

    def update(self, frame: FrameInfo, faces: Faces, plan: FramePlan, analysis: Analysis | None,
               verdicts: list[Verdict], gallery: GalleryTerms) -> tuple[list[TrackedFace], list[Event]]:
        """Advance by one analysed frame; returns its faces with their tracks and names, and the events it made.
        ``analysis`` holds the faces ``plan.embed`` chose (None: none), ``verdicts`` ``gallery``'s on each."""
        self.gallery, self._frame_size = gallery, frame.box_size()
        self.tracker.reid_distance = self.rules.tracking.reid_share * gallery.threshold
        for d, own in plan.known.items():  # a named track touching another is verified once more when apart
            state = self.states.get(own)
            if state is not None and state.identity.identity != UNKNOWN:
                state.touching = d in plan.touching
        embeddings = None  # (n, d), NaN rows for the faces not embedded
        if analysis is not None:
            embeddings = np.full((len(faces), analysis.embeddings.shape[1]), np.nan, np.float32)
            embeddings[plan.embed] = analysis.embeddings
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
        if self.rules.zones:
            self._place(faces, step.track_ids, frame.time)
        return [self._tracked(faces.boxes[d], int(step.track_ids[d])) for d in range(len(faces))], self.outbox.take()

    def follow(self, t: float) -> list[TrackedFace]:
        """A frame between detections: each open track's box moved on at its velocity to ``t``."""
        return [self._tracked(track.predicted(t), track.id) for track in self.tracker.tracks.values()]

    def finish(self) -> list[Event]:
        """The camera stopped: every open track ends."""
        for track in self.tracker.end_all():
            self._ended(track)
        return self.outbox.take()

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
                self._moved(self.presence.leave(who, track_id, state.last_time), None, state.last_time)
            else:
                self.presence.drop(who, track_id)
        return ended

    def forget(self, identities: set[int] | None, now: float, gallery: GalleryTerms) -> list[Event]:
        """The gallery changed these people (None: anyone) and is now ``gallery``: renamed, a face rejected as not
        them, faces added (the tracks of people erased are ended first: ``erase``). A track named one of them is
        unnamed at once (``identity.changed`` to unknown) and embedded on its next frame, so a name stands only on
        evidence against the gallery as it is now."""
        self.gallery = gallery
        for track_id, state in self.states.items():
            who = state.identity.identity
            if who == UNKNOWN or (identities is not None and who not in identities):
                continue
            state.identity.forget(who)
            state.agreed_at = -1e9
            box = self.tracker.tracks[track_id].box.tolist()
            self._event("identity.changed", track_id, now, identity=UNKNOWN, box=box)
            self._moved(self.presence.leave(who, track_id, now), track_id, now)
        return self.outbox.take()

    def explain(self, track_id: int) -> dict | None:
        """Why an open track is (not) named (None: no such track)."""
        state = self.states.get(track_id)
        return state.explain(track_id, self.gallery) if state is not None else None

    def views(self) -> list[TrackView]:
        """The open tracks, as last seen."""
        return [TrackView.of(t.id, t.box, self.states[t.id], self.gallery) for t in self.tracker.tracks.values()
                if t.id in self.states]

    def take_sightings(self) -> list[Sighting]:
        """The sightings of the tracks that ended since the last call."""
        sightings, self._sightings = self._sightings, []
        return sightings

    def _tracked(self, box: np.ndarray, track_id: int) -> TrackedFace:
        """A face with its name where the name has evidence: the track's face agreed with it on this detected
        frame, or on the one before with no cut between. Elsewhere the face shows no name, the track keeps it."""
        state = self.states.get(track_id)
        who = state.identity.identity if state else UNKNOWN
        shown = state is not None and who != UNKNOWN and (
            state.agreed_at == self._clock or (state.agreed_at == self._previous and not self._cut))
        return TrackedFace(box, track_id, self.gallery.name_of(who) if shown else None)

    def _split(self, plan: FramePlan, analysis: Analysis, verdicts: list[Verdict]) -> dict[int, int | None]:
        """Faces that do not fit their track leave it (``splitting.py``); the tracks they leave for good end.
        Returns the faces' new tracks (None: a new one) for the tracker."""
        moved, ended = self.splitter.decide(plan, analysis.embeddings, verdicts, self.tracker.tracks, self.states,
                                            self.gallery, self.tracker.reid_distance)
        for own in ended:  # someone new took its place
            self.splits += 1
            self._ended(self.tracker.end(own))
        return moved

    def _start(self, track: Track, now: float) -> None:
        self.started += 1
        identity = TrackIdentity(self.gallery.bound)
        self.states[track.id] = TrackState(identity, first_time=now, best=BestFaces(self.rules.sighting_faces))
        self._event("track.started", track.id, now, box=track.box.tolist())

    def _observe(self, frame: FrameInfo, analysis: Analysis, track_ids: list[int], verdicts: list[Verdict]) -> None:
        q = analysis.quality
        weights = face_weight(q.size, q.frontal, q.sharpness)
        for i, (track_id, seen) in enumerate(zip(track_ids, verdicts, strict=True)):
            state = self.states[track_id]
            previous = state.identity.identity
            decision = state.see(frame, analysis, i, float(weights[i]), seen, self.gallery, self.rules, self._cut)
            if decision:
                kind: EventType = "identity.resolved" if decision == "resolved" else "identity.changed"
                self._log_why(kind, track_id)
                box = [round(float(v), 1) for v in analysis.faces.boxes[i]]
                self._event(kind, track_id, frame.time, box=box, distance=seen.distance, margin=seen.margin)
                self._moved(self.presence.leave(previous, track_id, frame.time), track_id, frame.time)
                self._moved(self.presence.enter(state.identity.identity, track_id, state.first_time), track_id,
                            frame.time)

    def _log_why(self, what: str, track_id: int) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s", json.dumps({"camera": self.camera_id, "event": what, **(self.explain(track_id) or {})}))

    def _ended(self, track: Track) -> None:
        """A track ends: its event carries the time it was last seen and how long it was in view."""
        if track.id not in self.states:
            return
        self._log_why("track.ended", track.id)
        state = self.states.pop(track.id)
        identity = state.identity.identity
        best = state.identity.best_distance if identity != UNKNOWN else None
        self._event("track.ended", track.id, state.last_time, state=state, box=track.box.tolist(),
                    dwell_seconds=round(state.last_time - state.first_time, 3), best_distance=best)
        self._moved(self.presence.leave(identity, track.id, state.last_time), track.id, state.last_time)
        if sighting := state.sighting(self.camera_id, track.id, self.gallery.model_id, self.rules.keep_named):
            self._sightings.append(sighting)

    def _place(self, faces: Faces, track_ids: np.ndarray, now: float) -> None:
        """Each named track's face in or out of each zone."""
        for d, track_id in enumerate(int(t) for t in track_ids):
            state = self.states.get(track_id)
            who = state.identity.identity if state else UNKNOWN
            zones = set(self.rules.zones.of(faces.boxes[d], *self._frame_size)) if who != UNKNOWN else set()
            self._moved(self.presence.place(who, track_id, zones, now), track_id, now)

    def _moved(self, moves: list[Move], track_id: int | None, now: float) -> None:
        """People's moves as ``person.entered`` / ``left`` events (``track_id`` None: of no track)."""
        for move in moves:
            dwell = None if move.dwell is None else round(move.dwell, 3)
            self._event(move.kind, track_id, now, identity=move.identity, zone=move.zone, dwell_seconds=dwell)

    def _event(self, kind: EventType, track_id: int | None, frame_time: float, state: TrackState | None = None,
               identity: int | None = None, **fields) -> None:
        state = state or (self.states.get(track_id) if track_id is not None else None)
        self.outbox.add(kind, track_id, frame_time, state, identity, self._clock, self._frame_size, self.gallery,
                        **fields)
