"""The MQTT bridge between a real Redis Stream and a real Mosquitto broker: Home Assistant discovery, presence
``home`` then ``not_home``, each event once across a bridge restart and a broker that lost its store, and an
erased person gone from the broker."""

import asyncio
import base64
import json
import re
import time

import cv2
import numpy as np
import pytest
import redis

from gallery.enroll import Enroller
from gallery.reviews import YES, Reviews
from gallery.store import GalleryStore
from pipelines.events.erase import bridge_state_key
from pipelines.events.publisher import erased_key, stream_key
from pipelines.events.redis_server import EmbeddedRedis, embedded_url
from pipelines.mqtt.bridge import Bridge
from pipelines.mqtt.reviews import ReviewDesk
from tests.support.data import lfw_image, needs_data
from tests.support.ha_schema import TIMESTAMP, problems
from tests.support.mqtt import PASSWORD, USER, Mosquitto, Recorder, needs_mosquitto, until
from tests.support.sightings import ask
from tracker.config import EnrollConfig, MqttConfig
from tracker.events import Event

pytestmark = [needs_mosquitto, pytest.mark.timeout(300)]
ANN, BO = "Colin_Powell", "George_W_Bush"  # LFW people with many photographs
CROP = base64.b64encode(cv2.imencode(".jpg", np.full((40, 40, 3), 128, np.uint8))[1].tobytes()).decode()


def event(kind: str, identity: int | None, name: str, camera: str = "door", track_id: int = 1, **more) -> Event:
    return Event(type=kind, camera=camera, track_id=track_id, frame_time=time.time(), identity_id=identity, name=name,
                 model_id="omz-reid-0095:x", **more)


def add(client: redis.Redis, *events: Event) -> None:
    for e in events:
        client.xadd(stream_key("facetrack"), {"event": e.model_dump_json()})


class Running:
    """The bridge in a thread of its own (its own event loop), stopped like Ctrl-C stops it."""

    def __init__(self, config: MqttConfig, redis_url: str, desk: ReviewDesk | None = None) -> None:
        import threading

        self.bridge = Bridge(config, redis_url, "facetrack", away_seconds=1.0, desk=desk)
        self.loop = asyncio.new_event_loop()
        self.stop = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        until(lambda: self.stop is not None, what="the bridge started")

    def _run(self) -> None:
        async def main():
            self.stop = asyncio.Event()
            await self.bridge.run(self.stop)

        self.loop.run_until_complete(main())

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(timeout=15)
        assert not self.thread.is_alive()
        self.loop.close()


def test_a_bridge_started_before_redis_waits_for_it_and_then_publishes(tmp_path):
    """``facetrack mqtt`` started before ``facetrack run`` (a boot, a unit started first): it waits, said once."""
    with Mosquitto(tmp_path / "mqtt") as broker:
        bridge = Running(MqttConfig(url=broker.url, username=USER, password=PASSWORD), embedded_url(tmp_path / "redis"))
        watcher = Recorder(broker)
        try:
            until(lambda: bridge.bridge._away_said, what="the bridge saying Redis is away")
            assert bridge.thread.is_alive()
            with EmbeddedRedis(tmp_path / "redis") as server:
                client = redis.Redis.from_url(server.url)
                add(client, event("person.entered", 7, "Ada", crop_jpeg=CROP))
                until(lambda: watcher.latest().get("facetrack/person/7/state") == b"home", 30, "Ada home")
                bridge.close()
                client.close()
        finally:
            watcher.close()
            if bridge.thread.is_alive():
                bridge.close()


def test_presence_discovery_and_each_event_once_through_restarts_and_an_erasure(tmp_path, caplog):
    with EmbeddedRedis(tmp_path / "redis") as server, Mosquitto(tmp_path / "mqtt") as broker:
        client = redis.Redis.from_url(server.url)
        config = MqttConfig(url=broker.url, username=USER, password=PASSWORD)
        events = Recorder(broker, "facetrack/events", client_id="events-reader", persistent=True)
        first = [event("track.started", None, "unknown"), event("person.entered", 7, "Ada", crop_jpeg=CROP),
                 event("person.entered", 8, "Grace", camera="yard")]
        wild = {**json.loads(first[1].model_dump_json()), "id": "f" * 32, "camera": "hall/#"}
        client.xadd(stream_key("facetrack"), {"event": json.dumps(wild)})  # another writer's: skipped, not fatal
        add(client, *first)
        bridge = Running(config, server.url)
        watcher = Recorder(broker)
        home = until(lambda: watcher.latest().get("facetrack/person/7/state") == b"home" and
                     "facetrack/bridge/status" in watcher.latest() and watcher.latest(), what="Ada home")
        tracker = json.loads(home["homeassistant/device_tracker/facetrack_7/config"])
        assert tracker["name"] == "Ada" and tracker["state_topic"] == "facetrack/person/7/state"
        assert tracker["payload_home"] == "home" and tracker["payload_not_home"] == "not_home"
        assert tracker["json_attributes_topic"] == "facetrack/person/7/attributes" and tracker["unique_id"]
        assert json.loads(home["homeassistant/sensor/facetrack_yard/config"])["state_topic"] == \
            "facetrack/camera/yard/state"
        assert home["facetrack/person/7/image"] == base64.b64decode(CROP)
        assert json.loads(home["facetrack/camera/yard/state"]) == {"people": ["Grace"]}
        assert home["facetrack/bridge/status"] == b"online"
        until(lambda: json.loads(client.get(bridge_state_key("facetrack")) or "{}").get("last_id"), what="saved")

        server.stop()  # Redis restarts under the running bridge: it waits (its clock asks Redis every tick)
        until(lambda: "waiting for Redis" in caplog.text, what="the bridge waiting for Redis")
        server.start()
        late = event("track.started", None, "unknown")
        add(client, late)
        until(lambda: any(json.loads(p)["id"] == late.id for _, p, _ in events.seen()), what="the bridge back")
        assert bridge.thread.is_alive()

        bridge.close()  # a bridge restart: it goes on from the event it reached
        add(client, event("person.left", 7, "Ada", dwell_seconds=3.0))
        bridge = Running(config, server.url)
        until(lambda: watcher.latest().get("facetrack/person/7/state") == b"not_home", what="Ada not_home")
        attributes = json.loads(watcher.latest()["facetrack/person/7/attributes"])
        assert attributes["cameras"] == [] and attributes["last_camera"] == "door"

        broker.stop(forget=True)  # the broker restarted with nothing retained
        add(client, event("identity.resolved", 8, "Grace", camera="yard"))
        broker.start()
        fresh = Recorder(broker)
        until(lambda: fresh.latest().get("facetrack/person/8/state") == b"home" and  # (republished in any order)
              fresh.latest().get("facetrack/person/7/state") == b"not_home", what="retained states back")
        assert "homeassistant/device_tracker/facetrack_8/config" in fresh.latest()

        client.sadd(erased_key("facetrack"), "8")  # Grace erased: gone from the broker too
        until(lambda: fresh.latest().get("facetrack/person/8/state") == b"", what="Grace cleared")
        bridge.close()
        after = Recorder(broker)
        after.caught_up()  # every retained message in
        assert not any(topic.startswith(("facetrack/person/8/", "homeassistant/device_tracker/facetrack_8/"))
                       for topic in after.latest())
        assert json.loads(after.latest()["facetrack/camera/yard/state"]) == {"people": []}

        published = until(lambda: [json.loads(p)["id"] for t, p, _ in events.seen()] if len(events.seen()) >= 6
                          else None, what="the events")
        written = [json.loads(f[b"event"])["id"] for _, f in client.xrange(stream_key("facetrack"))]
        assert published == written[1:]  # each once, in order, through both restarts; the wild one never
        assert not [topic for topic in after.latest() if "hall" in topic]
        for recorder in (events, watcher, fresh, after):
            recorder.close()
        client.close()


def test_over_tls_with_the_brokers_own_ca_and_credentials_from_a_file(tmp_path):
    with EmbeddedRedis(tmp_path / "redis") as server, Mosquitto(tmp_path / "mqtt", tls=True) as broker:
        secret = tmp_path / "mqtt-password"
        secret.write_text(PASSWORD + "\n")
        config = MqttConfig(url=broker.url, username=USER, password_file=str(secret), ca_file=str(broker.ca))
        client = redis.Redis.from_url(server.url)
        add(client, event("person.entered", 3, "Lin"))
        bridge = Running(config, server.url)
        watcher = Recorder(broker)
        until(lambda: watcher.latest().get("facetrack/person/3/state") == b"home", what="Lin home, over TLS")
        bridge.close()
        watcher.close()
        client.close()


def test_home_assistant_entities_seen_by_last_seen_an_unknown_person_and_identity_events(tmp_path):
    """What Home Assistant users expect: per person the camera that sees them and when they were last seen; per
    camera an "unknown person" sensor raised only by a track said to be nobody enrolled, and an event entity; the
    discovery configs as Home Assistant's schemas take them; an erased person's entities gone."""
    with EmbeddedRedis(tmp_path / "redis") as server, Mosquitto(tmp_path / "mqtt") as broker:
        client = redis.Redis.from_url(server.url)
        bridge = Running(MqttConfig(url=broker.url, username=USER, password=PASSWORD), server.url)
        watcher = Recorder(broker)
        add(client, event("track.started", None, "unknown", track_id=2),  # a face not named yet: no alarm
            event("person.entered", 7, "Ada", run="a1"))
        seen = until(lambda: watcher.latest().get("facetrack/person/7/seen_by") == b"door" and watcher.latest(),
                     what="Ada seen by the door")
        assert re.match(TIMESTAMP, seen["facetrack/person/7/last_seen"].decode())
        assert seen["facetrack/camera/door/unknown"] == b"OFF"
        configs = {t: json.loads(p) for t, p in seen.items() if t.startswith("homeassistant/") and p}
        assert {t.split("/")[1] for t in configs} == {"device_tracker", "image", "sensor", "binary_sensor", "event"}
        assert [p for t, c in configs.items() for p in problems(t, c)] == []
        last = configs["homeassistant/sensor/facetrack_7_last_seen/config"]
        assert last["device_class"] == "timestamp" and last["json_attributes_topic"] == "facetrack/person/7/attributes"
        assert configs["homeassistant/sensor/facetrack_7_seen_by/config"]["state_topic"] == "facetrack/person/7/seen_by"
        unknown = configs["homeassistant/binary_sensor/facetrack_door_unknown/config"]
        assert unknown["state_topic"] == "facetrack/camera/door/unknown" and unknown["payload_on"] == "ON"

        add(client, event("track.unknown", None, "unknown", track_id=2, run="b1"))  # a clear face, nobody enrolled
        until(lambda: watcher.latest().get("facetrack/camera/door/unknown") == b"ON", what="an unknown person")
        add(client, event("track.ended", None, "unknown", track_id=2, run="b1"),
            event("person.left", 7, "Ada", run="a1"))
        until(lambda: watcher.latest().get("facetrack/camera/door/unknown") == b"OFF", what="no unknown person")
        until(lambda: watcher.latest().get("facetrack/person/7/seen_by") == b"none", what="Ada seen by no camera")
        fired = [json.loads(p) for t, p, _ in watcher.seen() if t == "facetrack/camera/door/event"]
        types = configs["homeassistant/event/facetrack_door_events/config"]["event_types"]
        assert [f["event_type"] for f in fired] == ["person.entered", "track.unknown", "person.left"]
        assert all(f["event_type"] in types for f in fired) and fired[0]["name"] == "Ada"
        add(client, event("person.entered", 9, "Grace", wall_time=time.time() - 3600))  # an hour old: caught up on
        until(lambda: watcher.latest().get("facetrack/person/9/state") == b"home", what="Grace home")
        assert not [p for t, p, _ in watcher.seen() if t == "facetrack/camera/door/event" and b"Grace" in p]

        client.sadd(erased_key("facetrack"), "7")  # Ada erased: her entities leave Home Assistant
        until(lambda: watcher.latest().get("facetrack/person/7/seen_by") == b"", what="Ada cleared")
        bridge.close()
        after = Recorder(broker)
        after.caught_up()
        assert not [t for t in after.latest() if "facetrack_7" in t or t.startswith("facetrack/person/7/")]
        for recorder in (watcher, after):
            recorder.close()
        client.close()


@needs_data
def test_a_waiting_review_is_a_home_assistant_device_answered_over_mqtt(analyzer, config, tmp_path):
    """Each review waiting for an answer appears in Home Assistant as a device (the track's face, yes, no, someone
    else) that Home Assistant's schemas take; an answer pressed there is applied by the gallery's rules and its
    outcome published; a review answered (here, or elsewhere while the bridge was down), or erased with its
    candidate, leaves the broker."""
    gallery = tmp_path / "g.db"
    with GalleryStore(gallery) as store:
        enroller = Enroller(analyzer, store, EnrollConfig())
        for person, name in ((ANN, "Ann"), (BO, "Bo")):
            enroller.enroll(name, enroller.from_images([lfw_image(person, 1), lfw_image(person, 2)])[0], [])
        yes, other = ask(analyzer, store, ANN, "Ann"), ask(analyzer, store, BO, "Ann", track=8)  # Bo's, as Ann
        erased = ask(analyzer, store, ANN, "Ann", photos=(7,), track=9)
        elsewhere = ask(analyzer, store, ANN, "Ann", photos=(8,), track=10)
        left = ask(analyzer, store, BO, "Bo", photos=(7,), track=11)
        ann = store.identity("Ann").id
    with EmbeddedRedis(tmp_path / "redis") as server, Mosquitto(tmp_path / "mqtt") as broker:
        client = redis.Redis.from_url(server.url)
        bridge = Running(MqttConfig(url=broker.url, username=USER, password=PASSWORD), server.url,
                         ReviewDesk(config, gallery))
        watcher = Recorder(broker)
        shown = until(lambda: json.loads(watcher.latest().get("facetrack/reviews", b"{}")).get("waiting") == 5
                      and watcher.latest(), what="five reviews waiting")
        configs = {t: json.loads(p) for t, p in shown.items() if t.startswith("homeassistant/") and p}
        assert [p for t, c in configs.items() for p in problems(t, c)] == []
        node = f"homeassistant/{{}}/facetrack_review_{yes}{{}}/config"
        press = configs[node.format("button", "_yes")]
        assert press["name"] == "Yes, Ann" and press["device"]["name"] == f"Is this Ann? (review {yes})"
        assert configs[node.format("image", "")]["image_topic"] == f"facetrack/review/{yes}/image"
        assert shown[f"facetrack/review/{yes}/image"][:2] == b"\xff\xd8"  # the track's face, a JPEG
        state = json.loads(shown[f"facetrack/review/{yes}/state"])
        assert (state["candidate"], state["camera"], state["track_id"], state["evidence"]) == ("Ann", "door", 7, 5.2)

        watcher.client.publish(press["command_topic"], press["payload_press"], qos=1)  # "yes" pressed
        result = until(lambda: _result(watcher, yes), what="the answer's outcome")
        assert result["answer"] == "yes" and [o["status"] for o in result["outcomes"]] == ["enrolled"] * 2
        until(lambda: watcher.latest().get(f"facetrack/review/{yes}/state") == b"", what="the review cleared")

        someone = configs[f"homeassistant/text/facetrack_review_{other}_someone/config"]
        watcher.client.publish(someone["command_topic"], b'{"answer": "perhaps"}', qos=1)
        refused = until(lambda: _result(watcher, other), what="a bad answer refused")
        assert "answer" in refused["error"] and json.loads(watcher.latest()[f"facetrack/review/{other}/state"])
        typed = someone["command_template"].replace("{{ value | tojson }}", json.dumps("Bo"))  # as Home Assistant
        watcher.client.publish(someone["command_topic"], typed, qos=1)  # renders it: "someone else: Bo"
        until(lambda: "answered_as" in (_result(watcher, other) or {}), what="someone else named")
        assert _result(watcher, other)["answered_as"] == "Bo"

        with GalleryStore(gallery) as store:
            assert (store.identity("Ann").faces, store.identity("Bo").faces) == (4, 4)
        bridge.close()  # one answered on the dashboard while the bridge is down: the next run clears it
        with GalleryStore(gallery) as store:
            Reviews(store).answer(elsewhere, YES, config)
        bridge = Running(MqttConfig(url=broker.url, username=USER, password=PASSWORD), server.url,
                         ReviewDesk(config, gallery))
        until(lambda: watcher.latest().get(f"facetrack/review/{elsewhere}/state") == b"", what="a stale one gone")

        with GalleryStore(gallery) as store:
            store.erase("Ann")
        client.sadd(erased_key("facetrack"), str(ann))
        until(lambda: watcher.latest().get(f"facetrack/review/{erased}/state") == b"", what="the erased one gone")
        assert json.loads(watcher.latest()[f"facetrack/review/{left}/state"])["candidate"] == "Bo"
        bridge.close()
        bridge = Running(MqttConfig(url=broker.url, username=USER, password=PASSWORD), server.url)  # reviews off
        until(lambda: watcher.latest().get(f"facetrack/review/{left}/state") == b"", what="reviews off: cleared")
        bridge.close()
        after = Recorder(broker)
        after.caught_up()
        assert not [t for t in after.latest() if "review" in t]  # each review, and their count, gone
        for recorder in (watcher, after):
            recorder.close()
        client.close()


def _result(watcher: Recorder, review_id: int) -> dict | None:
    """The latest outcome published for an answer to the review."""
    found = [json.loads(p) for t, p, _ in watcher.seen() if t == f"facetrack/review/{review_id}/result"]
    return found[-1] if found else None
