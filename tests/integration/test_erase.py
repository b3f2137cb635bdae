"""`facetrack gallery erase`: nothing of the person is left in the gallery file, the event Stream or Redis's
append-only file, read directly from SQLite, Redis and its files; other people's and strangers' records stay;
the gallery goes first, so an unreachable Redis delays the Stream's part and loses nothing; a late event
naming the person is never written."""

import asyncio
import json
import sqlite3

import pytest
import redis

from gallery.negatives import Negatives
from gallery.sightings import NAMED, Unknowns
from gallery.store import GalleryStore, NewFace
from pipelines.events.publisher import EventPublisher, stream_key
from pipelines.events.redis_server import EmbeddedRedis, free_port
from tests.conftest import needs_data
from tests.support.cli import run
from tracker.events import Event
from tracker.track.sighting import Sighting, SightingFace

pytestmark = needs_data


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
    with EmbeddedRedis(tmp_path / "redis", free_port()) as running:
        yield running


def _config(tmp_path, cache_dir, url):
    config = tmp_path / "config.toml"
    config.write_text(f'[models]\ncache_dir = "{cache_dir}"\ndevice = "cpu"\n\n[redis]\nurl = "{url}"\n')
    return config


def _append_only_bytes(server) -> bytes:
    """Every append-only file (Redis 6: one ``appendonly.aof``; Redis 7: the parts in ``appendonlydir/``)."""
    return b"".join(p.read_bytes() for p in server.data_dir.rglob("*.aof*") if p.is_file())


def test_erase_leaves_nothing_of_the_person_in_the_gallery_the_stream_or_redis_files(analyzer, gallery, server,
                                                                                     tmp_path, cache_dir):
    with GalleryStore(gallery) as store:
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
    for event in events:
        client.xadd(stream_key("facetrack"), {"event": event.model_dump_json()})
    client.xadd(stream_key("facetrack"), {"note": "written by hand, not an event"})  # must not stop the erasure
    assert b"Colin Powell" in _append_only_bytes(server)  # Redis keeps every write as it was made

    result = run("gallery", "erase", "Colin Powell", "--gallery", gallery, config=_config(tmp_path, cache_dir,
                                                                                          server.url))

    assert result.returncode == 0, result.stderr
    assert ("erased Colin Powell from the gallery: 3 face(s), 1 rejected face(s), 1 sighting(s) in 1 named "
            "cluster(s)") in result.stdout
    assert "5 event(s) of 1 erased person(s) deleted from the Stream" in result.stdout
    entries = client.xrange(stream_key("facetrack"))
    left = [Event.model_validate_json(f[b"event"]) for _, f in entries if b"event" in f]
    assert [e.id for e in left] == [events[i].id for i in (1, 6, 7, 8)]  # the strangers' tracks only
    assert all(e.identity_id is None for e in left) and len(entries) == 5
    assert client.sismember(stream_key("facetrack").replace(":events", ":erased"), colin)  # for late publishers
    client.close()
    assert b"Colin Powell" not in _append_only_bytes(server)  # the append-only file rewritten
    db = sqlite3.connect(gallery)
    counts = [db.execute(sql, (colin,)).fetchone()[0] for sql in (
        "SELECT COUNT(*) FROM identities WHERE id = ?", "SELECT COUNT(*) FROM faces WHERE identity_id = ?",
        "SELECT COUNT(*) FROM sightings WHERE identity_id = ?", "SELECT COUNT(*) FROM clusters WHERE identity_id = ?")]
    others = db.execute("SELECT name FROM identities").fetchall()
    faces, embeddings, sighting_faces, negatives, negative_embeddings = (
        db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
        for t in ("faces", "embeddings", "sighting_faces", "negatives", "negative_embeddings"))
    tombstone = db.execute("SELECT swept_at IS NOT NULL FROM erasures WHERE identity_id = ?", (colin,)).fetchall()
    db.close()
    assert counts == [0, 0, 0, 0] and others == [("Ann Other",)]
    assert (faces, embeddings, sighting_faces, negatives, negative_embeddings) == (0, 0, 0, 0, 0)
    assert tombstone == [(1,)]  # the bare id stays, swept
    assert b"Colin Powell" not in gallery.read_bytes()  # overwritten and compacted, not just unlinked


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
