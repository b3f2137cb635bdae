"""Image files to embeddings for the evaluations: the central face of each, read in batches with a progress bar."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from rich.progress import Progress

from tracker.face.analyzer import FaceAnalyzer
from tracker.faces import Faces
from tracker.images import read_image

BATCH = 16


@dataclass(frozen=True)
class CentralFaces:
    """The central face of each image that has one, in input order."""

    vectors: np.ndarray  # (found, dim) unit float32 embeddings
    faces: Faces  # (found,) the faces embedded
    found: np.ndarray  # (n,) bool: which inputs had a face
    multi: int  # how many inputs had more than one face (their central one was used)


def shrink(image: np.ndarray, face: int, lfw_face: float = 110.0) -> np.ndarray:
    """An LFW image as a camera would see its face at ``face`` px: scaled down so the face (about
    ``lfw_face`` px in LFW's 250 px images) is that size, then back up, so detection still finds it."""
    scale = min(face / lfw_face, 1.0)
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)


def embed_paths(analyzer: FaceAnalyzer, paths: list[Path], bar: Progress, label: str,
                batch: int = BATCH, face: int | None = None,
                view: Callable[[np.ndarray], np.ndarray] | None = None) -> CentralFaces:
    """Read, detect and embed the central face of each image in ``paths``, ``batch`` images at a time
    (with ``face``: each image ``shrink``-ed to that face size first; with ``view``: each image through it,
    as ``pipelines.eval.views`` makes them).

    Only the faces and embeddings are kept, never the images or crops."""
    task = bar.add_task(label, total=len(paths))
    vectors: list[np.ndarray] = []
    faces: list[Faces] = []
    multi = 0
    for start in range(0, len(paths), batch):
        images = [read_image(p) for p in paths[start : start + batch]]
        images = images if face is None else [shrink(image, face) for image in images]
        images = images if view is None else [view(image) for image in images]
        analyses, detected = analyzer.embed_central(images)
        vectors += [a.embeddings for a in analyses]
        faces += [a.faces for a in analyses]
        multi += sum(n > 1 for n in detected)
        bar.advance(task, len(images))
    return _collect(vectors, faces, analyzer.embedder.dim, multi)


def _collect(vectors: list[np.ndarray], faces: list[Faces], dim: int, multi: int) -> CentralFaces:
    """One row per image with a face, from each image's zero or one face and embedding."""
    found = np.array([len(f) > 0 for f in faces], bool)
    if not found.any():
        return CentralFaces(np.zeros((0, dim), np.float32), Faces.empty(), found, multi)
    kept = [f for f in faces if len(f)]
    joined = Faces(*(np.concatenate([getattr(f, k) for f in kept]) for k in ("boxes", "scores", "landmarks")))
    return CentralFaces(np.concatenate(vectors), joined, found, multi)
