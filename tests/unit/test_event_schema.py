"""The event schema's policy (tracker/events.py): a field added is a minor version that readers of the same major
read; any other change a major version, refused by name. The previous release's kit must read this release's
events."""

import json
import logging

import numpy as np
import pytest

from pipelines.events.subscriber import _event
from tests.support import kit_2_0
from tests.support.tracks import cam, faces, kinds, step
from tracker.events import SCHEMA_VERSION, Event, SchemaError, read_event
from tracker.track.state import Verdict


def this_releases_events() -> list[dict]:
    """Events as this release writes them (a camera names Ann, she leaves), as JSON decoded."""
    tracks = cam()
    events = step(tracks, 0.0, faces(50), {0: Verdict(7, 0.05, 0.2)})[2]
    for t in np.arange(0.1, 6.0, 0.1):
        events += step(tracks, float(t), faces(), {})[2]
    assert {"track.started", "identity.resolved", "track.ended", "person.left"} <= set(kinds(events))
    return [json.loads(e.model_dump_json()) for e in events]


def test_the_previous_releases_kit_reads_every_event_this_release_writes():
    events = this_releases_events() + [json.loads(Event(
        type="person.unknown_recurring", camera="door", frame_time=1.0, model_id="m", cluster_id=3, visits=2,
        video_time=1.5, zones=["porch"], zone="porch", run="ab12").model_dump_json())]
    for data in events:
        old = kit_2_0.read_event(data)
        assert (old.type, old.camera, old.track_id, old.run, old.name, old.identity_id) == (
            data["type"], data["camera"], data["track_id"], data["run"], data["name"], data["identity_id"])


def test_a_field_of_a_later_minor_version_is_ignored_and_the_event_read():
    data = json.loads(Event(type="identity.resolved", camera="door", track_id=1, frame_time=1.0, identity_id=2,
                            name="Ann", model_id="m").model_dump_json())
    major = SCHEMA_VERSION.split(".")[0]
    later = {**data, "schema_version": f"{major}.99", "mood": "happy"}
    assert read_event(later).name == "Ann"
    assert _event(later).name == "Ann"  # the kit's reader


def test_an_event_of_release_1_still_in_a_stream_is_read():
    data = json.loads(Event(type="person.left", camera="door", track_id=3, frame_time=1.0, identity_id=2, name="Ann",
                            model_id="m", dwell_seconds=4.0).model_dump_json(exclude={"run"}))
    old = read_event({**data, "schema_version": 1})
    assert (old.schema_version, old.name, old.dwell_seconds, old.run) == ("1.0", "Ann", 4.0, None)


def test_an_event_of_another_major_version_is_refused_by_name_and_skipped_by_the_kit(caplog):
    data = json.loads(Event(type="track.started", camera="door", frame_time=1.0, model_id="m").model_dump_json())
    major = int(SCHEMA_VERSION.split(".")[0])
    with pytest.raises(SchemaError, match=f"'{major + 1}.0'.*update"):
        read_event({**data, "schema_version": f"{major + 1}.0"})
    with caplog.at_level(logging.WARNING):
        assert _event({**data, "schema_version": f"{major + 1}.0"}) is None
    assert "update facetrack's subscriber kit" in caplog.text


def test_the_previous_releases_kit_skips_an_event_type_it_does_not_know():
    data = json.loads(Event(type="track.unknown", camera="door", track_id=1, run="ab12", frame_time=1.0,
                            model_id="m").model_dump_json())
    assert read_event(data).type == "track.unknown"
    with pytest.raises(ValueError):  # the subscriber skips the entry (with a line in its log) and reads on
        kit_2_0.read_event(data)
