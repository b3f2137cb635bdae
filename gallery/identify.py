"""Naming the faces of an image against the gallery, with the active model's embeddings only."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import numpy as np

from gallery.matching import GalleryIndex
from gallery.negatives import Negatives
from gallery.store import GalleryStore
from gallery.view import GalleryView
from tracker.config import MatchConfig
from tracker.face.analyzer import FaceAnalyzer
from tracker.track.identity import UNKNOWN

logger = logging.getLogger(__name__)
CHANGES_KEPT = 100  # changes a view remembers (``GalleryView.changed_since``)


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
    """The gallery of the analyzer's model and the naming rule from config, published as a frozen ``view``
    (``gallery/view.py``) that each change replaces whole: read ``view`` once and keep it for a consistent gallery."""

    def __init__(self, analyzer: FaceAnalyzer, store: GalleryStore, match: MatchConfig) -> None:
        self.analyzer = analyzer
        self.model_id = analyzer.embedder.model_id
        self.index_dim = analyzer.embedder.dim
        self.match_config = match
        self._changing = threading.Lock()  # a reload or an apply reads the store and swaps the view as one step
        self._signatures: dict[int, tuple] = {}
        self.view: GalleryView
        self.reload(store)

    def reload(self, store: GalleryStore) -> None:
        """Read the gallery again (after it changed); the new view replaces the old one whole."""
        with self._changing:
            _, identity_ids, vectors = store.embeddings(self.model_id, length=self.index_dim)
            negative_ids, negatives = Negatives(store).vectors(self.model_id, length=self.index_dim)
            index = GalleryIndex(identity_ids, vectors.reshape(-1, self.index_dim),
                                 negatives=(negative_ids, negatives.reshape(-1, self.index_dim)))
            self._swap(store, index)

    def apply(self, store: GalleryStore, identities: set[int] | None) -> None:
        """Apply a change to ``identities`` (None: any of them): only their faces and negatives are read again,
        and a new view, everyone else's rows kept, replaces the old one whole."""
        if identities is None:
            self.reload(store)
            return
        with self._changing:
            ids, vectors, negative_ids, negatives = [np.zeros(0, np.int64)], [], [np.zeros(0, np.int64)], []
            for identity in sorted(identities):
                _, owners, found = store.embeddings(self.model_id, identity, length=self.index_dim)
                owners_n, found_n = Negatives(store).vectors(self.model_id, identity, length=self.index_dim)
                ids.append(owners)
                vectors.append(found.reshape(-1, self.index_dim))
                negative_ids.append(owners_n)
                negatives.append(found_n.reshape(-1, self.index_dim))
            empty = [np.zeros((0, self.index_dim), np.float32)]
            rejected = (np.concatenate(negative_ids).astype(np.int64), np.concatenate(negatives + empty))
            index = self.view.index.replaced(sorted(identities), np.concatenate(ids).astype(np.int64),
                                             np.concatenate(vectors + empty), rejected)
            self._swap(store, index)

    def _swap(self, store: GalleryStore, index: GalleryIndex) -> None:
        """Prepare the view of ``index`` (names, naming rule, evidence curves: here, off the camera loop), then
        publish it by one assignment."""
        names = {i.id: i.name for i in store.identities()}
        signatures, revision, changes = self._note_changes(getattr(self, "view", None), names, index)
        self.view = GalleryView.prepared(index, names, self.match_config, self.model_id, self.analyzer.embedder.tables,
                                         self.analyzer.verify_threshold, revision, changes,
                                         len(store.faces_missing(self.model_id)))
        self._signatures = signatures  # only once published: a pass that failed before is seen as a change again
        if warning := self.view.rule.warning():
            logger.warning("%s", warning)

    def _note_changes(self, old: GalleryView | None, names: dict[int, str],
                      index: GalleryIndex) -> tuple[dict[int, tuple], int, tuple[tuple[int, frozenset[int]], ...]]:
        """Who is how now (name, faces, rejected faces), the new view's revision and its record of who changed,
        for the live tracks: the old view's, with this change added when anyone differs from the last published."""
        revision, changes = (old.revision, old.changes) if old is not None else (0, ())
        owners, counts = np.unique(index.identity_ids, return_counts=True)
        faces = dict(zip(owners.tolist(), counts.tolist()))
        negatives = dict(zip(*np.unique(index.negative_ids, return_counts=True)))
        signatures = {i: (names.get(i), int(faces.get(i, 0)), int(negatives.get(i, 0)))
                      for i in set(names) | set(faces)}
        changed = {i for i in set(signatures) | set(self._signatures) if signatures.get(i) != self._signatures.get(i)}
        if not changed:
            return signatures, revision, changes
        return signatures, revision + 1, (*changes, (revision + 1, frozenset(changed)))[-CHANGES_KEPT:]

    def missing_warning(self, store: GalleryStore) -> str | None:
        """What to do about stored faces the active model has no embedding of (e.g. after a change of
        ``models.embedder``), naming the models they have in ``store``; None when there are none."""
        missing = self.view.missing
        if not missing:
            return None
        name = self.model_id.split(":")[0]
        others = sorted({m.split(":")[0] for m in store.model_counts() if m != self.model_id})
        had = f" (they have {', '.join(others)} embeddings)" if others else ""
        keep = f" or set {_config_for(others[0])}" if others else ""
        return (f"{missing} gallery faces have no {self.model_id} embedding and are not matched{had}: "
                f"run `facetrack gallery reembed` to embed their stored crops with {name}{keep}")

    def identify(self, rgb: np.ndarray) -> list[IdentifiedFace]:
        view, analysis = self.view, self.analyzer.analyze([rgb])[0]
        m = view.match(analysis.embeddings)
        return [
            IdentifiedFace((x1, y1, x2, y2), view.names.get(int(who)) if who != UNKNOWN else None,
                           float(d), float(g), view.names.get(int(near)), bool(r))
            for (x1, y1, x2, y2), who, d, g, near, r in zip(analysis.faces.boxes.tolist(), m.identity, m.distance,
                                                             m.margin, m.nearest, m.refused)
        ]


def _config_for(name: str) -> str:
    """The settings that make ``name`` (an embedder, or ``<embedder>+<head id>``) the active model."""
    embedder, _, head = name.partition("+head-")
    return f'models.embedder = "{embedder}"' + (f' and models.head = "head-{head}"' if head else '')
