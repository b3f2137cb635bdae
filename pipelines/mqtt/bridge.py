"""``facetrack mqtt``: the identity events, from the Redis Stream to an MQTT broker, for Home Assistant and
anything else that speaks MQTT.

It follows the Stream from the id it reached last (kept in Redis at ``<prefix>:mqtt:bridge`` with the
presence state, written only after the broker acknowledged everything an event made it publish), so a
restarted bridge misses nothing and repeats nothing; a first start reads the Stream from its oldest kept
event. What it publishes (``mqtt.topic_prefix``, ``facetrack`` by default):

- ``<prefix>/events``: every event as JSON (without its face crop), QoS 2 (exactly once), not retained;
- ``<prefix>/person/<identity id>/state``: ``home`` / ``not_home``, retained;
- ``<prefix>/person/<identity id>/attributes``: name, cameras in view, last camera, last seen, since, retained;
- ``<prefix>/person/<identity id>/image``: their latest face crop (JPEG bytes), retained;
- ``<prefix>/person/<identity id>/seen_by``: the camera that has them in view now, or ``none``, retained;
- ``<prefix>/person/<identity id>/last_seen``: when a camera last saw them enter or leave (ISO 8601), retained;
- ``<prefix>/camera/<camera>/state``: the names in view there, retained;
- ``<prefix>/camera/<camera>/unknown``: ``ON`` while a track there is said to be nobody enrolled (a clear face
  that matches nobody: ``track.unknown``), else ``OFF``, retained;
- ``<prefix>/camera/<camera>/event``: the camera's identity events (``EVENT_TYPES``) for a Home Assistant
  ``event`` entity: ``{"event_type": ..., "name": ..., ...}``, not retained;
- ``<prefix>/bridge/status``: ``online``, and ``offline`` as its last will;
- with ``mqtt.reviews``, ``<prefix>/review/<id>/...`` and ``<prefix>/reviews``: the reviews waiting for an answer,
  answered on ``<prefix>/review/<id>/answer`` (``pipelines/mqtt/reviews.py``); without, any an earlier run left
  are cleared;
- Home Assistant discovery (``mqtt.discovery_prefix``): per person a ``device_tracker``, an ``image`` and the
  ``sensor``s ``seen by`` and ``last seen``; per camera a ``sensor`` (people in view), a ``binary_sensor``
  (unknown person) and an ``event`` entity; with reviews, per waiting review a device with its face, yes, no and
  someone else, and their count; all retained, so they appear as entities with no YAML.

Every retained topic is published again each time the bridge (re)connects, so a broker restarted without
its store has the state back at once. An erased person (``<prefix>:erased``) has every retained topic of
theirs, and of the reviews that asked about them, cleared and their discovery entries removed."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
import redis.asyncio as aioredis
from redis.exceptions import AuthenticationError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gallery.reviews import Review
from pipelines.events.erase import bridge_state_key
from pipelines.events.publisher import erased_key
from pipelines.events.subscriber import read_events
from pipelines.mqtt.reviews import REVIEW_SECONDS, ReviewDesk, review_messages, review_topics, waiting_summary
from tracker.config import MqttConfig
from tracker.errors import ConfigError
from tracker.redact import redact
from tracker.whereabouts import Person, Whereabouts

logger = logging.getLogger(__name__)
EVENT_TYPES = ["identity.resolved", "identity.changed", "person.entered", "person.left", "track.unknown",
               "person.unknown_recurring", "identity.review"]  # those a camera's Home Assistant event entity fires
FIRE_SECONDS = 60.0
ACK_SECONDS = 10.0
RETRY_SECONDS = 0.5  # Redis away at the start: asked again this often
STOP_SECONDS = 5.0  # at a stop, how long the event in hand may take to be acknowledged and saved


def broker_password(config: MqttConfig) -> str:
    if config.password or not config.password_file:
        return config.password
    try:
        return Path(config.password_file).expanduser().read_text().strip()
    except OSError as error:
        raise ConfigError(f"mqtt.password_file: {config.password_file}: {error.strerror}") from None


class Broker:
    """A paho client on its own network thread: ``publish`` queues (QoS 1 or 2, kept while the broker is away and
    sent again on reconnect), ``acknowledged`` waits for the broker's PUBACKs (counted by message id: paho
    re-sends a message queued while disconnected but still calls it failed)."""

    def __init__(self, config: MqttConfig, on_connect) -> None:
        where = urlsplit(config.url)
        if not where.hostname:
            raise ConfigError(f"mqtt.url: {redact(config.url)} has no host")
        self.config = config
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=config.client_id,
                                  clean_session=False, reconnect_on_failure=True)
        self.client.max_queued_messages_set(0)  # everything is kept while the broker is away
        username = config.username or unquote(where.username or "")
        password = broker_password(config) or unquote(where.password or "")
        if username:
            self.client.username_pw_set(username, password or None)
        if where.scheme == "mqtts":
            self.client.tls_set(ca_certs=config.ca_file or None, cert_reqs=ssl.CERT_REQUIRED)
        status = f"{config.topic_prefix}/bridge/status"
        self.client.will_set(status, "offline", qos=1, retain=True)
        self.client.reconnect_delay_set(1, 10)
        self.client.on_connect = self._connected
        self.client.on_disconnect = lambda *_: logger.warning("mqtt: the broker at %s went away; reconnecting",
                                                              redact(config.url))
        self.client.on_publish = self._on_publish
        self._on_connect = on_connect
        self._subscriptions: list[str] = []
        self.host, self.port = where.hostname, where.port or (8883 if where.scheme == "mqtts" else 1883)
        self._waiting: list[int] = []  # message ids published, not yet known acknowledged
        self._acked: set[int] = set()
        self._condition = threading.Condition()
        self._closing = False

    def _connected(self, client, userdata, flags, reason, properties) -> None:
        if reason.is_failure:
            logger.warning("mqtt: the broker at %s refused the connection: %s", redact(self.config.url), reason)
        else:
            for topic in self._subscriptions:
                client.subscribe(topic, qos=1)
            self._on_connect()

    def _on_publish(self, client, userdata, mid, reason, properties) -> None:
        with self._condition:
            self._acked.add(mid)
            self._condition.notify_all()

    def subscribe(self, topic: str, handler: Callable[[mqtt.MQTTMessage], None]) -> None:
        """Before ``start``: ``handler(message)`` on paho's thread for each message on ``topic`` (a filter),
        subscribed again at each connect."""
        self._subscriptions.append(topic)
        self.client.message_callback_add(topic, lambda client, userdata, message: handler(message))

    def start(self) -> None:
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()

    def release(self) -> None:
        """End any wait for acknowledgements (what is unacknowledged is not saved as done)."""
        with self._condition:
            self._closing = True
            self._condition.notify_all()

    def stop(self) -> None:
        self.release()
        self.client.publish(f"{self.config.topic_prefix}/bridge/status", "offline", qos=1, retain=True)
        self.client.disconnect()
        self.client.loop_stop()

    def publish(self, topic: str, payload: bytes | str, retain: bool = False, qos: int = 1) -> None:
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        with self._condition:
            self._waiting.append(info.mid)

    async def acknowledged(self) -> bool:
        """Until the broker acknowledged everything published so far (however long it is away); False when the
        bridge stopped first."""
        return await asyncio.to_thread(self._wait_all)

    def _wait_all(self) -> bool:
        with self._condition:
            while self._waiting and not self._closing:
                self._condition.wait_for(  # the feed and the clock may both wait, each until all is acknowledged
                    lambda: not self._waiting or self._waiting[0] in self._acked or self._closing, timeout=ACK_SECONDS)
                while self._waiting and self._waiting[0] in self._acked:
                    self._acked.discard(self._waiting.pop(0))
            return not self._waiting


class Bridge:
    def __init__(self, config: MqttConfig, redis_url: str, prefix: str, away_seconds: float,
                 desk: ReviewDesk | None = None) -> None:
        """``desk``: the gallery's reviews, published and answered here (None: not here)."""
        self.config, self.redis_url, self.prefix, self.away_seconds = config, redis_url, prefix, away_seconds
        self.desk = desk
        self.reviews: dict[int, Review] = {}  # the waiting reviews on the broker now
        self._faces: dict[Review, bytes | None] = {}  # ...and their faces
        self._erasures = 0  # erasures seen: a read of the gallery's reviews from before one is not published
        self._recount = True  # the count of waiting reviews is due (this connection has not had it)
        self._held: set[int] = set()  # reviews whose state the broker holds (from an earlier run too): cleared
        # once they no longer wait
        self._answers: asyncio.Queue[tuple[int, bytes]] | None = None  # from the command topic, in arrival order
        self.topics = config.topic_prefix
        self.whereabouts = Whereabouts()
        self._connected = threading.Event()  # set by paho's thread at each (re)connect
        self.crops: dict[int, bytes] = {}
        self._discovered: dict[str, str] = {}  # discovery topic -> the name it was published with, this connection
        self.broker = Broker(config, self._connected.set)
        self.last_id = "0"
        self._stopping = False
        self._in_hand = False  # an event published, not yet acknowledged and saved
        self._away_said = False  # Redis away: said once (the feed says so itself)
        self._unsaved = False  # a save Redis did not take: tried again every tick

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop`` is set (or Redis answers with something other than events)."""
        client = aioredis.Redis.from_url(self.redis_url, socket_connect_timeout=2)
        try:
            if not await self._restore(client, stop):
                return
            logger.info("mqtt: publishing to %s from stream id %s", redact(self.config.url), self.last_id)
            loop = asyncio.get_running_loop()
            self.broker.subscribe(f"{self.topics}/review/+/state",  # reviews off: cleared (``_clock``)
                                  lambda message: loop.call_soon_threadsafe(self._held_on_broker, message))
            if self.desk is not None:
                self._answers = asyncio.Queue()
                self.broker.subscribe(f"{self.topics}/review/+/answer",
                                      lambda message: loop.call_soon_threadsafe(self._answered, message))
            self.broker.start()
            work = [asyncio.create_task(self._clock(client)), asyncio.create_task(self._follow(client))]
            if self._answers is not None:
                work.append(asyncio.create_task(self._follow_reviews()))
            stopped = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait([*work, stopped], return_when=asyncio.FIRST_COMPLETED)
            self._stopping = True  # the feed finishes the event in hand (acknowledged, then saved) and stops
            if not self._in_hand:
                work[1].cancel()  # waiting on Redis for the next event: nothing to finish
            for task in work[2:]:
                task.cancel()  # the reviews: an answer being applied finishes on its thread; nothing else is owed
            finished, _ = await asyncio.wait(work, timeout=STOP_SECONDS)
            done |= finished
            self.broker.release()  # a task still waiting on the broker's acknowledgements ends now
            for task in (*work, stopped):
                task.cancel()
            await asyncio.gather(*work, stopped, return_exceptions=True)
            failed = [t for t in work if t in done and not t.cancelled() and t.exception()]
            if failed:
                raise failed[0].exception()
        finally:
            self.broker.stop()
            await client.aclose()

    async def _restore(self, client: aioredis.Redis, stop: asyncio.Event) -> bool:
        """Where the bridge was (``_save``), waiting for Redis as long as it is away (said once); False when stopped
        first."""
        while not stop.is_set():
            try:
                saved = await client.get(bridge_state_key(self.prefix))
            except REDIS_AWAY as error:
                self._redis_away(error)
                try:
                    await asyncio.wait_for(stop.wait(), RETRY_SECONDS)
                except TimeoutError:
                    pass
                continue
            if saved:
                held = json.loads(saved)
                self.last_id, self.whereabouts = held["last_id"], Whereabouts.from_json(held["presence"])
            self._away_said = False
            return True
        return False

    async def _follow(self, client: aioredis.Redis) -> None:
        async for stream_id, event in read_events(self.redis_url, self.prefix, since=self.last_id, waiting=_waiting):
            if self._stopping:
                return  # not published: the next start begins with it
            self._in_hand = True
            # QoS 2: a broker that stops before its acknowledgement reaches us does not deliver it twice
            self.broker.publish(f"{self.topics}/events", event.model_dump_json(exclude={"crop_jpeg"}), qos=2)
            self._fire(event)
            people, cameras = self.whereabouts.apply(event, time.time(), self.away_seconds)
            if event.identity_id is not None and event.crop_jpeg and event.identity_id in self.whereabouts.people \
                    and event.type != "identity.review":  # a review's face is a question, not the person's
                self.crops[event.identity_id] = base64.b64decode(event.crop_jpeg)
                self.broker.publish(f"{self.topics}/person/{event.identity_id}/image", self.crops[event.identity_id],
                                    retain=True)
            self._publish_state(people, cameras)
            if not await self.broker.acknowledged():
                return  # stopping: this event is published again by the next start
            self.last_id = stream_id
            await self._save(client)
            self._in_hand = False

    async def _clock(self, client: aioredis.Redis) -> None:
        """Every quarter second: after a (re)connect everything retained again; people whose time away has come
        ``not_home``; erased people cleared."""
        while not self._stopping:
            await asyncio.sleep(0.25)
            if self._connected.is_set():
                self._connected.clear()
                self._republish()
            if self.desk is None:  # reviews off: any a run with them left on the broker cleared
                for review_id in list(self._held):
                    self._clear_review(review_id)
            changed = self.whereabouts.due(time.time())
            erased = await self._erased(client)
            if changed or erased:
                self._publish_state(changed, set(self.whereabouts.cameras) if erased else set())
                if await self.broker.acknowledged():
                    await self._save(client)
            elif self._unsaved and not self._in_hand:
                await self._save(client)

    async def _erased(self, client: aioredis.Redis) -> set[int]:
        known = list(set(self.whereabouts.people) | {r.identity_id for r in self.reviews.values()})
        if not known:
            return set()
        try:
            flags = await client.smismember(erased_key(self.prefix), [str(i) for i in known])
        except REDIS_AWAY as error:  # asked again on the next tick
            self._redis_away(error)
            return set()
        gone = {identity for identity, flag in zip(known, flags) if flag}
        for identity in gone:
            self.whereabouts.forget(identity)
            self.crops.pop(identity, None)
            for topic in self._person_topics(identity):
                self.broker.publish(topic, b"", retain=True)  # an empty retained message deletes it
                self._discovered.pop(topic, None)
            logger.info("mqtt: erased identity %s cleared from the broker", identity)
        self._erasures += bool(gone)
        if gone and self.desk is not None:  # a review about them too (its sighting went with them)
            self._publish_reviews({i: r for i, r in self.reviews.items() if r.identity_id not in gone}, whole=False)
        return gone

    async def _save(self, client: aioredis.Redis) -> None:
        """Where the bridge is (its stream id, who is where) kept in Redis; while Redis is away, kept here and saved
        on the first tick it is back (a restart meanwhile starts from the last saved: the events since are
        published again, each with its id)."""
        try:
            await client.set(bridge_state_key(self.prefix), json.dumps({"last_id": self.last_id,
                                                                 "presence": self.whereabouts.to_json()}))
            self._away_said = self._unsaved = False
        except REDIS_AWAY as error:
            self._unsaved = True
            self._redis_away(error)

    def _redis_away(self, error: Exception) -> None:
        """Said once; an error Redis will not get over (a wrong password, a key of another type) is raised."""
        if isinstance(error, AuthenticationError) or (isinstance(error, ResponseError)
                                                      and not str(error).startswith(PASSING)):
            raise error
        if not self._away_said:
            self._away_said = True
            _waiting(self.redis_url, error)

    def _republish(self) -> None:
        """After each (re)connect: the status, discovery and every retained state again."""
        self._discovered.clear()
        self.broker.publish(f"{self.topics}/bridge/status", "online", retain=True)
        self._publish_state(set(self.whereabouts.people), set(self.whereabouts.cameras) | set(self.whereabouts.unknown))
        for identity, crop in list(self.crops.items()):
            self.broker.publish(f"{self.topics}/person/{identity}/image", crop, retain=True)
        if self.desk is not None:
            published, self.reviews, self._recount = self.reviews, {}, True
            self._publish_reviews(published, whole=False)  # (what the gallery has waiting: its next read says)
        else:  # reviews off: the count a run with them left goes too (and each review, from ``_clock``)
            discovery = self.config.discovery_prefix
            for topic in [f"{self.topics}/reviews"] + ([f"{discovery}/sensor/facetrack_reviews/config"] if discovery
                                                        else []):
                self.broker.publish(topic, b"", retain=True)

    def _publish_state(self, people: set[int], cameras: set[str]) -> None:
        for identity in people:
            person = self.whereabouts.people.get(identity)
            if person is None:
                continue
            self._discover_person(person)
            base = f"{self.topics}/person/{identity}"
            self.broker.publish(f"{base}/state", person.state, retain=True)
            self.broker.publish(f"{base}/seen_by", person.cameras[-1] if person.cameras else "none", retain=True)
            self.broker.publish(f"{base}/last_seen", _iso(person.last_seen) or "", retain=True)
            self.broker.publish(f"{base}/attributes", json.dumps(
                {"name": person.name, "identity_id": identity, "cameras": person.cameras, "zones": person.zones,
                 "last_camera": person.last_camera, "last_seen": _iso(person.last_seen), "since": _iso(person.since)}),
                retain=True)
        for camera in cameras:
            self._discover_camera(camera)
            names = [self.whereabouts.people[i].name for i in self.whereabouts.cameras.get(camera, [])
                     if i in self.whereabouts.people]
            self.broker.publish(f"{self.topics}/camera/{camera}/state", json.dumps({"people": names}), retain=True)
            self.broker.publish(f"{self.topics}/camera/{camera}/unknown",
                                "ON" if self.whereabouts.unknown.get(camera) else "OFF", retain=True)

    def _answered(self, message: mqtt.MQTTMessage) -> None:
        """An answer on ``<prefix>/review/<id>/answer``; a retained one, sent again at each (re)subscription, is
        not taken again."""
        number = message.topic.split("/")[-2]
        if not message.retain and number.isascii() and number.isdecimal() and self._answers is not None:
            self._answers.put_nowait((int(number), message.payload))

    def _held_on_broker(self, message: mqtt.MQTTMessage) -> None:
        """A review's retained state on the broker (this run's, or left by an earlier one): one to clear when it no
        longer waits; an empty one, cleared."""
        number = message.topic.split("/")[-2]
        if number.isascii() and number.isdecimal():
            (self._held.add if message.payload else self._held.discard)(int(number))

    async def _follow_reviews(self) -> None:
        """The answers as they come (each applied on a thread, its outcome published), and every ``REVIEW_SECONDS``
        the waiting reviews published and those no longer waiting cleared. The gallery unreadable (locked, not made
        yet): said once, asked again; the bridge goes on."""
        said = ""
        while not self._stopping:
            assert self._answers is not None and self.desk is not None
            try:
                review_id, payload = await asyncio.wait_for(self._answers.get(), REVIEW_SECONDS)
            except TimeoutError:
                pass
            else:
                try:
                    result = await asyncio.to_thread(self.desk.answer, review_id, payload)
                except Exception as error:  # noqa: BLE001 (the gallery locked or away: this answer fails, said)
                    result = {"id": review_id, "error": f"not applied: {redact(str(error))}"}
                self.broker.publish(f"{self.topics}/review/{review_id}/result", json.dumps(result))
                logger.info("mqtt: review %s answered over MQTT: %s", review_id, result.get("answer") or
                            result["error"])
            erasures = self._erasures
            try:
                waiting = await asyncio.to_thread(self.desk.waiting) if self.desk.ready() else []
                for review in waiting:
                    if review not in self._faces:
                        self._faces[review] = await asyncio.to_thread(self.desk.face, review.id)
            except Exception as error:  # noqa: BLE001 (a gallery fault must not stop the events: said, retried)
                if str(error) != said:
                    said = str(error)
                    logger.warning("mqtt: the gallery's reviews are unreadable for now: %s", redact(said))
                continue
            said = ""
            if erasures == self._erasures:  # (read before an erasure cleared its reviews: asked again)
                self._publish_reviews({r.id: r for r in waiting})

    def _publish_reviews(self, waiting: dict[int, Review], whole: bool = True) -> None:
        """The waiting reviews on the broker: new ones published, gone (or changed: a renamed candidate) ones
        cleared, the count when it changed. ``whole``: ``waiting`` is every review the gallery has waiting (then
        those an earlier run left on the broker that no longer wait are cleared too)."""
        stale = self._held - waiting.keys() - self.reviews.keys() if whole else set()  # left by an earlier run
        gone = {i for i, r in self.reviews.items() if waiting.get(i) != r} | stale
        if not gone and waiting.keys() == self.reviews.keys() and not self._recount:
            return
        self._recount = False
        common = self._common()
        discovery = self.config.discovery_prefix
        for review_id in gone:
            if review_id in self.reviews:
                self._faces.pop(self.reviews[review_id], None)
            self._clear_review(review_id)
        for review_id in waiting.keys() - (self.reviews.keys() - gone):
            for topic, payload in review_messages(self.topics, discovery, common, waiting[review_id],
                                                  self._faces.get(waiting[review_id])):
                self.broker.publish(topic, payload, retain=True)
        self.reviews = dict(waiting)
        if discovery:
            self._discover(f"{discovery}/sensor/facetrack_reviews/config", "reviews", {
                "name": "reviews waiting", "unique_id": f"facetrack_{self.topics}_reviews",
                "state_topic": f"{self.topics}/reviews", "value_template": "{{ value_json.waiting }}",
                "json_attributes_topic": f"{self.topics}/reviews", "icon": "mdi:account-question", **common})
        self.broker.publish(f"{self.topics}/reviews", waiting_summary(self.reviews), retain=True)

    def _clear_review(self, review_id: int) -> None:
        """Every retained topic of a review: its state, face and discovery configs (its device leaves Home
        Assistant)."""
        self._held.discard(review_id)
        for topic in review_topics(self.topics, self.config.discovery_prefix, review_id):
            self.broker.publish(topic, b"", retain=True)

    def _fire(self, event) -> None:
        """The event for the camera's Home Assistant ``event`` entity, when it is one of its types and was made in
        the last ``FIRE_SECONDS`` (a bridge catching up on the Stream does not set off automations with old news)."""
        if event.type not in EVENT_TYPES or time.time() - event.wall_time > FIRE_SECONDS:
            return
        self._discover_camera(event.camera)
        self.broker.publish(f"{self.topics}/camera/{event.camera}/event", json.dumps(
            {"event_type": event.type, "name": event.name, "identity_id": event.identity_id, "track_id": event.track_id,
             "zone": event.zone, "frame_time": _iso(event.frame_time), "event_id": event.id}))

    def _person_topics(self, identity: int) -> list[str]:
        base = f"{self.topics}/person/{identity}"
        return [f"{base}/{part}" for part in ("state", "attributes", "image", "seen_by", "last_seen")] + \
            self._discovery_topics(identity)

    def _discovery_topics(self, identity: int) -> list[str]:
        """A person's Home Assistant discovery configs: their device_tracker, their face's image entity, and the
        sensors of the camera that sees them now and of when they were last seen."""
        if not self.config.discovery_prefix:
            return []
        root = self.config.discovery_prefix
        return [f"{root}/device_tracker/facetrack_{identity}/config", f"{root}/image/facetrack_{identity}/config",
                f"{root}/sensor/facetrack_{identity}_seen_by/config",
                f"{root}/sensor/facetrack_{identity}_last_seen/config"]

    def _discover(self, topic: str, name: str, config: dict) -> None:
        """Publish a discovery config once per connection, and again when the name in it changes."""
        if self._discovered.get(topic) != name:
            self._discovered[topic] = name
            self.broker.publish(topic, json.dumps(config), retain=True)

    def _common(self) -> dict:
        """What every discovery config holds: the bridge's availability and the one facetrack device."""
        return {"availability_topic": f"{self.topics}/bridge/status", "device": {
            "identifiers": [f"facetrack_{self.topics}"], "name": "facetrack", "manufacturer": "facetrack"}}

    def _discover_person(self, person: Person) -> None:
        topics = self._discovery_topics(person.identity_id)
        if not topics:
            return
        base = f"{self.topics}/person/{person.identity_id}"
        common = self._common()
        tracker, image, seen_by, last_seen = topics
        self._discover(tracker, person.name, {
            "name": person.name, "unique_id": f"facetrack_{person.identity_id}", "state_topic": f"{base}/state",
            "json_attributes_topic": f"{base}/attributes", "payload_home": "home", "payload_not_home": "not_home",
            "source_type": "router", **common})
        self._discover(image, person.name, {
            "name": f"{person.name} face", "unique_id": f"facetrack_{person.identity_id}_face",
            "image_topic": f"{base}/image", "content_type": "image/jpeg", **common})
        self._discover(seen_by, person.name, {
            "name": f"{person.name} seen by", "unique_id": f"facetrack_{person.identity_id}_seen_by",
            "state_topic": f"{base}/seen_by", "icon": "mdi:cctv", **common})
        self._discover(last_seen, person.name, {
            "name": f"{person.name} last seen", "unique_id": f"facetrack_{person.identity_id}_last_seen",
            "state_topic": f"{base}/last_seen", "device_class": "timestamp",
            "json_attributes_topic": f"{base}/attributes", **common})

    def _discover_camera(self, camera: str) -> None:
        if not self.config.discovery_prefix:
            return
        root, base = self.config.discovery_prefix, f"{self.topics}/camera/{camera}"
        common = self._common()
        node = camera.replace(".", "_")  # a discovery object id is letters, digits, _ and - only (a camera id: also .)
        self._discover(f"{root}/sensor/facetrack_{node}/config", camera, {
            "name": f"{camera} people", "unique_id": f"facetrack_camera_{camera}", "state_topic": f"{base}/state",
            "value_template": "{{ value_json.people | count }}", "json_attributes_topic": f"{base}/state",
            "unit_of_measurement": "people", **common})
        self._discover(f"{root}/binary_sensor/facetrack_{node}_unknown/config", camera, {
            "name": f"{camera} unknown person", "unique_id": f"facetrack_camera_{camera}_unknown",
            "state_topic": f"{base}/unknown", "payload_on": "ON", "payload_off": "OFF", "icon": "mdi:account-question",
            **common})
        self._discover(f"{root}/event/facetrack_{node}_events/config", camera, {
            "name": f"{camera} identity", "unique_id": f"facetrack_camera_{camera}_events",
            "state_topic": f"{base}/event", "event_types": EVENT_TYPES, **common})


def _iso(t: float) -> str | None:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)) if t else None


# Redis restarting, cut off, or refusing for now (busy with a script, loading, out of memory, a replica, a failed
# save): the bridge waits (``Bridge._redis_away``)
REDIS_AWAY = (RedisConnectionError, RedisTimeoutError, OSError, ResponseError)
PASSING = ("BUSY", "LOADING", "OOM", "READONLY", "MISCONF", "MASTERDOWN")


def _waiting(url: str, error: Exception) -> None:
    logger.warning("mqtt: waiting for Redis at %s (%s)", redact(url), redact(str(error)))
