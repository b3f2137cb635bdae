"""Unknown people: sightings of real LFW faces cluster one person to a cluster, the clusters can be
merged, ignored, erased and clustered again, and `facetrack unknowns name` makes one a person
whom identification then names."""

import asyncio

import numpy as np
import pytest

from gallery.store import GalleryError, GalleryStore
from gallery.unknowns import IGNORED, NAMED, OPEN, Unknowns
from tests.support.cli import run
from tests.support.data import lfw_image, needs_data
from tests.support.http import AUTH, live_app
from tracker.face.align import STORE_224, align, landmarks_on_crop
from tracker.images import read_image
from tracker.track.sighting import Sighting, SightingFace

pytestmark = needs_data

STRANGERS = ("Gerhard_Schroeder", "Ariel_Sharon", "Hugo_Chavez")


@pytest.fixture(scope="module")
def visits(analyzer):
    """Three visits of each stranger (two photographs a visit), as the live pipeline would record them."""
    out = {}
    for person in STRANGERS:
        faces = []
        for n in range(1, 7):
            image = read_image(lfw_image(person, n))
            a = analyzer.analyze([image])[0]
            i = int(np.argmax(a.quality.size))
            quality = {"size": float(a.quality.size[i]), "sharpness": float(a.quality.sharpness[i]),
                       "frontal": float(a.quality.frontal[i])}
            faces.append(SightingFace(align(image, a.faces.landmarks[i], STORE_224),
                                      landmarks_on_crop(a.faces.landmarks[i], STORE_224), quality, a.embeddings[i],
                                      1000.0 + n, 1.0))
        out[person] = [Sighting("door" if v % 2 else "yard", 10 * v + STRANGERS.index(person), 1000.0 + 60 * v,
                                1005.0 + 60 * v, analyzer.embedder.model_id, faces[2 * v: 2 * v + 2])
                       for v in range(3)]
    return out


def clustered(store, analyzer, visits, config):
    unknowns = Unknowns(store, analyzer.embedder.model_id, config.unknowns.join_share * analyzer.verify_threshold)
    found = {}
    for v in range(3):  # visits interleaved, as people come and go
        for person in STRANGERS:
            found.setdefault(person, set()).add(unknowns.add(visits[person][v]))
    return unknowns, found


def test_sightings_of_three_strangers_make_one_cluster_each(analyzer, visits, config, tmp_path):
    with GalleryStore(tmp_path / "g.db") as store:
        unknowns, found = clustered(store, analyzer, visits, config)
        clusters = unknowns.clusters()
    assert all(len(ids) == 1 for ids in found.values())  # each stranger's three visits in one cluster
    assert len({next(iter(ids)) for ids in found.values()}) == 3  # and no two strangers share one
    assert sorted((c.sightings, c.faces, c.cameras) for c in clusters) == [(3, 6, ["door", "yard"])] * 3


def test_merge_ignore_delete_and_recluster(analyzer, visits, config, tmp_path):
    with GalleryStore(tmp_path / "g.db") as store:
        unknowns, found = clustered(store, analyzer, visits, config)
        a, b, c = (next(iter(found[p])) for p in STRANGERS)
        unknowns.merge(a, b)
        assert unknowns.cluster(a).sightings == 6 and [x.id for x in unknowns.clusters()] != []
        with pytest.raises(GalleryError, match=f"no cluster {b} "):
            unknowns.cluster(b)
        assert unknowns.recluster() == (9, 3)  # the wrong merge undone: three people again
        reclustered = unknowns.clusters()
        assert sorted(x.sightings for x in reclustered) == [3, 3, 3]
        unknowns.mark(reclustered[0].id, IGNORED)
        assert len(unknowns.clusters()) == 2 and len(unknowns.clusters((OPEN, IGNORED))) == 3
        assert unknowns.delete(reclustered[1].id) == 3
        left = (store.query("SELECT COUNT(*) FROM sightings")[0][0],
                store.query("SELECT COUNT(*) FROM sighting_faces")[0][0])
    assert left == (6, 12)  # the erased cluster's sightings and faces are gone from the file
    assert c not in (a, b)


def test_unknowns_name_enrolls_a_cluster_and_identification_then_names_that_person(analyzer, visits, config,
                                                                                   tmp_path, cache_dir):
    gallery = tmp_path / "g.db"
    with GalleryStore(gallery) as store:
        _, found = clustered(store, analyzer, visits, config)
    config_file = tmp_path / "config.toml"
    config_file.write_text(f'[models]\ncache_dir = "{cache_dir}"\ndevice = "cpu"\n')
    target = next(iter(found["Hugo_Chavez"]))
    listed = run("unknowns", "list", "--gallery", gallery, config=config_file)
    assert listed.returncode == 0 and listed.stdout.count("door, yard") == 3
    shown = run("unknowns", "show", target, "--out", tmp_path / "crops", "--gallery", gallery, config=config_file)
    assert shown.returncode == 0 and len(list((tmp_path / "crops").glob("*.jpg"))) == 6
    named = run("unknowns", "name", target, "Hugo Chavez", "--gallery", gallery, config=config_file)
    assert named.returncode == 0, named.stderr
    assert "enrolled as Hugo Chavez" in named.stdout
    probe = run("identify", lfw_image("Hugo_Chavez", 20), "--json", "--gallery", gallery, config=config_file)
    assert '"name": "Hugo Chavez"' in probe.stdout
    with GalleryStore(gallery) as store:
        unknowns = Unknowns(store, analyzer.embedder.model_id)
        assert unknowns.cluster(target).status == NAMED
        assert unknowns.cluster(target).identity_id == store.identity("Hugo Chavez").id
        assert len(unknowns.clusters()) == 2  # the named one left the open list
    missing = run("unknowns", "name", 999, "X", "--gallery", gallery, config=config_file)
    assert missing.returncode == 2 and "no cluster 999" in missing.stderr


def test_the_unknowns_endpoints_review_name_merge_ignore_and_erase_clusters(analyzer, visits, config, tmp_path):
    gallery = tmp_path / "g.db"
    with GalleryStore(gallery) as store:
        _, found = clustered(store, analyzer, visits, config)
    hugo, ariel, gerhard = (next(iter(found[p])) for p in ("Hugo_Chavez", "Ariel_Sharon", "Gerhard_Schroeder"))
    probe = lfw_image("Hugo_Chavez", 20).read_bytes()

    async def scenario():
        r = {}
        async with live_app(analyzer, config, gallery, None, pipeline=False) as (client, _):
            listed = await (await client.get("/api/unknowns")).json()
            r["listed"] = sorted(c["id"] for c in listed)
            shown = await (await client.get(f"/api/unknowns/{hugo}")).json()
            r["shown"] = (shown["sightings"], len(shown["face_list"]))
            crop = await client.get(f"/api/unknowns/{hugo}/faces/{shown['face_list'][0]['id']}/crop.jpg")
            r["crop"] = (crop.status, crop.content_type)
            r["no token"] = (await client.post(f"/api/unknowns/{hugo}/name", json={"name": "X"})).status
            errors = {}
            for label, method, path, body in (
                ("missing", "get", "/api/unknowns/999", None),
                ("beyond SQLite's integers", "get", f"/api/unknowns/{2**70}", None),
                ("merge beyond", "post", f"/api/unknowns/{hugo}/merge", {"other": 2**70}),
                ("not a number", "get", "/api/unknowns/abc", None),
                ("no such face", "get", f"/api/unknowns/{hugo}/faces/999/crop.jpg", None),
                ("bad name", "post", f"/api/unknowns/{hugo}/name", {"name": 5}),
                ("self merge", "post", f"/api/unknowns/{hugo}/merge", {"other": hugo}),
                ("merge missing", "post", f"/api/unknowns/{hugo}/merge", {"other": 999}),
                ("delete missing", "delete", "/api/unknowns/999", None),
            ):
                answer = await getattr(client, method)(path, headers=AUTH, **({"json": body} if body else {}))
                errors[label] = (answer.status, (await answer.json())["error"])
            r["errors"] = errors
            before = await (await client.post("/api/recognize", headers=AUTH, data=probe)).json()
            named = await client.post(f"/api/unknowns/{hugo}/name", headers=AUTH, json={"name": "Hugo Chavez"})
            r["named"] = (named.status, (await named.json())["enrolled"])
            after = await (await client.post("/api/recognize", headers=AUTH, data=probe)).json()
            r["recognized"] = ([f["name"] for f in before["faces"]], [f["name"] for f in after["faces"]])
            merged = await client.post(f"/api/unknowns/{ariel}/merge", headers=AUTH, json={"other": gerhard})
            r["merged"] = (merged.status, (await merged.json())["sightings"])
            ignored = await client.post(f"/api/unknowns/{ariel}/ignore", headers=AUTH)
            r["ignored"] = (ignored.status, (await ignored.json())["status"])
            r["open"] = await (await client.get("/api/unknowns")).json()
            r["every"] = sorted(c["status"] for c in await (await client.get("/api/unknowns?all=true")).json())
            r["deleted"] = (await client.delete(f"/api/unknowns/{ariel}", headers=AUTH)).status
            r["after delete"] = (await client.get(f"/api/unknowns/{ariel}")).status
        return r

    r = asyncio.run(scenario())
    assert r["listed"] == sorted([hugo, ariel, gerhard]) and r["shown"] == (3, 6)
    assert r["crop"] == (200, "image/jpeg") and r["no token"] == 401
    e = r["errors"]
    assert e["missing"] == (404, "no cluster 999 of unknown faces") and e["not a number"][0] == 400
    assert e["beyond SQLite's integers"][0] == 404 and e["merge beyond"][0] == 404
    assert e["no such face"][0] == 404 and e["bad name"] == (400, "name: Input should be a valid string")
    assert e["self merge"][0] == 400 and e["merge missing"][0] == 404 and e["delete missing"][0] == 404
    assert r["named"][0] == 201 and r["named"][1] >= 1
    assert "Hugo Chavez" not in r["recognized"][0] and "Hugo Chavez" in r["recognized"][1]  # named at once
    assert r["merged"] == (200, 6) and r["ignored"] == (200, "ignored")
    assert r["open"] == [] and r["every"] == ["ignored", "named"]
    assert r["deleted"] == 204 and r["after delete"] == 404


def test_retention_erases_old_sightings_and_trims_old_events_as_the_run_starts(analyzer, visits, config, tmp_path,
                                                                            redis_url):
    import time

    import redis

    from pipelines.events.publisher import stream_key
    from tracker.events import Event

    now = time.time()
    gallery = tmp_path / "g.db"
    with GalleryStore(gallery) as store:
        unknowns = Unknowns(store, analyzer.embedder.model_id, config.unknowns.join_share * analyzer.verify_threshold)
        old, recent = visits["Hugo_Chavez"][0], visits["Ariel_Sharon"][0]
        unknowns.add(Sighting(old.camera, 1, now - 41 * 86400, now - 40 * 86400, old.model_id, old.faces))
        unknowns.add(Sighting(recent.camera, 2, now - 60, now - 50, recent.model_id, recent.faces))
    client = redis.Redis.from_url(redis_url)
    client.delete(stream_key("facetrack"))
    event = Event(type="track.started", camera="door", track_id=1, frame_time=now, model_id="m").model_dump_json()
    client.xadd(stream_key("facetrack"), {"event": event}, id=f"{int((now - 40 * 86400) * 1000)}-0")
    client.xadd(stream_key("facetrack"), {"event": event})

    async def scenario():
        async with live_app(analyzer, config, gallery, redis_url) as (client_, runtime):
            deadline = time.monotonic() + 30
            while runtime.retention.passes == 0:
                assert time.monotonic() < deadline, "retention did not run at start"
                await asyncio.sleep(0.1)
            return await (await client_.get("/metrics")).text()

    metrics = asyncio.run(scenario())
    left = client.xlen(stream_key("facetrack"))
    client.close()
    with GalleryStore(gallery) as store:
        clusters = Unknowns(store, analyzer.embedder.model_id).clusters()
    assert left == 1 and [c.sightings for c in clusters] == [1] and clusters[0].last_seen == now - 50
    assert 'facetrack_retention_removed_total{kind="sightings"} 1.0' in metrics
    assert 'facetrack_retention_removed_total{kind="events"} 1.0' in metrics


def test_a_stranger_seen_on_the_third_visit_is_announced_once(analyzer, visits, config, tmp_path):
    from pipelines.live.sightings import SightingWriter
    from tracker.config import with_changes

    settings = with_changes(config, "test", unknowns={"recurring_visits": 3, "visit_gap_minutes": 0.5})
    gallery = tmp_path / "g.db"
    GalleryStore(gallery).close()
    join = settings.unknowns.join_share * analyzer.verify_threshold
    writer = SightingWriter(gallery, analyzer.embedder.model_id, join, settings)
    announced = []
    writer.announce = announced.append
    writer.start()
    hugo = visits["Hugo_Chavez"]
    close_by = Sighting(hugo[0].camera, 99, hugo[0].last_time + 5, hugo[0].last_time + 8, hugo[0].model_id,
                        hugo[0].faces)  # 5 s after the first: the same visit
    for sighting in (hugo[0], close_by, hugo[1], visits["Ariel_Sharon"][0], hugo[2], hugo[2]):
        writer.put(sighting)
    writer.stop()
    assert (writer.written, writer.failed, writer.dropped) == (6, 0, 0)
    assert [(e.type, e.visits, e.track_id, e.camera) for e in announced] == [
        ("person.unknown_recurring", 3, hugo[2].track_id, hugo[2].camera)]  # once, at the third visit
    with GalleryStore(gallery) as store:
        cluster = Unknowns(store, analyzer.embedder.model_id).cluster(announced[0].cluster_id)
    assert cluster.sightings == 5 and announced[0].crop_jpeg
