"""What one face's distance to an identity says, in calibrated terms: a log-likelihood ratio.

For a face at distance ``d`` from the nearest of identity I's ``k`` enrolled faces of the model:

    LLR(d) = ln g(d) - ln f_k(d)

- ``g``: the density of same-person distances (the model's ``Tables.genuine``: all same-person
  pairs of LFW through our own pipeline), widened for footage that is not LFW: a share
  ``WIDE_SHARE`` is spread evenly up to the distance of the median impostor pair, so a genuine
  face far from every LFW-like distance (a turned head, a broadcast image) is unlikely, not
  impossible. (Real footage measured 0.8-1.0 for genuine faces with omz-reid-0095: LFW's tail.)
- ``f_k``: the density of a stranger's nearest of I's ``k`` faces, ``k f(d) (1 - F(d))^(k-1)``,
  with ``F`` the impostor table (``Tables.impostor``) that the threshold in force
  follows too.

A track is named I when its summed evidence for I reaches ``bound(far, identities)`` =
``ln(identities / far)``: a stranger reaches it for one given identity with probability at most
``far / identities`` (Wald), so for any of them at most ``far``. Both tables are per model id (``Tables``,
from the model's card or a trained head's record, carried by its embedder), so
switching embedders keeps what a number of evidence means. A model without tables falls back on
the threshold in force: a face within it counts as the bound, one beyond it as minus the bound.
"""

from __future__ import annotations

import math

import numpy as np

from gallery.threshold import pair_far
from tracker.face.card import Tables
from tracker.track.identity import threshold_evidence

WIDE_SHARE = 0.02
LIMIT = 30.0  # |LLR| cap: beyond it the tables' tails are guesses
GRID = np.linspace(0.0, 4.0, 801)  # distances the ratio is computed at once per face count, then interpolated
_CURVES: dict[tuple[str, int], np.ndarray] = {}  # (model id, face count) -> llr on GRID: the tables never change


def bound(far: float, identities: int) -> float:
    """The evidence a track needs for a name in a gallery of ``identities`` people: ``ln(identities / far)``."""
    return math.log(max(identities, 1) / far)


class Evidence:
    """The log-likelihood ratio of a model's distances, by its ``tables`` (None: none); ``threshold``, ``bound``:
    the threshold in force and the bound, for a model without tables."""

    def __init__(self, tables: Tables | None, threshold: float, bound: float) -> None:
        self.tables = tables
        self.threshold, self.bound = threshold, bound
        self.known = tables is not None
        if tables is not None:
            self._model_id = tables.model_id  # the curves' key: the tables of a model id never change
            self._distances, self._shares = tables.genuine_curve()
            self._far_end = tables.impostor[-1][1]  # past the table's last distance, strangers are as likely as there
            self._wide = WIDE_SHARE / next(d for r, d in tables.impostor if r >= 0.5)

    def genuine_density(self, d: float) -> float:
        """g(d), widened."""
        i = int(np.clip(np.searchsorted(self._distances, d, side="right") - 1, 0, len(self._distances) - 2))
        width = max(self._distances[i + 1] - self._distances[i], 1e-9)
        inside = (self._shares[i + 1] - self._shares[i]) / width
        if d > self._distances[-1]:  # past the table: the last step's density, fading over its width
            inside *= math.exp(-(d - self._distances[-1]) / width)
        return (1.0 - WIDE_SHARE) * inside + self._wide

    def _far(self, d: float) -> float:
        """The share of strangers' pairs within ``d`` (a model with tables only)."""
        share = pair_far(self.tables, d)
        if share is None:
            raise ValueError("the model has no impostor table")
        return share

    def stranger_density(self, d: float, faces: int) -> float:
        """f_k(d): the density of a stranger's nearest of an identity's ``faces`` faces at ``d``."""
        step = max(d * 1e-3, 1e-4)
        low, high = self._far(max(d - step, 1e-6)), self._far(d + step)
        pair = max((high - low) / (2 * step), 1e-300)  # f(d), from the impostor table
        within = min(self._far(d), 1.0)
        faces = max(faces, 1)
        return max(faces * pair * (1.0 - within) ** (faces - 1), 1e-300)

    def raw_llr(self, distance: float, faces: int) -> float:
        """``ln g(d) - ln f_k(d)`` as the tables give it (steps and all)."""
        stranger = self.stranger_density(min(distance, self._far_end), faces)
        return float(np.clip(math.log(self.genuine_density(distance)) - math.log(stranger), -LIMIT, LIMIT))

    def llr(self, distance: float, faces: int) -> float:
        """The evidence of one face at ``distance`` from the nearest of an identity's ``faces`` faces: the raw
        ratio made non-increasing (at each distance the least it was at any smaller one), so a closer face never
        counts less and the tables' steps never count more than they measured."""
        if not self.known:
            return threshold_evidence(distance, self.threshold, self.bound)
        return float(np.interp(distance, GRID, self._curve(faces)))

    def prepare(self, face_counts) -> None:
        """Compute the curves of these face counts now (about 20 ms each, once per process), so that the camera
        loop only ever interpolates."""
        if self.known:
            for faces in set(face_counts):
                self._curve(faces)

    def _curve(self, faces: int) -> np.ndarray:
        key = self._model_id, faces
        curve = _CURVES.get(key)
        if curve is None:
            curve = _CURVES[key] = np.minimum.accumulate([self.raw_llr(d, faces) for d in GRID])
        return curve
