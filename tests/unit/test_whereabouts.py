"""Who is where, for the MQTT bridge: home from the first camera, not_home only once every camera lost the
person and the time away has passed, and the state through JSON (a restarted bridge goes on with it)."""

import pytest

from tracker.config import MqttConfig
from tracker.events import Event
from tracker.whereabouts import AWAY, HOME, Whereabouts


def event(kind: str, identity: int | None, camera: str) -> Event:
    return Event(type=kind, camera=camera, frame_time=0.0, identity_id=identity, name=f"p{identity}", model_id="m")


def test_home_from_the_first_camera_and_not_home_once_every_camera_lost_them_for_away_seconds():
    presence = Whereabouts()
    assert presence.apply(event("person.entered", 1, "door"), now=10.0, away_seconds=5.0) == ({1}, {"door"})
    presence.apply(event("person.entered", 1, "yard"), now=11.0, away_seconds=5.0)
    presence.apply(event("person.left", 1, "door"), now=12.0, away_seconds=5.0)
    assert presence.due(now=100.0) == set() and presence.people[1].state == HOME  # the yard still sees them
    presence.apply(event("person.left", 1, "yard"), now=20.0, away_seconds=5.0)
    assert presence.due(now=24.9) == set()
    assert presence.due(now=25.0) == {1} and presence.people[1].state == AWAY and presence.people[1].since == 25.0
    presence.apply(event("person.entered", 1, "door"), now=30.0, away_seconds=5.0)
    assert presence.people[1].state == HOME and presence.cameras == {"door": [1], "yard": []}
    again = Whereabouts.from_json(presence.to_json())
    assert again.people == presence.people and again.cameras == presence.cameras


def test_unknown_faces_and_other_events_leave_presence_alone():
    presence = Whereabouts()
    assert presence.apply(event("person.entered", None, "door"), 1.0, 5.0) == (set(), set())
    assert presence.apply(event("track.started", 3, "door"), 1.0, 5.0) == (set(), set())
    assert presence.people == {}


def test_forgetting_an_erased_person_takes_them_out_of_every_view():
    presence = Whereabouts()
    presence.apply(event("person.entered", 1, "door"), 1.0, 5.0)
    presence.apply(event("person.entered", 2, "door"), 1.0, 5.0)
    assert presence.forget(1).identity_id == 1
    assert presence.cameras == {"door": [2]} and set(presence.people) == {2}


def test_a_broker_url_that_is_not_mqtt_is_refused_without_showing_its_password():
    with pytest.raises(ValueError, match=r"'http://u:\*\*\*@broker:1883' is not an mqtt:// or mqtts:// URL"):
        MqttConfig(url="http://u:hunter2@broker:1883")


def test_a_zone_of_a_camera_is_where_the_person_is_until_they_leave_it_or_the_camera():
    presence = Whereabouts()
    presence.apply(event("person.entered", 1, "door"), 1.0, 5.0)
    zone = Event(type="person.entered", camera="door", frame_time=0.0, identity_id=1, name="p1", model_id="m",
                 zone="porch")
    presence.apply(zone, 2.0, 5.0)
    assert presence.people[1].zones == ["door/porch"] and presence.cameras == {"door": [1]}
    presence.apply(event("person.left", 1, "door"), 3.0, 5.0)
    assert presence.people[1].zones == [] and presence.people[1].cameras == []


def test_zones_are_polygons_in_fractions_of_the_frame_named_and_checked():
    from tracker.config import CameraConfig
    from tracker.track.zones import Zones

    zones = Zones({"porch": [(0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0)], "mat": [(0, 0.8), (0.2, 0.8), (0.1, 1)]})
    assert zones.of([700, 100, 800, 200], 1000, 500) == ["porch"]
    assert zones.of([60, 420, 140, 480], 1000, 500) == ["mat"] and zones.of([0, 0, 100, 100], 1000, 500) == []
    with pytest.raises(ValueError, match="zone 'mat': a polygon needs 3 vertices or more, it has 2"):
        CameraConfig(id="c", url="x.mp4", zones={"mat": [(0, 0), (1, 1)]})
    with pytest.raises(ValueError, match="zone 'porch': vertices are fractions of the frame, 0-1"):
        CameraConfig(id="c", url="x.mp4", zones={"porch": [(0, 0), (1, 0), (640, 480)]})


def stranger(kind: str, run: str, track: int, camera: str = "door") -> Event:
    return Event(type=kind, camera=camera, frame_time=0.0, track_id=track, run=run, model_id="m")


def test_a_camera_holds_its_stranger_tracks_until_they_end_are_named_or_the_camera_runs_anew():
    places = Whereabouts()
    assert places.apply(stranger("track.unknown", "a1", 5), 1.0, 5.0) == (set(), {"door"})
    assert places.apply(stranger("track.unknown", "a1", 6), 1.0, 5.0) == (set(), {"door"})
    assert places.apply(stranger("track.ended", "a1", 5), 2.0, 5.0) == (set(), {"door"})
    assert places.unknown == {"door": ["a1/6"]}
    again = Whereabouts.from_json(places.to_json())  # a restarted bridge goes on with it
    assert again.unknown == {"door": ["a1/6"]}
    # the camera restarted (or another worker took it): track 6's track.ended never came, and it is over
    assert again.apply(stranger("track.started", "b2", 1), 3.0, 5.0) == (set(), {"door"})
    assert again.unknown == {"door": []}
    assert Whereabouts.from_json({"people": [], "cameras": {}}).unknown == {}  # a state saved before it existed


def test_last_seen_is_when_the_event_was_made_not_when_a_catching_up_bridge_reads_it():
    presence = Whereabouts()
    seen = Event(type="person.entered", camera="door", frame_time=0.0, identity_id=1, name="p1", model_id="m",
                 wall_time=1000.0)
    later = Event(type="person.left", camera="yard", frame_time=0.0, identity_id=1, name="p1", model_id="m",
                  wall_time=1500.0)
    presence.apply(later, now=5000.0, away_seconds=5.0)  # out of order, read an hour after
    presence.apply(seen, now=5001.0, away_seconds=5.0)
    assert (presence.people[1].last_seen, presence.people[1].last_camera) == (1500.0, "yard")


def test_a_camera_clock_ahead_or_broken_never_stamps_the_future_and_a_late_leaving_is_away_at_once():
    presence = Whereabouts()
    ahead = Event(type="person.entered", camera="garage", frame_time=0.0, identity_id=1, name="p1", model_id="m",
                  wall_time=1600.0)  # its host's clock 10 minutes fast
    presence.apply(ahead, now=1000.0, away_seconds=5.0)
    door = Event(type="person.entered", camera="door", frame_time=0.0, identity_id=1, name="p1", model_id="m",
                 wall_time=1090.0)
    presence.apply(door, now=1090.0, away_seconds=5.0)
    assert (presence.people[1].last_seen, presence.people[1].last_camera) == (1090.0, "door")
    broken = Event(type="person.left", camera="door", frame_time=0.0, identity_id=1, name="p1", model_id="m",
                   wall_time=float("inf"))
    presence.apply(broken, now=1100.0, away_seconds=5.0)
    assert presence.people[1].last_seen == 1100.0
    late = Event(type="person.left", camera="garage", frame_time=0.0, identity_id=1, name="p1", model_id="m",
                 wall_time=1200.0)
    presence.apply(late, now=5000.0, away_seconds=5.0)  # read long after: away since 1205, not since 5005
    assert presence.due(now=5000.0) == {1} and presence.people[1].since == 1205.0
