"""Re-embedding a gallery's stored crops with the active model: resumable, batch by batch."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from gallery.store import GalleryStore
from tracker.face.align import align
from tracker.face.embedders import Embedder


def reembed(store: GalleryStore, embedder: Embedder, batch: int = 64,
            advance: Callable[[int], None] = lambda n: None) -> int:
    """Embed every stored face that has no embedding by ``embedder``; returns how many were done.

    Each batch commits on its own, so an interrupted run resumes where it stopped.
    """
    missing = store.faces_missing(embedder.model_id)
    for start in range(0, len(missing), batch):
        faces = [store.face(face_id) for face_id in missing[start : start + batch]]
        crops = np.stack([align(f.crop, f.landmarks, embedder.template) for f in faces])
        vectors = embedder.embed(crops)
        store.add_embeddings(embedder.model_id, [(f.id, v) for f, v in zip(faces, vectors)])
        advance(len(faces))
    return len(missing)
