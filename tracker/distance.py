"""The FaceNet distance: the squared L2 distance between unit embeddings (0 = the same vector, 4 = opposite).

One place for it, in its two forms: between matching rows (``squared_distance``), and every row against
every row through the dot product, since for unit vectors ``|a - b|² = 2 - 2 a·b`` (``pairwise``,
``from_cosine``; clipped at 0 against rounding).
"""

from __future__ import annotations

import numpy as np


def squared_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row by row along the last axis (broadcasting: one vector against many rows too)."""
    return ((a - b) ** 2).sum(axis=-1)


def from_cosine(similarity: np.ndarray) -> np.ndarray:
    """Squared distances of unit vectors from their dot products."""
    return np.maximum(2.0 - 2.0 * similarity, 0.0)


def pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Every row of ``a`` (n, d) against every row of ``b`` (m, d): (n, m)."""
    return from_cosine(a @ b.T)
