"""Erasure's invariant, tried on histories hypothesis makes up: after an erasure returns (and the running worker
and publisher have had their turn), nothing of the person is readable anywhere.

One camera's rules (``CameraTracks``), the camera loop's step on a gallery change (``follow_gallery``), the real
publisher, a real Redis (its append-only file read as bytes) and a real gallery file. The steps, in any order: frames
with any of two enrolled people and a stranger in view, each face recognised or not (a turned face is unknown at
first, so a track's early events, with its face, name nobody), deliveries held or made, people leaving, the camera
restarting (a new run, track ids from 1 again), an erasure, the camera's loop reading the gallery late, Redis stopped
and started again (events held meanwhile), retention passes. The check: the Stream holds no event naming an erased
person and no event of any track that ever named them, the append-only file no byte of those events, the open tracks,
the live view and who is in view (places, GET /api/presence) nothing of them, the gallery no row."""

from __future__ import annotations

import asyncio
import json
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import redis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule, run_state_machine_as_test

from gallery.store import GalleryStore, NewFace
from pipelines.events.erase import sweep_erased
from pipelines.events.publisher import EventPublisher, stream_key, track_key
from pipelines.events.redis_server import EmbeddedRedis
from pipelines.live.camera_loop import follow_gallery
from tests.support.tracks import THRESHOLD, analysis_of, faces, look
from tracker.config import TrackingConfig
from tracker.track.camera import CameraTracks
from tracker.track.identity import UNKNOWN
from tracker.track.state import CameraRules, FrameInfo, GalleryTerms, Verdict

PEOPLE = {"Ann Lee": (50.0, 1), "Bo Chen": (250.0, 2)}  # name: where the face is, its look
STRANGER = (450.0, 3)
MODEL = "test:0"
IMAGE = np.full((480, 640, 3), 120, np.uint8)


def enrolled_face(k: int) -> NewFace:
    crop = np.full((32, 32, 3), 10 * k, np.uint8)
    marks = np.arange(10, dtype=np.float32).reshape(5, 2)
    return NewFace(crop, marks, {"size": 100.0, "sharpness": 50.0, "frontal": 0.9}, f"{k}.jpg", look(k))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with EmbeddedRedis(tmp_path_factory.mktemp("redis")) as running:
        yield running


class Site(RuleBasedStateMachine):
    server: EmbeddedRedis

    def __init__(self) -> None:
        super().__init__()
        if self.server.pid is None:
            self.server.start()
        self.client = redis.Redis.from_url(self.server.url, socket_timeout=10)
        self.client.flushall()
        self.folder = tempfile.TemporaryDirectory()
        self.store = GalleryStore(Path(self.folder.name) / "gallery.db")
        self.ids = {name: self.store.save_person(name, [enrolled_face(k)], MODEL) for name, (_, k) in PEOPLE.items()}
        self.names = {i: n for n, i in self.ids.items()}
        self.terms = GalleryTerms(MODEL, THRESHOLD, 0.03, names=self.names)
        self.known = set(self.ids.values())  # the gallery as the camera's loop read it last (late after an erasure)
        self.erased: set[int] = set()
        self.carried: dict[int, set[str]] = {}  # identity -> every track (track_key) that ever named them
        self.made: dict[str, set[str]] = {}  # track_key -> the ids of every event it made
        self.up = True
        self.tombstoned = False
        self.loop = asyncio.new_event_loop()
        self.publisher = EventPublisher(self.server.url, "ft", 10_000, 10_000, on_tombstones=self._sweep_soon)
        self.stop = asyncio.Event()
        self.task = self.loop.create_task(self.publisher.run(self.stop))
        self.t = 0.0
        self.tracks = self._camera()

    def _camera(self) -> CameraTracks:
        rules = CameraRules(TrackingConfig(), scale=THRESHOLD, crop_max_bytes=20_000)
        return CameraTracks(camera_id="door", rules=rules)

    def _sweep_soon(self) -> None:
        self.tombstoned = True  # facetrack run's Retention.soon

    def _publish(self, events) -> None:
        for event in events:
            key = track_key(event.camera, event.run, event.track_id)
            self.made.setdefault(key, set()).add(event.id)
            if event.identity_id is not None:
                self.carried.setdefault(event.identity_id, set()).add(key)
            self.publisher.publish(event)

    def _pump(self, timeout: float = 15.0) -> None:
        """Let the publisher work: until it has nothing left when Redis is up, for a moment when not."""
        async def drained() -> None:
            while self.publisher.status().buffered or self.publisher._tombstones:
                await asyncio.sleep(0.01)

        if self.up:
            self.loop.run_until_complete(asyncio.wait_for(drained(), timeout))
        else:
            self.loop.run_until_complete(asyncio.sleep(0.02))

    @rule(who=st.sets(st.sampled_from([*PEOPLE, "stranger"])), recognised=st.booleans(), deliver=st.booleans())
    def frame(self, who, recognised, deliver):
        self.t += 0.2
        places = sorted([PEOPLE[n] if n in PEOPLE else STRANGER for n in who])
        found = faces(*[x for x, _ in places])
        frame = FrameInfo(1000.0 + self.t, self.t, IMAGE)
        self.tracks.note(frame)
        plan = self.tracks.plan(frame, found)
        verdicts = []
        for d in plan.embed:
            k = places[d][1]
            identity = next((i for n, i in self.ids.items() if PEOPLE[n][1] == k), None)
            known = recognised and identity in self.known
            verdicts.append(Verdict(identity, 0.02, 0.5) if known else Verdict(UNKNOWN, 4.0, 0.0))
        analysis = analysis_of(found, plan.embed, {d: places[d][1] for d in plan.embed}) if plan.embed else None
        _, events = self.tracks.update(frame, found, plan, analysis, verdicts, self.terms)
        self._publish(events)
        if deliver:
            self._pump()

    @rule()
    def everyone_leaves(self):
        self.t += 3.0
        frame = FrameInfo(1000.0 + self.t, self.t, IMAGE)
        empty = faces()
        self.tracks.note(frame)
        self._publish(self.tracks.update(frame, empty, self.tracks.plan(frame, empty), None, [], self.terms)[1])

    @rule()
    def camera_restarts(self):
        self._read_gallery(set())  # the loop's last step (CameraLoop.run)
        self._publish(self.tracks.finish())
        self.tracks = self._camera()

    @precondition(lambda self: len(self.erased) < len(PEOPLE))
    @rule(name=st.sampled_from(sorted(PEOPLE)))
    def erase(self, name):
        identity = self.ids[name]
        if identity in self.erased:
            return
        self.store.erase(name)
        self.erased.add(identity)
        if self.up:  # facetrack gallery erase's sweep; with Redis away the erasure stays pending
            sweep_erased(self.store, self.client, "ft", settle=0)

    @rule()
    def worker_reads_the_gallery(self):
        self.known -= self.erased
        self._read_gallery(set(self.erased))

    def _read_gallery(self, changed: set[int]) -> None:
        """The camera's loop reads the gallery: ``known`` are the people it names now."""
        self.terms = replace(self.terms, names={i: n for i, n in self.names.items() if i in self.known})
        self._publish(follow_gallery(self.tracks, changed, 1000.0 + self.t, self.terms, self.publisher)[1])

    @precondition(lambda self: self.up)
    @rule()
    def redis_stops(self):
        self.server.stop()
        self.up = False
        self._pump()

    @precondition(lambda self: not self.up)
    @rule()
    def redis_starts(self):
        self.server.start()
        self.up = True

    @precondition(lambda self: self.up)
    @rule()
    def retention_pass(self):
        sweep_erased(self.store, self.client, "ft", settle=0)

    @rule()
    def once_settled_nothing_of_an_erased_person_is_left(self):
        if not self.up:
            self.redis_starts()
        self.worker_reads_the_gallery()  # the next frame
        self._pump()
        if self.tombstoned or self.store.pending_erasures():
            self.tombstoned = False
            sweep_erased(self.store, self.client, "ft", settle=0)
        theirs = set().union(*(self.carried.get(i, set()) for i in self.erased))
        for _, fields in self.client.xrange(stream_key("ft")):
            event = json.loads(fields[b"event"])
            assert event["identity_id"] not in self.erased, event
            assert track_key(event["camera"], event["run"], event["track_id"]) not in theirs, event
        files = b"".join(p.read_bytes() for p in self.server.data_dir.rglob("*.aof*") if p.is_file())
        for key in theirs:  # (an event's write-once mark keeps its bare id an hour: no more than that)
            assert not [i for i in self.made[key] if f'"id":"{i}"'.encode() in files], f"track {key} in the AOF"
        assert not any(state.carried & self.erased for state in self.tracks.states.values())
        assert not {v.identity_id for v in self.tracks.views()} & self.erased
        assert not set(self.tracks.outbox.places.in_view.tracks) & self.erased
        for identity in self.erased:
            assert self.store.find(self.names[identity]) is None
        assert not self.store.pending_erasures()

    def teardown(self):
        try:
            self.once_settled_nothing_of_an_erased_person_is_left()
        finally:
            self._close()

    def _close(self) -> None:
        self.stop.set()
        if self.up:
            self.loop.run_until_complete(asyncio.wait_for(self.task, 30))
        else:
            self.task.cancel()
            self.loop.run_until_complete(asyncio.gather(self.task, return_exceptions=True))
        self.loop.close()
        self.client.close()
        self.store.close()
        self.folder.cleanup()


@pytest.mark.timeout(600)
def test_after_an_erasure_nothing_of_the_person_is_readable_anywhere(server):
    Site.server = server
    run_state_machine_as_test(Site, settings=settings(max_examples=30, stateful_step_count=25, deadline=None,
                                                      suppress_health_check=[HealthCheck.too_slow]))
