"""The gallery store: enrolled identities and their faces in one SQLite file.

Every change is one transaction, so an interrupted enrollment (even ``kill -9``) leaves the
gallery as it was before or after it, never half. Each face keeps its aligned crop (so any
later model can re-embed it) and one embedding per model id. Deleted data is overwritten
(``secure_delete``) and the file compacted, so a removed person is gone for good.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from tracker.errors import TrackerError

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
CREATE INDEX IF NOT EXISTS sightings_cluster ON sightings(cluster_id);
CREATE INDEX IF NOT EXISTS sighting_faces_sighting ON sighting_faces(sighting_id);
"""


class GalleryError(TrackerError):
    """The gallery file is unusable, or a name is unknown or taken."""


class GalleryUnavailable(TrackerError):
    """The gallery cannot take a change now (locked by another writer, disk full); nothing was changed."""


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


def encode_png(rgb: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError("cannot encode face crop")
    return data.tobytes()


def decode_png(blob: bytes) -> np.ndarray:
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(blob, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


class GalleryStore:
    """One gallery file. Use as a context manager, or call ``close()``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None)
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute("PRAGMA secure_delete = ON")
            self._db.execute("PRAGMA busy_timeout = 5000")
            with self.transaction():
                for statement in SCHEMA.strip().split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._check_version()
        except sqlite3.DatabaseError as error:
            raise GalleryError(f"{path}: not a facetrack gallery ({error})") from None

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
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All statements inside commit together or not at all."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            raise GalleryUnavailable(f"{self.path}: {error}; nothing was changed") from None
        try:
            yield self._db
            self._db.execute("COMMIT")
        except BaseException as error:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            if isinstance(error, sqlite3.OperationalError):
                raise GalleryUnavailable(f"{self.path}: {error}; nothing was changed") from None
            raise

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Rows of a read-only statement (for the modules that own other tables of this file)."""
        return self._db.execute(sql, params).fetchall()

    # --- identities -------------------------------------------------------------------

    def identities(self) -> list[Identity]:
        rows = self._db.execute(
            "SELECT i.id, i.name, i.metadata, COUNT(f.id), i.created_at FROM identities i "
            "LEFT JOIN faces f ON f.identity_id = i.id GROUP BY i.id ORDER BY i.name"
        ).fetchall()
        return [Identity(r[0], r[1], json.loads(r[2]), r[3], r[4]) for r in rows]

    def identity(self, name: str) -> Identity:
        for identity in self.identities():
            if identity.name == name:
                return identity
        raise GalleryError(f"{self.path}: no identity named '{name}'")

    def find(self, name: str) -> Identity | None:
        try:
            return self.identity(name)
        except GalleryError:
            return None

    def rename(self, old: str, new: str) -> None:
        identity = self.identity(old)
        if self.find(new):
            raise GalleryError(f"{self.path}: the name '{new}' is taken")
        with self.transaction() as db:
            db.execute("UPDATE identities SET name = ? WHERE id = ?", (new, identity.id))

    def remove(self, name: str) -> int:
        """Erase a person from the gallery file for good (``erase``); returns how many faces went."""
        return self.erase(name)["faces"]

    def erase(self, name: str) -> dict[str, int]:
        """Erase a person for good: their faces, crops and embeddings, the faces rejected as not them, their
        sightings, and the clusters of unknown faces named as them (whose faces are theirs too). Returns what
        went, by kind."""
        identity = self.identity(name)
        negatives = self._db.execute("SELECT COUNT(*) FROM negatives WHERE identity_id = ?",
                                     (identity.id,)).fetchone()[0]
        sightings = self._db.execute(
            "SELECT COUNT(*) FROM sightings WHERE identity_id = ? OR cluster_id IN "
            "(SELECT id FROM clusters WHERE identity_id = ?)", (identity.id, identity.id)).fetchone()[0]
        clusters = self._db.execute("SELECT COUNT(*) FROM clusters WHERE identity_id = ?", (identity.id,)).fetchone()[0]
        with self.transaction() as db:
            db.execute("DELETE FROM clusters WHERE identity_id = ?", (identity.id,))  # their sightings go with them
            db.execute("DELETE FROM identities WHERE id = ?", (identity.id,))  # faces, negatives, sightings too
        try:
            self._db.execute("VACUUM")
        except sqlite3.OperationalError as error:
            raise GalleryUnavailable(f"{self.path}: erased '{name}' (its data is overwritten), but the file could "
                                     f"not be compacted ({error}); the next remove compacts it") from None
        return {"faces": identity.faces, "negatives": negatives, "sightings": sightings, "clusters": clusters}

    # --- faces ------------------------------------------------------------------------

    def save_person(self, name: str, faces: list[NewFace], model_id: str, drop: list[int] = (),
                    metadata: dict | None = None) -> int:
        """Add ``faces`` to ``name`` (created if new) and delete the face ids in ``drop``, atomically."""
        now = time.time()
        with self.transaction() as db:
            row = db.execute("SELECT id FROM identities WHERE name = ?", (name,)).fetchone()
            if row:
                identity_id = row[0]
                if metadata is not None:
                    db.execute("UPDATE identities SET metadata = ? WHERE id = ?", (json.dumps(metadata), identity_id))
            else:
                identity_id = db.execute(
                    "INSERT INTO identities (name, metadata, created_at) VALUES (?, ?, ?)",
                    (name, json.dumps(metadata or {}), now),
                ).lastrowid
            for face in faces:
                face_id = db.execute(
                    "INSERT INTO faces (identity_id, crop, landmarks, quality, source, camera, captured_at, added_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (identity_id, encode_png(face.crop), face.landmarks.astype(np.float32).tobytes(),
                     json.dumps(face.quality), face.source, face.camera, face.captured_at, now),
                ).lastrowid
                db.execute("INSERT INTO embeddings VALUES (?, ?, ?)",
                           (face_id, model_id, face.embedding.astype(np.float32).tobytes()))
            db.executemany("DELETE FROM faces WHERE id = ? AND identity_id = ?", [(int(i), identity_id) for i in drop])
        return identity_id

    def faces(self, identity_id: int | None = None) -> list[StoredFace]:
        query = "SELECT id, identity_id, crop, landmarks, quality, source, added_at FROM faces"
        rows = self._db.execute(query + (" WHERE identity_id = ?" if identity_id is not None else "") + " ORDER BY id",
                                () if identity_id is None else (identity_id,)).fetchall()
        return [StoredFace(r[0], r[1], decode_png(r[2]), np.frombuffer(r[3], np.float32).reshape(5, 2),
                           json.loads(r[4]), r[5], r[6]) for r in rows]

    def embeddings(self, model_id: str, identity_id: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(face_ids, identity_ids, vectors)`` of every face embedded by ``model_id``, grouped by identity."""
        query = ("SELECT f.id, f.identity_id, e.vector FROM embeddings e JOIN faces f ON f.id = e.face_id "
                 "WHERE e.model_id = ?")
        params: tuple = (model_id,)
        if identity_id is not None:
            query += " AND f.identity_id = ?"
            params += (identity_id,)
        rows = self._db.execute(query + " ORDER BY f.identity_id, f.id", params).fetchall()
        if not rows:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
        vectors = np.stack([np.frombuffer(r[2], np.float32) for r in rows])
        return np.array([r[0] for r in rows]), np.array([r[1] for r in rows]), vectors

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
            db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)",
                           [(face_id, model_id, v.astype(np.float32).tobytes()) for face_id, v in items])

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
        """A consistent snapshot of the whole gallery in one portable SQLite file."""
        target = sqlite3.connect(path)
        try:
            self._db.backup(target)
        finally:
            target.close()

    def import_from(self, path: Path) -> tuple[int, int]:
        """Add every person of an exported gallery, in one transaction; returns (people, faces).

        The file is opened read-only and checked first (SQLite integrity, facetrack's tables
        and schema version): nothing is written to it, and nothing is added here unless all
        of it is sound. Refused whole when any of its names is already enrolled here.
        """
        source = _open_export(path)
        try:
            incoming = [row[0] for row in source.execute("SELECT name FROM identities")]
            clash = sorted(set(incoming) & {i.name for i in self.identities()})
            if clash:
                raise GalleryError(f"{path}: already enrolled here: {', '.join(clash)} (rename or remove them first)")
            with self.transaction() as db:
                faces = _copy_export(source, db)
        except sqlite3.DatabaseError as error:
            raise GalleryError(f"{path}: unreadable facetrack export ({error})") from None
        finally:
            source.close()
        return len(incoming), faces

    def model_counts(self) -> dict[str, int]:
        rows = self._db.execute("SELECT model_id, COUNT(*) FROM embeddings GROUP BY model_id").fetchall()
        return dict(rows)

    def integrity_ok(self) -> bool:
        return self._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _open_export(path: Path) -> sqlite3.Connection:
    """An exported gallery, read-only, once it is known to be a whole facetrack gallery."""
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as error:
        raise GalleryError(f"{path}: cannot open ({error})") from None
    try:
        problem = _export_problem(db)
    except sqlite3.DatabaseError as error:
        problem = f"not a facetrack gallery ({error})"
    if problem:
        db.close()
        raise GalleryError(f"{path}: {problem}")
    return db


def _export_problem(db: sqlite3.Connection) -> str | None:
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    missing = sorted({"meta", "identities", "faces", "embeddings"} - tables)
    if missing:
        return f"not a facetrack gallery (no table {', '.join(missing)})"
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None or row[0] != str(SCHEMA_VERSION):
        return f"gallery schema {row[0] if row else 'missing'}, this facetrack reads {SCHEMA_VERSION}"
    check = db.execute("PRAGMA integrity_check").fetchall()
    if check != [("ok",)]:
        return f"damaged file (SQLite integrity check: {check[0][0]})"
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


def _copy_export(source: sqlite3.Connection, db: sqlite3.Connection) -> int:
    """Every person, face, embedding and rejected face of ``source`` into ``db`` under new ids; returns the
    faces."""
    identity_map = {}
    for old_id, name, metadata, created in source.execute("SELECT id, name, metadata, created_at FROM identities"):
        identity_map[old_id] = db.execute(
            "INSERT INTO identities (name, metadata, created_at) VALUES (?, ?, ?)", (name, metadata, created)
        ).lastrowid
    face_map = {}
    columns = "crop, landmarks, quality, source, camera, captured_at, added_at"
    for row in source.execute(f"SELECT id, identity_id, {columns} FROM faces"):
        face_map[row[0]] = db.execute(
            f"INSERT INTO faces (identity_id, {columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (identity_map[row[1]], *row[2:]),
        ).lastrowid
    for face_id, model_id, vector in source.execute("SELECT face_id, model_id, vector FROM embeddings"):
        db.execute("INSERT INTO embeddings VALUES (?, ?, ?)", (face_map[face_id], model_id, vector))
    tables = {row[0] for row in source.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if {"negatives", "negative_embeddings"} <= tables:  # exports made before "not this person" have none
        negative_map = {}
        for row in source.execute("SELECT id, identity_id, crop, landmarks, source, added_at FROM negatives"):
            negative_map[row[0]] = db.execute(
                "INSERT INTO negatives (identity_id, crop, landmarks, source, added_at) VALUES (?, ?, ?, ?, ?)",
                (identity_map[row[1]], *row[2:])).lastrowid
        for negative_id, model_id, vector in source.execute("SELECT * FROM negative_embeddings"):
            db.execute("INSERT INTO negative_embeddings VALUES (?, ?, ?)",
                       (negative_map[negative_id], model_id, vector))
    return len(face_map)
