"""The events one camera's frame makes, in the order it made them, each stamped with the camera, its run, the
frame and the gallery's name for its person: ``CameraTracks`` adds, its caller takes and publishes."""

from __future__ import annotations

import uuid

import numpy as np

from tracker.events import Event, EventType
from tracker.track.identity import UNKNOWN
from tracker.track.state import CameraRules, GalleryTerms, TrackState


class Outbox:
    def __init__(self, camera_id: str, rules: CameraRules) -> None:
        self.camera_id = camera_id
        self.rules = rules
        self.run = uuid.uuid4().hex[:16]  # this run of the camera: (camera, run, track id) names one track
        self._events: list[Event] = []

    def add(self, kind: EventType, track_id: int | None, frame_time: float, state: TrackState | None,
            identity: int | None, clock: float, frame_size: tuple[int, int], terms: GalleryTerms, **fields) -> None:
        """An event of ``track_id`` (None: of no track) and its ``state`` (None: ended, or none), about ``identity``
        (None: the state's); ``clock``: the tracker clock of the frame (a video file's position)."""
        if identity is None and state is not None:
            identity = state.identity.identity
        named = identity is not None and identity != UNKNOWN
        zones = self.rules.zones
        if zones and fields.get("box") is not None:
            fields["zones"] = zones.of(fields["box"], *frame_size)
        if kind == "track.ended" and state is not None:
            clock = state.last_clock
        crop = None
        if state is not None:
            crop = state.crop if named or not self.rules.blur_unknown else state.blurred
        self._events.append(Event(
            type=kind, camera=self.camera_id, track_id=track_id, run=self.run, frame_time=frame_time,
            video_time=round(float(clock), 3) if self.rules.video and np.isfinite(clock) else None,
            identity_id=identity if named else None, name=terms.name_of(identity), model_id=terms.model_id,
            crop_jpeg=crop, **fields,
        ))

    def take(self) -> list[Event]:
        """The events added since the last call."""
        events, self._events = self._events, []
        return events
