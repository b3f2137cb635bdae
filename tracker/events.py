"""Identity events: the versioned JSON that other apps receive (a pydantic schema)."""

from __future__ import annotations

import time
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1
EventType = Literal[
    "track.started", "identity.resolved", "identity.changed", "track.ended", "person.entered", "person.left",
    "person.unknown_recurring",
]


CAMERA_ID = r"^[A-Za-z0-9_.-]{1,64}$"  # safe in file names, URLs, Redis channels and MQTT topics (no # + /)


class Event(BaseModel):
    """One thing that happened on one camera. ``name`` is ``"unknown"`` until a track is named."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int = Field(SCHEMA_VERSION, description="Bumped on any incompatible change")
    id: str = Field(default_factory=lambda: uuid.uuid4().hex, description="Unique event id")
    type: EventType
    camera: str = Field(pattern=CAMERA_ID, description="Camera id from the config (letters, digits, `_ . -`)")
    track_id: int | None = Field(None, description="Track number, unique per camera and run")
    frame_time: float = Field(description="Capture time of the frame, Unix seconds")
    wall_time: float = Field(default_factory=time.time, description="When the event was made, Unix seconds")
    video_time: float | None = Field(
        None, description="Video-file cameras: the frame's position in the file, seconds; null for live cameras"
    )
    box: list[float] | None = Field(None, description="x1 y1 x2 y2 in frame pixels")
    identity_id: int | None = Field(None, description="Gallery identity id, null when unknown")
    name: str = Field("unknown", description="Display name, or 'unknown'")
    distance: float | None = Field(
        None, description="Distance of the named identity (squared L2, mean of its top_k nearest faces)"
    )
    margin: float | None = Field(None, description="How far ahead of the runner-up identity")
    model_id: str = Field(description="Embedder that produced the decision")
    crop_jpeg: str | None = Field(None, description="Best face so far (its box grown by 40% each side), JPEG, base64")
    dwell_seconds: float | None = Field(None, description="track.ended / person.left: time in view")
    best_distance: float | None = Field(None, description="track.ended: best distance seen for its identity")
    zones: list[str] | None = Field(None, description="Cameras with zones: the zones the face's box centre is in")
    zone: str | None = Field(None, description=("person.entered / person.left of one zone: the zone; null for the "
                                                "camera as a whole"))
    cluster_id: int | None = Field(None, description="person.unknown_recurring: the cluster of unknown sightings")
    visits: int | None = Field(None, description="person.unknown_recurring: the cluster's visits so far")


if __name__ == "__main__":  # the JSON Schema for apps in other languages: docs/event.schema.json
    import json

    print(json.dumps(Event.model_json_schema(), indent=2))
