"""Threshold calibration on the enrolled faces, leave-one-out.

Each enrolled face is a probe twice over. As a known face: its own identity's distance without
it (genuine). As an unknown face: the nearest of the *other* identities, as if its identity
were not enrolled (impostor). Extra impostor probes (for example LFW faces of people not
enrolled) can be added. The threshold for a target false-accept rate is read off the impostor
distances (``tracker.verification.impostor_threshold``); the true-accept rate it buys off the
genuine ones. Identity distances follow ``gallery.scoring``, the rule live matching uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gallery.scoring import face_table, identity_distances
from tracker.distance import pairwise
from tracker.verification import impostor_threshold

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


def calibrate(identity_ids: np.ndarray, vectors: np.ndarray, far: float, top_k: int,
              extra_impostors: np.ndarray | None = None, most_confusable: int = 5) -> Calibration:
    """Leave-one-out calibration of the gallery ``vectors`` (unit rows) grouped by ``identity_ids``."""
    identities, table = face_table(identity_ids)
    own = np.searchsorted(identities, identity_ids)
    genuine, impostor, confusion = _leave_one_out(vectors, own, table, top_k)
    if extra_impostors is not None and len(extra_impostors):
        impostor = np.concatenate([impostor, _nearest_identity(extra_impostors, vectors, table, top_k)])
    impostor = impostor[np.isfinite(impostor)]
    threshold = impostor_threshold(impostor, far)
    return Calibration(
        threshold=threshold, far_target=far,
        far_measured=float((impostor <= threshold).mean()) if len(impostor) else 0.0,
        tar=float((genuine <= threshold).mean()) if len(genuine) else 0.0,
        genuine=len(genuine), impostors=len(impostor),
        confusable=_most_confusable(confusion, identities, most_confusable),
    )


def _leave_one_out(vectors: np.ndarray, own: np.ndarray, table: np.ndarray,
                   top_k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each face without itself: its own identity's distance (genuine; none for a lone face), the
    nearest other identity's distance (impostor), and per identity pair the nearest cross-face distance."""
    genuine, impostor = [], []
    confusion = np.full((len(table), len(table)), np.inf)
    for start in range(0, len(vectors), CHUNK):
        rows = np.arange(start, min(start + CHUNK, len(vectors)))
        d = pairwise(vectors[rows], vectors)
        d[np.arange(len(rows)), rows] = np.inf  # leave the probe out
        to_identity = identity_distances(d, table, top_k)
        mine = to_identity[np.arange(len(rows)), own[rows]]
        genuine.append(mine[np.isfinite(mine)])
        to_identity[np.arange(len(rows)), own[rows]] = np.inf
        impostor.append(to_identity.min(axis=1))
        np.minimum.at(confusion, own[rows], identity_distances(d, table, 1))
    return np.concatenate(genuine), np.concatenate(impostor), np.minimum(confusion, confusion.T)


def _nearest_identity(probes: np.ndarray, vectors: np.ndarray, table: np.ndarray, top_k: int) -> np.ndarray:
    """Each probe's distance to its nearest identity."""
    nearest = []
    for start in range(0, len(probes), CHUNK):
        d = pairwise(probes[start : start + CHUNK], vectors)
        nearest.append(identity_distances(d, table, top_k).min(axis=1))
    return np.concatenate(nearest)


def _most_confusable(confusion: np.ndarray, identities: np.ndarray, count: int) -> list[tuple[int, int, float]]:
    """The ``count`` identity pairs with the nearest cross distance, closest first."""
    a, b = np.triu_indices(len(identities), k=1)
    closest = np.argsort(confusion[a, b])[:count]
    return [(int(identities[a[i]]), int(identities[b[i]]), float(confusion[a[i], b[i]])) for i in closest]
