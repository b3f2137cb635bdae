"""Who is in view on one camera and in each of its zones, pure: per identity, the open tracks named them
and since when (``Place``, one per place), and the camera's places together (``CameraPlaces``).

A person enters a place with their first named track there and leaves it when their last one there
ends, is unnamed or (a zone) walks out; ``Outbox`` turns the ``Move``s into ``person.entered`` /
``person.left`` events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tracker.track.identity import UNKNOWN
from tracker.track.zones import Zones


class Place:
    def __init__(self) -> None:
        self.tracks: dict[int, dict[int, float]] = {}  # identity -> {track id: seen since}
        self._since: dict[int, float] = {}  # identity -> seen since, over all their tracks while in view

    def enter(self, identity: int, track_id: int, since: float) -> bool:
        """``track_id`` is named ``identity`` (seen since ``since``); True when it is the person's first here."""
        if identity == UNKNOWN:
            return False
        tracks = self.tracks.setdefault(identity, {})
        first = not tracks
        tracks[track_id] = since
        self._since[identity] = min(since, self._since.get(identity, since)) if not first else since
        return first

    def leave(self, identity: int, track_id: int, now: float) -> float | None:
        """``track_id`` is no longer ``identity``'s; when it was their last track here, their time in view since
        their first track's start (None otherwise)."""
        tracks = self.tracks.get(identity)
        if identity == UNKNOWN or not tracks or track_id not in tracks:
            return None
        del tracks[track_id]
        if tracks:
            return None
        del self.tracks[identity]
        return now - self._since.pop(identity)


@dataclass(frozen=True)
class Move:
    """A person entered or left the camera's view (``zone`` None) or one of its zones."""

    kind: Literal["person.entered", "person.left"]
    identity: int
    zone: str | None = None
    dwell: float | None = None  # on leaving: seconds in the place since their first track there started


class CameraPlaces:
    """The camera's view and its zones: who is where, by the open tracks named them."""

    def __init__(self, zones: Zones) -> None:
        self.in_view = Place()
        self._zones = {name: Place() for name in zones.polygons}
        self._in_zones: dict[int, set[str]] = {}  # track id -> the zones its named face is in

    def enter(self, identity: int, track_id: int, since: float) -> list[Move]:
        """``track_id`` is named ``identity`` (seen since ``since``): an entry into view if it is their first."""
        return [Move("person.entered", identity)] if self.in_view.enter(identity, track_id, since) else []

    def leave(self, identity: int, track_id: int, now: float) -> list[Move]:
        """``track_id`` is no longer ``identity``'s (ended, unnamed, renamed): it leaves its zones, then the view."""
        moves = [self._leave_zone(zone, identity, track_id, now) for zone in sorted(self._in_zones.pop(track_id, ()))]
        dwell = self.in_view.leave(identity, track_id, now)
        moves.append(Move("person.left", identity, dwell=dwell) if dwell is not None else None)
        return [m for m in moves if m is not None]

    def drop(self, identity: int, track_id: int) -> None:
        """``track_id`` ends in silence (its person erased): it leaves every place, and no move is made of it."""
        for zone in self._in_zones.pop(track_id, set()):
            self._zones[zone].leave(identity, track_id, 0.0)
        self.in_view.leave(identity, track_id, 0.0)

    def place(self, identity: int, track_id: int, zones: set[str], now: float) -> list[Move]:
        """``track_id`` (named ``identity``, or ``UNKNOWN``: in no zone) is in ``zones`` now: it leaves the zones
        it was in and is not (first, in name order), then enters those it was not in."""
        now_in = zones if identity != UNKNOWN else set()
        before = self._in_zones.get(track_id, set())
        moves = [self._leave_zone(zone, identity, track_id, now) for zone in sorted(before - now_in)]
        moves += [Move("person.entered", identity, zone) for zone in sorted(now_in - before)
                  if self._zones[zone].enter(identity, track_id, now)]
        self._in_zones[track_id] = now_in
        return [m for m in moves if m is not None]

    def _leave_zone(self, zone: str, identity: int, track_id: int, now: float) -> Move | None:
        dwell = self._zones[zone].leave(identity, track_id, now)
        return Move("person.left", identity, zone, dwell) if dwell is not None else None
