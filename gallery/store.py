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
"""


class GalleryError(TrackerError):
    """The gallery file is unusable, or a name is unknown or taken."""


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


def _encode_png(rgb: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError("cannot encode face crop")
    return data.tobytes()


def _decode_png(blob: bytes) -> np.ndarray:
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
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

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
        """Erase a person, their faces, crops and embeddings for good; returns how many faces went."""
        identity = self.identity(name)
        with self.transaction() as db:
            db.execute("DELETE FROM identities WHERE id = ?", (identity.id,))
        self._db.execute("VACUUM")
        return identity.faces

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
                    (identity_id, _encode_png(face.crop), face.landmarks.astype(np.float32).tobytes(),
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
        return [StoredFace(r[0], r[1], _decode_png(r[2]), np.frombuffer(r[3], np.float32).reshape(5, 2),
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
        return StoredFace(row[0], row[1], _decode_png(row[2]), np.frombuffer(row[3], np.float32).reshape(5, 2),
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

        Refused whole when any of its names is already enrolled here.
        """
        source = GalleryStore(path)
        try:
            incoming = source.identities()
            clash = sorted({i.name for i in incoming} & {i.name for i in self.identities()})
            if clash:
                raise GalleryError(f"{path}: already enrolled here: {', '.join(clash)} (rename or remove them first)")
            self._db.execute("ATTACH DATABASE ? AS incoming", (str(path),))
            try:
                with self.transaction() as db:
                    faces = self._copy_incoming(db)
            finally:
                self._db.execute("DETACH DATABASE incoming")
        finally:
            source.close()
        return len(incoming), faces

    def _copy_incoming(self, db: sqlite3.Connection) -> int:
        identity_map = {}
        for old_id, name, metadata, created in db.execute(
            "SELECT id, name, metadata, created_at FROM incoming.identities"
        ).fetchall():
            identity_map[old_id] = db.execute(
                "INSERT INTO identities (name, metadata, created_at) VALUES (?, ?, ?)", (name, metadata, created)
            ).lastrowid
        face_map = {}
        columns = "crop, landmarks, quality, source, camera, captured_at, added_at"
        for row in db.execute(f"SELECT id, identity_id, {columns} FROM incoming.faces").fetchall():
            face_map[row[0]] = db.execute(
                f"INSERT INTO faces (identity_id, {columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (identity_map[row[1]], *row[2:]),
            ).lastrowid
        for face_id, model_id, vector in db.execute("SELECT face_id, model_id, vector FROM incoming.embeddings"):
            db.execute("INSERT INTO embeddings VALUES (?, ?, ?)", (face_map[face_id], model_id, vector))
        return len(face_map)

    def model_counts(self) -> dict[str, int]:
        rows = self._db.execute("SELECT model_id, COUNT(*) FROM embeddings GROUP BY model_id").fetchall()
        return dict(rows)

    def integrity_ok(self) -> bool:
        return self._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
