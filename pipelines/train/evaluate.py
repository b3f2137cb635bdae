"""A head measured by LFW's protocol, never on its training data: for each of View 2's ten folds a head is
trained on people outside that fold, its threshold chosen on the other nine folds' pairs and its accuracy
and VAL at FAR 1e-3 scored on that fold's pairs; beside it the frozen embedder on the same pairs. Probes in
camera views (``pipelines.eval.views``): the second photograph of each pair through that view.

Rows per probe view: ``frozen`` (the base model on both photographs), ``trained`` (the head on both),
``cross`` for a compatible head (the first photograph by the base model, as an old gallery holds it, the
second by the head), ``codes`` for a 128-d head (its 128-byte int8 codes, ``tracker.codes``)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.progress import Progress

from pipelines.eval.views import View, view
from pipelines.train.data import Faces, cached_embeddings, cached_faces
from pipelines.train.folds import fold_people, refuse_test_people, training_images
from pipelines.train.loop import train_head
from tracker.codes import code_distance, code_scale, quantise
from tracker.distance import squared_distance
from tracker.face.analyzer import FaceAnalyzer
from tracker.lfw import Pairs
from tracker.verification import score_fold

FAR = 1e-3
CODE_DIM = 128


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


def _restricted(faces: Faces, excluded: set[str]) -> Faces:
    return faces.take(np.array([faces.people[label] not in excluded for label in faces.labels]))


def ten_folds(analyzer: FaceAnalyzer, root: Path, pairs: Pairs, cache_dir: Path, progress: Progress,
              train_views: tuple[View, ...], probe_views: tuple[View, ...], **options) -> dict:
    """{"probes": {view: {row: summary}}, "heads": per fold's training, "training_seconds"}; ``options`` go to
    ``train_head`` (steps, alpha, lr, dim_out, compatible, ...)."""
    faces = cached_faces(analyzer, training_images(root, excluded=set()), cache_dir, progress, train_views)
    first, found_first = cached_embeddings(analyzer, pairs.images, view("full"), cache_dir, progress,
                                           "the pairs' photographs")
    probes = {v.name: cached_embeddings(analyzer, pairs.images, v, cache_dir, progress, "the pairs' photographs")
              for v in probe_views}
    heads, started = [], time.monotonic()
    for k in range(1, int(pairs.fold.max()) + 2):
        test_people = fold_people(pairs, k)
        allowed = _restricted(faces, test_people)
        refuse_test_people({allowed.people[label] for label in allowed.labels}, test_people, k)
        heads.append((train_head(allowed, progress=progress, seed=k, **options), allowed))
    seconds = time.monotonic() - started
    # 128-d heads: each head's int8 scale, from the outputs of the faces it was trained on
    scales = [code_scale(t.head.embed(allowed.vectors)) for t, allowed in heads] \
        if heads[0][0].head.dim_out == CODE_DIM else None
    report = {}
    for name, (second, found_second) in probes.items():
        usable = found_first[pairs.first] & found_second[pairs.second]
        same, fold = pairs.same[usable], pairs.fold[usable]
        a, b = first[pairs.first[usable]], second[pairs.second[usable]]
        rows = {"frozen": FoldScores(), "trained": FoldScores()}
        rows |= {"cross": FoldScores()} if options.get("compatible") else {}
        rows |= {"codes": FoldScores()} if scales else {}
        base = squared_distance(a, b)
        for k, (training, _) in enumerate(heads):
            ha, hb = training.head.embed(a), training.head.embed(b)
            test = fold == k
            rows["frozen"].add(base, same, test)
            rows["trained"].add(squared_distance(ha, hb), same, test)
            if "cross" in rows:
                rows["cross"].add(squared_distance(a, hb), same, test)
            if scales:
                scale = scales[k]
                rows["codes"].add(code_distance(quantise(ha, scale), quantise(hb, scale), scale), same, test)
        report[name] = {row: scores.summary() for row, scores in rows.items()}
        report[name]["pairs_without_a_face"] = int((~usable).sum())
    return {"probes": report, "training_seconds": seconds,
            "heads": [{"best_step": t.best_step, "checks": t.checks} for t, _ in heads]}
