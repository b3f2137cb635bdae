"""The distance tables of the active model, by model id: a shipped model's from its card (``tracker/face/card.py``,
one JSON file per model in ``tracker/face/cards/``, measured for exactly its weights), or a trained head's from
its record (``tracker/head_record.py``). Rows are ``(rate, distance)`` ascending; ``gallery/threshold.py`` and
``gallery/evidence.py`` read them. The smallest rates rest on a handful of pairs (LFW holds a few near-duplicate
photographs filed under two names), so they matter only for galleries of many thousands of faces.
"""

import numpy as np

from tracker.face.card import Table, measured_tables
from tracker.head_record import HEAD_TABLES


def impostor_table(model_id: str) -> Table | None:
    """The share of different-person pairs within each distance, for ``model_id`` (None: not measured)."""
    return _table(model_id, "impostor")


def genuine_table(model_id: str) -> Table | None:
    """The share of same-person pairs within each distance, for ``model_id`` (None: not measured)."""
    return _table(model_id, "genuine")


def genuine_curve(model_id: str) -> tuple[np.ndarray, np.ndarray] | None:
    """The same-person table as a cumulative curve, (distances, shares): from (0, 0) through each row to a
    share of 1 one step past the last distance. None: no table for the model."""
    table = genuine_table(model_id)
    if table is None:
        return None
    distances = [d for _, d in table]
    return (np.array([0.0] + distances + [distances[-1] + (distances[-1] - distances[-2])]),
            np.array([0.0] + [s for s, _ in table] + [1.0]))


def _table(model_id: str, kind: str) -> Table | None:
    shipped = measured_tables(model_id)
    if shipped is not None:
        return shipped.impostor if kind == "impostor" else shipped.genuine
    calibration = HEAD_TABLES.get(model_id)  # a trained head loaded in this process
    return calibration[kind] if calibration else None
