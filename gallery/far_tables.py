"""Per model id: the share of different-person face pairs (rate) within each distance, and of same-person
pairs (``GENUINE_QUANTILES``), measured on
all of LFW through our own pipeline with the default config (YuNet, ``models.flip = "auto"``: dlib-resnet-v1
with flip averaging, omz-reid-0095 without):

    facetrack eval far-table --root ../shared/data/lfw      # (FACETRACK__MODELS__EMBEDDER=... for another model)

Each entry is ``(rate, distance)``, ascending. ``gallery/threshold.py`` reads it. The smallest
rates rest on a handful of pairs (LFW holds a few near-duplicate photographs filed under two
names), so they matter only for galleries of many thousands of faces.
"""

import numpy as np

from tracker.calibration import CALIBRATIONS

IMPOSTOR_QUANTILES: dict[str, tuple[tuple[float, float], ...]] = {
    # 13233 LFW images, 87,307,271 impostor pairs
    "dlib-resnet-v1:55533b28a958": (
        (1e-08, 0.00259),
        (2e-08, 0.00464),
        (5e-08, 0.01324),
        (1e-07, 0.04274),
        (2e-07, 0.05867),
        (5e-07, 0.06841),
        (1e-06, 0.07278),
        (2e-06, 0.07712),
        (5e-06, 0.08452),
        (1e-05, 0.09034),
        (2e-05, 0.09655),
        (5e-05, 0.10574),
        (1e-04, 0.11335),
        (2e-04, 0.12127),
        (5e-04, 0.13236),
        (1e-03, 0.14137),
        (2e-03, 0.15108),
        (5e-03, 0.16527),
        (1e-02, 0.17735),
        (2e-02, 0.19103),
        (5e-02, 0.21275),
        (1e-01, 0.23347),
        (2e-01, 0.26065),
        (5e-01, 0.31857),
    ),
    # 13233 LFW images, 87,307,271 impostor pairs
    "omz-reid-0095:241229ca3d20": (
        (1e-08, 0.02095),
        (2e-08, 0.04783),
        (5e-08, 0.11712),
        (1e-07, 0.33339),
        (2e-07, 0.44680),
        (5e-07, 0.55986),
        (1e-06, 0.75253),
        (2e-06, 0.84502),
        (5e-06, 0.92754),
        (1e-05, 0.97678),
        (2e-05, 1.02836),
        (5e-05, 1.09115),
        (1e-04, 1.13839),
        (2e-04, 1.18662),
        (5e-04, 1.25318),
        (1e-03, 1.30680),
        (2e-03, 1.36322),
        (5e-03, 1.44245),
        (1e-02, 1.50610),
        (2e-02, 1.57289),
        (5e-02, 1.66687),
        (1e-01, 1.74443),
        (2e-01, 1.83263),
        (5e-01, 1.99118),
    ),
}

# Per model id: the share of same-person face pairs within each distance, on all of LFW through the same
# pipeline (``facetrack eval far-table`` prints it after the impostor table); ``gallery/evidence.py`` reads it.
# Each entry is ``(share, distance)``, ascending.
GENUINE_QUANTILES: dict[str, tuple[tuple[float, float], ...]] = {
    # 13233 LFW images, 242,257 same-person pairs
    "dlib-resnet-v1:55533b28a958": (
        (0.001, 0.02489),
        (0.005, 0.03350),
        (0.01, 0.03805),
        (0.02, 0.04312),
        (0.05, 0.05089),
        (0.1, 0.05810),
        (0.2, 0.06764),
        (0.3, 0.07492),
        (0.4, 0.08147),
        (0.5, 0.08792),
        (0.6, 0.09473),
        (0.7, 0.10220),
        (0.8, 0.11144),
        (0.9, 0.12511),
        (0.95, 0.13739),
        (0.98, 0.15264),
        (0.99, 0.16362),
        (0.995, 0.17416),
        (0.999, 0.20054),
    ),
    # 13233 LFW images, 242,257 same-person pairs
    "omz-reid-0095:241229ca3d20": (
        (0.001, 0.20086),
        (0.005, 0.26209),
        (0.01, 0.29216),
        (0.02, 0.32529),
        (0.05, 0.37553),
        (0.1, 0.42170),
        (0.2, 0.48114),
        (0.3, 0.52708),
        (0.4, 0.56870),
        (0.5, 0.60938),
        (0.6, 0.65255),
        (0.7, 0.70062),
        (0.8, 0.76066),
        (0.9, 0.85113),
        (0.95, 0.93322),
        (0.98, 1.03990),
        (0.99, 1.12019),
        (0.995, 1.20385),
        (0.999, 1.44447),
    ),
}


def impostor_table(model_id: str) -> tuple[tuple[float, float], ...] | None:
    """The impostor table of ``model_id``: a shipped model's above, or a loaded trained head's own."""
    return IMPOSTOR_QUANTILES.get(model_id) or _measured(model_id, "impostor")


def genuine_table(model_id: str) -> tuple[tuple[float, float], ...] | None:
    return GENUINE_QUANTILES.get(model_id) or _measured(model_id, "genuine")


def genuine_curve(model_id: str) -> tuple[np.ndarray, np.ndarray] | None:
    """The same-person table as a cumulative curve, (distances, shares): from (0, 0) through each row to a
    share of 1 one step past the last distance. None: no table for the model."""
    table = genuine_table(model_id)
    if table is None:
        return None
    distances = [d for _, d in table]
    return (np.array([0.0] + distances + [distances[-1] + (distances[-1] - distances[-2])]),
            np.array([0.0] + [s for s, _ in table] + [1.0]))


def _measured(model_id: str, kind: str) -> tuple[tuple[float, float], ...] | None:
    calibration = CALIBRATIONS.get(model_id)
    return calibration[kind] if calibration else None
