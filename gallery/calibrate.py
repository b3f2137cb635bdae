"""Threshold calibration on the enrolled faces, leave-one-out.

Each enrolled face is a probe twice over. As a known face: its own identity's score without
it (genuine). As an unknown face: the best score among the *other* identities, as if its
identity were not enrolled (impostor). Extra impostor probes (for example LFW faces of
people not enrolled) can be added. The threshold for a target false-accept rate is read off
the impostor scores; the true-accept rate it buys off the genuine ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CHUNK = 256


@dataclass(frozen=True)
class Calibration:
    threshold: float
    far_target: float
    far_measured: float
    tar: float  # share of genuine leave-one-out probes within the threshold
    genuine: int  # how many genuine probes (faces whose identity has another face)
    impostors: int
    confusable: list[tuple[int, int, float]]  # (identity a, identity b, nearest cross distance), closest first

    @property
    def far_resolvable(self) -> bool:
        """Whether there are enough impostor probes to measure the target rate at all."""
        return self.impostors * self.far_target >= 1


def _padded(identity_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Identities, their faces' row numbers padded with -1 to ``(m, most)``, and face counts."""
    identities, inverse, counts = np.unique(identity_ids, return_inverse=True, return_counts=True)
    table = np.full((len(identities), counts.max()), -1)
    order = np.argsort(inverse, kind="stable")
    slot = np.arange(len(order)) - np.repeat(np.cumsum(counts) - counts, counts)
    table[inverse[order], slot] = order
    return identities, table, counts


def identity_scores(distances: np.ndarray, table: np.ndarray, top_k: int) -> np.ndarray:
    """``(q, m)`` scores: per identity the mean of its ``top_k`` smallest distances (inf ignored).

    ``distances`` is ``(q, n)``; ``table`` maps identities to face rows (-1 = none).
    """
    padded = np.where(table[None] >= 0, distances[:, np.maximum(table, 0)], np.inf)
    nearest = np.sort(padded, axis=2)[:, :, :top_k]
    finite = np.isfinite(nearest)
    counts = finite.sum(axis=2)
    total = np.where(finite, nearest, 0.0).sum(axis=2)
    return np.where(counts > 0, total / np.maximum(counts, 1), np.inf)


def calibrate(identity_ids: np.ndarray, vectors: np.ndarray, far: float, top_k: int,
              extra_impostors: np.ndarray | None = None, most_confusable: int = 5) -> Calibration:
    """Leave-one-out calibration of the gallery ``vectors`` (unit rows) grouped by ``identity_ids``."""
    identities, table, _ = _padded(identity_ids)
    own = np.searchsorted(identities, identity_ids)
    genuine, impostor = [], []
    confusion = np.full((len(identities), len(identities)), np.inf)
    for start in range(0, len(vectors), CHUNK):
        rows = np.arange(start, min(start + CHUNK, len(vectors)))
        d = np.maximum(2.0 - 2.0 * vectors[rows] @ vectors.T, 0.0)
        d[np.arange(len(rows)), rows] = np.inf  # leave the probe out
        scores = identity_scores(d, table, top_k)
        mine = scores[np.arange(len(rows)), own[rows]]
        genuine.append(mine[np.isfinite(mine)])
        scores[np.arange(len(rows)), own[rows]] = np.inf
        impostor.append(scores.min(axis=1))
        nearest_face = identity_scores(d, table, 1)
        np.minimum.at(confusion, own[rows], nearest_face)
    if extra_impostors is not None and len(extra_impostors):
        for start in range(0, len(extra_impostors), CHUNK):
            d = np.maximum(2.0 - 2.0 * extra_impostors[start : start + CHUNK] @ vectors.T, 0.0)
            impostor.append(identity_scores(d, table, top_k).min(axis=1))
    genuine_all, impostor_all = np.concatenate(genuine), np.sort(np.concatenate(impostor))
    impostor_all = impostor_all[np.isfinite(impostor_all)]
    allowed = int(np.floor(far * len(impostor_all)))
    threshold = float(np.nextafter(impostor_all[allowed], -np.inf)) if allowed < len(impostor_all) else 4.0
    confusion = np.minimum(confusion, confusion.T)
    a, b = np.triu_indices(len(identities), k=1)
    closest = np.argsort(confusion[a, b])[:most_confusable]
    pairs = [(int(identities[a[i]]), int(identities[b[i]]), float(confusion[a[i], b[i]])) for i in closest]
    return Calibration(
        threshold=threshold, far_target=far,
        far_measured=float((impostor_all <= threshold).mean()) if len(impostor_all) else 0.0,
        tar=float((genuine_all <= threshold).mean()) if len(genuine_all) else 0.0,
        genuine=len(genuine_all), impostors=len(impostor_all), confusable=pairs,
    )
