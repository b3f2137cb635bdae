"""``facetrack eval far-table``: the model's impostor and same-person distance distributions on LFW, as the
quantile tables of its model card (``tracker/face/cards/<model>.json``, ``tracker/face/card.py``).

Every LFW image's central face goes through our own detector, alignment and embedder (the
configured ones: the table belongs to that model and its ``models.flip``); then every pair of
faces of two different people is an impostor pair (about 87 million). The table gives, for
false-accept rates from 1e-8 to 0.5, the distance at or below which that share of impostor
pairs fall (below about 1e-7 a rate rests on a handful of pairs). ``gallery/threshold.py``
turns it into the default threshold of a gallery.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from rich.progress import Progress

from pipelines.eval.embedding import embed_paths
from tracker.distance import pairwise
from tracker.face.analyzer import FaceAnalyzer
from tracker.face.card import ModelCard, Tables, load_card
from tracker.lfw import image_dir

RATES = tuple(float(f"{m}e{e}") for e in range(-8, 0) for m in (1, 2, 5))  # 1e-8 ... 0.5
SHARES = (0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999)
CHUNK = 512


def lfw_faces(analyzer: FaceAnalyzer, root: Path, bar: Progress) -> tuple[np.ndarray, np.ndarray]:
    """Every LFW image's central-face embedding, and the person (folder) number of each."""
    folders = sorted(p for p in image_dir(root).iterdir() if p.is_dir())
    paths, people = [], []
    for number, folder in enumerate(folders):
        files = sorted(folder.glob("*.jpg"))
        paths += files
        people += [number] * len(files)
    central = embed_paths(analyzer, paths, bar, "embedding every LFW image")
    return central.vectors, np.asarray(people)[central.found]


def impostor_quantiles(vectors: np.ndarray, people: np.ndarray, rates: tuple[float, ...] = RATES,
                       bar: Progress | None = None) -> tuple[list[tuple[float, float]], int]:
    """``(rate, distance)`` for each rate: that share of different-person pairs lie at or below the distance.

    Only distances up to the largest needed are kept, so memory stays small; returns the pair count too.
    """
    task = bar.add_task("impostor pairs", total=len(vectors)) if bar else None
    kept, pairs, cap = [], 0, None
    for start in range(0, len(vectors), CHUNK):
        block = vectors[start : start + CHUNK]
        d = pairwise(block, vectors[start:])
        upper = np.arange(start, len(vectors))[None] > np.arange(start, start + len(block))[:, None]  # pairs once
        impostor = upper & (people[start : start + CHUNK, None] != people[None, start:])
        pairs += int(impostor.sum())
        if cap is None:  # well above the largest rate's distance (each model has its own scale); checked below
            cap = float(np.quantile(d[impostor], min(1.0, 1.5 * max(rates)))) if impostor.any() else 4.0
        kept.append(d[impostor & (d <= cap)].astype(np.float32))
        if bar:
            bar.advance(task, len(block))
    below = np.sort(np.concatenate(kept))
    table = []
    for rate in rates:
        rank = int(np.ceil(rate * pairs)) - 1
        if rank >= len(below):
            raise ValueError(f"rate {rate}: beyond the distances kept (cap {cap}); raise the cap")
        table.append((rate, float(below[max(rank, 0)])))
    return table, pairs


def genuine_quantiles(vectors: np.ndarray, people: np.ndarray,
                      shares: tuple[float, ...] = SHARES) -> tuple[list[tuple[float, float]], int]:
    """``(share, distance)`` for each share: that share of same-person pairs lie at or below the distance."""
    distances = []
    for person in np.unique(people):
        faces = vectors[people == person]
        if len(faces) > 1:
            d = pairwise(faces, faces)
            distances.append(d[np.triu_indices(len(faces), 1)])
    every = np.sort(np.concatenate(distances)) if distances else np.zeros(0)
    if not len(every):
        raise ValueError("no person with two faces: no same-person pairs")
    return [(share, float(np.quantile(every, share))) for share in shares], len(every)


def measured_card(model_id: str, impostor: list[tuple[float, float]], impostor_pairs: int,
                  genuine: list[tuple[float, float]], genuine_pairs: int, images: int, how: str) -> ModelCard:
    """The card of ``model_id``'s embedder with these tables (its name, template and threshold as shipped), measured
    ``how`` (the settings the tables depend on)."""
    shipped = load_card(model_id.split(":")[0])  # (a trained head's tables are measured by facetrack train)
    measured = (f"all {images} LFW images: {impostor_pairs:,} impostor pairs, {genuine_pairs:,} same-person pairs; "
                f"facetrack eval far-table --write, {how}")
    return replace(shipped, tables=Tables(model_id, measured, tuple(impostor), tuple(genuine)))
