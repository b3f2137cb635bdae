"""``facetrack eval lfw``: the LFW pairs protocol through our own detector, alignment and embedder."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from rich.progress import Progress

from pipelines.eval.embedding import embed_paths
from tracker.distance import squared_distance
from tracker.errors import ImageError
from tracker.face.analyzer import FaceAnalyzer
from tracker.faces import Faces
from tracker.images import read_image
from tracker.lfw import Pairs
from tracker.verification import FoldReport, evaluate_folds, roc_curve

FAR_TARGET = 1e-3
LFW_BATCH = 16  # images per detection batch (the live path batches by pipeline.batch_size; was detector.batch_size)
NO_FACE_HANDLING = "aligned with the median landmarks of the faces found in the other images"


@dataclass(frozen=True)
class LfwResult:
    model: str
    model_id: str
    pairs: int
    images: int
    no_face_images: int
    multi_face_images: int
    report: FoldReport
    seconds: float

    def as_json(self) -> dict:
        r = self.report
        return {
            "model": self.model, "model_id": self.model_id, "pairs": self.pairs, "images": self.images,
            "accuracy_mean": r.accuracy_mean, "accuracy_std": r.accuracy_std,
            "val_at_far_1e-3": r.val_mean, "val_std": r.val_std, "far_measured": r.far_mean,
            "auc": r.auc, "threshold": r.threshold,
            "no_face_images": self.no_face_images, "no_face_handling": NO_FACE_HANDLING,
            "multi_face_images": self.multi_face_images, "seconds": round(self.seconds, 1),
            "folds": asdict(r)["fold_accuracies"], "fold_thresholds": r.fold_thresholds,
        }


def _embed_all(analyzer: FaceAnalyzer, paths: list[Path], batch: int, progress: Progress):
    """Each image's embedding (its central face), how many images had no face and how many several."""
    central = embed_paths(analyzer, paths, progress, "detecting and embedding", batch)
    embeddings = np.empty((len(paths), central.vectors.shape[1]), central.vectors.dtype)
    embeddings[central.found] = central.vectors
    faceless = np.flatnonzero(~central.found)
    embeddings[faceless] = _embed_faceless(analyzer, [paths[i] for i in faceless], central.faces)
    return embeddings, len(faceless), central.multi


def _embed_faceless(analyzer: FaceAnalyzer, paths: list[Path], found: Faces) -> np.ndarray:
    """Images without a detected face, embedded as if they held the median of the faces ``found`` elsewhere."""
    if not paths:
        return np.zeros((0, analyzer.embedder.dim), np.float32)
    if not len(found):
        raise ImageError("no face was found in any LFW image; check the detector settings")
    stand_in = Faces(np.median(found.boxes, axis=0)[None], np.zeros(1, np.float32),
                     np.median(found.landmarks, axis=0)[None])
    images = [read_image(p) for p in paths]
    return np.concatenate([a.embeddings for a in analyzer.embed_faces(images, [stand_in] * len(images))])


def evaluate_lfw(analyzer: FaceAnalyzer, pairs: Pairs, batch: int, progress: Progress) -> tuple[LfwResult, np.ndarray]:
    """Run the protocol; returns the result and each pair's squared distance."""
    started = time.monotonic()
    e, no_face, multi = _embed_all(analyzer, pairs.images, batch, progress)
    distances = squared_distance(e[pairs.first], e[pairs.second])
    report = evaluate_folds(distances, pairs.same, pairs.fold, FAR_TARGET)
    result = LfwResult(analyzer.embedder.name, analyzer.embedder.model_id, len(pairs), len(pairs.images), no_face,
                       multi, report, time.monotonic() - started)
    return result, distances


def write_roc(path: Path, distances: np.ndarray, same: np.ndarray, result: LfwResult) -> None:
    """The ROC curve as a PNG, false-accept rate on a log axis."""
    # Here, not at the top: matplotlib takes a second to load, only the ROC needs it, and the Agg
    # backend (no display) must be chosen before pyplot is imported.
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt  # after the backend is chosen

    far, tar = roc_curve(distances, same)
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=100)
    ax.plot(np.maximum(far, 1e-4), tar, lw=1.5)
    ax.axvline(FAR_TARGET, color="grey", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_xlim(1e-4, 1)
    ax.set_ylim(0.8, 1.001)
    ax.set_xlabel("false accept rate")
    ax.set_ylabel("true accept rate")
    r = result.report
    ax.set_title(f"LFW {result.model}: acc {r.accuracy_mean:.4f}, AUC {r.auc:.4f}, VAL@1e-3 {r.val_mean:.3f}")
    ax.grid(True, which="both", alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


