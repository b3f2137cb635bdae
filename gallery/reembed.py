"""Re-embedding a gallery's stored crops with the active model: resumable, batch by batch.

Both kinds of stored face are done: enrolled faces, and faces rejected as not a person
(``gallery.negatives``), which match by embedding just as much.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from gallery.negatives import Negative, Negatives
from gallery.store import GalleryStore, StoredFace
from tracker.face.align import align
from tracker.face.embedders import Embedder


def missing(store: GalleryStore, model_id: str) -> int:
    """How many stored crops, of both kinds, have no embedding by ``model_id``."""
    return len(store.faces_missing(model_id)) + len(Negatives(store).missing(model_id))


def reembed(store: GalleryStore, embedder: Embedder, batch: int = 64,
            advance: Callable[[int], None] = lambda n: None) -> int:
    """Embed every stored face and rejected face that has no embedding by ``embedder``; returns how many
    were done. Each batch commits on its own, so an interrupted run resumes where it stopped."""
    negatives = Negatives(store)
    kinds: list[tuple[list[int], Callable[[int], StoredFace | Negative],
                      Callable[[str, list[tuple[int, np.ndarray]]], None]]] = [
        (store.faces_missing(embedder.model_id), store.face, store.add_embeddings),
             (negatives.missing(embedder.model_id), negatives.get, negatives.add_embeddings)]
    for ids, read, save in kinds:
        for start in range(0, len(ids), batch):
            faces = [read(i) for i in ids[start : start + batch]]
            crops = np.stack([align(f.crop, f.landmarks, embedder.template) for f in faces])
            save(embedder.model_id, [(f.id, v) for f, v in zip(faces, embedder.embed(crops))])
            advance(len(faces))
    return sum(len(ids) for ids, _, _ in kinds)
