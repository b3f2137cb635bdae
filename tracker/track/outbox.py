"""What one camera's tracks leave: the events, in the order it made them, each stamped with the camera, its run, the
frame and the gallery's name for its person; who is in view and in which zone (``CameraPlaces``), whose moves become
``person.entered`` / ``person.left``; and the sightings of ended tracks (their best faces, for the unknowns'
clusters). ``CameraTracks`` tells it what happened to a track; its caller takes the events and the sightings."""

from __future__ import annotations

import json
import logging
import uuid

import numpy as np

from tracker.events import Event, EventType
from tracker.track.identity import UNKNOWN
from tracker.track.places import CameraPlaces, Move
from tracker.track.sighting import Sighting
from tracker.track.state import CameraRules, GalleryTerms, TrackState

logger = logging.getLogger(__name__)  # DEBUG: each naming decision and each ended track, with why (JSON)
NO_GALLERY = GalleryTerms("none", threshold=0.0, margin=0.0)  # before the first frame: no track, no event yet


class Outbox:
    def __init__(self, camera_id: str, rules: CameraRules) -> None:
        self.camera_id = camera_id
        self.rules = rules
        self.run = uuid.uuid4().hex[:16]  # this run of the camera: (camera, run, track id) names one track
        self.places = CameraPlaces(rules.zones)
        self.terms = NO_GALLERY  # the gallery the events name people by: as the latest frame (or change) read it
        self.clock = -np.inf  # the tracker clock of the latest detected frame (a video file's position)
        self.frame_size = (1, 1)  # the latest frame's, that of the tracks' boxes
        self.source: tuple[str, float] | None = None  # a folder camera's recording, and its start on the clock
        self._events: list[Event] = []
        self._sightings: list[Sighting] = []

    def started(self, track_id: int, state: TrackState, box: np.ndarray) -> None:
        self.add("track.started", track_id, state.first_time, state, box=box.tolist())

    def decided(self, kind: EventType, track_id: int, state: TrackState, previous: int, now: float,
                box: np.ndarray, distance: float, margin: float, first: bool = False) -> None:
        """The track, named ``previous`` (or ``UNKNOWN``), is now named as ``state`` says; ``first``: its first
        name ever (its event says how long after the track's first face, on the tracker's clock: a video file's
        position, not how fast it was played)."""
        self._log_why(kind, track_id, state)
        after = round(self.clock - state.first_clock, 3) if first and kind == "identity.resolved" else None
        self.add(kind, track_id, now, state, box=[round(float(v), 1) for v in box], distance=distance, margin=margin,
                 named_after_seconds=after)
        self.moved(self.places.leave(previous, track_id, now), track_id, now, state)
        self.moved(self.places.enter(state.identity.identity, track_id, state.first_time), track_id, now, state)

    def unnamed(self, track_id: int, state: TrackState, who: int, now: float, box: np.ndarray) -> None:
        """The gallery changed ``who``: the track named them is unknown again."""
        self.add("identity.changed", track_id, now, state, identity=UNKNOWN, box=box.tolist())
        self.moved(self.places.leave(who, track_id, now), track_id, now, state)

    def ended(self, track_id: int, state: TrackState, box: np.ndarray) -> None:
        """The track ended: its event carries the time it was last seen and how long it was in view; its best faces
        make a sighting."""
        self._log_why("track.ended", track_id, state)
        identity, now = state.identity.identity, state.last_time
        if (asked := state.asked()) is not None:  # almost named: someone may say who it is
            who, evidence, lacked = asked
            self.add("identity.review", track_id, now, state, identity=who, box=box.tolist(),
                     evidence=round(evidence, 3), to_bound=round(lacked, 3))
        best = state.identity.best_distance if identity != UNKNOWN else None
        self.add("track.ended", track_id, now, state, box=box.tolist(), dwell_seconds=round(now - state.first_time, 3),
                 best_distance=best)
        self.moved(self.places.leave(identity, track_id, now), track_id, now)
        if sighting := state.sighting(self.camera_id, track_id, self.terms.model_id, self.rules.keep_named):
            self._sightings.append(sighting)

    def erased(self, track_id: int, state: TrackState, identities: set[int]) -> None:
        """The track carried one of the erased ``identities`` and ended in silence; when it names someone else now,
        they leave (``person.left`` of no track)."""
        who = state.identity.identity
        if who != UNKNOWN and who not in identities:
            self.moved(self.places.leave(who, track_id, state.last_time), None, state.last_time)
        else:
            self.places.drop(who, track_id)

    def placed(self, track_id: int, state: TrackState | None, box: np.ndarray, now: float) -> None:
        """The track's face is at ``box`` now: a named track's enters and leaves zones (one not named is in none)."""
        who = state.identity.identity if state else UNKNOWN
        zones = set(self.rules.zones.of(box, *self.frame_size)) if who != UNKNOWN else set()
        self.moved(self.places.place(who, track_id, zones, now), track_id, now, state)

    def moved(self, moves: list[Move], track_id: int | None, now: float, state: TrackState | None = None) -> None:
        """People's moves as ``person.entered`` / ``left`` events of ``track_id`` (None: of no track) and its open
        ``state`` (None: ended, or none)."""
        for move in moves:
            dwell = None if move.dwell is None else round(move.dwell, 3)
            self.add(move.kind, track_id, now, state, identity=move.identity, zone=move.zone, dwell_seconds=dwell)

    def add(self, kind: EventType, track_id: int | None, frame_time: float, state: TrackState | None,
            identity: int | None = None, **fields) -> None:
        """An event of ``track_id`` (None: of no track) and its ``state`` (None: none), about ``identity`` (None:
        the state's)."""
        if identity is None and state is not None:
            identity = state.identity.identity
        named = identity is not None and identity != UNKNOWN
        zones = self.rules.zones
        if zones and fields.get("box") is not None:
            fields["zones"] = zones.of(fields["box"], *self.frame_size)
        ended = state if kind in ("track.ended", "identity.review") else None  # stamped where last seen
        clock = ended.last_clock if ended is not None else self.clock
        source = ended.last_source if ended is not None else self.source
        if source is not None:  # a folder camera: the position in its recording
            clock -= source[1]
        crop = None
        if state is not None:  # a review's face is not yet its candidate's
            clear = named and kind != "identity.review"
            crop = state.crop if clear or not self.rules.blur_unknown else state.blurred
        self._events.append(Event(
            type=kind, camera=self.camera_id, track_id=track_id, run=self.run, frame_time=frame_time,
            video_time=round(float(clock), 3) if self.rules.video and np.isfinite(clock) else None,
            video_file=source[0] if source is not None else None,
            identity_id=identity if named else None, name=self.terms.name_of(identity), model_id=self.terms.model_id,
            crop_jpeg=crop, **fields,
        ))

    def _log_why(self, kind: EventType, track_id: int, state: TrackState) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            why = state.explain(track_id, self.terms)
            logger.debug("%s", json.dumps({"camera": self.camera_id, "event": kind, **why}))

    def take(self) -> list[Event]:
        """The events added since the last call."""
        events, self._events = self._events, []
        return events

    def take_sightings(self) -> list[Sighting]:
        """The sightings of the tracks that ended since the last call."""
        sightings, self._sightings = self._sightings, []
        return sightings
