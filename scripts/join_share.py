"""Measure ``unknowns.join_share`` on LFW: purity and completeness of the unknown-people clusters.

150 LFW people with at least 6 photographs (a fixed draw), none enrolled, each seen 3 times: a
sighting of 1 photograph, or of 2. The 450 sightings join clusters one at a time by the rule of
``gallery.unknowns.Unknowns.add`` (the nearest cluster by average linkage over faces, ``2 - 2 a.b``
of mean embeddings, within ``join_share`` of the embedder's threshold), in 3 random orders.
Purity: the share of sightings in their cluster's majority person; completeness: the share of
sightings in their person's largest cluster. The face path is the config's (embedder, detector),
so ``FACETRACK__MODELS__EMBEDDER=...`` measures another model. Usage:
    .venv/bin/python scripts/join_share.py ../shared/data/lfw [config.toml]
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np
from rich.progress import Progress

from pipelines.eval.embedding import embed_paths
from tracker.config import load_config
from tracker.face.analyzer import FaceAnalyzer

PEOPLE, PHOTOS, ORDERS = 150, 6, 3
SHARES = (0.6, 0.7, 0.8, 0.9, 1.0)


def sightings(embeddings: np.ndarray, found: np.ndarray, per: int) -> list[tuple[int, np.ndarray, int]]:
    """(person, mean embedding, faces) of each person's 3 sightings of ``per`` photographs with a face."""
    out = []
    for person in range(PEOPLE):
        rows = [person * PHOTOS + i for i in range(PHOTOS) if found[person * PHOTOS + i]]
        for group in (rows[i * per : (i + 1) * per] for i in range(3)):
            if group:
                out.append((person, embeddings[group].mean(axis=0), len(group)))
    return out


def cluster(items: list[tuple[int, np.ndarray, int]], join: float) -> tuple[float, float]:
    """Purity and completeness after joining ``items`` in order by the live rule."""
    means: list[np.ndarray] = []
    counts: list[int] = []
    members: list[list[int]] = []
    for person, mean, count in items:
        chosen = None
        if means:
            distances = 2.0 - 2.0 * np.stack(means) @ mean
            nearest = int(np.argmin(distances))
            if distances[nearest] <= join:
                chosen = nearest
                means[nearest] = (means[nearest] * counts[nearest] + mean * count) / (counts[nearest] + count)
                counts[nearest] += count
        if chosen is None:
            means.append(mean.copy())
            counts.append(count)
            members.append([])
            chosen = len(means) - 1
        members[chosen].append(person)
    purity = sum(max(m.count(p) for p in set(m)) for m in members) / len(items)
    by_person: dict[int, list[int]] = {}
    for index, m in enumerate(members):
        for person in m:
            by_person.setdefault(person, []).append(index)
    completeness = sum(max(c.count(i) for i in set(c)) for c in by_person.values()) / len(items)
    return purity, completeness


def main(root: Path, config_path: Path) -> None:
    analyzer = FaceAnalyzer.from_config(load_config(config_path))
    folders = sorted(d for d in (root / "images_deepfunneled").iterdir()
                     if d.is_dir() and len(list(d.glob("*.jpg"))) >= PHOTOS)
    people = random.Random(7).sample(folders, PEOPLE)
    paths = [sorted(d.glob("*.jpg"))[i] for d in people for i in range(PHOTOS)]
    with Progress() as bar:
        central = embed_paths(analyzer, paths, bar, "detecting and embedding")
    embeddings = np.zeros((len(paths), analyzer.embedder.dim), np.float32)
    embeddings[central.found] = central.vectors
    print(f"{analyzer.embedder.model_id}, threshold {analyzer.verify_threshold}, images without a face: "
          f"{int((~central.found).sum())}")
    print("| join share | 1 photograph a sighting: purity | completeness | 2 photographs: purity | completeness |")
    print("| --- | --- | --- | --- | --- |")
    for share in SHARES:
        row = [f"{share}"]
        for per in (1, 2):
            items = sightings(embeddings, central.found, per)
            results = []
            for seed in range(ORDERS):
                order = items[:]
                random.Random(seed).shuffle(order)
                results.append(cluster(order, share * analyzer.verify_threshold))
            for values in zip(*results):
                row.append(f"{min(values):.3f}-{max(values):.3f}")
        print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2] if len(sys.argv) > 2 else "config.toml"))
