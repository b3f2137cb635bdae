"""One suite, two stores: every test runs on a SQLite file and on a real PostgreSQL server, through
the same ``GalleryStore``. Faces are small synthetic crops with random unit embeddings (the store
is the unit here), except the last test, which enrolls and names real LFW faces."""

from __future__ import annotations

import itertools
import sqlite3

import numpy as np
import pytest

from gallery.database import database_errors
from gallery.enroll import Enroller
from gallery.identify import Identifier
from gallery.negatives import Negatives
from gallery.reembed import missing
from gallery.store import GalleryError, GalleryStore, NewFace, log_change
from gallery.unknowns import IGNORED, NAMED, OPEN, Unknowns, expire_sightings, sighting_faces
from tests.support.data import lfw_image, needs_data
from tests.support.postgres import needs_postgres
from tracker.images import read_image
from tracker.track.sighting import Sighting, SightingFace

MODEL = "test-model:1"
_databases = itertools.count()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=needs_postgres)])
def location(request, tmp_path):
    if request.param == "sqlite":
        return tmp_path / "gallery.db"
    return request.getfixturevalue("postgres").create_database(f"suite_{next(_databases)}")


@pytest.fixture
def sqlite_location(tmp_path):
    return tmp_path / "other.db"


def unit(seed: int, dim: int = 128) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=dim).astype(np.float32)
    return v / np.linalg.norm(v)


def face(seed: int, source: str = "") -> NewFace:
    crop = np.random.default_rng(seed).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    marks = np.arange(10, dtype=np.float32).reshape(5, 2) + seed
    return NewFace(crop, marks, {"size": 100.0 + seed, "sharpness": 50.0, "frontal": 0.9}, source or f"f{seed}.jpg",
                   unit(seed), "door", 1000.0 + seed)


def sighting(seed: int, camera: str = "door", t: float = 100.0) -> Sighting:
    faces = [SightingFace(face(s).crop, face(s).landmarks, face(s).quality, unit(seed), t, 1.0) for s in (seed, seed)]
    return Sighting(camera, seed, t, t + 5, MODEL, faces)


def test_people_faces_and_embeddings_round_trip(location):
    with GalleryStore(location) as store:
        ann = store.save_person("Ann", [face(1), face(2)], MODEL, metadata={"team": "red"})
        store.save_person("Bo", [face(3)], MODEL)
        faces = store.faces(ann)
        ids, owners, vectors = store.embeddings(MODEL)
    with GalleryStore(location) as store:
        people = [(i.name, i.faces, i.metadata) for i in store.identities()]
    assert people == [("Ann", 2, {"team": "red"}), ("Bo", 1, {})]
    assert [f.source for f in faces] == ["f1.jpg", "f2.jpg"]
    assert np.array_equal(faces[0].crop, face(1).crop) and np.allclose(faces[1].landmarks, face(2).landmarks)
    assert faces[0].quality == face(1).quality
    assert list(owners) == [ann, ann, owners[2]] and np.allclose(vectors[0], unit(1))
    with GalleryStore(location) as store:  # a second model, added face by face, then replaced
        assert store.faces_missing("other:1") == list(ids)
        store.add_embeddings("other:1", [(int(ids[0]), unit(9))])
        store.add_embeddings("other:1", [(int(ids[0]), unit(10))])
        assert store.model_counts() == {MODEL: 3, "other:1": 1}
        assert np.allclose(store.embeddings("other:1")[2][0], unit(10))
        assert sorted(store.face_models(ann)[int(ids[0])]) == sorted([MODEL, "other:1"])


def test_a_change_is_whole_or_not_at_all(location):
    with GalleryStore(location) as store:
        store.save_person("Ann", [face(1)], MODEL)
        with pytest.raises(RuntimeError), store.transaction() as db:
            db.insert("INSERT INTO identities (name, metadata, created_at) VALUES (?, ?, ?)", ("Half", "{}", 1.0))
            raise RuntimeError("killed half way")
        with pytest.raises(database_errors()), store.transaction() as db:  # the face's identity does not exist
            db.execute("DELETE FROM faces")
            db.execute("INSERT INTO faces (identity_id, crop, landmarks, quality, source, added_at) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (999, b"x", b"x", "{}", "x", 1.0))
        assert [i.name for i in store.identities()] == ["Ann"] and len(store.faces()) == 1


def test_rename_conflicts_and_unknown_names(location):
    with GalleryStore(location) as store:
        store.save_person("Ann", [face(1)], MODEL)
        store.save_person("Bo", [face(2)], MODEL)
        store.rename("Ann", "Anne")
        with pytest.raises(GalleryError, match="the name 'Bo' is taken"):
            store.rename("Anne", "Bo")
        with pytest.raises(GalleryError, match="no identity named 'Cy'"):
            store.identity("Cy")
        assert [i.name for i in store.identities()] == ["Anne", "Bo"]


def test_a_cluster_named_as_a_person_is_not_merged_away(location):
    with GalleryStore(location) as store:
        unknowns = Unknowns(store, MODEL, join_distance=0.5)
        ann = store.save_person("Ann", [face(1)], MODEL)
        named, stranger = (unknowns.add(sighting(seed, "door", 100.0)) for seed in (1, 2))
        unknowns.mark(named, NAMED, ann)
        with pytest.raises(GalleryError, match="named as a person; merge cluster"):
            unknowns.merge(stranger, named)  # Ann's sightings in an open cluster would outlive her erasure
        unknowns.merge(named, stranger)  # the other way round: they become hers
        store.erase("Ann")
        assert store.query("SELECT COUNT(*) FROM sightings")[0][0] == 0


def test_names_that_differ_only_in_case_are_one_person(location):
    with GalleryStore(location) as store:
        ann = store.save_person("Ann Lee", [face(1)], MODEL)
        assert store.save_person("ann lee", [face(2)], MODEL) == ann  # before: a second person "ann lee"
        assert [(i.name, i.faces) for i in store.identities()] == [("Ann Lee", 2)]
        assert store.identity("ANN LEE").id == ann and store.find("Ann Lee").id == ann
        store.save_person("Bo", [face(3)], MODEL)
        with pytest.raises(GalleryError, match="taken \\(by 'Ann Lee'"):
            store.rename("Bo", "ann LEE")
        store.rename("Ann Lee", "Ann LEE")  # a change of case is a rename of the same person
        assert sorted(i.name for i in store.identities()) == ["Ann LEE", "Bo"]
        assert Negatives(store).add("ann lee", [face(4, "stranger.jpg")], MODEL)


def test_sightings_cluster_merge_recluster_and_expire(location):
    with GalleryStore(location) as store:
        unknowns = Unknowns(store, MODEL, join_distance=0.5)
        a1 = unknowns.add(sighting(1, "door", 100.0))
        a2 = unknowns.add(sighting(1, "yard", 4000.0))
        b = unknowns.add(sighting(2, "door", 200.0))
        assert a1 == a2 and b != a1
        first = unknowns.cluster(a1)
        assert (first.sightings, first.faces, first.cameras, first.status) == (2, 4, ["door", "yard"], OPEN)
        assert unknowns.visits(a1, gap=1800) == 2 and unknowns.announce(a1) and not unknowns.announce(a1)
        assert [c.id for c in unknowns.clusters()] == [a1, b]  # most recently seen first
        model_id, faces = sighting_faces(store, unknowns.faces(b)[0].sighting_id)
        assert model_id == MODEL and len(faces) == 2
        unknowns.merge(a1, b)
        assert unknowns.recluster() == (3, 2)  # the wrong merge undone
        with pytest.raises(GalleryError, match="no cluster"):
            unknowns.cluster(2**70)
        assert expire_sightings(store, before=300.0) == 2  # the two early sightings
        assert sorted(c.sightings for c in unknowns.clusters()) == [1]


def test_retention_keeps_the_clusters_the_operator_named_or_ignored(location):
    with GalleryStore(location) as store:
        unknowns = Unknowns(store, MODEL, join_distance=0.5)
        ann = store.save_person("Ann", [face(1)], MODEL)
        named, ignored, left_open = (unknowns.add(sighting(seed, "door", 100.0)) for seed in (1, 2, 3))
        unknowns.mark(named, NAMED, ann)
        unknowns.mark(ignored, IGNORED)
        assert expire_sightings(store, before=300.0) == 3
        kept = dict(store.query("SELECT id, status FROM clusters"))
        assert kept == {named: NAMED, ignored: IGNORED}  # before, retention erased the decisions with the sightings
        again = unknowns.add(sighting(2, "door", 5000.0))  # the ignored stranger comes back
        assert again == ignored and unknowns.cluster(again).status == IGNORED


def test_erase_takes_faces_negatives_sightings_and_named_clusters(location):
    with GalleryStore(location) as store:
        ann = store.save_person("Ann", [face(1), face(2)], MODEL)
        store.save_person("Bo", [face(3)], MODEL)
        unknowns = Unknowns(store, MODEL, 0.5)
        cluster = unknowns.add(sighting(7))
        unknowns.mark(cluster, NAMED, ann)
        unknowns.add(sighting(8))
        Negatives(store).add("Ann", [face(4, "stranger.jpg")], MODEL)
        assert store.erase("Ann") == {"faces": 2, "negatives": 1, "sightings": 1, "clusters": 1, "identity_id": ann}
        assert store.pending_erasures() == [ann]  # a tombstone until the Stream is swept of them
        left = {table: store.query(f"SELECT COUNT(*) FROM {table}")[0][0] for table in (
            "identities", "faces", "embeddings", "negatives", "negative_embeddings", "clusters", "sightings")}
    assert left == {"identities": 1, "faces": 1, "embeddings": 1, "negatives": 0, "negative_embeddings": 0,
                    "clusters": 1, "sightings": 1}


def test_negatives_add_list_reembed_and_take_back(location):
    with GalleryStore(location) as store:
        ann = store.save_person("Ann", [face(1)], MODEL)
        negatives = Negatives(store)
        first, second = negatives.add("Ann", [face(5, "a.jpg"), face(6, "b.jpg")], MODEL)
        with pytest.raises(GalleryError, match="no identity named 'Cy'"):
            negatives.add("Cy", [face(7)], MODEL)
        owners, vectors = negatives.vectors(MODEL)
        assert list(owners) == [ann, ann] and np.allclose(vectors[1], unit(6))
        assert negatives.missing("other:1") == [first, second] and missing(store, "other:1") == 3
        negatives.add_embeddings("other:1", [(first, unit(9))])
        assert negatives.missing("other:1") == [second]
        negatives.remove("Ann", first)
        assert [n.source for n in negatives.of(ann)] == ["b.jpg"]
        with pytest.raises(GalleryError, match=f"no rejected face {first}"):
            negatives.get(first)


def test_export_and_import_move_a_gallery_between_the_stores(location, sqlite_location, tmp_path):
    with GalleryStore(location) as store:
        store.save_person("Ann", [face(1), face(2)], MODEL, metadata={"k": "v"})
        Negatives(store).add("Ann", [face(4, "stranger.jpg")], MODEL)
        store.export(tmp_path / "export.facetrack")
    with GalleryStore(sqlite_location) as other:  # into SQLite, and back into the store under test
        assert other.import_from(tmp_path / "export.facetrack") == (1, 2)
        other.rename("Ann", "Ann Two")
        other.export(tmp_path / "back.facetrack")
    with GalleryStore(location) as store:
        assert store.import_from(tmp_path / "back.facetrack") == (1, 2)
        with pytest.raises(GalleryError, match="already enrolled here: Ann"):
            store.import_from(tmp_path / "export.facetrack")
        two = store.identity("Ann Two")
        assert two.metadata == {"k": "v"} and two.faces == 2
        assert [n.source for n in Negatives(store).of(two.id)] == ["stranger.jpg"]
        assert np.array_equal(store.faces(two.id)[0].crop, face(1).crop)
        assert len(store.embeddings(MODEL)[0]) == 4


BAD_ROWS = {  # a damaged or hostile export, one fault at a time: the statement, what the refusal says
    "metadata not JSON": ("UPDATE identities SET metadata = '{oops'", r"identities row id \d+ \(Ann\): metadata"),
    "metadata NaN": ("UPDATE identities SET metadata = '{\"a\": NaN}'", "metadata"),
    "invisible name": ("UPDATE identities SET name = 'An' || char(8203) || 'n'", r"U\+200B"),
    "control name": ("UPDATE identities SET name = 'Ann' || char(10) || 'Lee'", "control character"),
    "empty name": ("UPDATE identities SET name = '   '", "besides spaces"),
    "short vector": ("UPDATE embeddings SET vector = zeroblob(64) WHERE rowid = 1",
                     r"embeddings of row id \d+, model test-model:1: an embedding of 16 numbers; this model's have"),
    "NaN vector": ("UPDATE embeddings SET vector = nan_last(vector) WHERE rowid = 1", "the embedding is not finite"),
    "crop not an image": ("UPDATE faces SET crop = x'00010203'", r"faces row id \d+: the face crop is not an image"),
    "crop empty": ("UPDATE faces SET crop = x''", "the face crop is not an image"),
    "crop as text": ("UPDATE faces SET crop = 'a photo'", "the face crop is not an image"),
    "landmarks short": ("UPDATE faces SET landmarks = x'0000'", "landmarks"),
    "rejected crop": ("UPDATE negatives SET crop = x'00'", r"negatives row id \d+"),
}


@pytest.mark.parametrize("fault", BAD_ROWS)
def test_an_import_is_checked_as_enrolments_are_and_refused_whole_naming_the_row(location, tmp_path, fault):
    with GalleryStore(tmp_path / "source.db") as source:
        source.save_person("Ann", [face(1), face(2)], MODEL, metadata={"k": "v"})
        Negatives(source).add("Ann", [face(4, "stranger.jpg")], MODEL)
        source.export(tmp_path / "export.facetrack")
    statement, says = BAD_ROWS[fault]
    damaged = sqlite3.connect(tmp_path / "export.facetrack")
    damaged.create_function("nan_last", 1, lambda blob: blob[:-4] + np.float32("nan").tobytes())
    damaged.execute(statement)
    damaged.commit()
    damaged.close()
    with GalleryStore(location) as store:
        store.save_person("Bo", [face(3)], MODEL)
        with pytest.raises(GalleryError, match=says):
            store.import_from(tmp_path / "export.facetrack")
        assert [i.name for i in store.identities()] == ["Bo"]  # nothing of it went in
        store.erase("Bo")  # and the gallery works on: every person can still be listed and erased
        assert store.identities() == []


def test_names_that_look_alike_are_one_person_everywhere(location, tmp_path):
    with GalleryStore(location) as store:
        store.save_person("  Zoe\u0301 ", [face(1)], MODEL)  # stored normalised: "Zoé" (NFC), no outer spaces
        assert [i.name for i in store.identities()] == ["Zo\u00e9"]
        store.save_person("zo\u00e9", [face(2)], MODEL)  # differing only in case: the same person
        assert [(i.name, i.faces) for i in store.identities()] == [("Zo\u00e9", 2)]
        assert store.identity(" Zoe\u0301").name == "Zo\u00e9"  # found as typed, decomposed and padded
        for bad in ("Ann\u200dLee", "Ann\u202eLee", "\ufeffAnn", "Ann\x00", "x" * 201, "\u3164", "Ann\ufe0f"):
            with pytest.raises(GalleryError, match="name"):
                store.save_person(bad, [face(3)], MODEL)
            with pytest.raises(GalleryError, match="name"):
                store.rename("Zo\u00e9", bad)
        store.save_person("Ann", [face(4)], MODEL)
        store.export(tmp_path / "export.facetrack")
        with GalleryStore(tmp_path / "other.db") as other:
            other.save_person("ANN", [face(5)], MODEL)
            with pytest.raises(GalleryError, match="already enrolled here: Ann"):
                other.import_from(tmp_path / "export.facetrack")


def test_a_sighting_of_a_person_erased_meanwhile_is_refused_and_the_next_one_kept(location):
    """A named track's sighting that reaches the gallery after its person was erased: refused as this sighting's
    fault (the live writer leaves it out and goes on; it retried it for ever on the foreign key)."""
    from dataclasses import replace

    with GalleryStore(location) as store:
        ann = store.save_person("Ann", [face(1)], MODEL)
        store.erase("Ann")
        unknowns = Unknowns(store, MODEL, 0.1)
        with pytest.raises(GalleryError, match="erased meanwhile"):
            unknowns.add(replace(sighting(5), identity_id=ann))
        assert unknowns.add(sighting(6)) and store.query("SELECT COUNT(*) FROM sightings")[0][0] == 1


def test_a_new_gallery_and_an_export_are_readable_by_their_user_only(sqlite_location, tmp_path):
    with GalleryStore(sqlite_location) as store:
        store.save_person("Ann", [face(1)], MODEL)
        store.export(tmp_path / "export.facetrack")
    for path in (sqlite_location, tmp_path / "export.facetrack"):
        assert path.stat().st_mode & 0o777 == 0o600, path  # before: 0644, every user's to read


def test_a_gallery_of_another_schema_version_is_refused(location):
    with GalleryStore(location) as store, store.transaction() as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(GalleryError, match="gallery schema 99, this facetrack reads 1"):
        GalleryStore(location)


def test_a_file_that_is_not_a_gallery_is_refused(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(GalleryError, match="not a facetrack gallery"):
        GalleryStore(junk)
    assert junk.read_bytes() == b"not a database at all" * 100
    assert sqlite3.sqlite_version_info >= (3, 35)  # RETURNING, which the store's inserts use


@needs_data
def test_real_faces_are_enrolled_and_named_on_either_store(location, analyzer, config):
    with GalleryStore(location) as store:
        enroller = Enroller(analyzer, store, config.enroll)
        for person in ("Colin_Powell", "Tony_Blair"):
            enroller.enroll(person, *enroller.from_images([lfw_image(person, i) for i in (1, 2, 3)]))
        identifier = Identifier(analyzer, store, config.match)
        named = [f.name for f in identifier.identify(read_image(lfw_image("Tony_Blair", 9)))]
    assert named == ["Tony_Blair"]


def test_a_change_made_elsewhere_reaches_a_running_identifier_person_by_person(location, analyzer, config):
    import time

    from gallery.watch import GalleryWatcher

    model, dim = analyzer.embedder.model_id, analyzer.embedder.dim

    def person_face(seed):
        f = face(seed)
        return NewFace(f.crop, f.landmarks, f.quality, f.source, unit(seed, dim))

    with GalleryStore(location) as store:
        store.save_person("Ann", [person_face(1)], model)
        identifier = Identifier(analyzer, store, config.match)
    watcher = GalleryWatcher(location, identifier, interval=0.2).start()

    def until(condition, what):
        deadline = time.monotonic() + 10
        while not condition():
            assert time.monotonic() < deadline, f"the running identifier never saw {what}"
            time.sleep(0.02)

    def named(seed_or_vector):
        vector = unit(seed_or_vector, dim) if isinstance(seed_or_vector, int) else seed_or_vector
        view = identifier.view
        m = view.match(vector[None])
        return view.terms.name_of(int(m.identity[0])) if m.identity[0] >= 0 else None

    lookalike = unit(2, dim) + 0.25 * unit(3, dim)  # a stranger within the threshold of Bo
    lookalike = (lookalike / np.linalg.norm(lookalike)).astype(np.float32)

    try:
        with GalleryStore(location) as other:  # another process's connection
            other.save_person("Bo", [person_face(2)], model)
            until(lambda: named(2) == "Bo", "Bo enrolled")
            assert named(lookalike) == "Bo"
            ann_index_rows = int((identifier.view.index.identity_ids == other.identity("Ann").id).sum())
            f = person_face(9)
            Negatives(other).add("Bo", [NewFace(f.crop, f.landmarks, f.quality, "lookalike", lookalike)], model)
            until(lambda: named(lookalike) is None, "the lookalike rejected as Bo")
            assert named(2) == "Bo"
            with pytest.raises(GalleryError, match=f"not {dim} finite numbers"):
                other.save_person("Cy", [NewFace(f.crop, f.landmarks, f.quality, "", np.zeros(16, np.float32))], model)
            cy = other.save_person("Cy", [person_face(4)], model)
            with other.transaction() as db:  # damaged as an unchecked import left it: a person the watcher can't read
                db.execute("UPDATE embeddings SET vector = ? WHERE face_id IN (SELECT id FROM faces WHERE "
                           "identity_id = ?)", (np.zeros(16, np.float32).tobytes(), cy))
                log_change(db, [cy])
            other.rename("Ann", "Anne")  # the changes after it still reach the running identifier
            until(lambda: named(1) == "Anne", "Ann renamed")
            assert cy not in identifier.view.index.identity_ids
            other.erase("Bo")
            until(lambda: "Bo" not in identifier.view.names.values() and named(2) is None, "Bo erased")
            assert int((identifier.view.index.identity_ids == other.identity("Anne").id).sum()) == ann_index_rows
    finally:
        watcher.stop()
    assert watcher.changes >= 4


def test_a_view_read_before_a_change_stays_the_gallery_it_was_and_the_change_comes_as_a_new_view(location, analyzer,
                                                                                                   config):
    """What a camera holds for a frame: the gallery whole as it was read, whatever changes meanwhile; the watcher's
    pass run on the caller's thread (as the HTTP API's handlers run it after a change) applies a change at once."""
    import dataclasses

    from gallery.watch import GalleryWatcher

    model, dim = analyzer.embedder.model_id, analyzer.embedder.dim

    def person_face(seed):
        f = face(seed)
        return NewFace(f.crop, f.landmarks, f.quality, f.source, unit(seed, dim))

    with GalleryStore(location) as store:
        ann = store.save_person("Ann", [person_face(1)], model)
        identifier = Identifier(analyzer, store, config.match)
        watcher = GalleryWatcher(location, identifier)  # its thread not started: only catch_up applies changes
        before = identifier.view
        bo = store.save_person("Bo", [person_face(2)], model)
        store.rename("Ann", "Anne")
        assert identifier.view is before
        watcher.catch_up(store)
        after = identifier.view
    assert dict(before.names) == {ann: "Ann"} and len(before.index) == 1 and before.face_counts == {ann: 1}
    assert before.match(unit(2, dim)[None]).identity.tolist() == [-1]  # Bo is not in the view read before
    assert dict(after.names) == {ann: "Anne", bo: "Bo"} and len(after.index) == 2
    assert after.match(unit(2, dim)[None]).identity.tolist() == [bo]
    assert after.revision == before.revision + 1 and after.changed_since(before.revision) == {ann, bo}
    with pytest.raises(dataclasses.FrozenInstanceError):
        after.revision = 0  # type: ignore[misc]
    with pytest.raises(TypeError):
        after.names[ann] = "Ann"  # type: ignore[index]


def enrolled_pair(location, analyzer, config) -> Identifier:
    """Ann and Bo enrolled, and an identifier of them."""
    model, dim = analyzer.embedder.model_id, analyzer.embedder.dim
    with GalleryStore(location) as store:
        for seed, name in ((1, "Ann"), (2, "Bo")):
            f = face(seed)
            store.save_person(name, [NewFace(f.crop, f.landmarks, f.quality, f.source, unit(seed, dim))], model)
        return Identifier(analyzer, store, config.match)


def watched_pair(location, analyzer, config):
    """Ann and Bo enrolled, an identifier of them and a watcher following the gallery."""
    from gallery.watch import GalleryWatcher

    identifier = enrolled_pair(location, analyzer, config)
    return identifier, GalleryWatcher(location, identifier, interval=0.1).start()


def wait_for(condition, what, seconds=10.0):
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"the running identifier never saw {what}"
        time.sleep(0.02)


def test_a_running_watcher_sees_changes_after_the_change_log_was_emptied_and_numbered_again(location, analyzer,
                                                                                          config):
    """Retention trims the log; SQLite then numbers its rows from 1 again, below the last id a watcher applied."""
    import time

    identifier, watcher = watched_pair(location, analyzer, config)
    try:
        with GalleryStore(location) as other:
            for n in range(3):  # the watcher's last applied id is now past what a fresh log will reach
                other.rename("Ann" if n % 2 == 0 else "Anne", "Anne" if n % 2 == 0 else "Ann")
            wait_for(lambda: "Anne" in identifier.view.names.values(), "the renames")
            other.trim_changes(time.time() + 1)  # a quiet day: retention empties the log
            other.erase("Bo")  # the next change, numbered from 1 again on SQLite
            wait_for(lambda: "Bo" not in identifier.view.names.values(), "Bo erased after the log was emptied")
    finally:
        watcher.stop()


def test_a_change_committed_after_a_later_one_is_not_skipped(location, analyzer, config):
    """PostgreSQL hands out ids in transaction order but they commit in any order: a change whose id is below
    one the watcher already applied still reaches it."""
    import threading

    identifier, watcher = watched_pair(location, analyzer, config)
    try:
        go, began = threading.Event(), threading.Event()
        with GalleryStore(location) as fast:
            def erase_slowly():
                with GalleryStore(location) as slow, slow.transaction() as db:  # takes its id first, commits last
                    db.execute("DELETE FROM identities WHERE name = ?", ("Bo",))
                    db.execute("INSERT INTO changes (identity_id, at) VALUES (NULL, ?)", (0.0,))
                    began.set()
                    go.wait(10)

            writer = threading.Thread(target=erase_slowly)
            writer.start()
            began.wait(10)
            if isinstance(location, str) and location.startswith("postgresql"):
                fast.rename("Ann", "Anne")  # a later id, committed first (SQLite: waits for the writer's lock)
                wait_for(lambda: "Anne" in identifier.view.names.values(), "the later change")
            go.set()
            writer.join(20)
            wait_for(lambda: "Bo" not in identifier.view.names.values(), "the change committed last", seconds=15)
    finally:
        watcher.stop()


@needs_postgres
def test_a_change_made_here_that_commits_after_a_later_one_names_at_once(postgres, analyzer, config):
    """The HTTP API's pass (``catch_up``, right after its change committed) applies that change even when another
    change took a later id and was applied first: no waiting for the watcher's gap grace."""
    import threading
    import time

    from gallery.watch import GalleryWatcher

    postgres_url = postgres.create_database(f"suite_{next(_databases)}")
    identifier = enrolled_pair(postgres_url, analyzer, config)
    watcher = GalleryWatcher(postgres_url, identifier)  # its thread not started: the requests' passes only
    with GalleryStore(postgres_url, create=False) as store:
        watcher.catch_up(store)  # (the log's two enrolments applied: the watcher knows where it stands)
    go, began = threading.Event(), threading.Event()

    def erase_slowly():  # request A: takes its change id first, commits last, then runs its pass
        with GalleryStore(postgres_url, create=False) as slow:
            with slow.transaction() as db:
                db.execute("DELETE FROM identities WHERE name = ?", ("Bo",))
                db.execute("INSERT INTO changes (identity_id, at) VALUES (NULL, ?)", (time.time(),))  # (no NOTIFY)
                began.set()
                go.wait(10)
            watcher.catch_up(slow)

    writer = threading.Thread(target=erase_slowly)
    writer.start()
    began.wait(10)
    with GalleryStore(postgres_url, create=False) as fast:  # request B: a later id, committed and applied first
        fast.rename("Ann", "Anne")
        watcher.catch_up(fast)
    assert sorted(identifier.view.names.values()) == ["Anne", "Bo"]
    go.set()
    writer.join(20)
    assert sorted(identifier.view.names.values()) == ["Anne"]  # at once, when A's request returns


def test_a_watcher_survives_an_unexpected_error_and_applies_the_change_it_failed_on(sqlite_location, analyzer,
                                                                                   config):
    identifier, watcher = watched_pair(sqlite_location, analyzer, config)
    real_apply, failures = identifier.apply, []

    def apply_once_broken(store, changed):
        if not failures:
            failures.append(changed)
            raise RuntimeError("a bug in applying a change")
        real_apply(store, changed)

    identifier.apply = apply_once_broken
    try:
        with GalleryStore(sqlite_location) as other:
            other.erase("Bo")
            wait_for(lambda: "Bo" not in identifier.view.names.values(), "Bo erased after the failed pass", seconds=15)
    finally:
        watcher.stop()
    assert failures


def test_a_pass_that_fails_after_reading_the_change_still_tells_the_cameras_who_changed(sqlite_location, analyzer,
                                                                                     config, monkeypatch):
    """The cameras act on the view's revision (erased people's tracks end, changed people's are unnamed): a pass that
    fails late (the store's last read) and is retried must still move it, naming the person."""
    identifier, watcher = watched_pair(sqlite_location, analyzer, config)
    before, failures = identifier.view, []
    real = GalleryStore.faces_missing

    def missing_once_broken(self, model_id):
        if not failures:
            failures.append(model_id)
            raise sqlite3.OperationalError("database is locked")
        return real(self, model_id)

    monkeypatch.setattr(GalleryStore, "faces_missing", missing_once_broken)
    try:
        with GalleryStore(sqlite_location) as other:
            bo = other.identity("Bo").id
            other.erase("Bo")
            wait_for(lambda: "Bo" not in identifier.view.names.values(), "Bo erased after the failed pass", seconds=15)
    finally:
        watcher.stop()
    assert failures and identifier.view.revision > before.revision
    assert bo in identifier.view.changed_since(before.revision)


def test_sightings_of_one_stranger_written_by_several_workers_at_once_make_one_cluster(location):
    import threading

    GalleryStore(location).close()
    barrier = threading.Barrier(4)
    errors = []

    def worker(n):
        try:
            with GalleryStore(location) as store:
                unknowns = Unknowns(store, MODEL, join_distance=0.5)
                barrier.wait()
                for i in range(5):
                    unknowns.add(sighting(3, f"cam{n}", 100.0 * i))
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    with GalleryStore(location) as store:
        clusters = Unknowns(store, MODEL, 0.5).clusters()
    assert not errors and [c.sightings for c in clusters] == [20]


def test_an_erased_persons_id_is_never_given_to_anyone_else(location, sqlite_location):
    with GalleryStore(location) as store:
        store.save_person("Ann", [face(1)], MODEL)
        bo = store.save_person("Bo", [face(2)], MODEL)
        store.erase("Bo")  # the newest person: SQLite's next rowid would be theirs again
        cy = store.save_person("Cy", [face(3)], MODEL)
        store.swept([bo])
        store.erase("Cy")
        store.swept([cy])
        di = store.save_person("Di", [face(4)], MODEL)  # a swept tombstone still holds its id
        assert bo < cy < di and store.pending_erasures() == []
        store.export(sqlite_location)
    with GalleryStore(sqlite_location) as other:  # an import into another gallery gets fresh ids there too
        assert [i.name for i in other.identities()] == ["Ann", "Di"]


def test_the_change_log_records_each_change_and_retention_trims_it_to_its_age(location):
    import time

    with GalleryStore(location) as store:
        ann = store.save_person("Ann", [face(1)], MODEL)
        store.rename("Ann", "Anne")
        store.add_embeddings("other:1", [(store.faces(ann)[0].id, unit(5))])
        logged = store.query("SELECT identity_id FROM changes ORDER BY id")
        assert logged == [(ann,), (ann,), (None,)]  # a re-embedding: anyone's faces may have changed
        with store.transaction() as db:
            db.execute("UPDATE changes SET at = ? WHERE identity_id IS NOT NULL", (time.time() - 2 * 86_400,))
        assert store.trim_changes(time.time() - 86_400) == 2
        assert store.query("SELECT identity_id FROM changes") == [(None,)]
