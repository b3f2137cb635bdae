"""The frozen embedder's embeddings of the training faces, computed once and kept under ``models.cache_dir``,
so training (and training again) on a CPU takes minutes, not the hours of re-embedding every epoch."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.progress import Progress

from pipelines.eval.embedding import embed_paths
from tracker.face.analyzer import FaceAnalyzer


@dataclass(frozen=True)
class Faces:
    vectors: np.ndarray  # (n, dim) unit float32: the base model's embeddings
    labels: np.ndarray  # (n,) int: index into people
    people: list[str]


def cached_faces(analyzer: FaceAnalyzer, images: dict[str, list[Path]], cache_dir: Path, progress: Progress,
                 sizes: tuple[int | None, ...] = (None,)) -> Faces:
    """The central face of each image, embedded by ``analyzer`` once per size in ``sizes`` (None: as it is; a
    number: shrunk to a face of that many pixels and back, as a camera sees a stranger far away); images
    without a face are left out."""
    people = sorted(images)
    paths = [path for person in people for path in images[person]]
    names = [analyzer.embedder.model_id, repr(sizes), *map(str, paths)]
    key = hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]
    cache = Path(cache_dir).expanduser() / "train" / f"{key}.npz"
    if cache.exists():
        held = np.load(cache)
        return Faces(held["vectors"], held["labels"], people)
    labels = np.array([n for n, person in enumerate(people) for _ in images[person]])
    vectors, kept = [], []
    for size in sizes:
        central = embed_paths(analyzer, paths, progress, f"embedding the training faces ({size or 'full'} px)",
                              face=size)
        vectors.append(central.vectors.astype(np.float32))
        kept.append(labels[central.found])
    faces = Faces(np.concatenate(vectors), np.concatenate(kept), people)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, vectors=faces.vectors, labels=faces.labels)
    return faces
