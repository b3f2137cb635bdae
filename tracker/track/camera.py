"""One camera's rules, pure and synchronous: which faces to embed, and what events a frame makes.

``CameraTracks`` coordinates the camera's tracks (``FaceTracker``), each track's identity evidence
(``TrackIdentity``) and best faces (``TrackState``), and the events, with who is in view and in which zone
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

from typing import TYPE_CHECKING

import numpy as np

from tracker.events import Event, EventType
from tracker.face.quality import face_weight, frontal_score
from tracker.faces import Faces
from tracker.track.cuts import CutDetector
from tracker.track.identity import UNKNOWN, TrackIdentity
from tracker.track.outbox import Outbox
from tracker.track.schedule import EmbeddingSchedule, remember_touching
from tracker.track.sighting import BestFaces
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

DECISIONS: dict[str, EventType] = {"resolved": "identity.resolved", "changed": "identity.changed",
                                   "unknown": "track.unknown"}


class CameraTracks:
    def __init__(self, *, camera_id: str, rules: CameraRules, first_track_id: int = 1) -> None:
        """``first_track_id``: where track ids start (unique across workers). The gallery comes with each frame."""
        self.camera_id = camera_id
        self.rules = rules
        tracking = rules.tracking
        self.schedule = EmbeddingSchedule(tracking)
        self.splitter = Splitter(rules.split_share * rules.scale)
        self.outbox = Outbox(camera_id, rules)  # the events, who is in view; the gallery as the latest frame read it
        self.tracker = FaceTracker(max_age=tracking.max_age, first_id=first_track_id)  # reid_distance: ``update``
        self.states: dict[int, TrackState] = {}
        self.started = 0  # tracks started since the camera started
        self.splits = 0  # tracks ended because a face did not agree with them
        self._cuts = CutDetector(tracking.cut_hard)
        self._previous = -np.inf  # the clock of the detected frame before the latest
        self._clock = -np.inf  # the latest detected frame's
        self._cut = False  # whether the latest detected frame was a cut

    @property
    def gallery(self) -> GalleryTerms:
        return self.outbox.terms

    @property
    def open(self) -> int:
        return len(self.tracker.tracks)

    def note(self, frame: FrameInfo) -> None:
        """A detected frame: its clock, and whether it starts a new shot."""
        self._previous, self._clock, self._cut = self._clock, frame.clock, self._cuts.update(frame.image)
        self.outbox.clock, self.outbox.source = frame.clock, frame.source

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
        self.outbox.terms, self.outbox.frame_size = gallery, frame.box_size()
        self.tracker.reid_distance = self.rules.tracking.reid_share * gallery.threshold
        remember_touching(plan, self.states)
        fixed = self._split(plan, analysis, verdicts) if analysis is not None else {}
        step = self.tracker.update(frame.clock, faces, plan.embeddings(analysis, len(faces)), plan.quality, fixed)
        for track in step.started:
            self._start(track, frame.time, frame.clock)
        for track_id in step.track_ids:
            self.states[int(track_id)].present(frame)
        if analysis is not None:
            self._observe(frame, analysis, [int(step.track_ids[d]) for d in plan.embed], verdicts)
        for track in step.ended:
            self._ended(track)
        if self.rules.zones:
            for d, track_id in enumerate(int(t) for t in step.track_ids):
                self.outbox.placed(track_id, self.states.get(track_id), faces.boxes[d], frame.time)
        return [self._tracked(faces.boxes[d], int(step.track_ids[d])) for d in range(len(faces))], self.outbox.take()

    def follow(self, t: float) -> list[TrackedFace]:
        """A frame between detections: each open track's box moved on at its velocity to ``t``."""
        return [self._tracked(track.predicted(t), track.id) for track in self.tracker.tracks.values()]

    def finish(self) -> list[Event]:
        """The camera stopped: every open track ends."""
        for track in self.tracker.end_all():
            self._ended(track)
        return self.outbox.take()

    def forget(self, identities: set[int] | None, now: float,
               gallery: GalleryTerms) -> tuple[list[int], list[Event]]:
        """The gallery changed these people (None: anyone) and is now ``gallery``. Each open track that carried
        someone it no longer names (erased, changed or not: a change read apart from the names is not missed)
        ends at once, in silence (no event, crop, best faces or sighting of it; its face is a new track on its next
        frame; when it names someone else now, they leave: ``person.left`` of no track). A track named one of the
        others is unnamed (``identity.changed`` to unknown) and embedded on its next frame, so a name stands only on
        evidence against the gallery as it is now. Returns the ended tracks' ids and the events."""
        self.outbox.terms = gallery
        erased = set().union(*(s.carried for s in self.states.values())) - set(gallery.names)
        ended = [track_id for track_id, state in self.states.items() if state.carried & erased]
        for track_id in ended:
            self.tracker.end(track_id)
            self.outbox.erased(track_id, self.states.pop(track_id), erased)
        for track_id, state in self.states.items():
            if state.review and (identities is None or state.review[0] in identities):
                state.review = None  # asked about someone changed (or erased): the next faces ask again, or not
            who = state.identity.identity
            if who == UNKNOWN or (identities is not None and who not in identities):
                continue
            state.identity.forget(who)
            state.agreed_at = state.embedded_at = -1e9  # embedded on its next frame, not after unknown_interval
            self.outbox.unnamed(track_id, state, who, now, self.tracker.tracks[track_id].box)
        return ended, self.outbox.take()

    def explain(self, track_id: int) -> dict | None:
        """Why an open track is (not) named (None: no such track)."""
        state = self.states.get(track_id)
        return state.explain(track_id, self.gallery) if state is not None else None

    def views(self) -> list[TrackView]:
        """The open tracks, as last seen."""
        return [TrackView.of(t.id, t.box, self.states[t.id], self.gallery) for t in self.tracker.tracks.values()
                if t.id in self.states]

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

    def _start(self, track: Track, now: float, clock: float) -> None:
        self.started += 1
        identity = TrackIdentity(self.gallery.bound)
        self.states[track.id] = TrackState(identity, first_time=now, first_clock=clock,
                                           best=BestFaces(self.rules.sighting_faces))
        self.outbox.started(track.id, self.states[track.id], track.box)

    def _observe(self, frame: FrameInfo, analysis: Analysis, track_ids: list[int], verdicts: list[Verdict]) -> None:
        q = analysis.quality
        weights = face_weight(q.size, q.frontal, q.sharpness)
        for i, (track_id, seen) in enumerate(zip(track_ids, verdicts, strict=True)):
            state = self.states[track_id]
            # its first name: never named before (carried), nor called a stranger (a name then waited for enrolment)
            previous, first = state.identity.identity, not (state.carried or state.stranger)
            decision = state.see(frame, analysis, i, float(weights[i]), seen, self.gallery, self.rules, self._cut)
            if decision:
                self.outbox.decided(DECISIONS[decision], track_id, state, previous, frame.time,
                                    analysis.faces.boxes[i], seen.distance, seen.margin, first)

    def _ended(self, track: Track) -> None:
        """A track ends: its event carries the time it was last seen and how long it was in view."""
        if track.id in self.states:
            self.outbox.ended(track.id, self.states.pop(track.id), track.box)
