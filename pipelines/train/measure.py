"""A trained head's tables, measured on the people it was never trained on (its test fold's): the
verification threshold (the most accurate on that fold's pairs), the impostor distance table for the false-
accept rates a gallery's threshold is read from, and the same-person table the sequential test weighs
evidence with, as ``facetrack eval far-table`` measures them for the shipped models on all of LFW. A fold's
people give 0.4-0.7 million impostor pairs, not LFW's 87 million: rates under about 1e-5 rest on a handful
of pairs (the record says how many)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.progress import Progress

from pipelines.eval.far_table import genuine_quantiles, impostor_quantiles
from pipelines.eval.views import view
from pipelines.train.data import cached_embeddings
from pipelines.train.folds import fold_people, person_of
from tracker.distance import squared_distance
from tracker.face.analyzer import FaceAnalyzer
from tracker.lfw import Pairs, image_dir
from tracker.train.head import ResidualHead
from tracker.verification import best_threshold


def measure_head(analyzer: FaceAnalyzer, head: ResidualHead, root: Path, pairs: Pairs, fold: int, cache_dir: Path,
                 progress: Progress) -> dict:
    people = sorted(fold_people(pairs, fold))
    paths = [p for person in people for p in sorted((image_dir(root) / person).glob("*.jpg"))]
    labels = np.array([people.index(person_of(p)) for p in paths])
    vectors, found = cached_embeddings(analyzer, paths, view("full"), cache_dir, progress,
                                       f"fold {fold}'s photographs")
    out = head.embed(vectors[found])
    impostor, impostor_pairs = impostor_quantiles(out, labels[found])
    genuine, genuine_pairs = genuine_quantiles(out, labels[found])
    photos, seen = cached_embeddings(analyzer, pairs.images, view("full"), cache_dir, progress,
                                     "the pairs' photographs")
    rows = (pairs.fold == fold - 1) & seen[pairs.first] & seen[pairs.second]
    mapped = head.embed(photos)
    distances = squared_distance(mapped[pairs.first[rows]], mapped[pairs.second[rows]])
    return {"on": f"LFW fold {fold}'s {len(people)} people (not trained on)", "photographs": int(found.sum()),
            "verify_threshold": best_threshold(distances, pairs.same[rows]), "pairs": int(rows.sum()),
            "impostor": impostor, "impostor_pairs": impostor_pairs, "genuine": genuine,
            "genuine_pairs": genuine_pairs}
