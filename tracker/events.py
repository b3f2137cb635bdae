"""Identity events: the versioned JSON that other apps receive (a pydantic schema).

The schema's version is ``MAJOR.MINOR``. A field added is a new minor version: readers of the same major read it
(``read_event`` ignores the fields it does not know). A field removed, renamed or changed in meaning or type is a
new major version, which readers of another major refuse by name rather than misread.
"""

from __future__ import annotations

import time
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "2.2"  # 2.0: schema_version a "MAJOR.MINOR" string; run added. 2.1: named_after_seconds,
# track.unknown. 2.2: identity.review, evidence, to_bound
EventType = Literal[
    "track.started", "identity.resolved", "identity.changed", "track.ended", "person.entered", "person.left",
    "person.unknown_recurring", "track.unknown", "identity.review",
]


CAMERA_ID = r"^[A-Za-z0-9_.-]{1,64}$"  # safe in file names, URLs, Redis channels and MQTT topics (no # + /)


class Event(BaseModel):
    """One thing that happened on one camera. ``name`` is ``"unknown"`` until a track is named."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: str = Field(SCHEMA_VERSION, pattern=r"^[0-9]+\.[0-9]+$", description=(
        "MAJOR.MINOR: a new field or event type is a new minor (ignore what you do not know); any other change a new "
        "major"))
    id: str = Field(default_factory=lambda: uuid.uuid4().hex, description="Unique event id")
    type: EventType
    camera: str = Field(pattern=CAMERA_ID, description="Camera id from the config (letters, digits, `_ . -`)")
    track_id: int | None = Field(None, description="Track number, unique per camera and run")
    run: str | None = Field(None, pattern=r"^[0-9a-f]{1,32}$", description=(
        "The camera's run the track is of (a new one each time the camera starts): camera, run and track_id name "
        "one track"))
    frame_time: float = Field(description="Capture time of the frame, Unix seconds")
    wall_time: float = Field(default_factory=time.time, description="When the event was made, Unix seconds")
    video_time: float | None = Field(
        None, description="Video-file cameras: the frame's position in the file, seconds; null for live cameras"
    )
    video_file: str | None = Field(None, description=(
        "Folder cameras: the recording the frame is from (its name in the folder); video_time is the position in it "
        "(since 2.1)"))
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
    named_after_seconds: float | None = Field(None, description=(
        "identity.resolved, the track's first name (not after its track.unknown): seconds from its first face, on "
        "the tracker's clock (since 2.1)"))
    evidence: float | None = Field(None, description=(
        "identity.review: the track's evidence for its candidate (identity_id, name), a log-likelihood ratio summed "
        "over its faces; the candidate is a question, not a name (since 2.2)"))
    to_bound: float | None = Field(None, description=(
        "identity.review: what the track's evidence, or its lead over the runner-up, still lacked for the name "
        "(since 2.2)"))
    zones: list[str] | None = Field(None, description="Cameras with zones: the zones the face's box centre is in")
    zone: str | None = Field(None, description=("person.entered / person.left of one zone: the zone; null for the "
                                                "camera as a whole"))
    cluster_id: int | None = Field(None, description="person.unknown_recurring: the cluster of unknown sightings")
    visits: int | None = Field(None, description="person.unknown_recurring: the cluster's visits so far")


class SchemaError(ValueError):
    """An event of another major version: this reader cannot read it."""


READS = ("1", SCHEMA_VERSION.split(".")[0])  # majors read: 1 (an integer then) has 2.0's fields but run


def read_event(data: dict) -> Event:
    """An event as received (JSON decoded), by the rules of ``SCHEMA_VERSION``: fields of a later minor version are
    ignored; events of release 1 (still in a Stream, or from a worker not yet upgraded) are read as they are;
    another major version raises ``SchemaError``, anything else malformed pydantic's ``ValidationError``."""
    version = str(data.get("schema_version", ""))
    major = version.split(".")[0]
    if major not in READS:
        newer = major.isdigit() and int(major) > int(READS[-1])
        raise SchemaError(f"event schema {data.get('schema_version')!r}: this reader reads majors "
                          f"{', '.join(READS)}" + ("; update facetrack's subscriber kit" if newer else ""))
    fields = {key: value for key, value in data.items() if key in Event.model_fields}
    return Event.model_validate({**fields, "schema_version": version if "." in version else f"{version}.0"})


if __name__ == "__main__":  # the JSON Schema for apps in other languages: docs/event.schema.json
    import json

    print(json.dumps(Event.model_json_schema(), indent=2))
