"""Faces that are not a person: "not this person" feedback, kept in the gallery file.

An operator who sees a face wrongly named rejects it for that person: the face (its aligned
crop, landmarks, and embedding by the model that saw it) is stored as a negative of the person.
Matching (``gallery.matching``) then refuses the name for any face that is closer to the
person's negatives than to the person's own faces. Negatives keep their crops, so
``gallery reembed`` embeds them for a new model as it does enrolled faces, and they are erased
with the person.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from gallery.database import storable_id
from gallery.store import GalleryError, GalleryStore, NewFace, decode_png, encode_png, log_change, named


@dataclass(frozen=True)
class Negative:
    id: int
    identity_id: int
    crop: np.ndarray  # aligned as the gallery stores faces
    landmarks: np.ndarray  # (5, 2) on the crop
    source: str
    added_at: float


class Negatives:
    """The rejected faces of one gallery file."""

    def __init__(self, store: GalleryStore) -> None:
        self.store = store

    def add(self, name: str, faces: list[NewFace], model_id: str) -> list[int]:
        """Store ``faces`` (embedded by ``model_id``) as not ``name``, in one transaction; their ids."""
        if not faces:
            raise GalleryError(f"{self.store.path}: no face to reject as '{name}'")
        now = time.time()
        with self.store.transaction() as db:
            identity_id = named(db, name)
            if identity_id is None:
                raise GalleryError(f"{self.store.path}: no identity named '{name}'")
            ids = []
            for face in faces:
                ids.append(db.insert(
                    "INSERT INTO negatives (identity_id, crop, landmarks, source, added_at) VALUES (?, ?, ?, ?, ?)",
                    (identity_id, encode_png(face.crop), face.landmarks.astype(np.float32).tobytes(), face.source, now),
                ))
                db.execute("INSERT INTO negative_embeddings VALUES (?, ?, ?)",
                           (ids[-1], model_id, face.embedding.astype(np.float32).tobytes()))
            log_change(db, [identity_id])
        return ids

    def of(self, identity_id: int) -> list[Negative]:
        return self._read("WHERE identity_id = ?", (identity_id,))

    def get(self, negative_id: int) -> Negative:
        found = self._read("WHERE id = ?", (negative_id,)) if storable_id(negative_id) else []
        if not found:
            raise GalleryError(f"{self.store.path}: no rejected face {negative_id}")
        return found[0]

    def missing(self, model_id: str) -> list[int]:
        """Negative ids with no embedding by ``model_id`` (what ``reembed`` has left to do)."""
        return [r[0] for r in self.store.query(
            "SELECT id FROM negatives WHERE id NOT IN (SELECT negative_id FROM negative_embeddings WHERE model_id = ?) "
            "ORDER BY id", (model_id,))]

    def _read(self, where: str, params: tuple) -> list[Negative]:
        rows = self.store.query(f"SELECT id, identity_id, crop, landmarks, source, added_at FROM negatives {where} "
                                "ORDER BY id", params)
        return [Negative(r[0], r[1], decode_png(r[2]), np.frombuffer(r[3], np.float32).reshape(5, 2), r[4], r[5])
                for r in rows]

    def vectors(self, model_id: str, identity_id: int | None = None,
                length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(identity_ids, vectors)`` of every negative embedded by ``model_id`` (of one identity, if given), of
        ``length`` finite numbers (``GalleryStore.readable``)."""
        one = "" if identity_id is None else " AND n.identity_id = ?"
        rows = self.store.query("SELECT n.identity_id, e.vector FROM negative_embeddings e "
                                f"JOIN negatives n ON n.id = e.negative_id WHERE e.model_id = ?{one} ORDER BY n.id",
                                (model_id,) if identity_id is None else (model_id, identity_id))
        rows = self.store.readable(model_id, rows, owner=0, vector=1, length=length)
        if not rows:
            return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
        return np.array([r[0] for r in rows], np.int64), np.stack([np.frombuffer(r[1], np.float32) for r in rows])

    def add_embeddings(self, model_id: str, items: list[tuple[int, np.ndarray]]) -> None:
        with self.store.transaction() as db:
            db.executemany("INSERT INTO negative_embeddings VALUES (?, ?, ?) "
                           "ON CONFLICT (negative_id, model_id) DO UPDATE SET vector = excluded.vector",
                           [(i, model_id, v.astype(np.float32).tobytes()) for i, v in items])
            log_change(db, None)

    def take_back(self, identity_id: int, negative_ids: list[int]) -> None:
        """Take back these rejections of one person, those still there, in one transaction."""
        with self.store.transaction() as db:
            db.executemany("DELETE FROM negatives WHERE id = ? AND identity_id = ?",
                           [(int(i), identity_id) for i in negative_ids])
            log_change(db, [identity_id])

    def remove(self, name: str, negative_id: int) -> None:
        """Take back a rejection (a face rejected by mistake)."""
        identity = self.store.identity(name)
        if self.get(negative_id).identity_id != identity.id:
            raise GalleryError(f"{self.store.path}: rejected face {negative_id} is not one of '{name}'s")
        self.take_back(identity.id, [negative_id])
