"""Who is where, from the identity events: the state the MQTT bridge publishes (and keeps in Redis with the
Stream id it has reached, so a restarted bridge goes on where it stopped). Pure: no I/O, times given.

A named person is ``home`` from their first ``person.entered`` on any camera; ``not_home`` once no camera
has them in view and ``away_seconds`` have passed since the last one lost them. Times are the events' own
(``wall_time``: when ``facetrack run`` saw it, so a catch-up keeps them), never later than ``now``. Each camera
keeps who is in its view now, and its open tracks said to be nobody enrolled (``track.unknown``) until they end
or are named."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from tracker.events import Event

HOME, AWAY = "home", "not_home"


@dataclass
class Person:
    identity_id: int
    name: str
    state: str = AWAY
    since: float = 0.0  # when the state began (wall time)
    last_seen: float = 0.0
    last_camera: str = ""
    cameras: list[str] = field(default_factory=list)  # in view now
    zones: list[str] = field(default_factory=list)  # "camera/zone" in view now
    away_at: float | None = None  # when not_home falls due, once no camera has them


@dataclass
class Whereabouts:
    people: dict[int, Person] = field(default_factory=dict)
    cameras: dict[str, list[int]] = field(default_factory=dict)  # camera -> identity ids in view
    unknown: dict[str, list[str]] = field(default_factory=dict)  # camera -> open stranger tracks, "run/track id"

    def apply(self, event: Event, now: float, away_seconds: float) -> tuple[set[int], set[str]]:
        """The people and cameras whose state ``event`` changed."""
        changed_people: set[int] = set()
        changed_cameras = self._strangers(event)
        if event.identity_id is None or event.type not in ("person.entered", "person.left"):
            return changed_people, changed_cameras
        person = self.people.setdefault(event.identity_id, Person(event.identity_id, event.name))
        person.name = event.name
        # when facetrack run saw it, not when this was told (a catch-up); never later than now (a clock ahead)
        seen = min(event.wall_time, now) if math.isfinite(event.wall_time) else now
        if seen >= person.last_seen:
            person.last_seen, person.last_camera = seen, event.camera
        if event.zone is not None:  # one zone of the camera: the camera's own entered / left say the rest
            where = f"{event.camera}/{event.zone}"
            person.zones = [z for z in person.zones if z != where] + ([where] if event.type == "person.entered" else [])
            return {event.identity_id}, changed_cameras
        in_view = self.cameras.setdefault(event.camera, [])
        if event.type == "person.left":
            person.cameras = [c for c in person.cameras if c != event.camera]
            person.zones = [z for z in person.zones if not z.startswith(f"{event.camera}/")]
            if event.identity_id in in_view:
                in_view.remove(event.identity_id)
                changed_cameras.add(event.camera)
            if not person.cameras:
                person.away_at = seen + away_seconds
        else:
            if event.camera not in person.cameras:
                person.cameras.append(event.camera)
            if event.identity_id not in in_view:
                in_view.append(event.identity_id)
                changed_cameras.add(event.camera)
            person.away_at = None
            if person.state != HOME:
                person.state, person.since = HOME, seen
        changed_people.add(event.identity_id)
        return changed_people, changed_cameras

    def _strangers(self, event: Event) -> set[str]:
        """A track said to be nobody enrolled is in the camera's list until it ends or is named, or an event of
        another run of the camera comes (the camera restarted, or another worker took it: its old run's tracks
        are over, whether their ``track.ended`` came or not)."""
        tracks = self.unknown.setdefault(event.camera, [])
        stale = [key for key in tracks if event.run is not None and not key.startswith(f"{event.run}/")]
        for key in stale:
            tracks.remove(key)
        changed = {event.camera} if stale else set()
        if event.track_id is None or event.type not in ("track.unknown", "track.ended", "identity.resolved",
                                                         "identity.changed"):
            return changed
        key = f"{event.run}/{event.track_id}"
        if (event.type == "track.unknown") == (key in tracks):
            return changed
        if event.type == "track.unknown":
            tracks.append(key)
        else:
            tracks.remove(key)
        return {event.camera}

    def due(self, now: float) -> set[int]:
        """Mark ``not_home`` everyone whose time away has come; their ids."""
        gone = set()
        for person in self.people.values():
            if person.away_at is not None and person.away_at <= now and person.state == HOME:
                person.state, person.since, person.away_at = AWAY, person.away_at, None
                gone.add(person.identity_id)
        return gone

    def forget(self, identity_id: int) -> Person | None:
        """An erased person, out of every camera's view and out of the state."""
        for in_view in self.cameras.values():
            if identity_id in in_view:
                in_view.remove(identity_id)
        return self.people.pop(identity_id, None)

    def to_json(self) -> dict:
        return {"people": [asdict(p) for p in self.people.values()], "cameras": self.cameras, "unknown": self.unknown}

    @classmethod
    def from_json(cls, data: dict) -> Whereabouts:
        people = {p["identity_id"]: Person(**p) for p in data.get("people", [])}
        return cls(people, {camera: list(ids) for camera, ids in data.get("cameras", {}).items()},
                   {camera: list(keys) for camera, keys in data.get("unknown", {}).items()})
