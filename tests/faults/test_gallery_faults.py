"""The gallery under faults: a bad file to import, a process killed mid-change, another writer
holding the lock, a full disk. Each leaves the gallery whole (before or after, never half),
says what went wrong in one line, and writes nothing into a file it only reads."""

import hashlib
import os
import signal
import sqlite3
import subprocess
import time

import numpy as np
import pytest

from gallery.enroll import Enroller
from gallery.store import GalleryStore, NewFace
from pipelines.live.sightings import SightingWriter
from tests.support.cli import FACETRACK, run
from tests.support.data import lfw_image, needs_data
from tests.support.postgres import needs_postgres
from tracker.track.sighting import Sighting, SightingFace

pytestmark = needs_data

PEOPLE = ("Colin_Powell", "Tony_Blair", "Donald_Rumsfeld")


@pytest.fixture(scope="module")
def config_file(tmp_path_factory, cache_dir):
    path = tmp_path_factory.mktemp("faults") / "config.toml"
    path.write_text(f'[models]\ncache_dir = "{cache_dir}"\ndevice = "cpu"\n')
    return path


@pytest.fixture(scope="module")
def seed(tmp_path_factory, analyzer, config):
    """A gallery of three people enrolled from LFW, three faces each."""
    path = tmp_path_factory.mktemp("seed") / "seed.db"
    with GalleryStore(path) as store:
        enroller = Enroller(analyzer, store, config.enroll)
        for person in PEOPLE:
            enroller.enroll(person, *enroller.from_images([lfw_image(person, i) for i in (1, 2, 3)]))
    return path


def large_copy(seed, path, copies):
    """``seed`` with each person ``copies`` times more (renamed), for changes that take long enough to interrupt."""
    with GalleryStore(seed) as store:
        store.export(path)
    db = sqlite3.connect(path)
    with db:
        for k in range(1, copies):
            for old_id, name in db.execute("SELECT id, name FROM identities WHERE name NOT LIKE '%#%'").fetchall():
                new_id = db.execute("INSERT INTO identities (name, metadata, created_at) "
                                    "SELECT ? , metadata, created_at FROM identities WHERE id = ?",
                                    (f"{name}#{k}", old_id)).lastrowid
                for (face_id,) in db.execute("SELECT id FROM faces WHERE identity_id = ?", (old_id,)).fetchall():
                    new_face = db.execute(
                        "INSERT INTO faces (identity_id, crop, landmarks, quality, source, camera, captured_at, "
                        "added_at) SELECT ?, crop, landmarks, quality, source, camera, captured_at, added_at "
                        "FROM faces WHERE id = ?", (new_id, face_id)).lastrowid
                    db.execute("INSERT INTO embeddings SELECT ?, model_id, vector FROM embeddings WHERE face_id = ?",
                               (new_face, face_id))
    db.close()
    return path


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def census(path):
    """(people, faces, embeddings by model, integrity) of a gallery file, as the next command finds it
    (an interrupted transaction is rolled back on opening)."""
    db = sqlite3.connect(path)
    try:
        people = db.execute("SELECT COUNT(*) FROM identities").fetchone()[0]
        faces = db.execute("SELECT COUNT(*) FROM faces").fetchone()[0]
        models = dict(db.execute("SELECT model_id, COUNT(*) FROM embeddings GROUP BY model_id").fetchall())
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()
    return people, faces, models, integrity


def one_line_error(result):
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_a_file_that_is_no_export_is_refused_and_left_untouched(seed, config_file, tmp_path):
    target = tmp_path / "target.db"
    with GalleryStore(seed) as store:
        store.export(target)
    before = census(target)
    empty = tmp_path / "empty.facetrack"
    empty.write_bytes(b"")
    foreign = tmp_path / "foreign.sqlite"
    db = sqlite3.connect(foreign)
    db.execute("CREATE TABLE notes (body TEXT)")
    db.execute("INSERT INTO notes VALUES ('keep me')")
    db.commit()
    db.close()
    damaged = tmp_path / "damaged.facetrack"
    with GalleryStore(seed) as store:
        store.export(damaged)
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2: len(data) // 2 + 8192] = os.urandom(8192)
    damaged.write_bytes(bytes(data))
    messages = {}
    for source in (empty, foreign, damaged):
        fingerprint = digest(source)
        result = run("gallery", "import", source, "--gallery", target, config=config_file)
        messages[source.name] = one_line_error(result)
        assert digest(source) == fingerprint  # nothing written into the file it reads
        assert census(target) == before  # nothing added
    assert "empty.facetrack: not a facetrack gallery (no table embeddings, faces, identities, meta)" in \
        messages["empty.facetrack"]
    assert "foreign.sqlite: not a facetrack gallery (no table" in messages["foreign.sqlite"]
    assert "damaged.facetrack:" in messages["damaged.facetrack"] and (
        "damaged file" in messages["damaged.facetrack"] or "malformed" in messages["damaged.facetrack"])


def kill_when(command, condition, env=None):
    """Run ``command``; SIGKILL it the moment ``condition()`` holds. Returns its exit status."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        if condition():
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.001)
    process.wait()
    process.stderr.close()
    return process.returncode


def size(path):
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def journal(gallery):
    return gallery.with_name(gallery.name + "-journal")


def test_a_kill_during_import_leaves_the_gallery_before_or_after(seed, config_file, tmp_path):
    export = large_copy(seed, tmp_path / "big.facetrack", copies=60)
    incoming = census(export)
    target = tmp_path / "target.db"
    GalleryStore(target).close()
    empty = size(target)
    code = kill_when([str(FACETRACK), "gallery", "import", str(export), "--gallery", str(target),
                      "--config", str(config_file)],
                     lambda: journal(target).exists() and size(target) > empty)  # rows written, not committed
    assert code == -signal.SIGKILL, "the import ended before it could be interrupted"
    people, faces, models, integrity = census(target)
    assert integrity == "ok" and (people, faces) == (0, 0)  # the half-done import rolled back
    result = run("gallery", "import", export, "--gallery", target, config=config_file)
    assert result.returncode == 0, result.stderr
    assert census(target) == incoming


def test_a_kill_during_remove_leaves_the_person_whole_or_gone(seed, config_file, tmp_path):
    gallery = large_copy(seed, tmp_path / "g.db", copies=60)
    people, faces, _, _ = census(gallery)
    with GalleryStore(gallery) as store:
        his = store.identity("Tony_Blair").faces
    code = kill_when([str(FACETRACK), "gallery", "remove", "Tony_Blair", "--gallery", str(gallery),
                      "--config", str(config_file)],
                     lambda: size(journal(gallery)) > 64_000)  # pages overwritten or compacted, not committed
    assert code == -signal.SIGKILL, "the remove ended before it could be interrupted"
    after = census(gallery)
    assert after[3] == "ok"
    assert after[:2] in ((people, faces), (people - 1, faces - his))  # all of Tony Blair, or none
    again = run("gallery", "remove", "Tony_Blair", "--gallery", gallery, config=config_file)
    if after[0] == people:
        assert again.returncode == 0, again.stderr
    assert census(gallery)[:2] == (people - 1, faces - his) and census(gallery)[3] == "ok"


def test_a_kill_during_reembed_keeps_done_batches_and_resumes(seed, config_file, tmp_path):
    gallery = large_copy(seed, tmp_path / "g.db", copies=30)
    _, faces, models, _ = census(gallery)
    env = {**os.environ, "FACETRACK__MODELS__EMBEDDER": "dlib-resnet-v1"}

    def some_done():
        return any(m.startswith("dlib-resnet-v1:") for m in census(gallery)[2])

    code = kill_when([str(FACETRACK), "gallery", "reembed", "--gallery", str(gallery),
                      "--config", str(config_file)], some_done, env=env)
    assert code == -signal.SIGKILL, "the re-embedding ended before it could be interrupted"
    _, _, interrupted, integrity = census(gallery)
    done = sum(n for m, n in interrupted.items() if m.startswith("dlib-resnet-v1:"))
    assert integrity == "ok" and 0 < done < faces and done % 64 == 0  # whole batches only
    result = subprocess.run([str(FACETRACK), "gallery", "reembed", "--gallery", str(gallery), "--config",
                             str(config_file)], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    assert f"{faces - done} face(s) embedded" in result.stdout  # it resumed where it stopped
    final = census(gallery)[2]
    assert sorted(final.values()) == [faces, faces] and {k: v for k, v in final.items() if k in models} == models


def test_a_gallery_locked_by_another_writer_refuses_the_change_and_says_so(seed, config_file, tmp_path):
    gallery = tmp_path / "g.db"
    with GalleryStore(seed) as store:
        store.export(gallery)
    holder = sqlite3.connect(gallery, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = run("gallery", "rename", "Tony_Blair", "Tony", "--gallery", gallery, config=config_file)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    line = one_line_error(result)
    assert f"{gallery}: database is locked; nothing was changed" in line
    assert run("gallery", "rename", "Tony_Blair", "Tony", "--gallery", gallery, config=config_file).returncode == 0


@pytest.fixture
def tiny_disk(tmp_path):
    """A 2 MB tmpfs folder (needs root, as in CI); skipped where mounting is not allowed."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_full_disk_refuses_an_enrollment_and_keeps_the_gallery(seed, config_file, tiny_disk, tmp_path):
    gallery = tiny_disk / "g.db"
    with GalleryStore(seed) as store:
        store.export(gallery)
    before = census(gallery)
    filler = tiny_disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:  # fill the disk to the last block
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    folder = tmp_path / "people" / "Gerhard_Schroeder"
    folder.mkdir(parents=True)
    for i in (1, 2, 3):
        (folder / f"{i}.jpg").symlink_to(lfw_image("Gerhard_Schroeder", i))
    result = run("enroll", "--dir", folder.parent, "--gallery", gallery, config=config_file)
    assert result.returncode == 2, result.stderr
    assert f"{gallery}:" in result.stderr and "full" in result.stderr and "nothing was changed" in result.stderr
    assert "Traceback" not in result.stderr
    assert census(gallery) == before
    filler.unlink()
    again = run("enroll", "--dir", folder.parent, "--gallery", gallery, config=config_file)
    assert again.returncode == 0, again.stderr
    assert census(gallery)[0] == before[0] + 1


def _sighting(seed: int) -> Sighting:
    rng = np.random.default_rng(seed)
    vector = rng.normal(size=128).astype(np.float32)
    face = SightingFace(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8), np.zeros((5, 2), np.float32),
                        {"size": 80.0, "sharpness": 50.0, "frontal": 0.9}, vector / np.linalg.norm(vector), 1.0, 1.0)
    return Sighting("door", seed, 100.0 + seed, 105.0 + seed, "test-model:1", [face])


@needs_postgres
def test_sightings_written_while_postgresql_restarts_are_stored_when_it_is_back(postgres, config):
    location = postgres.create_database("sightings_restart")
    GalleryStore(location).close()  # the schema, made at start as facetrack run does
    writer = SightingWriter(location, "test-model:1", 0.1, config).start()

    def stored() -> int:
        with GalleryStore(location, create=False) as store:
            return store.query("SELECT COUNT(*) FROM sightings")[0][0]

    try:
        for seed in range(3):
            writer.put(_sighting(seed))
        _wait(lambda: writer.written == 3, 30, "the first sightings")
        postgres.stop("fast")  # a restart: every connection broken
        try:
            for seed in range(3, 6):
                writer.put(_sighting(seed))  # the cameras go on meanwhile
            time.sleep(2.0)
        finally:
            postgres.resume()
        _wait(lambda: writer.written == 6, 60, "the sightings held during the outage")
    finally:
        writer.stop()
    assert (stored(), writer.failed, writer.dropped) == (6, 0, 0)  # before, the writer failed every one after
    assert writer.retries >= 1


def _wait(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out: {what}"
        time.sleep(0.1)


@needs_postgres
def test_a_gallery_change_made_after_postgresql_restarted_reaches_a_running_process(postgres, analyzer, config):
    from gallery.identify import Identifier
    from gallery.watch import GalleryWatcher

    location = postgres.create_database("watch_restart")
    model, dim = analyzer.embedder.model_id, analyzer.embedder.dim
    with GalleryStore(location) as store:
        for seed, name in ((1, "Ann"), (2, "Bo")):
            face = _sighting(seed).faces[0]
            vector = np.random.default_rng(seed).normal(size=dim).astype(np.float32)
            store.save_person(name, [NewFace(face.crop, face.landmarks, face.quality, f"{name}.jpg",
                                             vector / np.linalg.norm(vector))], model)
        identifier = Identifier(analyzer, store, config.match)
    watcher = GalleryWatcher(location, identifier, interval=0.2).start()
    try:
        assert sorted(identifier.view.names.values()) == ["Ann", "Bo"]
        postgres.stop("fast")  # the watcher's connection (LISTEN) is broken
        time.sleep(1.0)
        postgres.resume()
        with GalleryStore(location) as store:
            store.erase("Bo")  # made by another process once the server is back
        _wait(lambda: sorted(identifier.view.names.values()) == ["Ann"], 30, "the erasure after the restart")
    finally:
        watcher.stop()


@needs_postgres
def test_a_postgresql_gallery_locked_by_another_writer_refuses_the_change_and_says_so(postgres):
    import psycopg

    from gallery.store import GalleryUnavailable

    location = postgres.create_database("locked_gallery")
    with GalleryStore(location) as store:
        store.save_person("Ann", [], "m")
    other = psycopg.connect(location)
    other.execute("LOCK TABLE identities IN ACCESS EXCLUSIVE MODE")  # another writer holds it, and holds on
    try:
        with GalleryStore(location, create=False) as store, pytest.raises(GalleryUnavailable,
                                                                          match="nothing was changed"):
            store.rename("Ann", "Anne")  # before: waited for ever (no lock_timeout), holding its caller
    finally:
        other.rollback()
        other.close()
    with GalleryStore(location, create=False) as store:
        assert [i.name for i in store.identities()] == ["Ann"]
        store.rename("Ann", "Anne")  # the lock released: it goes through
