"""The frozen embedder's embeddings of the training and evaluation photographs, computed once per camera view
and kept under ``models.cache_dir/train``, so training (and training again, and evaluating) on a CPU takes
minutes, not the hours of re-embedding every run."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.progress import Progress

from gallery.store import GalleryStore
from pipelines.eval.embedding import embed_paths
from pipelines.eval.views import View
from tracker.errors import DatasetError
from tracker.face.analyzer import FaceAnalyzer


@dataclass(frozen=True)
class Faces:
    vectors: np.ndarray  # (n, dim) unit float32: the base model's embeddings
    labels: np.ndarray  # (n,) int: index into people
    people: list[str]
    photos: np.ndarray | None = None  # (n,) int: which photograph (one photograph appears once per view)

    def take(self, rows: np.ndarray) -> Faces:
        return Faces(self.vectors[rows], self.labels[rows], self.people,
                     None if self.photos is None else self.photos[rows])


def cached_embeddings(analyzer: FaceAnalyzer, paths: list[Path], view: View, cache_dir: Path,
                      progress: Progress, what: str) -> tuple[np.ndarray, np.ndarray]:
    """((n, dim) embeddings, zero where no face was found; (n,) found) of the central face of each image
    through ``view``, from the cache when this model has embedded these images in this view before."""
    names = [analyzer.embedder.model_id, view.name, *map(str, paths)]
    key = hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]
    cache = Path(cache_dir).expanduser() / "train" / f"{key}.npz"
    if cache.exists():
        held = np.load(cache)
        return held["vectors"], held["found"]
    central = embed_paths(analyzer, paths, progress, f"embedding {what} ({view.name})",
                          view=None if view.identity else view)
    vectors = np.zeros((len(paths), analyzer.embedder.dim), np.float32)
    vectors[central.found] = central.vectors
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, vectors=vectors, found=central.found)
    return vectors, central.found


def cached_faces(analyzer: FaceAnalyzer, images: dict[str, list[Path]], cache_dir: Path, progress: Progress,
                 views: tuple[View, ...]) -> Faces:
    """The central face of each image, embedded by ``analyzer`` once in each of ``views``; images without a
    face in a view are left out of it."""
    people = sorted(images)
    paths = [path for person in people for path in images[person]]
    labels = np.array([n for n, person in enumerate(people) for _ in images[person]])
    vectors, kept, photos = [], [], []
    for view in views:
        embedded, found = cached_embeddings(analyzer, paths, view, cache_dir, progress, "the training faces")
        vectors.append(embedded[found])
        kept.append(labels[found])
        photos.append(np.flatnonzero(found))
    return Faces(np.concatenate(vectors), np.concatenate(kept), people, np.concatenate(photos))


SITE_PEOPLE = 10  # the fewest of a site's people with two faces or more worth training on


def site_faces(location: Path | str, model_id: str) -> Faces:
    """A site's own named faces (enrolled people, and unknowns' clusters once named, which enrolls them): the
    embeddings the gallery holds by ``model_id`` of each person with two faces or more. A ``DatasetError``
    when fewer than ``SITE_PEOPLE`` have them."""
    with GalleryStore(location, create=False) as store:
        face_ids, identity_ids, vectors = store.embeddings(model_id)
        names = {identity.id: identity.name for identity in store.identities()}
    counts = np.bincount(identity_ids, minlength=max(names, default=0) + 1) if len(identity_ids) else np.zeros(0)
    people = sorted(i for i in names if i < len(counts) and counts[i] >= 2)
    if len(people) < SITE_PEOPLE:
        raise DatasetError(f"{location}: {len(people)} people with two faces or more by {model_id}; training on "
                           f"a site's faces needs {SITE_PEOPLE} (enroll more, name clusters, or run `facetrack "
                           "gallery reembed` for this model)")
    keep = np.isin(identity_ids, people)
    label_of = {identity: n for n, identity in enumerate(people)}
    labels = np.array([label_of[i] for i in identity_ids[keep]])
    return Faces(vectors[keep].astype(np.float32), labels, [f"site:{names[i]}" for i in people],
                 np.asarray(face_ids)[keep])


def joined(first: Faces, second: Faces) -> Faces:
    """Two sets of faces as one: ``second``'s people and photographs numbered after ``first``'s."""
    offset = (int(first.photos.max()) + 1) if len(first.photos) else 0
    return Faces(np.concatenate([first.vectors, second.vectors]),
                 np.concatenate([first.labels, second.labels + len(first.people)]), first.people + second.people,
                 np.concatenate([first.photos, second.photos - second.photos.min() + offset]))
