"""The gallery store: enrolled identities and their faces, in a SQLite file or in PostgreSQL.

Every change is one transaction, so an interrupted enrollment (even ``kill -9``) leaves the
gallery as it was before or after it, never half. Each face keeps its aligned crop (so any
later model can re-embed it) and one embedding per model id. Deleted data is overwritten
and the storage compacted, so a removed person is gone for good. The engine is
``gallery.database``'s business: this module's SQL runs on both.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from gallery.database import Database, GalleryError, GalleryUnavailable, SqliteDatabase, connect
from gallery.validate import finite_vector, normalised, person_metadata, person_name
from tracker.images import decode_own

logger = logging.getLogger(__name__)
__all__ = ["GalleryError", "GalleryStore", "GalleryUnavailable", "NewFace", "decode_png", "encode_png"]

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS identities (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    metadata TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS faces (
    id INTEGER PRIMARY KEY,
    identity_id INTEGER NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
    crop BLOB NOT NULL,
    landmarks BLOB NOT NULL,
    quality TEXT NOT NULL,
    source TEXT NOT NULL,
    camera TEXT,
    captured_at REAL,
    added_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS embeddings (
    face_id INTEGER NOT NULL REFERENCES faces(id) ON DELETE CASCADE,
    model_id TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (face_id, model_id)
);
CREATE INDEX IF NOT EXISTS faces_identity ON faces(identity_id);
CREATE INDEX IF NOT EXISTS embeddings_model ON embeddings(model_id);
CREATE TABLE IF NOT EXISTS clusters (
    id INTEGER PRIMARY KEY,
    model_id TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    mean BLOB NOT NULL,
    faces INTEGER NOT NULL,
    identity_id INTEGER REFERENCES identities(id) ON DELETE SET NULL,
    announced INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sightings (
    id INTEGER PRIMARY KEY,
    cluster_id INTEGER REFERENCES clusters(id) ON DELETE CASCADE,
    model_id TEXT NOT NULL,
    camera TEXT NOT NULL,
    track_id INTEGER NOT NULL,
    first_time REAL NOT NULL,
    last_time REAL NOT NULL,
    identity_id INTEGER REFERENCES identities(id) ON DELETE CASCADE,
    mean BLOB NOT NULL,
    faces INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sighting_faces (
    id INTEGER PRIMARY KEY,
    sighting_id INTEGER NOT NULL REFERENCES sightings(id) ON DELETE CASCADE,
    crop BLOB NOT NULL,
    landmarks BLOB NOT NULL,
    quality TEXT NOT NULL,
    embedding BLOB NOT NULL,
    captured_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS negatives (
    id INTEGER PRIMARY KEY,
    identity_id INTEGER NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
    crop BLOB NOT NULL,
    landmarks BLOB NOT NULL,
    source TEXT NOT NULL,
    added_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS negative_embeddings (
    negative_id INTEGER NOT NULL REFERENCES negatives(id) ON DELETE CASCADE,
    model_id TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (negative_id, model_id)
);
CREATE INDEX IF NOT EXISTS negatives_identity ON negatives(identity_id);
CREATE TABLE IF NOT EXISTS changes (
    id INTEGER PRIMARY KEY,
    identity_id INTEGER,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS erasures (
    identity_id INTEGER PRIMARY KEY,
    erased_at REAL NOT NULL,
    swept_at REAL,
    tracks TEXT NOT NULL DEFAULT '[]',
    clusters TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS reviews (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sighting_id INTEGER NOT NULL REFERENCES sightings(id) ON DELETE CASCADE,
    identity_id INTEGER NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
    evidence REAL NOT NULL,
    to_bound REAL NOT NULL,
    created_at REAL NOT NULL,
    answer TEXT,
    answer_identity INTEGER REFERENCES identities(id) ON DELETE CASCADE,
    added TEXT NOT NULL DEFAULT '[]',
    created INTEGER NOT NULL DEFAULT 0,
    answered_at REAL
);
CREATE INDEX IF NOT EXISTS sightings_cluster ON sightings(cluster_id);
CREATE INDEX IF NOT EXISTS sighting_faces_sighting ON sighting_faces(sighting_id);
"""


@dataclass(frozen=True)
class NewFace:
    """A face to store: its canonical crop, landmarks on that crop, quality and source."""

    crop: np.ndarray  # (s, s, 3) uint8 RGB
    landmarks: np.ndarray  # (5, 2) on the crop
    quality: dict[str, float]
    source: str
    embedding: np.ndarray  # (d,) unit float32
    camera: str | None = None
    captured_at: float | None = None


@dataclass(frozen=True)
class Identity:
    id: int
    name: str
    metadata: dict = field(default_factory=dict)
    faces: int = 0
    created_at: float = 0.0


@dataclass(frozen=True)
class StoredFace:
    id: int
    identity_id: int
    crop: np.ndarray
    landmarks: np.ndarray
    quality: dict[str, float]
    source: str
    added_at: float


def log_change(db: Database, identity_ids: list[int] | None) -> None:
    """Inside a change's transaction: record which people changed (None: any of them, reload everything) in the
    change log that running processes follow (``gallery.watch``), and wake them when it commits."""
    now = time.time()
    db.executemany("INSERT INTO changes (identity_id, at) VALUES (?, ?)",
                   [(i, now) for i in sorted(set(identity_ids))] if identity_ids is not None else [(None, now)])
    db.notify()


def _checked(rule, value, what: str):
    """``value`` passed through one of ``gallery.validate``'s rules, or ``GalleryError`` naming ``what``."""
    try:
        return rule(value)
    except ValueError as error:
        shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
        raise GalleryError(f"{what} {shown}: {error}") from None


def named(db: Database, name: str) -> int | None:
    """Inside a transaction: the id of the person called ``name``, written as is or differing only in case."""
    rows, name = db.execute("SELECT id, name FROM identities").fetchall(), normalised(name)
    exact = [i for i, n in rows if n == name] or [i for i, n in rows if n.casefold() == name.casefold()]
    return exact[0] if exact else None


def new_identity(db: Database, name: str, metadata: str, created_at: float) -> int:
    """Inside a transaction: add a person under an id no one ever had, an erased person's included. SQLite
    hands out the highest id + 1, so erasing the newest person would give their id to the next one (their
    events, and the erasure's tombstone, would then be about someone else); PostgreSQL's sequence never
    goes back."""
    identity_id = db.insert("INSERT INTO identities (name, metadata, created_at) VALUES (?, ?, ?)",
                            (name, metadata, created_at))
    erased = db.execute("SELECT MAX(identity_id) FROM erasures").fetchone()[0]
    if erased is not None and identity_id <= erased:
        fresh = 1 + max(erased, db.execute("SELECT MAX(id) FROM identities").fetchone()[0])
        db.execute("UPDATE identities SET id = ? WHERE id = ?", (fresh, identity_id))
        identity_id = fresh
    return identity_id


def encode_png(rgb: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError("cannot encode face crop")
    return data.tobytes()


def decode_png(blob: bytes) -> np.ndarray:
    return decode_own(blob, "a face crop in the gallery")


class GalleryStore:
    """One gallery: a SQLite file path, or a ``postgresql://`` URL. Use as a context manager, or call
    ``close()``."""

    def __init__(self, location: Path | str, create: bool = True) -> None:
        """``create``: make the tables that do not exist yet (a write transaction); without, the schema is
        taken as made (by the process's start), and opening is a read."""
        self._db: Database = connect(location)
        self.path = location if isinstance(location, Path) else self._db.location  # what messages name
        try:
            if create:
                with self._db.transaction():
                    self._db.create(SCHEMA)
                    self._check_version()
            else:
                self._check_version()
        except sqlite3.DatabaseError as error:
            self._db.close()
            raise GalleryError(f"{self.path}: not a facetrack gallery ({error})") from None
        except BaseException:
            self._db.close()
            raise

    def _check_version(self) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None:
            self._db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif int(row[0]) != SCHEMA_VERSION:
            raise GalleryError(f"{self.path}: gallery schema {row[0]}, this facetrack reads {SCHEMA_VERSION}")

    def __enter__(self) -> GalleryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """All statements inside commit together or not at all."""
        with self._db.transaction() as db:
            yield db

    def wait_for_change(self, timeout: float) -> None:
        """Return when another process changed the gallery (PostgreSQL wakes it), or after ``timeout`` s."""
        self._db.wait_for_change(timeout)

    def trim_changes(self, before: float) -> int:
        """Drop change-log entries made before ``before`` (Unix seconds: every watcher applied them long ago)."""
        with self.transaction() as db:
            return db.execute("DELETE FROM changes WHERE at < ?", (before,)).rowcount

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Rows of a read-only statement (for the modules that own other tables of this file)."""
        return list(self._db.execute(sql, params).fetchall())

    # --- identities -------------------------------------------------------------------

    def identities(self) -> list[Identity]:
        rows = self._db.execute(
            "SELECT i.id, i.name, i.metadata, COUNT(f.id), i.created_at FROM identities i "
            "LEFT JOIN faces f ON f.identity_id = i.id GROUP BY i.id ORDER BY i.name"
        ).fetchall()
        return [Identity(r[0], r[1], json.loads(r[2]), r[3], r[4]) for r in rows]

    def identity(self, name: str) -> Identity:
        """The person called ``name``: written as is, or differing only in case (names that differ only in case
        are one person)."""
        people, name = self.identities(), normalised(name)
        for identity in people:
            if identity.name == name:
                return identity
        for identity in people:
            if identity.name.casefold() == name.casefold():
                return identity
        raise GalleryError(f"{self.path}: no identity named '{name}'")

    def find(self, name: str) -> Identity | None:
        try:
            return self.identity(name)
        except GalleryError:
            return None

    def rename(self, old: str, new: str) -> None:
        identity = self.identity(old)
        new = _checked(person_name, new, "name")
        taken = self.find(new)
        if taken and taken.id != identity.id:  # a change of case alone is a rename of the same person
            raise GalleryError(f"{self.path}: the name '{new}' is taken" + (
                f" (by '{taken.name}': names that differ only in case are one person)" if taken.name != new else ""))
        with self.transaction() as db:
            db.execute("UPDATE identities SET name = ? WHERE id = ?", (new, identity.id))
            log_change(db, [identity.id])

    def remove(self, name: str) -> int:
        """Erase a person from the gallery file for good (``erase``); returns how many faces went."""
        return self.erase(name)["faces"]

    def erase(self, name: str) -> dict[str, int]:
        """Erase a person for good: their faces, crops and embeddings, the faces rejected as not them, their
        sightings, the clusters of unknown faces named as them (whose faces are theirs too), and the sightings of
        the reviews still asking whether they were them. Their id stays
        behind as a tombstone (no name, no face) until the event Stream is swept of them (``pending_erasures``,
        ``swept``), and is never given to anyone else. Returns what went, by kind, and the id, and, when the file
        could not be compacted after (a full disk), why (``not_compacted``): the erasure stands (the rows are
        gone, their bytes overwritten), and ``compact`` finishes it."""
        identity = self.identity(name)
        negatives = self._db.execute("SELECT COUNT(*) FROM negatives WHERE identity_id = ?",
                                     (identity.id,)).fetchone()[0]
        theirs = ("identity_id = ? OR cluster_id IN (SELECT id FROM clusters WHERE identity_id = ?) OR id IN "
                  "(SELECT sighting_id FROM reviews WHERE identity_id = ? AND answer IS NULL)")  # asked about: likely
        sightings = self._db.execute(f"SELECT COUNT(*) FROM sightings WHERE {theirs}", (identity.id,) * 3).fetchone()[0]
        clusters = self._db.execute("SELECT COUNT(*) FROM clusters WHERE identity_id = ?", (identity.id,)).fetchone()[0]
        with self.transaction() as db:
            # their tracks from before they were named (sightings of clusters named as them), and those clusters:
            # the Stream's events of these tracks, and its person.unknown_recurring about them, go too
            tracks = db.execute(f"SELECT camera, track_id, first_time, last_time FROM sightings WHERE {theirs}",
                                (identity.id,) * 3).fetchall()
            named = [r[0] for r in db.execute("SELECT id FROM clusters WHERE identity_id = ?", (identity.id,))]
            db.execute("DELETE FROM sightings WHERE id IN (SELECT sighting_id FROM reviews WHERE identity_id = ? AND "
                       "answer IS NULL)", (identity.id,))  # the tracks that ended asking whether they were them
            db.execute("DELETE FROM clusters WHERE identity_id = ?", (identity.id,))  # their sightings go with them
            db.execute("DELETE FROM identities WHERE id = ?", (identity.id,))  # faces, negatives, sightings too
            db.execute("INSERT INTO erasures (identity_id, erased_at, tracks, clusters) VALUES (?, ?, ?, ?)",
                       (identity.id, time.time(), json.dumps([list(t) for t in tracks]), json.dumps(named)))
            log_change(db, [identity.id])
        removed = {"faces": identity.faces, "negatives": negatives, "sightings": sightings, "clusters": clusters,
                   "identity_id": identity.id}
        try:
            self.compact()
        except GalleryUnavailable as error:
            removed["not_compacted"] = str(error)
        return removed

    def compact(self) -> None:
        """Rewrite the gallery's storage, so that deleted rows are gone from it and not only unlinked;
        ``GalleryUnavailable`` when it cannot (a full disk), nothing lost."""
        self._db.compact()

    def pending_erasures(self) -> list[int]:
        """Ids of erased people whose events the Stream may still hold."""
        return [r[0] for r in self._db.execute("SELECT identity_id FROM erasures WHERE swept_at IS NULL "
                                               "ORDER BY identity_id").fetchall()]

    def erased_traces(self) -> tuple[list[tuple[str, int, float, float]], list[int]]:
        """Of the pending erasures: the tracks (camera, track id, first and last frame time) of their sightings,
        and the ids of the clusters named as them: their unknown events in the Stream go too."""
        tracks, clusters = [], []
        for row in self._db.execute("SELECT tracks, clusters FROM erasures WHERE swept_at IS NULL").fetchall():
            tracks += [tuple(t) for t in json.loads(row[0])]
            clusters += json.loads(row[1])
        return tracks, clusters

    def swept(self, identity_ids: list[int]) -> None:
        """The Stream no longer holds events of these erased people."""
        with self.transaction() as db:
            db.executemany("UPDATE erasures SET swept_at = ? WHERE identity_id = ?",
                           [(time.time(), i) for i in identity_ids])

    # --- faces ------------------------------------------------------------------------

    def save_person(self, name: str, faces: list[NewFace], model_id: str, drop: Sequence[int] = (),
                    metadata: dict | None = None) -> int:
        """Add ``faces`` to ``name`` (created if new) and delete the face ids in ``drop``, atomically."""
        now = time.time()
        metadata = None if metadata is None else _checked(person_metadata, metadata, "metadata")
        stored = self._db.execute("SELECT LENGTH(vector) FROM embeddings WHERE model_id = ? LIMIT 1",
                                  (model_id,)).fetchone()
        length = int(stored[0]) // 4 if stored else None
        if not all(finite_vector(f.embedding.astype(np.float32).tobytes(), length) for f in faces):
            raise GalleryError(f"{name}: an embedding by {model_id} is not {length or 'the same number of'} finite "
                               "numbers (a damaged face or another model's)")
        with self.transaction() as db:
            identity_id = named(db, name)
            if identity_id is not None:
                if metadata is not None:
                    db.execute("UPDATE identities SET metadata = ? WHERE id = ?", (json.dumps(metadata), identity_id))
            else:
                name = _checked(person_name, name, "name")
                identity_id = named(db, name) or new_identity(db, name, json.dumps(metadata or {}), now)
            for face in faces:
                face_id = db.insert(
                    "INSERT INTO faces (identity_id, crop, landmarks, quality, source, camera, captured_at, added_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (identity_id, encode_png(face.crop), face.landmarks.astype(np.float32).tobytes(),
                     json.dumps(face.quality), face.source, face.camera, face.captured_at, now),
                )
                db.execute("INSERT INTO embeddings VALUES (?, ?, ?)",
                           (face_id, model_id, face.embedding.astype(np.float32).tobytes()))
            db.executemany("DELETE FROM faces WHERE id = ? AND identity_id = ?", [(int(i), identity_id) for i in drop])
            log_change(db, [identity_id])
        return identity_id

    def faces(self, identity_id: int | None = None) -> list[StoredFace]:
        query = "SELECT id, identity_id, crop, landmarks, quality, source, added_at FROM faces"
        rows = self._db.execute(query + (" WHERE identity_id = ?" if identity_id is not None else "") + " ORDER BY id",
                                () if identity_id is None else (identity_id,)).fetchall()
        return [StoredFace(r[0], r[1], decode_png(r[2]), np.frombuffer(r[3], np.float32).reshape(5, 2),
                           json.loads(r[4]), r[5], r[6]) for r in rows]

    def qualities(self) -> dict[int, dict[str, float]]:
        """Every stored face's quality as measured when it was enrolled (size, sharpness, frontal), by face id."""
        return {r[0]: json.loads(r[1]) for r in self._db.execute("SELECT id, quality FROM faces").fetchall()}

    def embeddings(self, model_id: str, identity_id: int | None = None,
                   length: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(face_ids, identity_ids, vectors)`` of every face embedded by ``model_id``, grouped by identity; those
        of ``length`` numbers (the model's, when the caller knows it: else the most common here) and finite."""
        query = ("SELECT f.id, f.identity_id, e.vector FROM embeddings e JOIN faces f ON f.id = e.face_id "
                 "WHERE e.model_id = ?")
        params: tuple = (model_id,)
        if identity_id is not None:
            query += " AND f.identity_id = ?"
            params += (identity_id,)
        rows = self.readable(model_id, self._db.execute(query + " ORDER BY f.identity_id, f.id", params).fetchall(),
                             owner=1, vector=2, length=length)
        if not rows:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
        vectors = np.stack([np.frombuffer(r[2], np.float32) for r in rows])
        return np.array([r[0] for r in rows]), np.array([r[1] for r in rows]), vectors

    def readable(self, model_id: str, rows: list, owner: int, vector: int, length: int | None = None) -> list:
        """The ``rows`` whose embedding (column ``vector``) is ``length`` finite numbers (None: the length most of
        ``model_id``'s embeddings have here, a scan of them all); the others are said in the log, with their people
        (column ``owner``), and left out, so that one damaged row cannot stop the gallery from being read."""
        length = length or self._vector_lengths(model_id).get(model_id)
        kept = [row for row in rows if finite_vector(row[vector], length)]
        if len(kept) < len(rows):
            owners = sorted({row[owner] for row in rows if not finite_vector(row[vector], length)})
            logger.warning("gallery %s: %d embedding(s) by %s of person id(s) %s are not %s finite numbers: left "
                           "out of matching (erase those people, or import them again)", self.path,
                           len(rows) - len(kept), model_id, owners, length)
        return kept

    def _vector_lengths(self, model_id: str | None = None) -> dict[str, int]:
        """The length of each model's embeddings here (of ``model_id``'s only, when given): the most common."""
        one = "" if model_id is None else " WHERE model_id = ?"
        rows = self._db.execute(f"SELECT model_id, LENGTH(vector), COUNT(*) FROM embeddings{one} "
                                "GROUP BY model_id, LENGTH(vector) ORDER BY COUNT(*)",
                                () if model_id is None else (model_id,)).fetchall()
        return {model: int(size) // 4 for model, size, _ in rows}  # (the most common last: it stays)

    def faces_missing(self, model_id: str) -> list[int]:
        """Face ids with no embedding by ``model_id`` (what ``reembed`` has left to do)."""
        rows = self._db.execute(
            "SELECT id FROM faces WHERE id NOT IN (SELECT face_id FROM embeddings WHERE model_id = ?) ORDER BY id",
            (model_id,),
        ).fetchall()
        return [r[0] for r in rows]

    def face(self, face_id: int) -> StoredFace:
        row = self._db.execute(
            "SELECT id, identity_id, crop, landmarks, quality, source, added_at FROM faces WHERE id = ?", (face_id,)
        ).fetchone()
        return StoredFace(row[0], row[1], decode_png(row[2]), np.frombuffer(row[3], np.float32).reshape(5, 2),
                          json.loads(row[4]), row[5], row[6])

    def add_embeddings(self, model_id: str, items: list[tuple[int, np.ndarray]]) -> None:
        with self.transaction() as db:
            db.executemany("INSERT INTO embeddings VALUES (?, ?, ?) "
                           "ON CONFLICT (face_id, model_id) DO UPDATE SET vector = excluded.vector",
                           [(face_id, model_id, v.astype(np.float32).tobytes()) for face_id, v in items])
            log_change(db, None)

    def face_models(self, identity_id: int) -> dict[int, list[str]]:
        """For each face of an identity, the model ids that embedded it."""
        rows = self._db.execute(
            "SELECT f.id, e.model_id FROM faces f JOIN embeddings e ON e.face_id = f.id WHERE f.identity_id = ?",
            (identity_id,),
        ).fetchall()
        models: dict[int, list[str]] = {}
        for face_id, model_id in rows:
            models.setdefault(face_id, []).append(model_id)
        return models

    def export(self, path: Path) -> None:
        """Every person, face, embedding and rejected face in one portable SQLite file (from either engine),
        written whole or not at all (a temporary file renamed over ``path``)."""
        partial = path.with_name(f".{path.name}.partial")
        partial.unlink(missing_ok=True)
        try:
            with GalleryStore(partial) as target, target.transaction() as db:
                _copy_people(self._db, db)
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)

    def import_from(self, path: Path) -> tuple[int, int]:
        """Add every person of an exported gallery, in one transaction; returns (people, faces).

        The file is opened read-only and checked first (SQLite integrity, facetrack's tables
        and schema version): nothing is written to it, and nothing is added here unless all
        of it is sound. Refused whole when any of its names is already enrolled here.
        """
        source = _open_export(path)
        try:
            incoming = _checked_people(source, path)
            here = {i.name.casefold() for i in self.identities()}
            clash = sorted(name for name in incoming.values() if name.casefold() in here)
            if clash:
                raise GalleryError(f"{path}: already enrolled here: {', '.join(clash)} (rename or remove them first; "
                                   "names that differ only in case are one person)")
            _check_rows(source, path, self._vector_lengths())
            with self.transaction() as db:
                faces = _copy_people(source, db, incoming)
                log_change(db, None)
        except sqlite3.DatabaseError as error:
            raise GalleryError(f"{path}: unreadable facetrack export ({error})") from None
        finally:
            source.close()
        return len(incoming), faces

    def model_counts(self) -> dict[str, int]:
        rows = self._db.execute("SELECT model_id, COUNT(*) FROM embeddings GROUP BY model_id").fetchall()
        return dict(rows)

    def integrity_ok(self) -> bool:
        return self._db.problem() is None


def _open_export(path: Path) -> SqliteDatabase:
    """An exported gallery, read-only, once it is known to be a whole facetrack gallery."""
    db = SqliteDatabase(path, read_only=True)
    try:
        problem = _export_problem(db)
    except sqlite3.DatabaseError as error:
        problem = f"not a facetrack gallery ({error})"
    if problem:
        db.close()
        raise GalleryError(f"{path}: {problem}")
    return db


def _tables(db: Database) -> set[str]:
    """The tables a SQLite file (an export) has."""
    return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _export_problem(db: SqliteDatabase) -> str | None:
    tables = _tables(db)
    missing = sorted({"meta", "identities", "faces", "embeddings"} - tables)
    if missing:
        return f"not a facetrack gallery (no table {', '.join(missing)})"
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None or row[0] != str(SCHEMA_VERSION):
        return f"gallery schema {row[0] if row else 'missing'}, this facetrack reads {SCHEMA_VERSION}"
    if problem := db.problem():
        return problem
    orphans = db.execute("SELECT COUNT(*) FROM faces WHERE identity_id NOT IN (SELECT id FROM identities)").fetchone()
    strays = db.execute("SELECT COUNT(*) FROM embeddings WHERE face_id NOT IN (SELECT id FROM faces)").fetchone()
    if orphans[0] or strays[0]:
        return f"damaged file ({orphans[0]} faces without a person, {strays[0]} embeddings without a face)"
    if {"negatives", "negative_embeddings"} <= tables:
        lost = db.execute("SELECT (SELECT COUNT(*) FROM negatives WHERE identity_id NOT IN (SELECT id FROM identities))"
                          " + (SELECT COUNT(*) FROM negative_embeddings WHERE negative_id NOT IN "
                          "(SELECT id FROM negatives))").fetchone()[0]
        if lost:
            return f"damaged file ({lost} rejected faces or their embeddings without a person)"
    return None


def _checked_people(source: Database, path: Path) -> dict[int, str]:
    """The export's people (id -> name, normalised) once every name and metadata passes the rules enrolments pass
    (``gallery.validate``) and no two names are one person; else ``GalleryError`` naming the row at fault."""
    names: dict[int, str] = {}
    seen: dict[str, str] = {}
    for old_id, name, metadata in source.execute("SELECT id, name, metadata FROM identities ORDER BY id"):
        where = f"{path}: identities row id {old_id}"
        name = _checked(person_name, name, f"{where}: name")
        _checked(person_metadata, metadata, f"{where} ({name}): metadata")
        if (twin := seen.get(name.casefold())) is not None:
            raise GalleryError(f"{where}: '{name}' and '{twin}' are one person (names that differ only in case)")
        seen[name.casefold()] = names[old_id] = name
    return names


def _check_rows(source: Database, path: Path, lengths: dict[str, int]) -> None:
    """Every face's and rejected face's crop, landmarks and quality, and every embedding (finite numbers, one length
    per model, the length this gallery holds for it), readable; else ``GalleryError`` naming the row at fault."""
    tables = _tables(source)
    faces = "SELECT 'faces', id, crop, landmarks, quality FROM faces"
    if {"negatives", "negative_embeddings"} <= tables:
        faces += " UNION ALL SELECT 'negatives', id, crop, landmarks, '{}' FROM negatives"
    for table, row_id, crop, landmarks, quality in source.execute(faces):
        where = f"{path}: {table} row id {row_id}"
        if not finite_vector(landmarks, 10):
            raise GalleryError(f"{where}: landmarks are not 5 points of finite numbers")
        if not isinstance(crop, (bytes, memoryview)) or not len(crop) or \
                cv2.imdecode(np.frombuffer(crop, np.uint8), cv2.IMREAD_COLOR) is None:
            raise GalleryError(f"{where}: the face crop is not an image")
        _checked(person_metadata, quality, f"{where}: quality")
    vectors = "SELECT 'embeddings', face_id, model_id, vector FROM embeddings"
    if {"negatives", "negative_embeddings"} <= tables:
        vectors += " UNION ALL SELECT 'negative_embeddings', negative_id, model_id, vector FROM negative_embeddings"
    lengths = dict(lengths)
    for table, owner, model_id, vector in source.execute(vectors):
        where = f"{path}: {table} of row id {owner}, model {model_id}"
        if not finite_vector(vector):
            raise GalleryError(f"{where}: the embedding is not finite float32 numbers")
        expected = lengths.setdefault(model_id, len(vector) // 4)
        if len(vector) // 4 != expected:
            raise GalleryError(f"{where}: an embedding of {len(vector) // 4} numbers; this model's have {expected}")


def _copy_people(source: Database, db: Database, names: dict[int, str] | None = None) -> int:
    """Every person, face, embedding and rejected face of ``source`` into ``db`` under new ids; returns the faces.
    ``names``: the people's names as checked (an import's), else as ``source`` has them."""
    identity_map = {}
    for old_id, name, metadata, created in source.execute("SELECT id, name, metadata, created_at FROM identities"):
        identity_map[old_id] = new_identity(db, names[old_id] if names else name, metadata, created)
    face_map = {}
    columns = "crop, landmarks, quality, source, camera, captured_at, added_at"
    for row in source.execute(f"SELECT id, identity_id, {columns} FROM faces"):
        face_map[row[0]] = db.insert(f"INSERT INTO faces (identity_id, {columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                     (identity_map[row[1]], *row[2:]))
    db.executemany("INSERT INTO embeddings VALUES (?, ?, ?)",
                   [(face_map[face_id], model_id, vector) for face_id, model_id, vector in
                    source.execute("SELECT face_id, model_id, vector FROM embeddings")])
    tables = _tables(source) if isinstance(source, SqliteDatabase) else {"negatives", "negative_embeddings"}
    if {"negatives", "negative_embeddings"} <= tables:  # exports made before "not this person" have none
        negative_map = {}
        for row in source.execute("SELECT id, identity_id, crop, landmarks, source, added_at FROM negatives"):
            negative_map[row[0]] = db.insert(
                "INSERT INTO negatives (identity_id, crop, landmarks, source, added_at) VALUES (?, ?, ?, ?, ?)",
                (identity_map[row[1]], *row[2:]))
        db.executemany("INSERT INTO negative_embeddings VALUES (?, ?, ?)",
                       [(negative_map[n], model_id, vector) for n, model_id, vector in
                        source.execute("SELECT negative_id, model_id, vector FROM negative_embeddings")])
    return len(face_map)
