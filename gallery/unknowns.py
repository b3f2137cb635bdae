"""Unknown people: sightings and their clusters, kept in the gallery file.

A sighting is a track that ended unknown (``tracker.track.sighting``): its best faces, camera,
track and times. Each sighting joins, in one transaction, the cluster of its model that is
nearest by average linkage over faces (the mean squared distance between the sighting's faces
and the cluster's, ``2 - 2 a.b`` of their mean embeddings, so one matrix product), if within
``join_distance`` (``unknowns.join_share`` of the embedder's LFW threshold), or starts a new
cluster. Average linkage over faces does not depend on how many faces a sighting kept.
``recluster`` redoes the open clusters from scratch (average linkage, scikit-learn) after a
change of the rule. A cluster is ``open`` until it is named (its faces enrolled as a person),
ignored or deleted; later sightings of the same person still join it.

Measured on LFW (150 people never enrolled, 3 sightings each, omz-reid-0095, 3 orders;
``scripts/join_share.py``): join share 0.8 gave purity 0.99 and completeness 0.99 with one
photograph a sighting or two; docs/benchmarks.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from gallery.database import storable_id
from gallery.store import GalleryError, GalleryStore, NewFace, decode_png, encode_png
from tracker.distance import pairwise
from tracker.face.quality import rank
from tracker.track.sighting import Sighting

OPEN, NAMED, IGNORED = "open", "named", "ignored"
CLUSTERING_LOCK = 0x73696768  # one sighting joins the clusters at a time, whichever worker writes it


@dataclass(frozen=True)
class Cluster:
    id: int
    status: str
    sightings: int
    faces: int
    first_seen: float
    last_seen: float
    cameras: list[str]
    identity_id: int | None


@dataclass(frozen=True)
class ClusterFace:
    """One stored face of a cluster's sightings."""

    id: int
    sighting_id: int
    camera: str
    crop: np.ndarray
    landmarks: np.ndarray
    quality: dict[str, float]
    embedding: np.ndarray
    captured_at: float

    def as_new_face(self) -> NewFace:
        """The face as enrollment takes it (its crop is aligned as the gallery stores faces)."""
        return NewFace(self.crop, self.landmarks, self.quality, f"sighting {self.sighting_id} face {self.id}",
                       self.embedding, self.camera, self.captured_at)


class Unknowns:
    """The sightings and clusters of one gallery file for one model (the active one)."""

    def __init__(self, store: GalleryStore, model_id: str, join_distance: float | None = None) -> None:
        """``join_distance``: the mean squared L2 between a sighting's faces and a cluster's under which it joins
        that cluster; needed to ``add`` sightings only (reading, naming, merging do without)."""
        self.store = store
        self.model_id = model_id
        self.join_distance = join_distance

    def add(self, sighting: Sighting) -> int:
        """Store ``sighting`` and put it in the nearest cluster, or a new one; returns the cluster id."""
        if self.join_distance is None:
            raise ValueError("Unknowns: adding sightings needs a join_distance")
        if sighting.model_id != self.model_id:
            raise GalleryError(f"{self.store.path}: a sighting by {sighting.model_id}, clusters here are by "
                               f"{self.model_id}")
        mean, count = sighting.mean(), len(sighting.faces)
        with self.store.transaction() as db:
            db.serialize(CLUSTERING_LOCK)  # two workers' sightings of one stranger: the second joins the first's
            if sighting.identity_id is not None and not db.execute("SELECT 1 FROM identities WHERE id = ?",
                                                                   (sighting.identity_id,)).fetchone():
                raise GalleryError(f"{self.store.path}: a sighting of person {sighting.identity_id}, erased "
                                   "meanwhile: not kept (their faces go with them)")
            rows = db.execute("SELECT id, mean, faces FROM clusters WHERE model_id = ?", (self.model_id,)).fetchall()
            cluster_id = None
            if rows:
                means = np.stack([np.frombuffer(r[1], np.float32) for r in rows])
                distances = 2.0 - 2.0 * means @ mean  # the mean squared distance between their faces
                nearest = int(np.argmin(distances))
                if distances[nearest] <= self.join_distance:
                    cluster_id, faces = rows[nearest][0], rows[nearest][2]
                    moved = ((means[nearest] * faces + mean * count) / (faces + count)).astype(np.float32)
                    db.execute("UPDATE clusters SET mean = ?, faces = ? WHERE id = ?",
                               (moved.tobytes(), faces + count, cluster_id))
            if cluster_id is None:
                cluster_id = db.insert("INSERT INTO clusters (model_id, status, mean, faces) VALUES (?, ?, ?, ?)",
                                       (self.model_id, OPEN, mean.tobytes(), count))
            self._insert(db, sighting, mean, cluster_id)
        return cluster_id

    @staticmethod
    def _insert(db, sighting: Sighting, mean: np.ndarray, cluster_id: int) -> int:
        sighting_id = db.insert(
            "INSERT INTO sightings (cluster_id, model_id, camera, track_id, first_time, last_time, identity_id, "
            "mean, faces) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (cluster_id, sighting.model_id, sighting.camera, sighting.track_id, sighting.first_time,
             sighting.last_time, sighting.identity_id, mean.tobytes(), len(sighting.faces)),
        )
        db.executemany(
            "INSERT INTO sighting_faces (sighting_id, crop, landmarks, quality, embedding, captured_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(sighting_id, encode_png(f.crop), f.landmarks.astype(np.float32).tobytes(), json.dumps(f.quality),
              f.embedding.astype(np.float32).tobytes(), f.captured_at) for f in sighting.faces],
        )
        if sighting.review is not None:  # waits for an answer (gallery/reviews.py), unless its candidate is gone
            candidate, evidence, to_bound = sighting.review
            if db.execute("SELECT 1 FROM identities WHERE id = ?", (candidate,)).fetchone():
                db.execute("INSERT INTO reviews (sighting_id, identity_id, evidence, to_bound, created_at) "
                           "VALUES (?, ?, ?, ?, ?)", (sighting_id, candidate, evidence, to_bound, sighting.last_time))
        return sighting_id

    def visits(self, cluster_id: int, gap: float) -> int:
        """The cluster's visits: its sightings, those less than ``gap`` seconds after the previous one ended
        counted as one."""
        rows = self.store.query("SELECT first_time, last_time FROM sightings WHERE cluster_id = ? "
                                "ORDER BY first_time", (cluster_id,))
        visits, last = 0, None
        for first, end in rows:
            if last is None or first - last >= gap:
                visits += 1
            last = end if last is None else max(last, end)
        return visits

    def announce(self, cluster_id: int) -> bool:
        """Mark the cluster as announced recurring; False when it was already."""
        with self.store.transaction() as db:
            return db.execute("UPDATE clusters SET announced = 1 WHERE id = ? AND announced = 0",
                              (cluster_id,)).rowcount == 1

    def clusters(self, statuses: tuple[str, ...] = (OPEN,)) -> list[Cluster]:
        """The clusters of this model in ``statuses``, most recently seen first."""
        return self._summaries(f"c.status IN ({', '.join('?' * len(statuses))})", statuses)

    def cluster(self, cluster_id: int) -> Cluster:
        found = self._summaries("c.id = ?", (cluster_id,)) if storable_id(cluster_id) else []
        if not found:
            raise GalleryError(f"{self.store.path}: no cluster {cluster_id} of unknown faces by {self.model_id}")
        return found[0]

    def _summaries(self, where: str, params: tuple) -> list[Cluster]:
        rows = self.store.query(
            "SELECT c.id, c.status, COUNT(DISTINCT s.id), COUNT(f.id), MIN(s.first_time), MAX(s.last_time), "
            "GROUP_CONCAT(DISTINCT s.camera), c.identity_id FROM clusters c "
            "JOIN sightings s ON s.cluster_id = c.id JOIN sighting_faces f ON f.sighting_id = s.id "
            f"WHERE c.model_id = ? AND {where} GROUP BY c.id ORDER BY MAX(s.last_time) DESC",
            (self.model_id, *params),
        )
        return [Cluster(r[0], r[1], r[2], r[3], r[4], r[5], sorted(r[6].split(",")), r[7]) for r in rows]

    def faces(self, cluster_id: int) -> list[ClusterFace]:
        """Every stored face of the cluster's sightings, best first (by size x sharpness x frontal)."""
        self.cluster(cluster_id)
        return _faces(self.store, "s.cluster_id = ?", (cluster_id,))

    def face(self, cluster_id: int, face_id: int) -> ClusterFace | None:
        """One stored face of the cluster (None: not one of its faces); only that crop is decoded."""
        self.cluster(cluster_id)
        found = _faces(self.store, "s.cluster_id = ? AND f.id = ?", (cluster_id, face_id)) if storable_id(face_id) \
            else []
        return found[0] if found else None

    def mark(self, cluster_id: int, status: str, identity_id: int | None = None) -> None:
        self.cluster(cluster_id)
        with self.store.transaction() as db:
            db.execute("UPDATE clusters SET status = ?, identity_id = ? WHERE id = ?",
                       (status, identity_id, cluster_id))

    def merge(self, keep: int, other: int) -> None:
        """``other``'s sightings join ``keep``; ``other`` is gone."""
        if keep == other:
            raise GalleryError(f"{self.store.path}: cannot merge cluster {keep} with itself")
        kept, gone = self.cluster(keep), self.cluster(other)
        if gone.status == NAMED and (kept.status != NAMED or kept.identity_id != gone.identity_id):
            # its sightings are a person's: in another cluster they would outlive that person's erasure
            raise GalleryError(f"{self.store.path}: cluster {other} is named as a person; merge cluster {keep} into "
                               f"it instead")
        with self.store.transaction() as db:
            db.execute("UPDATE sightings SET cluster_id = ? WHERE cluster_id = ?", (keep, other))
            db.execute("DELETE FROM clusters WHERE id = ?", (other,))
            self._recentre(db, keep)

    @staticmethod
    def _recentre(db, cluster_id: int) -> None:
        rows = db.execute("SELECT mean, faces FROM sightings WHERE cluster_id = ?", (cluster_id,)).fetchall()
        weights = np.array([r[1] for r in rows], np.float32)
        means = np.stack([np.frombuffer(r[0], np.float32) for r in rows])
        mean = (weights @ means / weights.sum()).astype(np.float32)
        db.execute("UPDATE clusters SET mean = ?, faces = ? WHERE id = ?", (mean.tobytes(), int(weights.sum()),
                                                                           cluster_id))

    def delete(self, cluster_id: int) -> int:
        """Erase the cluster, its sightings and their faces (overwritten: secure_delete); returns the sightings."""
        count = self.cluster(cluster_id).sightings
        with self.store.transaction() as db:
            db.execute("DELETE FROM clusters WHERE id = ?", (cluster_id,))
        return count

    def recluster(self) -> tuple[int, int]:
        """Cluster the open clusters' sightings again from scratch (average linkage within the join distance);
        named and ignored clusters stay as they are. Returns (sightings, clusters)."""
        from sklearn.cluster import AgglomerativeClustering  # only this command needs scikit-learn's import time

        rows = self.store.query(
            "SELECT s.id, s.mean, s.faces FROM sightings s JOIN clusters c ON c.id = s.cluster_id "
            "WHERE c.model_id = ? AND c.status = ? ORDER BY s.id", (self.model_id, OPEN))
        if not rows:
            return 0, 0
        ids = [r[0] for r in rows]
        means = np.stack([np.frombuffer(r[1], np.float32) for r in rows])
        labels = np.zeros(len(ids), int) if len(ids) == 1 else AgglomerativeClustering(
            n_clusters=None, metric="precomputed", linkage="average", distance_threshold=self.join_distance,
        ).fit_predict(pairwise(means, means))
        with self.store.transaction() as db:
            db.executemany("UPDATE sightings SET cluster_id = NULL WHERE id = ?", [(s,) for s in ids])
            db.execute("DELETE FROM clusters WHERE model_id = ? AND status = ?", (self.model_id, OPEN))
            for label in np.unique(labels):
                members = [ids[i] for i in np.flatnonzero(labels == label)]
                cluster_id = db.insert("INSERT INTO clusters (model_id, status, mean, faces) VALUES (?, ?, ?, 0)",
                                       (self.model_id, OPEN, means[0].tobytes()))
                db.executemany("UPDATE sightings SET cluster_id = ? WHERE id = ?", [(cluster_id, s) for s in members])
                self._recentre(db, cluster_id)
        return len(ids), len(np.unique(labels))


def expire_sightings(store: GalleryStore, before: float) -> int:
    """Erase the sightings last seen before ``before`` (Unix seconds), every model's, and the open clusters left
    empty; returns the sightings erased. A cluster the operator decided on (named, ignored) stays, empty: the
    next sightings of that face join it and keep its decision (an ignored stranger does not come back for
    review)."""
    with store.transaction() as db:
        gone = db.execute("DELETE FROM sightings WHERE last_time < ?", (before,)).rowcount
        db.execute("DELETE FROM clusters WHERE status = ? AND id NOT IN "
                   "(SELECT cluster_id FROM sightings WHERE cluster_id IS NOT NULL)", (OPEN,))
    return gone


def sighting_faces(store: GalleryStore, sighting_id: int) -> tuple[str, list[ClusterFace]]:
    """The model that embedded a sighting (of any model, named or not), and its faces, best first."""
    found = store.query("SELECT model_id FROM sightings WHERE id = ?", (sighting_id,)) if storable_id(sighting_id) \
        else []
    if not found:
        raise GalleryError(f"{store.path}: no sighting {sighting_id}")
    return found[0][0], _faces(store, "s.id = ?", (sighting_id,))


def _faces(store: GalleryStore, where: str, params: tuple) -> list[ClusterFace]:
    """The stored sighting faces ``where`` selects, best first (by size x sharpness x frontal)."""
    rows = store.query(
        "SELECT f.id, s.id, s.camera, f.crop, f.landmarks, f.quality, f.embedding, f.captured_at "
        f"FROM sighting_faces f JOIN sightings s ON s.id = f.sighting_id WHERE {where} ORDER BY f.id", params)
    faces = [ClusterFace(r[0], r[1], r[2], decode_png(r[3]), np.frombuffer(r[4], np.float32).reshape(5, 2),
                         json.loads(r[5]), np.frombuffer(r[6], np.float32), r[7]) for r in rows]
    return sorted(faces, key=lambda f: -rank(f.quality))
