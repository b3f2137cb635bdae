"""Which match threshold is in force, where it comes from, and what it means for this gallery.

A stranger is compared with every enrolled face, so the chance that one of them falls within the threshold grows
with the gallery. The model's tables (``tracker/face/card.py`` ``Tables``: its card's, or a trained head's
record's, carried by its embedder) hold, per model id, the share ``F(t)`` of different-person face pairs within
distance ``t`` (measured once on all of LFW through our own pipeline). For ``n`` enrolled faces a stranger's
nearest one is within ``t`` with probability ``1 - (1 - F(t))^n``: faces are counted as if independent, which over-
counts (a person's faces resemble each other), so the real rate is lower. The auto threshold solves that for
``match.far``.

The threshold in force is, in order: ``match.threshold`` when set (``calibrated`` when
``gallery calibrate --write`` set it, else ``set``); ``auto`` from ``match.far`` when the
model has a table; else the model's LFW verification threshold (``model default``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gallery.store import GalleryStore
from tracker.config import MatchConfig
from tracker.face.card import Tables

AUTO, CALIBRATED, SET, MODEL_DEFAULT = "auto", "calibrated", "set", "model default"
RISKY_FAR = 0.01  # a threshold expected to name more strangers than this is worth a warning


@dataclass(frozen=True)
class Threshold:
    value: float
    source: str  # AUTO, CALIBRATED, SET or MODEL_DEFAULT
    identities: int  # people with faces of the model
    faces: int  # their faces of the model
    expected_far: float | None  # share of strangers expected to be named; None: no table for the model

    def describe(self) -> str:
        far = f"expected false accepts {self.expected_far:.2%}" if self.expected_far is not None \
            else "expected false accepts unknown (no impostor table for this model)"
        return f"{self.value:.4f} ({self.source}; {self.identities} people, {self.faces} faces; {far})"

    def warning(self) -> str | None:
        """What is risky about it, if anything."""
        if self.source != AUTO and self.expected_far is not None and self.expected_far > RISKY_FAR:
            return (f"match.threshold {self.value:.4f} is expected to name {self.expected_far:.1%} of strangers "
                    f"against {self.faces} faces; set match.threshold = 0 to follow match.far, or calibrate")
        return None


def pair_far(tables: Tables | None, distance: float) -> float | None:
    """The share of different-person pairs within ``distance`` (None: no tables for the model)."""
    if tables is None:
        return None
    return math.exp(_interpolate(distance, [(d, math.log(r)) for r, d in tables.impostor]))


def pair_distance(tables: Tables | None, rate: float) -> float | None:
    """The distance within which ``rate`` of different-person pairs fall (None: no tables for the model)."""
    if tables is None:
        return None
    return max(0.0, _interpolate(math.log(rate), [(math.log(r), d) for r, d in tables.impostor]))


def _interpolate(x: float, points: list[tuple[float, float]]) -> float:
    """Piecewise linear through ascending ``points``, extended along the end segments."""
    (x0, y0), (x1, y1) = next(((a, b) for a, b in zip(points, points[1:]) if x <= b[0]), points[-2:])
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0) if x1 != x0 else y0


def gallery_far(tables: Tables | None, threshold: float, faces: int) -> float | None:
    """The share of strangers whose nearest of ``faces`` enrolled faces is within ``threshold``."""
    rate = pair_far(tables, threshold)
    return None if rate is None else 1.0 - (1.0 - min(rate, 1.0)) ** max(faces, 1)


def auto_threshold(tables: Tables | None, far: float, faces: int) -> float | None:
    """The threshold at which a stranger is named with probability ``far`` against ``faces`` faces."""
    return pair_distance(tables, 1.0 - (1.0 - far) ** (1.0 / max(faces, 1)))


def threshold_in_force(match: MatchConfig, tables: Tables | None, model_default: float | None, identities: int,
                       faces: int) -> Threshold:
    """The threshold that names faces for this gallery of ``identities`` people and ``faces`` faces."""
    if match.threshold:
        value, source = match.threshold, CALIBRATED if match.calibrated_far else SET
    elif (auto := auto_threshold(tables, match.far, faces)) is not None:
        value, source = auto, AUTO
    else:
        value, source = model_default or 0.0, MODEL_DEFAULT
    return Threshold(value, source, identities, faces, gallery_far(tables, value, faces))


def threshold_for_faces(match: MatchConfig, tables: Tables | None, model_default: float | None,
                        identity_ids: np.ndarray) -> Threshold:
    """The threshold in force for a gallery whose faces belong to ``identity_ids`` (one id per face)."""
    return threshold_in_force(match, tables, model_default, len(np.unique(identity_ids)), len(identity_ids))


def stored_threshold(store: GalleryStore, match: MatchConfig, model_id: str, tables: Tables | None,
                     model_default: float | None) -> Threshold:
    """The threshold in force for the faces ``store`` holds of ``model_id`` (whose tables are ``tables``)."""
    _, identity_ids, _ = store.embeddings(model_id)
    return threshold_for_faces(match, tables, model_default, identity_ids)
