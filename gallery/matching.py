"""Open-set matching: which enrolled identity, if any, each face belongs to.

Distances are squared L2 between unit vectors (``2 - 2 cos``). An identity's distance is the
mean of its ``top_k`` nearest faces' distances (``gallery.scoring``, shared with calibration);
a face is named only when its best identity is within ``threshold`` **and** the second-best
identity is at least ``margin`` further away. Anything else is unknown: no decision on a near tie.
An identity with negatives (faces an operator rejected as not them, ``gallery.negatives``) is
refused, too, for a face closer to those negatives than to the identity's own faces: the
negatives' distance is scored as the identity's is (``scoring.identity_distance``: the mean
of the nearest ``top_k``, or of all when there are fewer). It only ever takes a name away.

The search is exact: one matrix product over every stored face of the active model (torch,
all cores), then the nearest ``candidates`` faces per query are grouped by identity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gallery.scoring import candidate_distances, identity_distance
from tracker.distance import from_cosine
from tracker.track.identity import UNKNOWN, one_face_names
from tracker.verification import MAX_DISTANCE


@dataclass(frozen=True)
class Matches:
    """Per query face: ``identity`` id (``UNKNOWN`` = -1), best ``distance``, ``margin`` to the runner-up,
    and the best identity whatever the decision (``nearest``)."""

    identity: np.ndarray  # (q,) int
    nearest: np.ndarray  # (q,) int, -1 with an empty gallery
    distance: np.ndarray  # (q,) float32, the best identity's distance; 4.0 with an empty gallery
    margin: np.ndarray  # (q,) float32, runner-up's distance minus the best's
    refused: np.ndarray  # (q,) bool: it would be named ``nearest`` but is closer to that identity's negatives
    second: np.ndarray  # (q,) int: the runner-up identity, -1 when there is none among the candidates

    def __len__(self) -> int:
        return len(self.identity)


class GalleryIndex:
    """The faces of one model: ``vectors (n, d)`` unit float32 and each face's ``identity_ids (n,)``;
    optionally the faces rejected as not an identity: ``negatives = (identity_ids (m,), vectors (m, d))``."""

    def __init__(self, identity_ids: np.ndarray, vectors: np.ndarray, candidates: int = 64,
                 negatives: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        if len(identity_ids) != len(vectors):
            raise ValueError(f"{len(identity_ids)} identity ids for {len(vectors)} vectors")
        negative_ids, negative_vectors = negatives if negatives is not None else (np.zeros(0, np.int64), None)
        self.negative_ids = np.asarray(negative_ids, np.int64)
        self._negative_rows = (torch.from_numpy(np.ascontiguousarray(negative_vectors, np.float32))
                               if len(self.negative_ids) else None)
        self.identity_ids = np.asarray(identity_ids, np.int64)
        self._columns = torch.from_numpy(np.ascontiguousarray(np.asarray(vectors, np.float32).T))
        self.candidates = candidates
        self._face_counts = np.bincount(self.identity_ids) if len(self.identity_ids) else np.zeros(0, np.int64)
        self._identities = len(np.unique(self.identity_ids))

    def __len__(self) -> int:
        return len(self.identity_ids)

    @property
    def vectors(self) -> np.ndarray:
        return self._columns.numpy().T

    def replaced(self, identities: list[int], identity_ids: np.ndarray, vectors: np.ndarray,
                 negatives: tuple[np.ndarray, np.ndarray]) -> GalleryIndex:
        """A new index in which ``identities`` have exactly the faces ``(identity_ids, vectors)`` and the negatives
        given (none: they are gone); everyone else's rows are kept as they are."""
        keep = ~np.isin(self.identity_ids, identities)
        keep_negatives = ~np.isin(self.negative_ids, identities)
        dim = self._columns.shape[0]
        old_negatives = self._negative_rows.numpy() if self._negative_rows is not None else np.zeros((0, dim))
        return GalleryIndex(
            np.concatenate([self.identity_ids[keep], identity_ids]),
            np.concatenate([self.vectors[keep], vectors.reshape(-1, dim)]).astype(np.float32), self.candidates,
            (np.concatenate([self.negative_ids[keep_negatives], negatives[0]]),
             np.concatenate([old_negatives[keep_negatives], negatives[1].reshape(-1, dim)]).astype(np.float32)))

    def search(self, queries: np.ndarray, threshold: float, margin: float, top_k: int = 3) -> Matches:
        """Decide for each unit query vector ``(q, d)``."""
        q = len(queries)
        if not len(self) or not q:
            empty = np.full(q, UNKNOWN)
            return Matches(empty, empty.copy(), np.full(q, MAX_DISTANCE, np.float32), np.zeros(q, np.float32),
                           np.zeros(q, bool), empty.copy())
        with torch.inference_mode():
            similarity = torch.from_numpy(np.ascontiguousarray(queries, np.float32)) @ self._columns
            best, index = torch.topk(similarity, min(self.candidates, len(self)), dim=1)
        distances = from_cosine(best.numpy())
        owners = self.identity_ids[index.numpy()]
        nearest, distance, runner_up, second = self._best_two(distances, owners, top_k)
        gap = runner_up - distance
        refused = self._refused(queries, nearest, distance, one_face_names(distance, gap, threshold, margin), top_k)
        named = one_face_names(distance, gap, threshold, margin, refused)
        return Matches(np.where(named, nearest, UNKNOWN), nearest, distance.astype(np.float32),
                       gap.astype(np.float32), refused, second)

    def _refused(self, queries: np.ndarray, nearest: np.ndarray, distance: np.ndarray, named: np.ndarray,
                 top_k: int) -> np.ndarray:
        """Which named queries are closer to their identity's negatives (scored as the identity is) than to
        the identity's own faces."""
        refused = np.zeros(len(queries), bool)
        rows = np.flatnonzero(named & np.isin(nearest, self.negative_ids))
        if not len(rows) or self._negative_rows is None:
            return refused
        with torch.inference_mode():
            similarity = (torch.from_numpy(np.ascontiguousarray(queries[rows], np.float32)) @ self._negative_rows.T)
        distances = from_cosine(similarity.numpy())
        theirs = self.negative_ids[None, :] == nearest[rows, None]
        nearest_first = np.sort(np.where(theirs, distances, np.inf), axis=1)[:, :top_k]
        refused[rows] = identity_distance(nearest_first, top_k) < distance[rows]
        return refused

    def _best_two(self, distances: np.ndarray, owners: np.ndarray, top_k: int):
        """Per query: best identity, its distance, the runner-up identity's distance, and the runner-up (-1: none
        among the candidates).

        Distances come sorted ascending per row. With no runner-up among the candidates, the
        last candidate's distance stands in (4.0, the largest possible, when the gallery holds
        one identity).
        """
        g_rows, g_owner, g_distance = candidate_distances(distances, owners, self._face_counts, top_k)
        by_distance = np.lexsort((g_distance, g_rows))
        g_rows, g_owner, g_distance = g_rows[by_distance], g_owner[by_distance], g_distance[by_distance]
        first = np.flatnonzero(np.r_[True, g_rows[1:] != g_rows[:-1]])
        runner_up = np.where(self._identities > 1, distances[:, -1], MAX_DISTANCE).astype(float)
        has_second = np.r_[first[1:], len(g_rows)] - first > 1
        runner_up[has_second] = g_distance[first[has_second] + 1]
        second = np.full(len(first), UNKNOWN, np.int64)
        second[has_second] = g_owner[first[has_second] + 1]
        return g_owner[first], g_distance[first], runner_up, second
