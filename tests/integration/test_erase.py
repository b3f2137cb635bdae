"""`facetrack gallery erase`: nothing of the person is left in the gallery file, the event Stream or Redis's
append-only file, read directly from SQLite, Redis and its files; other people's and strangers' records stay;
the gallery goes first, so an unreachable Redis delays the Stream's part and loses nothing; a late event
naming the person is never written."""

import asyncio
import itertools
import json
import sqlite3

import pytest
import redis

from gallery.negatives import Negatives
from gallery.store import GalleryStore, NewFace
from gallery.unknowns import NAMED, Unknowns
from pipelines.eval.synthetic import make_plan, write_video
from pipelines.events.erase import bridge_state_key, sweep_erased
from pipelines.events.publisher import EventPublisher, stream_key
from pipelines.events.redis_server import EmbeddedRedis, free_port
from tests.support.cli import run
from tests.support.data import LFW, needs_data
from tests.support.http import AUTH, live_app, until
from tests.support.postgres import needs_postgres
from tracker.config import with_changes
from tracker.events import Event
from tracker.track.sighting import Sighting, SightingFace

pytestmark = needs_data
_databases = itertools.count()


def events_of(identity: int) -> list[Event]:
    """Track 1 named as ``identity`` (its first events still unknown, with a crop); track 2 a stranger; then, in a
    later run, a stranger on track 1 again."""
    def e(kind, track, who=None, crop="Y3JvcA=="):
        return Event(type=kind, camera="door", track_id=track, frame_time=1.0, model_id="m", identity_id=who,
                     name="Colin Powell" if who else "unknown", crop_jpeg=crop)
    return [e("track.started", 1), e("track.started", 2), e("identity.resolved", 1, identity),
            e("person.entered", 1, identity), e("track.ended", 1, identity), e("person.left", 1, identity, None),
            e("track.ended", 2), e("track.started", 1), e("track.ended", 1)]


@pytest.fixture
def server(tmp_path):
    """A real Redis with its append-only file in a folder the test reads."""
    with EmbeddedRedis(tmp_path / "redis") as running:
        yield running


def _config(tmp_path, cache_dir, url):
    config = tmp_path / "config.toml"
    config.write_text(f'[models]\ncache_dir = "{cache_dir}"\ndevice = "cpu"\n\n[redis]\nurl = "{url}"\n')
    return config


def _append_only_bytes(server) -> bytes:
    """Every append-only file (Redis 6: one ``appendonly.aof``; Redis 7: the parts in ``appendonlydir/``)."""
    return b"".join(p.read_bytes() for p in server.data_dir.rglob("*.aof*") if p.is_file())


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=needs_postgres)])
def location(request, gallery, tmp_path):
    """The gallery with Colin Powell, in a SQLite file or in a PostgreSQL database."""
    if request.param == "sqlite":
        return gallery
    url = request.getfixturevalue("postgres").create_database(f"erase_{next(_databases)}")
    with GalleryStore(gallery) as source:
        source.export(tmp_path / "colin.facetrack")
    with GalleryStore(url) as store:
        store.import_from(tmp_path / "colin.facetrack")
    return url


def test_erase_leaves_nothing_of_the_person_in_the_gallery_the_stream_or_redis_files(analyzer, location, server,
                                                                                     tmp_path, cache_dir):
    with GalleryStore(location) as store:
        colin = store.identity("Colin Powell").id
        stored = store.faces(colin)
        face = SightingFace(stored[0].crop, stored[0].landmarks, stored[0].quality,
                            store.embeddings(analyzer.embedder.model_id, colin)[2][0], 5.0, 1.0)
        unknowns = Unknowns(store, analyzer.embedder.model_id, 0.1)
        named_cluster = unknowns.add(Sighting("door", 7, 1.0, 2.0, analyzer.embedder.model_id, [face]))
        unknowns.mark(named_cluster, NAMED, colin)
        store.save_person("Ann Other", [], analyzer.embedder.model_id)
        stranger = NewFace(stored[1].crop, stored[1].landmarks, stored[1].quality, "a face wrongly named",
                           face.embedding)
        Negatives(store).add("Colin Powell", [stranger], analyzer.embedder.model_id)
    client = redis.Redis.from_url(server.url)
    events = events_of(colin)

    def unknown(kind, t, **fields):  # camera door, track 7: the sighting of the cluster named as Colin, or not
        return Event(type=kind, camera="door", track_id=7, frame_time=t, model_id="m", crop_jpeg="Y3JvcA==", **fields)

    before_named = [unknown("track.started", 1.2), unknown("track.ended", 1.9),
                    unknown("person.unknown_recurring", 1.9, cluster_id=named_cluster, visits=3)]
    other_run = [unknown("track.started", 500.0), unknown("track.ended", 501.0)]  # another run's track 7: a stranger
    for event in [*events, *before_named, *other_run]:
        client.xadd(stream_key("facetrack"), {"event": event.model_dump_json()})
    client.xadd(stream_key("facetrack"), {"note": "written by hand, not an event"})  # must not stop the erasure
    assert b"Colin Powell" in _append_only_bytes(server)  # Redis keeps every write as it was made
    # snapshots on, as the compose file's Redis had them (uncompressed, so that the test can read them)
    client.config_set("save", "3600 1")
    client.config_set("rdbcompression", "no")
    client.save()
    snapshot = server.data_dir / "dump.rdb"
    assert b"Colin Powell" in snapshot.read_bytes()

    result = run("gallery", "erase", "Colin Powell", "--gallery", location, config=_config(tmp_path, cache_dir,
                                                                                           server.url))

    assert result.returncode == 0, result.stderr
    assert ("erased Colin Powell from the gallery: 3 face(s), 1 rejected face(s), 1 sighting(s) in 1 named "
            "cluster(s)") in result.stdout
    assert "8 event(s) of 1 erased person(s) deleted from the Stream" in result.stdout
    entries = client.xrange(stream_key("facetrack"))
    left = [Event.model_validate_json(f[b"event"]) for _, f in entries if b"event" in f]
    # the strangers' tracks only: Colin's track before he was named, and its recurring event, went too
    assert [e.id for e in left] == [events[i].id for i in (1, 6, 7, 8)] + [e.id for e in other_run]
    assert all(e.identity_id is None for e in left) and len(entries) == 7
    assert client.sismember(stream_key("facetrack").replace(":events", ":erased"), colin)  # for late publishers
    client.close()
    assert b"Colin Powell" not in _append_only_bytes(server)  # the append-only file rewritten
    assert b"Colin Powell" not in snapshot.read_bytes()  # and the snapshot
    with GalleryStore(location, create=False) as store:
        counts = [store.query(f"SELECT COUNT(*) FROM {table} WHERE {column} = ?", (colin,))[0][0]
                  for table, column in (("identities", "id"), ("faces", "identity_id"), ("sightings", "identity_id"),
                                        ("clusters", "identity_id"))]
        others = store.query("SELECT name FROM identities")
        left = [store.query(f"SELECT COUNT(*) FROM {t}")[0][0]
                for t in ("faces", "embeddings", "sighting_faces", "negatives", "negative_embeddings")]
        tombstone = store.query("SELECT swept_at IS NOT NULL FROM erasures WHERE identity_id = ?", (colin,))
    assert counts == [0, 0, 0, 0] and [tuple(r) for r in others] == [("Ann Other",)]
    assert left == [0, 0, 0, 0, 0]
    assert [tuple(r) for r in tombstone] == [(True,)]  # the bare id stays, swept
    if not isinstance(location, str):  # a SQLite file
        assert b"Colin Powell" not in location.read_bytes()  # overwritten and compacted, not just unlinked


def test_with_redis_unreachable_the_gallery_is_erased_first_and_the_stream_when_redis_is_back(
        gallery, server, tmp_path, cache_dir):
    with GalleryStore(gallery) as store:
        colin = store.identity("Colin Powell").id
    client = redis.Redis.from_url(server.url)
    for event in events_of(colin):
        client.xadd(stream_key("facetrack"), {"event": event.model_dump_json()})
    away = run("gallery", "erase", "Colin Powell", "--gallery", gallery,
               config=_config(tmp_path, cache_dir, f"redis://127.0.0.1:{free_port()}/0"))
    assert away.returncode == 2 and "the person is erased from the gallery" in away.stderr
    with GalleryStore(gallery) as store:
        assert [i.name for i in store.identities()] == [] and store.pending_erasures() == [colin]

    back = run("gallery", "erase", "--gallery", gallery, config=_config(tmp_path, cache_dir, server.url))

    assert back.returncode == 0, back.stderr
    assert "5 event(s) of 1 erased person(s) deleted from the Stream" in back.stdout
    assert all(json.loads(f[b"event"])["identity_id"] is None for _, f in client.xrange(stream_key("facetrack")))
    client.close()
    with GalleryStore(gallery) as store:
        assert store.pending_erasures() == []


def test_a_late_event_naming_an_erased_person_is_not_written(gallery, server, tmp_path, cache_dir):
    with GalleryStore(gallery) as store:
        colin = store.identity("Colin Powell").id
    assert run("gallery", "erase", "Colin Powell", "--gallery", gallery,
               config=_config(tmp_path, cache_dir, server.url)).returncode == 0
    late = events_of(colin)[2:5]  # held in a worker's buffer, or in flight on a frame, when the erasure ran
    stranger = events_of(colin)[1]

    async def publish():
        publisher = EventPublisher(server.url, "facetrack", 1000, 100)
        stop = asyncio.Event()
        running = asyncio.create_task(publisher.run(stop))
        for event in [*late, stranger]:
            publisher.publish(event)
        while publisher.status().buffered:
            await asyncio.sleep(0.05)
        stop.set()
        await running
        return publisher

    publisher = asyncio.run(publish())
    client = redis.Redis.from_url(server.url)
    written = [json.loads(f[b"event"]) for _, f in client.xrange(stream_key("facetrack"))]
    client.close()
    assert [e["id"] for e in written] == [stranger.id]
    assert (publisher.withheld, publisher.published) == (3, 1)


def test_a_track_tombstoned_before_its_naming_reached_redis_leaves_no_event_and_no_bytes(gallery, server):
    """The camera loop ended a track of an erased person while the event that named them still waited for Redis: the
    Stream then held only the track's unknown events, with its face, which no identity links to the person. Its
    tombstone (camera, run, track) drops every later event of it and the sweep deletes those written."""
    def e(kind, track, who=None, crop="VEhFSVJGQUNF"):
        return Event(type=kind, camera="door", track_id=track, run="a1b2", frame_time=1.0, model_id="m",
                     identity_id=who, name="Colin Powell" if who else "unknown", crop_jpeg=crop)
    theirs = [e("track.started", 5), e("identity.changed", 5)]
    stranger = [e("track.started", 6, crop="U1RSQU5HRVI="), e("track.ended", 6, crop="U1RSQU5HRVI=")]
    swept = []

    async def publish():
        publisher = EventPublisher(server.url, "facetrack", 1000, 100, on_tombstones=lambda: swept.append(1))
        stop = asyncio.Event()
        running = asyncio.create_task(publisher.run(stop))
        for event in [*theirs, stranger[0]]:
            publisher.publish(event)
        while publisher.status().buffered:
            await asyncio.sleep(0.05)
        publisher.publish(e("identity.resolved", 5, 4))  # named; still waiting when the erasure reaches the worker
        publisher.tombstone("door", "a1b2", {5})
        publisher.publish(e("track.ended", 5))  # late: made on a frame in flight
        publisher.publish(stranger[1])
        while publisher.status().buffered or not swept:
            await asyncio.sleep(0.05)
        stop.set()
        await running
        return publisher

    publisher = asyncio.run(publish())
    assert (publisher.published, publisher.withheld) == (4, 2)
    client = redis.Redis.from_url(server.url)
    try:
        with GalleryStore(gallery) as store:
            assert sweep_erased(store, client, "facetrack", settle=0) == 2
        left = [json.loads(f[b"event"]) for _, f in client.xrange(stream_key("facetrack"))]
        assert [(x["track_id"], x["type"]) for x in left] == [(6, "track.started"), (6, "track.ended")]
        assert not client.scard("facetrack:erased-tracks:unswept")
    finally:
        client.close()
    files = _append_only_bytes(server)
    assert b"VEhFSVJGQUNF" not in files and b"U1RSQU5HRVI=" in files


def test_a_delete_through_facetrack_serve_sweeps_the_embedded_servers_stream_at_once(analyzer, config, gallery,
                                                                                      tmp_path):
    """``facetrack serve`` has no Redis of its own: the erasure reaches the one ``facetrack run`` keeps (its data
    here, the run stopped), as ``facetrack gallery erase`` does, instead of waiting for a run's retention pass."""
    with GalleryStore(gallery) as store:
        colin = store.identity("Colin Powell").id
    port = free_port()
    with EmbeddedRedis(tmp_path / "redis") as server:
        client = redis.Redis.from_url(server.url)
        for event in events_of(colin):
            client.xadd(stream_key("facetrack"), {"event": event.model_dump_json()})
        client.close()
    settings = with_changes(config, "test", redis={"data_dir": str(tmp_path / "redis"), "port": port})

    async def scenario():
        async with live_app(analyzer, settings, gallery, None, pipeline=False) as (http, _):
            return await (await http.delete("/api/identities/Colin Powell", headers=AUTH)).json()

    body = asyncio.run(scenario())
    assert body["stream"] == {"deleted": 5, "pending": False}
    with EmbeddedRedis(tmp_path / "redis") as server:
        client = redis.Redis.from_url(server.url)
        left = [json.loads(f[b"event"]) for _, f in client.xrange(stream_key("facetrack"))]
        client.close()
    assert left and all(e["identity_id"] is None for e in left)
    with GalleryStore(gallery) as store:
        assert store.pending_erasures() == []


class _FullDisk:
    """A SQLite connection on a disk that has no room left for the copy VACUUM writes."""

    def __init__(self, connection) -> None:
        self.connection = connection

    def execute(self, sql: str, *args):
        if sql == "VACUUM":
            raise sqlite3.OperationalError("database or disk is full")
        return self.connection.execute(sql, *args)


def test_on_a_full_disk_the_erasure_still_reaches_the_stream_and_says_what_is_left(gallery, server, tmp_path,
                                                                                   cache_dir, monkeypatch, capsys):
    from gallery.database import SqliteDatabase
    from pipelines.cli.main import main

    with GalleryStore(gallery) as store:
        colin = store.identity("Colin Powell").id
    client = redis.Redis.from_url(server.url)
    for event in events_of(colin):
        client.xadd(stream_key("facetrack"), {"event": event.model_dump_json()})
    config = _config(tmp_path, cache_dir, server.url)
    compact = SqliteDatabase.compact

    def on_a_full_disk(database):
        real, database._db = database._db, _FullDisk(database._db)
        try:
            compact(database)
        finally:
            database._db = real

    def facetrack(*args) -> int:
        monkeypatch.setattr("sys.argv", ["facetrack", *map(str, args), "--config", str(config)])
        with pytest.raises(SystemExit) as done:
            main()
        return done.value.code

    with monkeypatch.context() as full:
        full.setattr(SqliteDatabase, "compact", on_a_full_disk)
        code = facetrack("gallery", "erase", "Colin Powell", "--gallery", gallery)
    said = capsys.readouterr()
    assert code == 2 and "could not be compacted (database or disk is full)" in said.err
    assert "`facetrack gallery erase` (no name) compacts it" in said.err  # what is left, and the command
    assert "5 event(s) of 1 erased person(s) deleted from the Stream" in said.out  # the Stream reached all the same
    assert client.sismember(stream_key("facetrack").replace(":events", ":erased"), colin)
    assert all(json.loads(f[b"event"])["identity_id"] is None for _, f in client.xrange(stream_key("facetrack")))
    client.close()
    assert facetrack("gallery", "erase", "--gallery", gallery) == 0  # with room again: finished
    with GalleryStore(gallery) as store:
        assert store.identities() == [] and store.pending_erasures() == []


@pytest.fixture(scope="module")
def colin_video(tmp_path_factory):
    plan = make_plan(LFW, order=("Colin_Powell",), lead=0.5, duration=30.0, tail=1.0)
    return write_video(plan, tmp_path_factory.mktemp("video") / "colin.avi")


def test_erasing_a_person_in_view_ends_their_track_and_nothing_of_it_is_written_after(analyzer, config, gallery,
                                                                                    server, colin_video):
    settings = with_changes(config, "test", http={"camera_dirs": [str(colin_video.parent)]})

    async def scenario():
        async with live_app(analyzer, settings, gallery, server.url) as (client, runtime):
            with GalleryStore(gallery) as store:
                colin = store.identity("Colin Powell").id
            added = await client.post("/api/cameras", headers=AUTH, json={"id": "hall", "url": str(colin_video)})
            assert added.status == 201
            camera = runtime.cameras["hall"]

            async def named():
                return any(t.name == "Colin Powell" for t in camera.tracks())

            await until(named, what="Colin Powell named on the camera")
            theirs = {t.id for t in camera.tracks() if t.name == "Colin Powell"}
            erased = await client.delete("/api/identities/Colin Powell", headers=AUTH)
            assert erased.status == 200
            frames = camera.status().frames_analysed
            while camera.status().frames_analysed < frames + 3:  # the next frames after the erasure
                await asyncio.sleep(0.1)
            shown = [f.name for f in camera.latest()[1]]  # what the live view draws
            tracks = await (await client.get("/api/cameras/hall/tracks")).json()
            return colin, theirs, shown, tracks  # (the run stops: open tracks end, their events are written)

    colin, theirs, shown, tracks = asyncio.run(scenario())
    assert "Colin Powell" not in shown and all(t["name"] != "Colin Powell" for t in tracks)
    assert all(t["identity_id"] != colin and t["id"] not in theirs for t in tracks)  # his face: a new track
    client = redis.Redis.from_url(server.url)
    stored = [json.loads(f[b"event"]) for _, f in client.xrange(stream_key("facetrack"))]
    client.close()
    assert stored and not [e for e in stored if e["name"] == "Colin Powell" or e["identity_id"] == colin]
    # Nothing of the track that carried his name, not even unnamed (it was un-named, and its later events and
    # its sighting, with his face, outlived the erasure)
    assert not [e["type"] for e in stored if e["track_id"] in theirs]
    sightings = sqlite3.connect(gallery).execute("SELECT track_id FROM sightings WHERE camera = 'hall'").fetchall()
    assert not {t for (t,) in sightings} & theirs


def test_events_of_no_track_are_judged_one_by_one_and_the_bridges_saved_state_forgets_the_person(gallery, server):
    """A ``person.left`` of no track (its track ended in silence) goes only when it names them; the MQTT bridge's
    saved whereabouts (kept in Redis while ``facetrack mqtt`` is stopped) lose their name and id."""
    with GalleryStore(gallery) as store:
        colin = store.identity("Colin Powell").id
        other = colin + 1000  # someone not erased
        client = redis.Redis.from_url(server.url)
        try:
            for who, name in ((other, "Someone Else"), (colin, "Colin Powell")):
                client.xadd(stream_key("facetrack"), {"event": Event(
                    type="person.left", camera="door", frame_time=1.0, model_id="m", identity_id=who,
                    name=name).model_dump_json()})
            state = {"last_id": "0-0", "presence": {"people": [
                {"identity_id": colin, "name": "Colin Powell", "cameras": ["door"], "last_camera": "door",
                 "last_seen": 1.0, "away_at": None},
                {"identity_id": other, "name": "Someone Else", "cameras": ["door"], "last_camera": "door",
                 "last_seen": 1.0, "away_at": None}], "cameras": {"door": [colin, other]}}}
            client.set(bridge_state_key("facetrack"), json.dumps(state))
            store.erase("Colin Powell")
            assert sweep_erased(store, client, "facetrack", settle=0) == 1
            left = [json.loads(f[b"event"])["name"] for _, f in client.xrange(stream_key("facetrack"))]
            saved = client.get(bridge_state_key("facetrack"))
        finally:
            client.close()
    assert left == ["Someone Else"]
    assert b"Colin" not in saved and json.loads(saved)["presence"]["cameras"] == {"door": [other]}
    assert b"Colin Powell" not in _append_only_bytes(server)
