"""Naming the faces of an image against the gallery, with the active model's embeddings only."""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass

import numpy as np

from gallery.evidence import Evidence, bound
from gallery.matching import GalleryIndex, Matches
from gallery.negatives import Negatives
from gallery.store import GalleryStore
from gallery.threshold import threshold_for_faces
from tracker.config import MatchConfig
from tracker.face.analyzer import FaceAnalyzer
from tracker.track.identity import UNKNOWN
from tracker.track.state import Verdict

logger = logging.getLogger(__name__)
CHANGES_KEPT = 100  # changes remembered for ``Identifier.changed_since``


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
        self._changing = threading.Lock()  # a reload or an apply reads the store and swaps the index as one step
        self.revision = 0  # counts the changes applied; ``changed_since`` says whose
        self._changes: deque[tuple[int, set[int]]] = deque(maxlen=CHANGES_KEPT)
        self._signatures: dict[int, tuple] = {}
        self.reload(store)

    def reload(self, store: GalleryStore) -> None:
        """Read the gallery again (after it changed); the new index replaces the old one whole."""
        with self._changing:
            _, identity_ids, vectors = store.embeddings(self.model_id, length=self.index_dim)
            negative_ids, negatives = Negatives(store).vectors(self.model_id, length=self.index_dim)
            index = GalleryIndex(identity_ids, vectors.reshape(-1, self.index_dim),
                                 negatives=(negative_ids, negatives.reshape(-1, self.index_dim)))
            self._swap(store, index)

    def apply(self, store: GalleryStore, identities: set[int] | None) -> None:
        """Apply a change to ``identities`` (None: any of them): only their faces and negatives are read again,
        and a new index, everyone else's rows kept, replaces the old one whole."""
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
            index = self.index.replaced(sorted(identities), np.concatenate(ids).astype(np.int64),
                                        np.concatenate(vectors + empty), rejected)
            self._swap(store, index)

    def _swap(self, store: GalleryStore, index: GalleryIndex) -> None:
        names = {i.id: i.name for i in store.identities()}
        owners, counts = np.unique(index.identity_ids, return_counts=True)
        face_counts = dict(zip(owners.tolist(), counts.tolist()))
        rule = threshold_for_faces(self.match_config, self.model_id, self.analyzer.verify_threshold,
                                   index.identity_ids)
        evidence = Evidence(self.model_id, rule.value, bound(self.match_config.far, rule.identities))
        evidence.prepare(face_counts.values())  # here (start-up, the watcher's thread), not on the camera loop
        # everything prepared first, then handed over together, before the revision moves: a reader that sees the
        # new revision sees the new gallery (attribute by attribute, not as one value: issue 35's GalleryView)
        self.names, self.index, self.face_counts = names, index, face_counts
        self.rule, self.bound, self.evidence = rule, evidence.bound, evidence
        self._note_changes(names, face_counts, index)
        self.missing = len(store.faces_missing(self.model_id))
        if warning := self.rule.warning():
            logger.warning("%s", warning)

    def _note_changes(self, names: dict[int, str], faces: dict[int, int], index: GalleryIndex) -> None:
        """Record who changed (name, faces or rejected faces) since the last swap, for the live tracks."""
        negatives = dict(zip(*np.unique(index.negative_ids, return_counts=True)))
        signatures = {i: (names.get(i), faces.get(i, 0), int(negatives.get(i, 0))) for i in set(names) | set(faces)}
        changed = {i for i in set(signatures) | set(self._signatures) if signatures.get(i) != self._signatures.get(i)}
        self._signatures = signatures
        if changed:  # recorded before the revision moves: a reader on another thread never misses it
            self._changes.append((self.revision + 1, changed))
            self.revision += 1

    def changed_since(self, revision: int) -> set[int] | None:
        """The identities changed after ``revision`` (None: too long ago to say; take everyone)."""
        if revision == self.revision:
            return set()
        kept = [ids for rev, ids in list(self._changes) if rev > revision]
        if not kept or len(kept) < self.revision - revision:
            return None
        return set().union(*kept)

    def missing_warning(self, store: GalleryStore) -> str | None:
        """What to do about stored faces the active model has no embedding of (e.g. after a change of
        ``models.embedder``), naming the models they have in ``store``; None when there are none."""
        if not self.missing:
            return None
        name = self.model_id.split(":")[0]
        others = sorted({m.split(":")[0] for m in store.model_counts() if m != self.model_id})
        had = f" (they have {', '.join(others)} embeddings)" if others else ""
        keep = f" or set {_config_for(others[0])}" if others else ""
        return (f"{self.missing} gallery faces have no {self.model_id} embedding and are not matched{had}: "
                f"run `facetrack gallery reembed` to embed their stored crops with {name}{keep}")

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

    def verdicts(self, embeddings: np.ndarray) -> list[Verdict]:
        """The gallery's verdict on each face for the live tracker: its nearest two identities with their
        evidence (``gallery/evidence.py``) and the bound a track must reach."""
        m, threshold, evidence = self.match(embeddings), self.threshold, self.evidence
        result = []
        for n, d, g, r, second in zip(m.nearest, m.distance, m.margin, m.refused, m.second):
            n, second = int(n), int(second)
            gain = evidence.llr(float(d), self.face_counts.get(n, 1)) if n != UNKNOWN else 0.0
            runner = evidence.llr(float(d + g), self.face_counts.get(second, 1)) if second != UNKNOWN else 0.0
            result.append(Verdict(n, float(d), float(g), threshold, bool(r), gain, second, runner, self.bound))
        return result

    def identify(self, rgb: np.ndarray) -> list[IdentifiedFace]:
        analysis = self.analyzer.analyze([rgb])[0]
        m = self.match(analysis.embeddings)
        return [
            IdentifiedFace((x1, y1, x2, y2), self.names.get(int(who)) if who != UNKNOWN else None,
                           float(d), float(g), self.names.get(int(near)), bool(r))
            for (x1, y1, x2, y2), who, d, g, near, r in zip(analysis.faces.boxes.tolist(), m.identity, m.distance,
                                                             m.margin, m.nearest, m.refused)
        ]


def _config_for(name: str) -> str:
    """The settings that make ``name`` (an embedder, or ``<embedder>+<head id>``) the active model."""
    embedder, _, head = name.partition("+head-")
    return f'models.embedder = "{embedder}"' + (f' and models.head = "head-{head}"' if head else '')
