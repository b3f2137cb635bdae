"""The gallery as it is at one moment (``GalleryView``), frozen: what a camera reads once per frame.

``Identifier`` prepares a new view off the loop (start-up, the watcher's thread, an HTTP request's gallery thread)
after each change and publishes
it by one assignment, so a reader holds one consistent gallery (its index, names, face counts, naming rule,
bound and evidence) for as long as it keeps the view: never a new index with old names.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from gallery.evidence import Evidence, bound
from gallery.matching import GalleryIndex, Matches
from gallery.threshold import Threshold, threshold_for_faces
from tracker.config import MatchConfig
from tracker.face.card import Tables
from tracker.track.identity import UNKNOWN
from tracker.track.state import GalleryTerms, Verdict


@dataclass(frozen=True)
class GalleryView:
    terms: GalleryTerms  # what the cameras' rules read: model, threshold, margin, bound, names
    index: GalleryIndex  # never changed once built (``GalleryIndex.replaced`` makes a new one)
    face_counts: Mapping[int, int]  # identity id -> faces in the index
    rule: Threshold  # the threshold in force, and why
    evidence: Evidence  # its curves prepared for every face count in the index
    top_k: int  # faces per identity a search reads (``match.top_k``)
    revision: int = 0  # counts the changes applied
    changes: tuple[tuple[int, frozenset[int]], ...] = ()  # (revision, who changed) of the latest changes kept
    missing: int = 0  # stored faces with no embedding of this model

    def __post_init__(self) -> None:
        object.__setattr__(self, "face_counts", MappingProxyType(dict(self.face_counts)))

    @classmethod
    def prepared(cls, index: GalleryIndex, names: Mapping[int, str], match: MatchConfig, model_id: str,
                 tables: Tables | None, model_default: float | None, revision: int = 0, changes: tuple = (),
                 missing: int = 0) -> GalleryView:
        """The view of ``index`` (faces of ``model_id``, whose distance tables are ``tables``) with the naming rule
        ``match`` makes of it: the threshold in force for its faces (``gallery/threshold.py``), the bound
        ``ln(identities / far)`` (and a review's, ``ln(identities / review_far)``) and the evidence curves of its face
        counts (``gallery/evidence.py``), computed now (off the camera loop)."""
        owners, counts = np.unique(index.identity_ids, return_counts=True)
        face_counts = dict(zip(owners.tolist(), counts.tolist()))
        rule = threshold_for_faces(match, tables, model_default, index.identity_ids)
        evidence = Evidence(tables, rule.value, bound(match.far, rule.identities))
        evidence.prepare(face_counts.values())
        review = bound(match.review_far, rule.identities) if match.review_far else math.inf
        terms = GalleryTerms(model_id, rule.value, match.margin, bound=evidence.bound, review_bound=review, names=names)
        return cls(terms, index, face_counts, rule, evidence, match.top_k, revision, changes, missing)

    @property
    def names(self) -> Mapping[int, str]:
        return self.terms.names

    @property
    def threshold(self) -> float:
        return self.terms.threshold

    def changed_since(self, revision: int) -> set[int] | None:
        """The identities changed after ``revision`` (None: too long ago to say; take everyone)."""
        if revision == self.revision:
            return set()
        kept = [ids for rev, ids in self.changes if rev > revision]
        if not kept or len(kept) < self.revision - revision:
            return None
        return set().union(*kept)

    def match(self, embeddings: np.ndarray) -> Matches:
        """The gallery's verdict on each unit embedding, by the naming rule."""
        return self.index.search(embeddings, self.terms.threshold, self.terms.margin, self.top_k)

    def verdicts(self, embeddings: np.ndarray) -> list[Verdict]:
        """The gallery's verdict on each face for the live tracker: its nearest two identities with their
        evidence (``gallery/evidence.py``)."""
        m, evidence = self.match(embeddings), self.evidence
        result = []
        for n, d, g, r, second in zip(m.nearest, m.distance, m.margin, m.refused, m.second):
            n, second = int(n), int(second)
            gain = evidence.llr(float(d), self.face_counts.get(n, 1)) if n != UNKNOWN else 0.0
            runner = evidence.llr(float(d + g), self.face_counts.get(second, 1)) if second != UNKNOWN else 0.0
            result.append(Verdict(n, float(d), float(g), bool(r), gain, second, runner))
        return result
