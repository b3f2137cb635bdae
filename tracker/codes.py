"""128-byte face codes (the FaceNet paper's size): a 128-d unit embedding quantised to int8 with one scale
for all faces of a model, so a gallery of 1,000,000 faces holds 128 MB instead of 1 GB (256-d float32).

``code = round(scale * x)`` clipped to ±127; the squared distance of two codes is ``2 - 2 a·b / scale²``
(the unit vectors' squared L2, within the rounding)."""

from __future__ import annotations

import numpy as np

LIMIT = 127


def code_scale(vectors: np.ndarray, quantile: float = 0.9999) -> float:
    """The scale that maps all but the largest ``1 - quantile`` of the components of ``vectors`` into ±127."""
    return float(LIMIT / np.quantile(np.abs(vectors), quantile))


def quantise(vectors: np.ndarray, scale: float) -> np.ndarray:
    return np.clip(np.rint(vectors * scale), -LIMIT, LIMIT).astype(np.int8)


def code_distance(a: np.ndarray, b: np.ndarray, scale: float) -> np.ndarray:
    """Row-wise squared distances of two equal-length sets of codes."""
    dot = (a.astype(np.int32) * b.astype(np.int32)).sum(axis=1)
    return np.clip(2.0 - 2.0 * dot / scale**2, 0.0, 4.0)
