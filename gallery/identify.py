"""Naming the faces of an image against the gallery, with the active model's embeddings only."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from gallery.matching import GalleryIndex, Matches
from gallery.negatives import Negatives
from gallery.store import GalleryStore
from gallery.threshold import threshold_for_faces
from tracker.config import MatchConfig
from tracker.face.analyzer import FaceAnalyzer
from tracker.track.identity import UNKNOWN

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IdentifiedFace:
    box: tuple[float, float, float, float]
    name: str | None  # None: unknown
    distance: float
    margin: float
    nearest: str | None  # the closest identity whatever the decision
    refused: bool = False  # not named ``nearest``: closer to faces rejected as not them

    def label(self) -> str:
        return self.name or (f"unknown (not {self.nearest}: rejected)" if self.refused else "unknown")

    def as_json(self) -> dict:
        return {"box": [round(v, 1) for v in self.box], "name": self.name, "distance": round(self.distance, 4),
                "margin": round(self.margin, 4), "refused_as": self.nearest if self.refused else None}


class Identifier:
    """The gallery of the analyzer's model, loaded once, and the decision rule from config."""

    def __init__(self, analyzer: FaceAnalyzer, store: GalleryStore, match: MatchConfig) -> None:
        self.analyzer = analyzer
        self.model_id = analyzer.embedder.model_id
        self.index_dim = analyzer.embedder.dim
        self.match_config = match
        self.margin = match.margin
        self.top_k = match.top_k
        self.reload(store)

    def reload(self, store: GalleryStore) -> None:
        """Read the gallery again (after it changed); the new index replaces the old one whole."""
        _, identity_ids, vectors = store.embeddings(self.model_id)
        negative_ids, negatives = Negatives(store).vectors(self.model_id)
        index = GalleryIndex(identity_ids, vectors.reshape(-1, self.index_dim),
                             negatives=(negative_ids, negatives.reshape(-1, self.index_dim)))
        self.names, self.index = {i.id: i.name for i in store.identities()}, index
        self.missing = len(store.faces_missing(self.model_id))
        self.rule = threshold_for_faces(self.match_config, self.model_id, self.analyzer.threshold, identity_ids)
        if warning := self.rule.warning():
            logger.warning("%s", warning)

    @property
    def threshold(self) -> float:
        """The threshold in force for the gallery as it is now (``rule`` says why)."""
        return self.rule.value

    def name_of(self, identity: int) -> str:
        """An identity's name; "unknown" for one no longer in the gallery."""
        return self.names.get(identity, "unknown")

    def match(self, embeddings: np.ndarray) -> Matches:
        """The gallery's verdict on each unit embedding, by the configured rule."""
        return self.index.search(embeddings, self.threshold, self.margin, self.top_k)

    def identify(self, rgb: np.ndarray) -> list[IdentifiedFace]:
        analysis = self.analyzer.analyze([rgb])[0]
        m = self.match(analysis.embeddings)
        return [
            IdentifiedFace(tuple(float(v) for v in box), self.names.get(int(who)) if who != UNKNOWN else None,
                           float(d), float(g), self.names.get(int(near)), bool(r))
            for box, who, d, g, near, r in zip(analysis.faces.boxes, m.identity, m.distance, m.margin, m.nearest,
                                               m.refused)
        ]
