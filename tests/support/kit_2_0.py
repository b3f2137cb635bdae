"""The subscriber kit's event reader as release 2.0 (event schema 2.0) shipped it, kept unchanged: later releases'
events must read with it (tests/unit/test_event_schema.py). Replace it only with the reader of a release that
shipped, when a new major version is made on purpose."""

from __future__ import annotations

import time
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "2.0"
EventType = Literal[
    "track.started", "identity.resolved", "identity.changed", "track.ended", "person.entered", "person.left",
    "person.unknown_recurring",
]


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: str = Field(SCHEMA_VERSION, pattern=r"^[0-9]+\.[0-9]+$")
    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    type: EventType
    camera: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    track_id: int | None = None
    run: str | None = Field(None, pattern=r"^[0-9a-f]{1,32}$")
    frame_time: float
    wall_time: float = Field(default_factory=time.time)
    video_time: float | None = None
    box: list[float] | None = None
    identity_id: int | None = None
    name: str = "unknown"
    distance: float | None = None
    margin: float | None = None
    model_id: str
    crop_jpeg: str | None = None
    dwell_seconds: float | None = None
    best_distance: float | None = None
    zones: list[str] | None = None
    zone: str | None = None
    cluster_id: int | None = None
    visits: int | None = None


class SchemaError(ValueError):
    pass


def read_event(data: dict) -> Event:
    major = str(data.get("schema_version", "")).split(".")[0]
    if major != SCHEMA_VERSION.split(".")[0]:
        raise SchemaError(f"event schema {data.get('schema_version')!r}: this reader reads {SCHEMA_VERSION}")
    return Event.model_validate({key: value for key, value in data.items() if key in Event.model_fields})
