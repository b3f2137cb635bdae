"""`facetrack gallery erase`: nothing of the person is left in the gallery file or the event Stream,
read directly from SQLite and Redis; other people's and strangers' records stay."""

import sqlite3

import redis

from gallery.negatives import Negatives
from gallery.sightings import NAMED, Unknowns
from gallery.store import GalleryStore, NewFace
from pipelines.events.publisher import stream_key
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


def test_erase_leaves_nothing_of_the_person_in_the_gallery_or_the_stream(analyzer, gallery, redis_url, tmp_path,
                                                                         cache_dir):
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
    client = redis.Redis.from_url(redis_url)
    client.delete(stream_key("facetrack"))
    events = events_of(colin)
    for event in events:
        client.xadd(stream_key("facetrack"), {"event": event.model_dump_json()})
    config = tmp_path / "config.toml"
    config.write_text(f'[models]\ncache_dir = "{cache_dir}"\ndevice = "cpu"\n\n[redis]\nurl = "{redis_url}"\n')

    result = run("gallery", "erase", "Colin Powell", "--gallery", gallery, config=config)

    assert result.returncode == 0, result.stderr
    assert ("erased Colin Powell: 3 face(s), 1 rejected face(s), 1 sighting(s) in 1 named cluster(s), 5 event(s) "
            "from the Stream") \
        in result.stdout
    left = [Event.model_validate_json(f[b"event"]) for _, f in client.xrange(stream_key("facetrack"))]
    client.close()
    assert [e.id for e in left] == [events[i].id for i in (1, 6, 7, 8)]  # the strangers' tracks only
    assert all(e.identity_id is None for e in left)
    db = sqlite3.connect(gallery)
    counts = [db.execute(sql, (colin,)).fetchone()[0] for sql in (
        "SELECT COUNT(*) FROM identities WHERE id = ?", "SELECT COUNT(*) FROM faces WHERE identity_id = ?",
        "SELECT COUNT(*) FROM sightings WHERE identity_id = ?", "SELECT COUNT(*) FROM clusters WHERE identity_id = ?")]
    others = db.execute("SELECT name FROM identities").fetchall()
    faces, embeddings, sighting_faces, negatives, negative_embeddings = (
        db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
        for t in ("faces", "embeddings", "sighting_faces", "negatives", "negative_embeddings"))
    db.close()
    assert counts == [0, 0, 0, 0] and others == [("Ann Other",)]
    assert (faces, embeddings, sighting_faces, negatives, negative_embeddings) == (0, 0, 0, 0, 0)
    assert b"Colin Powell" not in gallery.read_bytes()  # overwritten and compacted, not just unlinked


def test_erase_with_redis_unreachable_erases_nothing_and_says_so(gallery, tmp_path, cache_dir):
    config = tmp_path / "config.toml"
    config.write_text(f'[models]\ncache_dir = "{cache_dir}"\n\n[redis]\nurl = "redis://127.0.0.1:1/0"\n')
    result = run("gallery", "erase", "Colin Powell", "--gallery", gallery, config=config)
    assert result.returncode == 2 and "nothing was erased (--gallery-only erases the gallery alone)" in result.stderr
    with GalleryStore(gallery) as store:
        assert store.identity("Colin Powell").faces == 3
    alone = run("gallery", "erase", "Colin Powell", "--gallery-only", "--gallery", gallery, config=config)
    assert alone.returncode == 0 and "0 event(s) from the Stream" in alone.stdout
