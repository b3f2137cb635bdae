"""Who is in view on one camera, pure: per identity, the open tracks named them and since when.

A person enters with their first named track on the camera and leaves when their last one
ends or is unnamed; ``CameraTracks`` turns the answers into ``person.entered`` / ``person.left``.
"""

from __future__ import annotations

from tracker.track.identity import UNKNOWN


class Presence:
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
