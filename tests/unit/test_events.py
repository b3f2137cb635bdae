"""The event schema other apps rely on."""

import json

import pytest
from pydantic import ValidationError

from tracker.events import SCHEMA_VERSION, Event


def test_an_event_round_trips_through_json_with_a_unique_id():
    a = Event(type="identity.resolved", camera="door", track_id=3, frame_time=1.5, identity_id=2, name="Ann",
              distance=0.05, margin=0.1, model_id="dlib-resnet-v1:abc")
    b = Event(type="track.started", camera="door", track_id=4, frame_time=1.6, model_id="m")
    data = json.loads(a.model_dump_json())
    assert data["schema_version"] == SCHEMA_VERSION and data["name"] == "Ann"
    assert Event.model_validate_json(a.model_dump_json()) == a
    assert a.id != b.id and b.name == "unknown" and b.identity_id is None


def test_unknown_types_and_fields_are_rejected():
    with pytest.raises(ValidationError, match="type"):
        Event(type="face.seen", camera="door", frame_time=0.0, model_id="m")
    with pytest.raises(ValidationError, match="colour"):
        Event.model_validate({"type": "track.started", "camera": "c", "frame_time": 0, "model_id": "m",
                              "colour": "red"})


def test_the_published_json_schema_is_the_current_one():
    from pathlib import Path

    shipped = json.loads((Path(__file__).parents[2] / "docs" / "event.schema.json").read_text())
    assert shipped == Event.model_json_schema(), "run: python -m tracker.events > docs/event.schema.json"
