"""The identity distance, the one rule live matching and calibration share.

A face's distance to an enrolled face is the squared L2 distance of their unit embeddings
(``2 - 2 cos``, 0 to 4). Its distance to an identity is the mean of that identity's
``top_k`` nearest faces' distances; an identity holding fewer faces averages all of them.

``identity_distance`` is the rule itself. Two layouts feed it: ``identity_distances``, every
face of every identity (dense, for leave-one-out calibration), and ``candidate_distances``,
a short list of nearest faces (live matching), where an identity's faces beyond the list
count as the list's last distance.
"""

from __future__ import annotations

import numpy as np


def identity_distance(nearest: np.ndarray, top_k: int, held: np.ndarray | None = None,
                      floor: np.ndarray | None = None) -> np.ndarray:
    """The mean of each identity's ``min(top_k, held)`` nearest faces' distances; inf for an identity without faces.

    ``nearest (..., s)`` lists an identity's nearest faces' distances, ascending, inf where fewer are listed.
    ``held (...)`` is how many faces the identity holds, listed or not, with ``floor (...)`` standing in for
    each one not listed; without ``held``, every face is listed.
    """
    listed = np.isfinite(nearest)
    k = np.minimum(top_k, listed.sum(axis=-1) if held is None else held)
    wanted = listed & (np.arange(nearest.shape[-1]) < k[..., None])
    total = np.where(wanted, nearest, 0.0).sum(axis=-1)
    if held is not None:
        total = total + (k - wanted.sum(axis=-1)) * floor
    return np.where(k > 0, total / np.maximum(k, 1), np.inf)


def face_table(identity_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct identities and, per identity, its faces' row numbers padded with -1 to ``(m, most)``."""
    identities, inverse, counts = np.unique(identity_ids, return_inverse=True, return_counts=True)
    table = np.full((len(identities), counts.max()), -1)
    order = np.argsort(inverse, kind="stable")
    slot = np.arange(len(order)) - np.repeat(np.cumsum(counts) - counts, counts)
    table[inverse[order], slot] = order
    return identities, table


def identity_distances(distances: np.ndarray, table: np.ndarray, top_k: int) -> np.ndarray:
    """``(q, m)`` identity distances from every face's distance ``(q, n)``; inf distances are faces left out.

    ``table`` maps identities to face rows (-1 = none), as ``face_table`` makes it.
    """
    padded = np.where(table[None] >= 0, distances[:, np.maximum(table, 0)], np.inf)
    return identity_distance(np.sort(padded, axis=2)[:, :, :top_k], top_k)


def candidate_distances(distances: np.ndarray, owners: np.ndarray, held: np.ndarray,
                        top_k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Identity distances from each query's candidate faces: ``distances (q, c)`` ascending per row, their
    identities ``owners (q, c)``, and ``held``, each identity id's number of faces.

    An identity's faces beyond the candidates count as the row's last candidate distance (a lower bound
    for them). Returns ``(row, identity, distance)`` of each identity among a row's candidates, ordered by
    row, then identity.
    """
    rows_n, cols = distances.shape
    rows = np.repeat(np.arange(rows_n), cols)
    flat_owner, flat_d = owners.ravel(), distances.ravel()
    order = np.lexsort((flat_d, flat_owner, rows))
    rows, flat_owner, flat_d = rows[order], flat_owner[order], flat_d[order]
    start = np.ones(len(rows), bool)
    start[1:] = (rows[1:] != rows[:-1]) | (flat_owner[1:] != flat_owner[:-1])
    group = np.cumsum(start) - 1
    starts = np.flatnonzero(start)
    rank = np.arange(len(rows)) - starts[group]
    keep = rank < top_k
    nearest = np.full((len(starts), top_k), np.inf)
    nearest[group[keep], rank[keep]] = flat_d[keep]
    g_rows, g_owner = rows[starts], flat_owner[starts]
    return g_rows, g_owner, identity_distance(nearest, top_k, held[g_owner], distances[g_rows, -1])
