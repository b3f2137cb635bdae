"""A head measured by LFW's protocol, never on its training data: for each of View 2's ten folds a head is
trained on people outside that fold, its threshold chosen on the other nine folds' pairs and its accuracy
and VAL at FAR 1e-3 scored on that fold's pairs; beside it the frozen embedder on the same pairs. Probes at
camera sizes: the second photograph of each pair shrunk to a face of that many pixels and back."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from rich.progress import Progress

from pipelines.eval.embedding import embed_paths
from pipelines.train.data import Faces, cached_faces
from pipelines.train.folds import fold_people, refuse_test_people, training_images
from pipelines.train.loop import train_head
from tracker.distance import squared_distance
from tracker.face.analyzer import FaceAnalyzer
from tracker.lfw import Pairs
from tracker.verification import score_fold

FAR = 1e-3


@dataclass
class FoldScores:
    accuracy: list[float] = field(default_factory=list)
    val: list[float] = field(default_factory=list)

    def add(self, distances: np.ndarray, same: np.ndarray, test: np.ndarray) -> None:
        scored = score_fold(distances, same, test, FAR)
        self.accuracy.append(scored.accuracy)
        self.val.append(scored.val)

    def summary(self) -> dict:
        return {"accuracy": float(np.mean(self.accuracy)), "accuracy_std": float(np.std(self.accuracy)),
                "val_at_far_1e-3": float(np.mean(self.val)), "folds": self.accuracy}


def _pair_vectors(analyzer: FaceAnalyzer, pairs: Pairs, size: int | None, progress: Progress):
    central = embed_paths(analyzer, pairs.images, progress, f"embedding the pairs' photos ({size or 'full'} px)",
                          face=size)
    vectors = np.zeros((len(pairs.images), central.vectors.shape[1]), np.float32)
    vectors[central.found] = central.vectors
    return vectors, central.found


def _restricted(faces: Faces, excluded: set[str]) -> Faces:
    keep = np.array([faces.people[label] not in excluded for label in faces.labels])
    return Faces(faces.vectors[keep], faces.labels[keep], faces.people)


def ten_folds(analyzer: FaceAnalyzer, root: Path, pairs: Pairs, cache_dir: Path, progress: Progress,
              train_sizes: tuple[int | None, ...], probe_sizes: tuple[int | None, ...], steps: int,
              alpha: float) -> dict:
    """{probe size: {"frozen": summary, "trained": summary}}, and the pairs left out for want of a face."""
    faces = cached_faces(analyzer, training_images(root, excluded=set()), cache_dir, progress, train_sizes)
    first, found_first = _pair_vectors(analyzer, pairs, None, progress)
    probes = {size: _pair_vectors(analyzer, pairs, size, progress) for size in probe_sizes}
    heads = []
    for k in range(1, int(pairs.fold.max()) + 2):
        test_people = fold_people(pairs, k)
        allowed = _restricted(faces, test_people)
        refuse_test_people({allowed.people[label] for label in allowed.labels}, test_people, k)
        heads.append(train_head(allowed, steps, progress, alpha=alpha, seed=k))
    report = {}
    for size, (second, found_second) in probes.items():
        usable = found_first[pairs.first] & found_second[pairs.second]
        same, fold = pairs.same[usable], pairs.fold[usable]
        a, b = first[pairs.first[usable]], second[pairs.second[usable]]
        frozen, trained = FoldScores(), FoldScores()
        base = squared_distance(a, b)
        for k, training in enumerate(heads):
            with torch.no_grad():
                ha, hb = (training.head(torch.from_numpy(v)).numpy() for v in (a, b))
            frozen.add(base, same, fold == k)
            trained.add(squared_distance(ha, hb), same, fold == k)
        report[str(size or "full")] = {"frozen": frozen.summary(), "trained": trained.summary(),
                                       "pairs_without_a_face": int((~usable).sum())}
    return report
