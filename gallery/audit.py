"""The gallery audit: which reference faces are bad, and what each costs.

For every stored face of the active model:

- **own**: the distance to the nearest other face of its own person, and how unusual that is for one person's
  two photographs (the share of same-person pairs closer, from the model's own same-person table: a face past
  ``UNLIKE_SHARE`` barely resembles its person: another person's photograph filed under the name, a tiny or
  blurred face);
- **other**: the nearest face of another person: a face within the threshold in force of someone else's, or
  closer to them than to its own, makes the two confusable;
- **strangers** (given faces of people not enrolled, such as LFW's): how many strangers it alone would name
  at the threshold in force, and so the share of strangers named once it is removed;
- **small or soft**: a face under the enrolment gates (``enroll.min_face_size`` or ``min_sharpness``), admitted
  with ``enroll --accept-small`` (what it costs: its model card's ``small_faces`` table). A mark, not a fault:
  the share of strangers named "without the flagged faces" keeps it.

The report also gives the closest pair of people and the stranger ceiling (the share of the strangers named
by the gallery as it is). Identity distances are nearest-face distances (``match.top_k`` = 1, the default).
Pure: arrays in, report out."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gallery.store import GalleryStore
from tracker.config import EnrollConfig
from tracker.distance import pairwise
from tracker.face.card import Tables
from tracker.verification import MAX_DISTANCE

CHUNK = 256  # faces compared with the whole gallery at a time
UNLIKE_SHARE = 0.99  # own-face distance beyond 99% of same-person pairs: it barely resembles its person
UNLIKE, CONFUSABLE, NAMES_STRANGERS = "unlike its person", "confusable", "names strangers"
SMALL = "small or soft reference (enroll --accept-small)"


def under_gates(quality: dict[str, float], policy: EnrollConfig) -> bool:
    """Whether a face is smaller or softer than the enrolment gates (admitted only with ``--accept-small``)."""
    return (quality.get("size", float("inf")) < policy.min_face_size
            or quality.get("sharpness", float("inf")) < policy.min_sharpness)


def small_faces(store: GalleryStore, policy: EnrollConfig) -> frozenset[int]:
    """The ids of the stored faces under the enrolment gates."""
    return frozenset(i for i, q in store.qualities().items() if under_gates(q, policy))


@dataclass
class FaceAudit:
    face_id: int
    identity_id: int
    own_distance: float | None  # to the nearest other face of its person; None for a person's only face
    own_share: float | None  # share of same-person pairs closer than own_distance (None: no table)
    other_identity: int | None
    other_distance: float  # to the nearest face of anyone else
    strangers_named: int = 0  # strangers this face alone names
    flags: list[str] = field(default_factory=list)


@dataclass
class Audit:
    faces: list[FaceAudit]
    threshold: float
    closest_pair: tuple[int, int, float] | None  # (identity, identity, distance)
    strangers: int = 0
    strangers_named: int = 0  # by the gallery as it is (the ceiling)
    within: np.ndarray | None = None  # (strangers, faces): within the threshold

    def flagged(self) -> list[FaceAudit]:
        return [f for f in self.faces if f.flags]

    def strangers_named_without(self, removed: set[int]) -> int:
        """Strangers still named once the faces ``removed`` (ids) are gone."""
        if self.within is None:
            return 0
        return named_without(self.within, [face.face_id for face in self.faces], removed)


def within_threshold(strangers: np.ndarray, vectors: np.ndarray, threshold: float) -> np.ndarray:
    """(strangers, faces): which faces each stranger is within ``threshold`` of, ``CHUNK`` strangers at a time."""
    return np.concatenate([pairwise(strangers[s:s + CHUNK], vectors) <= threshold
                           for s in range(0, len(strangers), CHUNK)])


def named_without(within: np.ndarray, face_ids, removed: set[int]) -> int:
    """How many strangers (rows of ``within``) the gallery still names once the faces ``removed`` are gone."""
    kept = [k for k, face_id in enumerate(face_ids) if face_id not in removed]
    return int(within[:, kept].any(axis=1).sum())


def _nearest(identity_ids: np.ndarray, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per face: the distance to its person's nearest other face (inf: none), to the nearest face of anyone
    else (inf: none), and that face's row; ``CHUNK`` rows at a time, so a large gallery fits in memory."""
    n = len(vectors)
    own, other, at = np.full(n, np.inf), np.full(n, np.inf), np.zeros(n, int)
    for start in range(0, n, CHUNK):
        d = pairwise(vectors[start:start + CHUNK], vectors)
        rows = np.arange(len(d))
        d[rows, start + rows] = np.inf  # not itself
        same = identity_ids[start:start + CHUNK, None] == identity_ids[None, :]
        own[start:start + CHUNK] = np.where(same, d, np.inf).min(axis=1)
        others = np.where(same, np.inf, d)
        at[start:start + CHUNK] = others.argmin(axis=1)
        other[start:start + CHUNK] = others[rows, at[start:start + CHUNK]]
    return own, other, at


def audit(face_ids: np.ndarray, identity_ids: np.ndarray, vectors: np.ndarray, tables: Tables | None,
          threshold: float, strangers: np.ndarray | None = None, small: frozenset[int] = frozenset()) -> Audit:
    """``tables``: the model's distance tables (None: none); ``small``: the ids of faces under the enrolment gates."""
    face_ids, identity_ids = np.asarray(face_ids), np.asarray(identity_ids)
    own, other_d, other_at = _nearest(identity_ids, vectors)
    genuine = tables.genuine_curve() if tables is not None else None  # same-person pairs' share within a distance
    faces = []
    for i in range(len(face_ids)):
        own_d = None if not np.isfinite(own[i]) else float(own[i])
        other = float(other_d[i]) if np.isfinite(other_d[i]) else MAX_DISTANCE
        share = None if own_d is None or genuine is None else float(np.interp(own_d, *genuine))
        face = FaceAudit(int(face_ids[i]), int(identity_ids[i]), own_d, share,
                         int(identity_ids[other_at[i]]) if other < MAX_DISTANCE else None, other)
        if own_d is not None and (share >= UNLIKE_SHARE if share is not None else own_d > threshold):
            face.flags.append(UNLIKE)
        if other <= threshold or (own_d is not None and other < own_d):
            face.flags.append(CONFUSABLE)
        if face.face_id in small:
            face.flags.append(SMALL)
        faces.append(face)
    pairs = [(a.identity_id, a.other_identity, a.other_distance) for a in faces if a.other_identity is not None]
    closest = min(pairs, key=lambda p: p[2]) if pairs else None
    report = Audit(faces, threshold, (min(closest[:2]), max(closest[:2]), closest[2]) if closest else None)
    if strangers is not None and len(strangers) and len(vectors):
        within = within_threshold(strangers, vectors, threshold)
        named = within.any(axis=1)
        alone = within & (within.sum(axis=1) == 1)[:, None]  # strangers only this face names
        for face, count in zip(faces, alone.sum(axis=0)):
            face.strangers_named = int(count)
            if face.strangers_named:
                face.flags.append(NAMES_STRANGERS)
        report.strangers, report.strangers_named, report.within = len(strangers), int(named.sum()), within
    return report
